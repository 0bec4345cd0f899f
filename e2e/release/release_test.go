package release

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoRoot is the repository root, two levels above this package.
func repoRoot(t *testing.T) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	return root
}

// TestBuildBinaryIsReproducible builds the plugin twice from this commit, the second time with an empty build cache
// and into another directory, and expects the same bytes.
func TestBuildBinaryIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin twice, the second time from an empty build cache")
	}
	p := Platform{runtime.GOOS, runtime.GOARCH}
	first := filepath.Join(t.TempDir(), "a", BinaryName(PluginName, "v1.2.3", p))
	require.NoError(t, BuildBinary(t.Context(), repoRoot(t), PluginName, first, "v1.2.3", "0123abc", p))
	t.Setenv("GOCACHE", t.TempDir())
	second := filepath.Join(t.TempDir(), "b", BinaryName(PluginName, "v1.2.3", p))
	require.NoError(t, BuildBinary(t.Context(), repoRoot(t), PluginName, second, "v1.2.3", "0123abc", p))

	a, err := os.ReadFile(first)
	require.NoError(t, err)
	b, err := os.ReadFile(second)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(a, b), "two builds differ: %d and %d bytes", len(a), len(b))
}

func TestBuildBinaryUnknownProgram(t *testing.T) {
	err := BuildBinary(t.Context(), repoRoot(t), "nope", filepath.Join(t.TempDir(), "nope"), "v1", "c", Platforms[0])
	assert.ErrorContains(t, err, `no program named "nope"`)
}

// TestPluginLayoutIsReproducible writes the OCI layout and its tarball twice from the same files.
func TestPluginLayoutIsReproducible(t *testing.T) {
	bins := t.TempDir()
	files := map[Platform]string{}
	for _, p := range Platforms {
		path := filepath.Join(bins, BinaryName(PluginName, "v1.2.3", p))
		require.NoError(t, os.WriteFile(path, []byte("binary for "+p.String()), 0o755))
		files[p] = path
	}
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var tarballs [][]byte
	for range 2 {
		dir := filepath.Join(t.TempDir(), LayoutName("v1.2.3"))
		require.NoError(t, WritePluginLayout(t.Context(), dir, "v1.2.3", created, files))
		require.NoError(t, tarDir(dir, dir+".tar", created))
		data, err := os.ReadFile(dir + ".tar")
		require.NoError(t, err)
		tarballs = append(tarballs, data)
	}
	assert.Equal(t, tarballs[0], tarballs[1])
}

func TestWriteChecksums(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b"), []byte("b"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), nil, 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "layout"), 0o755))
	require.NoError(t, writeChecksums(dir))
	got, err := os.ReadFile(filepath.Join(dir, ChecksumsFile))
	require.NoError(t, err)
	assert.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a\n"+
		"3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d  b\n", string(got),
		"sha256sum's format, by name, directories left out")
}
