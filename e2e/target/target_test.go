package target

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCloudRunFromEnv(t *testing.T) {
	t.Setenv(ProjectEnv, "")
	_, ok := CloudRunFromEnv()
	assert.False(t, ok, "no project: fakerun")

	t.Setenv(ProjectEnv, "my-project")
	t.Setenv(RegionEnv, "")
	t.Setenv(CredentialsEnv, "key.json")
	cfg, ok := CloudRunFromEnv()
	require.True(t, ok)
	assert.Equal(t, CloudRunConfig{Project: "my-project", Region: DefaultRegion, CredentialsFile: "key.json"}, cfg)

	c := NewCloudRun(cfg)
	assert.Equal(t, KindCloudRun, c.Kind())
	assert.Equal(t, map[string]any{"project": "my-project", "region": "us-central1", "credentialsFile": "key.json"}, c.DeployTargetConfig("us-central1"))
}

func TestCheckCredentials(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.json")
	err := CloudRunConfig{Project: "p", CredentialsFile: missing}.CheckCredentials(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), CredentialsEnv+"="+missing)
}

func TestSweepRefusesShortPrefixes(t *testing.T) {
	t.Parallel()
	fr, err := NewFakerun()
	require.NoError(t, err)
	t.Cleanup(func() { _ = fr.Close() })
	for _, prefix := range []string{"", "e2e"} {
		_, err := Sweep(context.Background(), fr, prefix)
		require.ErrorContains(t, err, "shorter than 6 characters")
	}
}

func TestEndpointReachesAFakeAtItsAddress(t *testing.T) {
	t.Parallel()
	fr, err := NewFakerun()
	require.NoError(t, err)
	t.Cleanup(func() { _ = fr.Close() })
	e := NewEndpoint(fr.Server().Addr(), "p", "r")
	assert.Equal(t, KindFakerun, e.Kind())
	assert.Equal(t, map[string]any{"project": "p", "region": "r2", "endpoint": fr.Server().Addr(), "insecure": true}, e.DeployTargetConfig("r2"))
	deleted, err := Sweep(context.Background(), e, "e2e000000-")
	require.NoError(t, err, "the endpoint's client options reach the fake")
	assert.Empty(t, deleted)
}
