package pipedv1

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	config "github.com/pipe-cd/pipecd/pkg/configv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

func TestRepoCommitsOnMainAndOnABranch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src := t.TempDir()
	require.NoError(t, writeFiles(src, map[string]string{"app.pipecd.yaml": "a", "service.yaml": "v1"}))
	r, err := NewRepo(ctx, t.TempDir()+"/repo", map[string]string{"app": src})
	require.NoError(t, err)
	first, err := r.Head(ctx)
	require.NoError(t, err)

	onBranch, err := r.CommitOnBranch(ctx, "pr", "v2", map[string]string{"app/service.yaml": "v2"})
	require.NoError(t, err)
	head, err := r.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, first, head, "main stays where it was")
	assert.NotEqual(t, first, onBranch)

	second, err := r.Commit(ctx, "v3", map[string]string{"app/service.yaml": "v3"})
	require.NoError(t, err)
	head, err = r.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, second, head)
	assert.Equal(t, "file://"+r.Dir, r.Remote())
}

func TestPipedLoadsTheWrittenConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path, err := writeConfig(dir, Config{
		ControlPlane: "127.0.0.1:1234", ProjectID: "p", PipedID: "id", PipedKey: "key",
		RepoID: "examples", Repo: &Repo{Dir: "/r"}, SyncInterval: 2 * time.Second,
		Plugins: []Plugin{{Name: "cloudrun", URL: FileURL("/bin/plugin"), Port: 7001, DeployTargets: []piped.DeployTarget{
			{Name: "local", Config: map[string]any{"project": "p", "region": "asia-northeast1"}},
		}}},
	})
	require.NoError(t, err)

	cfg, err := config.LoadFromYAML[*config.PipedSpec](path)
	require.NoError(t, err, "piped's own loader reads it")
	spec := cfg.Spec
	assert.Equal(t, "127.0.0.1:1234", spec.APIAddress)
	assert.Equal(t, config.Duration(2*time.Second), spec.SyncInterval)
	key, err := spec.LoadPipedKey()
	require.NoError(t, err)
	assert.Equal(t, "key", string(key))
	require.Len(t, spec.Repositories, 1)
	assert.Equal(t, "file:///r", spec.Repositories[0].Remote)
	require.Len(t, spec.Plugins, 1)
	assert.Equal(t, "file:///bin/plugin", spec.Plugins[0].URL)
	assert.Equal(t, 7001, spec.Plugins[0].Port)
	require.Len(t, spec.Plugins[0].DeployTargets, 1)
	assert.JSONEq(t, `{"project":"p","region":"asia-northeast1"}`, string(spec.Plugins[0].DeployTargets[0].Config))
}

func writeFiles(dir string, files map[string]string) error {
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
