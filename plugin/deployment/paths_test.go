package deployment

import (
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

// TestDetermineStrategy_ServiceToWorkerPool: an application that changes between a service and a worker
// pool syncs with its pipeline, and the summary says which way.
func TestDetermineStrategy_ServiceToWorkerPool(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.files = map[string]string{"pool.yaml": poolYAML("gcr.io/p/consumer:v1")}
	service := e.source("1111111", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	pool := e.source("2222222", poolQuickApp, serviceYAML("gcr.io/p/web:v1"))
	for _, tc := range []struct {
		name            string
		running, target sdk.DeploymentSource[config.RawApplicationSpec]
		want            string
	}{
		{name: "service to pool", running: service, target: pool, want: "Sync with the pipeline because the application changes from a service to a worker pool"},
		{name: "pool to service", running: pool, target: service, want: "Sync with the pipeline because the application changes from a worker pool to a service"},
	} {
		got, err := NewPlugin(nil).DetermineStrategy(t.Context(), &config.PluginConfig{}, &sdk.DetermineStrategyInput[config.RawApplicationSpec]{
			Request: sdk.DetermineStrategyRequest[config.RawApplicationSpec]{RunningDeploymentSource: tc.running, TargetDeploymentSource: tc.target},
		})
		require.NoError(t, err, tc.name)
		assert.Equal(t, sdk.SyncStrategyPipelineSync, got.Strategy, tc.name)
		assert.Equal(t, tc.want, got.Summary, tc.name)
	}
}

// TestRollback_RevisionCheckThatFailsStopsTheRollback: a read of the revision option that Cloud Run
// refuses (not NOT_FOUND) fails the rollback with Cloud Run's reason, writing nothing.
func TestRollback_RevisionCheckThatFailsStopsTheRollback(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revA := quickSyncV1(t, e)
	e.deploy("2222222bbbb", pipelineWithRollback(revA), serviceYAML("gcr.io/p/web:v2"))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, `{"skipTrafficShift": true}`, nil)))
	before := trafficOf(t, f)

	f.ResetCalls()
	f.InjectFault("GetRevision", fakerun.Fault{Code: codes.PermissionDenied, Times: 1})
	status, log := e.run(StageCloudRunRollback, `{"revision": "`+revA+`"}`, nil)
	assert.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), "failed to get revision")
	assert.Zero(t, callCounts(f)["UpdateService"], "nothing is written")
	assert.Equal(t, before, trafficOf(t, f))
}
