package deployment

import (
	"encoding/json"
	"testing"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
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
	got, err := f.Service(serviceName())
	require.NoError(t, err)
	assert.Equal(t, revA, got.GetTemplate().GetRevision())
	assert.Equal(t, "gcr.io/p/web:v1", got.GetTemplate().GetContainers()[0].GetImage())
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
	revB := e.revisionFor()
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))

	e.deploy("3333333cccc", pipelineWithRollback(revA), serviceYAML("gcr.io/p/web:v3"))
	status, log := e.run(StageCloudRunSync, canarySync, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	status, log = e.run(StageCloudRunRollback, `{"revision": "`+revA+`"}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	// revA gets everything; revB (serving before) and the preview tag of this deployment are gone.
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
	// The service is restored all the same: it runs revB's template again.
	got, err := f.Service(serviceName())
	require.NoError(t, err)
	assert.Equal(t, revB, got.GetTemplate().GetRevision())
	assert.Equal(t, "gcr.io/p/web:v2", got.GetTemplate().GetContainers()[0].GetImage())
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

func TestRollback_RestoresTheTemplateOfAFailedCanary(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))
	setTraffic(t, f, traffic.Revision(revA, 100, ""), traffic.Revision(revA, 0, "stable"))
	pre, err := f.Service(serviceName())
	require.NoError(t, err)

	// A PipeCD v0 canary: its first PROMOTE deploys a revision that cannot start.
	f.AddFailingImage("gcr.io/p/web:broken")
	e.deploy("2222222bbbb", v0CanaryApp, serviceYAML("gcr.io/p/web:broken"))
	status, log := e.run(StageCloudRunPromote, `{"percent": 10}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	failed, err := f.Service(serviceName())
	require.NoError(t, err)
	require.Equal(t, e.revisionFor(), failed.GetTemplate().GetRevision())
	revisions := len(f.Revisions(serviceName()))

	f.ResetCalls()
	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	got, err := f.Service(serviceName())
	require.NoError(t, err)
	assert.True(t, proto.Equal(pre.GetTemplate(), got.GetTemplate()), "template after the rollback:\n%v\nbefore the deployment:\n%v", got.GetTemplate(), pre.GetTemplate())
	assert.Equal(t, pre.GetLabels(), got.GetLabels())
	assert.Equal(t, "1111111aaaa", got.GetLabels()[provider.LabelCommitHash])
	assert.Equal(t, pre.GetAnnotations(), got.GetAnnotations())
	assert.Equal(t, []string{revA + ":100", revA + ":0:stable"}, trafficOf(t, f))
	assert.Len(t, f.Revisions(serviceName()), revisions, "re-sending the old template under its name creates no revision")
	assert.Equal(t, map[string]int{"GetService": 1, "UpdateService": 1}, callCounts(f))
	assert.Contains(t, log.String(), "Restored the service as it was before the deployment: revision template "+revA+" (image gcr.io/p/web:v1)")
	assert.Contains(t, log.String(), "SUCCESS Rolled back service web: the traffic is as it was before the deployment")

	// Running the rollback again changes nothing, and does not take its own restore for someone else's deploy.
	f.ResetCalls()
	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, map[string]int{"GetService": 1}, callCounts(f))
	assert.NotContains(t, log.String(), "someone deployed meanwhile")
}

func TestRollback_KeepsATemplateDeployedMeanwhile(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))
	e.deploy("2222222bbbb", canaryApp, serviceYAML("gcr.io/p/web:v2"))
	status, log := e.run(StageCloudRunSync, canarySync, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())

	// Someone deploys another image with gcloud while the canary runs.
	deployImage(t, f, "gcr.io/p/web:hotfix")
	hotfix, err := f.Service(serviceName())
	require.NoError(t, err)

	f.ResetCalls()
	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	got, err := f.Service(serviceName())
	require.NoError(t, err)
	assert.True(t, proto.Equal(hotfix.GetTemplate(), got.GetTemplate()), "the template deployed meanwhile is kept: %v", got.GetTemplate())
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
	assert.Contains(t, log.String(), "someone deployed meanwhile, so its template is kept and only the traffic is restored")
	assert.Equal(t, map[string]int{"GetService": 1, "UpdateService": 1}, callCounts(f))
}

