package deployment_test

import (
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/deployment"
	"github.com/pipecd-cloudrun/cloudrun/plugin/livestate"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// liveSyncState returns a reader of the sync state of r's application, as the livestate plugin on registry
// reports it.
func liveSyncState(t *testing.T, r deployment.StageRunner, registry *provider.Registry) func() sdk.ApplicationSyncState {
	t.Helper()
	live := livestate.NewPlugin(registry)
	return func() sdk.ApplicationSyncState {
		t.Helper()
		resp, err := live.GetLivestate(t.Context(), &config.PluginConfig{}, r.DeployTargets(), &sdk.GetLivestateInput[config.RawApplicationSpec]{
			Request: sdk.GetLivestateRequest[config.RawApplicationSpec]{PipedID: "piped-1", ApplicationID: "app-1", ApplicationName: "web", DeploymentSource: r.Source()},
			Logger:  zaptest.NewLogger(t),
		})
		require.NoError(t, err)
		return resp.SyncState
	}
}

// After a failed canary is rolled back, the service runs the template from before the deployment, so
// live state at the failed commit is OUT_OF_SYNC: git's head is not what runs.
func TestRollback_LiveStateIsOutOfSyncAfterARolledBackCanary(t *testing.T) {
	t.Parallel()
	f, err := fakerun.NewServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	r := deployment.NewStageRunner(t, f)
	registry := provider.NewRegistry()
	t.Cleanup(func() { _ = registry.Close() })
	syncState := liveSyncState(t, r, registry)

	r.Deploy("1111111aaaa", deployment.QuickSyncApp, deployment.ServiceYAML("gcr.io/p/web:v1"))
	status, log := r.Run(deployment.StageCloudRunSync, "", true)
	require.Equal(t, sdk.StageStatusSuccess, status, log)

	r.Deploy("2222222bbbb", deployment.V0CanaryApp, deployment.ServiceYAML("gcr.io/p/web:v2"))
	status, log = r.Run(deployment.StageCloudRunPromote, `{"percent": 10}`, false)
	require.Equal(t, sdk.StageStatusSuccess, status, log)
	require.Equal(t, sdk.ApplicationSyncStateSynced, syncState().Status, "a canary in progress is in sync")

	status, log = r.Run(deployment.StageCloudRunRollback, "", false)
	require.Equal(t, sdk.StageStatusSuccess, status, log)
	got := syncState()
	assert.Equal(t, sdk.ApplicationSyncStateOutOfSync, got.Status, got.Reason)
	assert.Contains(t, got.ShortReason, "differs from git: template.containers[0].image")
	assert.Contains(t, got.Reason, "gcr.io/p/web:v2")
	assert.Contains(t, got.Reason, "gcr.io/p/web:v1")
}
