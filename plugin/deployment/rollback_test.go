package deployment

import (
	"testing"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// setTraffic changes the traffic of the service behind the plugin's back, as a person with gcloud would.
func setTraffic(t *testing.T, f *fakerun.Server, targets ...*runpb.TrafficTarget) {
	t.Helper()
	c, err := run.NewServicesClient(t.Context(), f.ClientOptions()...)
	require.NoError(t, err)
	defer func() { assert.NoError(t, c.Close()) }()
	op, err := c.UpdateService(t.Context(), &runpb.UpdateServiceRequest{
		Service:    &runpb.Service{Name: serviceName(), Traffic: targets},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"traffic"}},
	})
	require.NoError(t, err)
	_, err = op.Wait(t.Context())
	require.NoError(t, err)
}

func latest(percent int32, tag string) *runpb.TrafficTarget {
	return &runpb.TrafficTarget{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: percent, Tag: tag}
}

func TestRollback_RestoresTrafficExactlyWithForeignTags(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)

	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	// Someone follows LATEST again and tags the current revision.
	setTraffic(t, f, latest(100, ""), traffic.Revision(revA, 0, "stable"), latest(0, "head"))

	e.deploy("2222222bbbb", canaryApp, serviceYAML("gcr.io/p/web:v2"))
	revB := e.revisionFor()
	status, log = e.run(StageCloudRunSync, canarySync, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	status, log = e.run(StageCloudRunPromote, `{"percent": 50}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, trafficOf(t, f), revB+":50")

	// While the deployment runs, someone adds another tag; it must survive the rollback.
	cur, err := f.Service(serviceName())
	require.NoError(t, err)
	setTraffic(t, f, append(cur.GetTraffic(), traffic.Revision(revA, 0, "ops"))...)

	f.ResetCalls()
	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	// The LATEST entries come back pinned to revA, the latest ready revision before the deployment:
	// LATEST would now mean revB.
	assert.Equal(t, []string{revA + ":100", revA + ":0:stable", revA + ":0:head", revA + ":0:ops"}, trafficOf(t, f))
	assert.Equal(t, map[string]int{"GetService": 1, "UpdateService": 1}, callCounts(f))

	// Running the rollback again changes nothing.
	f.ResetCalls()
	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, map[string]int{"GetService": 1}, callCounts(f))
}

func TestRollback_NoOpWhenSyncDidNotRun(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	before := trafficOf(t, f)

	e.deploy("2222222bbbb", canaryApp, serviceYAML("gcr.io/p/web:v2"))
	f.ResetCalls()
	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "nothing to roll back")
	assert.Empty(t, f.Calls())
	assert.Equal(t, before, trafficOf(t, f))
}

func TestRollback_FirstDeploymentLeavesTheServiceAlone(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())

	f.ResetCalls()
	status, log = e.run(StageCloudRunRollback, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "first deployment")
	assert.Empty(t, f.Calls())
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))

	// PROMOTE has nothing to do either.
	status, log = e.run(StageCloudRunPromote, `{"percent": 50}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "nothing to promote")
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
}

func TestRollback_ToARevisionGivenInThePipeline(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))
	e.deploy("2222222bbbb", quickSyncApp, serviceYAML("gcr.io/p/web:v2"))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))

	e.deploy("3333333cccc", pipelineWithRollback(revA), serviceYAML("gcr.io/p/web:v3"))
	status, log := e.run(StageCloudRunSync, canarySync, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	status, log = e.run(StageCloudRunRollback, `{"revision": "`+revA+`"}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	// revA gets everything; revB (serving before) and the preview tag of this deployment are gone.
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
}

// pipelineWithRollback is a canary pipeline whose CLOUDRUN_ROLLBACK routes to revision.
func pipelineWithRollback(revision string) string {
	return `apiVersion: pipecd.dev/v1beta1
kind: Application
spec:
  name: web
  pipeline:
    stages:
      - name: CLOUDRUN_SYNC
        with:
          skipTrafficShift: true
          tag: true
      - name: CLOUDRUN_ROLLBACK
        with:
          revision: ` + revision + `
  plugins:
    cloudrun: {}
`
}

// first returns the stage status of a run.
func first(status sdk.StageStatus, _ *recordLog) sdk.StageStatus {
	return status
}