func TestRollback_RecordWithoutTheServiceRestoresTrafficOnly(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))
	e.deploy("2222222bbbb", canaryApp, serviceYAML("gcr.io/p/web:v2"))
	revB := e.revisionFor()
	status, log := e.run(StageCloudRunSync, canarySync, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())

	// A record written by an older plugin version: no service before the deployment.
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(e.store.deployment[syncRecordKey("dt1")]), &rec))
	require.Contains(t, rec, "before")
	delete(rec, "before")
	b, err := json.Marshal(rec)
	require.NoError(t, err)
	e.store.deployment[syncRecordKey("dt1")] = string(b)

	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	got, err := f.Service(serviceName())
	require.NoError(t, err)
	assert.Equal(t, revB, got.GetTemplate().GetRevision())
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
	assert.Contains(t, log.String(), "only the traffic is restored")
}

// deployImage deploys image behind the plugin's back, as `gcloud run deploy --image` would: a new
// template (and revision), the traffic left as it is.
func deployImage(t *testing.T, f *fakerun.Server, image string) {
	t.Helper()
	c, err := run.NewServicesClient(t.Context(), f.ClientOptions()...)
	require.NoError(t, err)
	defer func() { assert.NoError(t, c.Close()) }()
	live, err := f.Service(serviceName())
	require.NoError(t, err)
	tmpl := cloneService(live).GetTemplate()
	tmpl.Revision = ""
	tmpl.Containers[0].Image = image
	op, err := c.UpdateService(t.Context(), &runpb.UpdateServiceRequest{
		Service:    &runpb.Service{Name: serviceName(), Template: tmpl},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"template"}},
	})
	require.NoError(t, err)
	_, err = op.Wait(t.Context())
	require.NoError(t, err)
}

func TestRollback_RetriesAbortedWithAFreshRead(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revA, _ := canaryStart(t, e)
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, canarySync, nil)))

	f.ResetCalls()
	f.InjectFault("UpdateService", fakerun.Fault{Code: codes.Aborted, Times: 1})
	status, log := e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	got, err := f.Service(serviceName())
	require.NoError(t, err)
	assert.Equal(t, revA, got.GetTemplate().GetRevision())
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
	assert.Equal(t, map[string]int{"GetService": 2, "UpdateService": 2}, callCounts(f))
	for _, c := range f.Calls() {
		if req, ok := c.Request.(*runpb.UpdateServiceRequest); ok {
			assert.NotEmpty(t, req.GetService().GetEtag(), "every write carries the etag of its read")
			assert.Equal(t, revA, req.GetService().GetTemplate().GetRevision())
		}
	}
}

func TestRollback_ToARevisionThatDoesNotExistSendsNothingThereAndRestores(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revA := quickSyncV1(t, e)

	e.deploy("2222222bbbb", pipelineWithRollback("web-gone"), serviceYAML("gcr.io/p/web:v2"))
	revB := e.revisionFor()
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, `{"skipTrafficShift": true}`, nil)))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunPromote, `{"percent": 50}`, nil)))

	f.ResetCalls()
	status, log := e.run(StageCloudRunRollback, `{"revision": "web-gone"}`, nil)
	assert.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), `option "revision" of CLOUDRUN_ROLLBACK: revision web-gone does not exist, so it cannot take the traffic; the ready revisions of service web are: `)
	assert.Contains(t, log.String(), revA)
	assert.Contains(t, log.String(), revB)
	assert.Contains(t, log.String(), "restored as it was before the deployment instead")
	// The pre-deploy state is back, and Cloud Run never saw the missing revision.
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
	got, err := f.Service(serviceName())
	require.NoError(t, err)
	assert.Equal(t, revA, got.GetTemplate().GetRevision())
	assert.True(t, got.GetTerminalCondition().GetState() != runpb.Condition_CONDITION_FAILED, "the service is not left failed")
	for _, c := range f.Calls() {
		if req, ok := c.Request.(*runpb.UpdateServiceRequest); ok {
			assert.NotContains(t, describeTraffic(req.GetService().GetTraffic()), "web-gone:100")
		}
	}
}

func TestRollback_FirstDeploymentToARevisionThatDoesNotExistWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", pipelineWithRollback("web-gone"), serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", nil)))

	f.ResetCalls()
	status, log := e.run(StageCloudRunRollback, `{"revision": "web-gone"}`, nil)
	assert.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), "revision web-gone does not exist, so it cannot take the traffic; the ready revisions of service web are: "+revA)
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
	assert.NotContains(t, callCounts(f), "UpdateService")
}
