package provider

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

// A deploy target whose key file was missing works once the file is mounted, without restarting the plugin;
// its client is then reused, and closed with the registry.
func TestRegistryTriesAgainAfterAFailedCreationAndClosesItsClients(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	cfg := config.DeployTargetConfig{Endpoint: "127.0.0.1:1", CredentialsFile: filepath.Join(t.TempDir(), "sa.json")}

	_, err := r.Client(t.Context(), "dt1", cfg)
	require.ErrorIs(t, err, os.ErrNotExist)

	require.NoError(t, os.Rename(writeKeyFile(t), cfg.CredentialsFile))
	c, err := r.Client(t.Context(), "dt1", cfg)
	require.NoError(t, err, "the failed creation is not kept: the next call tries again")
	again, err := r.Client(t.Context(), "dt1", cfg)
	require.NoError(t, err)
	assert.Same(t, c, again)

	require.NoError(t, r.Close())
	_, err = c.GetService(t.Context(), someService)
	assert.ErrorContains(t, err, "the client connection is closing")
}
