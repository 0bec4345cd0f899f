package deployment

import (
	"context"
	"testing"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// canaryStart deploys v1 by quick sync and prepares the canary deployment of v2; it returns revA and revB.
func canaryStart(t *testing.T, e *env) (string, string) {
	t.Helper()
	revA := quickSyncV1(t, e)
	e.deploy("2222222bbbb", canaryApp, serviceYAML("gcr.io/p/web:v2"))
	return revA, e.revisionFor()
}

// quickSyncV1 deploys gcr.io/p/web:v1 at commit 1111111aaaa by quick sync and returns its revision.
func quickSyncV1(t *testing.T, e *env) string {
	t.Helper()
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	return revA
}

func TestSync_RerunCreatesNothingNew(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revA, revB := canaryStart(t, e)

	status, log := e.run(StageCloudRunSync, canarySync, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	recorded := e.store.deployment[syncRecordKey("dt1")]
	after := trafficOf(t, f)

	// The plugin was killed after the stage changed Cloud Run; piped runs the stage again.
	f.ResetCalls()
	status, log = e.run(StageCloudRunSync, canarySync, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, after, trafficOf(t, f))
	assert.Len(t, f.Revisions(serviceName()), 2)
	assert.Zero(t, callCounts(f)["UpdateService"])
	assert.Equal(t, recorded, e.store.deployment[syncRecordKey("dt1")], "the record of the first run is kept")
	assert.Contains(t, recorded, `"revision":"`+revA+`","percent":100`)
	assert.Contains(t, recorded, revB)

	// The same for a quick sync that already routed all traffic.
	e.deploy("3333333cccc", quickSyncApp, serviceYAML("gcr.io/p/web:v3"))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))
	f.ResetCalls()
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))
	assert.Zero(t, callCounts(f)["UpdateService"])
	assert.Len(t, f.Revisions(serviceName()), 3)
}

func TestSync_UnchangedTemplateCreatesNoRevision(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))

	// A new commit that changes only a service-level label keeps revision A.
	e.deploy("2222222bbbb", quickSyncApp, "labels:\n  team: web\n"+serviceYAML("gcr.io/p/web:v1"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Len(t, f.Revisions(serviceName()), 1)
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
	svc, err := f.Service(serviceName())
	require.NoError(t, err)
	assert.Equal(t, "web", svc.GetLabels()["team"])
	assert.Contains(t, log.String(), "revision "+revA+" is kept")
}

func TestWrites_RetryAbortedWithAFreshRead(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	_, revB := canaryStart(t, e)
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, canarySync, nil)))

	f.ResetCalls()
	f.InjectFault("UpdateService", fakerun.Fault{Code: codes.Aborted, Times: 2})
	status, log := e.run(StageCloudRunPromote, `{"percent": 10}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, trafficOf(t, f), revB+":10")
	assert.Equal(t, map[string]int{"GetService": 3, "UpdateService": 3}, callCounts(f))
	for _, c := range f.Calls() {
		if req, ok := c.Request.(*runpb.UpdateServiceRequest); ok {
			assert.NotEmpty(t, req.GetService().GetEtag(), "every write carries the etag of its read")
		}
	}

	// A service that keeps changing makes the stage give up after writeAttempts.
	f.ResetCalls()
	f.InjectFault("UpdateService", fakerun.Fault{Code: codes.Aborted})
	status, log = e.run(StageCloudRunPromote, `{"percent": 50}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "gave up after 5 attempts")
	assert.Equal(t, 5, callCounts(f)["UpdateService"])
	assert.Contains(t, trafficOf(t, f), revB+":10")

	// The last of the attempts still counts.
	f.ClearFaults()
	f.InjectFault("UpdateService", fakerun.Fault{Code: codes.Aborted, Times: 4})
	status, log = e.run(StageCloudRunPromote, `{"percent": 50}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, trafficOf(t, f), revB+":50")
}

func TestCalls_RetryTransientErrors(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	_, revB := canaryStart(t, e)

	f.InjectFault("GetService", fakerun.Fault{Code: codes.Unavailable, Times: 2})
	f.InjectFault("UpdateService", fakerun.Fault{Code: codes.ResourceExhausted, Times: 1})
	f.InjectFault("GetRevision", fakerun.Fault{Code: codes.DeadlineExceeded, Times: 1})
	status, log := e.run(StageCloudRunSync, canarySync, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, trafficOf(t, f), revB+":0:preview-2222222")
	assert.Contains(t, log.String(), "Cloud Run answered unavailable to get service web; retrying in")

	// Other codes fail at once with a hint.
	f.ResetCalls()
	f.InjectFault("GetService", fakerun.Fault{Code: codes.PermissionDenied, Times: 1})
	status, log = e.run(StageCloudRunPromote, `{"percent": 10}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), "roles/run.developer")
	assert.Equal(t, map[string]int{"GetService": 1}, callCounts(f))
}

func TestSync_FailingRevisionLeavesTrafficUnchanged(t *testing.T) {
	t.Parallel()
	f := newFake(t, fakerun.WithFailingImage("gcr.io/p/web:broken"), fakerun.WithReadinessDelay(20*time.Millisecond))
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))

	e.deploy("2222222bbbb", quickSyncApp, serviceYAML("gcr.io/p/web:broken"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), "failed to become ready: Image 'gcr.io/p/web:broken' not found.")
	assert.Contains(t, log.String(), "The traffic was not changed")
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
	assert.Empty(t, e.store.stage[sdk.MetadataKeyStageDisplay], "no preview to show")

	// Rollback after the failure keeps the traffic where it is.
	status, log = e.run(StageCloudRunRollback, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
}

