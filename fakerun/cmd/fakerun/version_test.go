package main

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersionFlag(t *testing.T) {
	t.Parallel()
	for _, flag := range []string{"--version", "-version"} {
		cmd := exec.CommandContext(t.Context(), os.Args[0], flag)
		cmd.Env = append(os.Environ(), runMainEnv+"=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "fakerun %s: %s", flag, out)
		assert.Equal(t, "fakerun dev commit unknown "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH,
			strings.TrimSpace(string(out)), flag)
	}
}

func TestVersionRequested(t *testing.T) {
	t.Parallel()
	assert.True(t, versionRequested([]string{"--version"}))
	assert.False(t, versionRequested(nil))
	assert.False(t, versionRequested([]string{"-port", "0", "--version"}), "--version only alone")
}
