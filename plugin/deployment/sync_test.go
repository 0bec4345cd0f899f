package deployment

import (
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/syncplan"
)

// revisionFor returns the revision name SYNC gives to the env's current deployment.
func (e *env) revisionFor() string {
	e.t.Helper()
	src, err := app.Load(e.source(e.commit, e.app, e.service))
	require.NoError(e.t, err)
	want, err := src.Desired(config.DeployTargetConfig{Project: testProject, Region: testRegion},
		sdk.Deployment{ApplicationID: "app-1", PipedID: "piped-1"})
	require.NoError(e.t, err)
	return want.Revision
}

func TestSync_QuickSyncFirstDeploymentThenUpdate(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)

	// The first revision takes a moment to start: the stage returns once it serves, not when it is created.
	f.SetReadinessDelay(300 * time.Millisecond)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
	svc, err := f.Service(serviceName())
	require.NoError(t, err)
	assert.Equal(t, naming.FullRevisionName(serviceName(), revA), svc.GetLatestReadyRevision(), "the stage returned before the revision was ready")
	assert.Contains(t, log.String(), "first deployment")
	assert.Contains(t, log.String(), "Created service web with revision "+revA)
	assert.Contains(t, log.String(), "Service URL: "+svc.GetUri())
	f.SetReadinessDelay(0)

	f.ResetCalls()
	e.deploy("2222222bbbb", quickSyncApp, serviceYAML("gcr.io/p/web:v2"))
	revB := e.revisionFor()
	require.NotEqual(t, revA, revB)
	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revB + ":100"}, trafficOf(t, f))
	assert.Contains(t, log.String(), revA)

	calls := callCounts(f)
	assert.Equal(t, 2, calls["GetService"], calls)
	assert.Equal(t, 2, calls["UpdateService"], calls)
	assert.Zero(t, calls["CreateService"], calls)
}

func TestSyncPlan_RequestIsWhatSyncApplies(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))
	live, err := f.Service(serviceName())
	require.NoError(t, err)

	cfg := config.DeployTargetConfig{Project: testProject, Region: testRegion}
	d := sdk.Deployment{ApplicationID: "app-1", PipedID: "piped-1"}
	request := func(live *runpb.Service) *runpb.Service {
		t.Helper()
		src, err := app.Load(e.source(e.commit, e.app, e.service))
		require.NoError(t, err)
		want, err := src.Desired(cfg, d)
		require.NoError(t, err)
		plan, err := syncplan.Decide(syncplan.Input{Live: live, Want: want})
		require.NoError(t, err)
		got, err := plan.Request(live, plan.Revision())
		require.NoError(t, err)
		return got
	}
	got := request(live)
	assert.Equal(t, live.GetName(), got.GetName())
	assert.Equal(t, live.GetTemplate().GetRevision(), got.GetTemplate().GetRevision())
	for _, k := range []string{provider.LabelManagedBy, provider.LabelPiped, provider.LabelApplication, provider.LabelCommitHash} {
		assert.Equal(t, live.GetLabels()[k], got.GetLabels()[k], k)
	}
	assert.Equal(t, live.GetTemplate().GetLabels(), got.GetTemplate().GetLabels())

	// A later commit with the same template keeps the live revision; without a live service it gets its own name.
	e.deploy("2222222bbbb", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	got = request(live)
	assert.Equal(t, live.GetTemplate().GetRevision(), got.GetTemplate().GetRevision())
	assert.Equal(t, "2222222bbbb", got.GetLabels()[provider.LabelCommitHash])
	got = request(nil)
	assert.Equal(t, e.revisionFor(), got.GetTemplate().GetRevision())
	assert.NotEqual(t, live.GetTemplate().GetRevision(), got.GetTemplate().GetRevision())
	// A service that never had a ready revision is deployed afresh, under the new name.
	live.LatestReadyRevision = ""
	got = request(live)
	assert.Equal(t, e.revisionFor(), got.GetTemplate().GetRevision())
}