func TestSync_ReadinessTimeoutLeavesTrafficUnchanged(t *testing.T) {
	t.Parallel()
	f := newFake(t, fakerun.WithManualReadiness())
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	// Readiness is decided by hand here: make the first revision ready once the service that creates it is.
	go func() {
		if _, err := f.WaitForCall(t.Context(), "CreateService"); err == nil {
			assert.NoError(t, f.SetRevisionReady(revA, true))
		}
	}()
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))

	e.deploy("2222222bbbb", canaryApp, serviceYAML("gcr.io/p/web:v2"))
	status, log := e.run(StageCloudRunSync, `{"timeout": "100ms"}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), "did not become ready within 100ms")
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
}

func TestStages_UnansweredCloudRunFailsPromptly(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revA, _ := canaryStart(t, e)

	// Cloud Run stops answering revision reads while SYNC waits: the readiness timeout ends the stage.
	f.InjectFault("GetRevision", fakerun.Fault{Delay: time.Minute})
	start := time.Now()
	status, log := e.run(StageCloudRunSync, `{"skipTrafficShift": true, "timeout": "300ms"}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), "did not become ready within 300ms")
	assert.Less(t, time.Since(start), 5*time.Second)

	// Cloud Run stops answering at all: piped's stage timeout (the context) ends the stage.
	f.ClearFaults()
	f.InjectFault("GetService", fakerun.Fault{Delay: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	status, log = e.runCtx(ctx, StageCloudRunPromote, `{"percent": 50}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), "failed to get service "+serviceName())
	assert.Less(t, time.Since(start), 5*time.Second)
	f.ClearFaults()
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
}

func TestStages_RunOnEveryDeployTarget(t *testing.T) {
	t.Parallel()
	f1, f2 := newFake(t), newFake(t)
	e := newEnv(t, f1, f2)
	revA, revB := canaryStart(t, e)
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f2))

	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, canarySync, nil)))
	status, log := e.run(StageCloudRunPromote, `{"percent": 30}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	for _, f := range []*fakerun.Server{f1, f2} {
		assert.ElementsMatch(t, []string{revB + ":30", revA + ":70", revB + ":0:preview-2222222"}, trafficOf(t, f))
	}
	assert.Contains(t, log.String(), "[dt1] ")
	assert.Contains(t, log.String(), "[dt2] ")

	// One target failing fails the stage; the rollback covers both.
	f2.InjectFault("UpdateService", fakerun.Fault{Code: codes.PermissionDenied, Times: 1})
	status, log = e.run(StageCloudRunPromote, `{"percent": 60}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), "[dt2] ")
	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	for _, f := range []*fakerun.Server{f1, f2} {
		assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
	}
}

func TestSync_RecoversFromAFailedFirstDeploymentAndPrunes(t *testing.T) {
	t.Parallel()
	f := newFake(t, fakerun.WithFailingImage("gcr.io/p/web:broken"))
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:broken"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), "not found")

	app := appWith("      quickSync:\n        prune: true\n")
	e.deploy("2222222bbbb", app, serviceYAML("gcr.io/p/web:v2"))
	revB := e.revisionFor()
	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revB + ":100"}, trafficOf(t, f))

	e.deploy("3333333cccc", app, serviceYAML("gcr.io/p/web:v3"))
	revC := e.revisionFor()
	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revC + ":100"}, trafficOf(t, f))
	// Prune keeps the new revision, the rollback target revB and up to 5 more: here the failed one.
	assert.Len(t, f.Revisions(serviceName()), 3)
	assert.Contains(t, log.String(), "Keeping revision "+revB+": the rollback of this deployment routes traffic to it")
}

func TestPromote_UnchangedTemplateInAPipelineIsANoOp(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))

	// The pipeline is forced although only a service label changes.
	e.deploy("2222222bbbb", canaryApp, "labels:\n  team: web\n"+serviceYAML("gcr.io/p/web:v1"))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, `{"skipTrafficShift": true}`, nil)))
	f.ResetCalls()
	status, log := e.run(StageCloudRunPromote, `{"percent": 10}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "nothing to promote")
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
	assert.Empty(t, f.Calls())
}

func TestSync_ServiceThatDisappearsWhileWaitingFailsAtOnce(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name      string
		disappear func(f *fakerun.Server)
		wantLog   string
	}{
		{name: "fakerun restarted", disappear: (*fakerun.Server).Reset, wantLog: "service web disappeared while waiting for revision web-1111111-"},
		{name: "service deleted out of band", disappear: func(f *fakerun.Server) {
			c, err := run.NewServicesClient(t.Context(), f.ClientOptions()...)
			require.NoError(t, err)
			defer func() { assert.NoError(t, c.Close()) }()
			op, err := c.DeleteService(t.Context(), &runpb.DeleteServiceRequest{Name: serviceName()})
			require.NoError(t, err)
			_, err = op.Wait(t.Context())
			require.NoError(t, err)
		}, wantLog: "service web disappeared while waiting for revision web-1111111-"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, fakerun.WithManualReadiness())
			e := newEnv(t, f)
			e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
			// The revision never becomes ready; once SYNC is waiting for it, the service goes away.
			go func() {
				if _, err := f.WaitForCall(t.Context(), "GetRevision"); err == nil {
					tc.disappear(f)
				}
			}()
			start := time.Now()
			status, log := e.run(StageCloudRunSync, "", quick) // default readiness timeout: 10 minutes
			require.Equal(t, sdk.StageStatusFailure, status)
			assert.Contains(t, log.String(), tc.wantLog)
			assert.Less(t, time.Since(start), 10*time.Second, "fails at once, not at the readiness timeout")
		})
	}
}
