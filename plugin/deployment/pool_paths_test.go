package deployment

import (
	"fmt"
	"strings"
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// quickSyncPoolV1 deploys the pool's first revision with a quick sync and returns its name.
func quickSyncPoolV1(t *testing.T, e *env) string {
	t.Helper()
	e.deploy("1111111aaaa", poolQuickApp, poolYAML("gcr.io/p/consumer:v1"))
	rev := e.poolRevisionFor()
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	return rev
}

// TestPool_SyncReadErrorFailsAndWritesNothing: a refused read of the pool fails SYNC with Cloud Run's reason.
func TestPool_SyncReadErrorFailsAndWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newPoolEnv(t, f)
	e.deploy("1111111aaaa", poolQuickApp, poolYAML("gcr.io/p/consumer:v1"))
	f.InjectFault("GetWorkerPool", fakerun.Fault{Code: codes.PermissionDenied, Times: 1})
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "failed to get worker pool "+poolName())
	assert.Zero(t, callCounts(f)["CreateWorkerPool"]+callCounts(f)["UpdateWorkerPool"], "nothing is written")
}

// TestPool_SyncOverAPoolWithoutReadyRevision: a pool whose only revision failed runs nothing; the next SYNC
// gives the new revision every instance at once.
func TestPool_SyncOverAPoolWithoutReadyRevision(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.AddFailingImage("gcr.io/p/consumer:broken")
	e := newPoolEnv(t, f)
	e.deploy("1111111aaaa", poolQuickApp, poolYAML("gcr.io/p/consumer:broken"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())

	e.deploy("2222222bbbb", poolCanaryApp, poolYAML("gcr.io/p/consumer:v2"))
	revB := e.poolRevisionFor()
	status, log = e.run(StageCloudRunSync, `{"skipTrafficShift": true}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "has no ready revision, so it runs nothing: deploying revision "+revB+" with 100% of the instances")
	assert.Equal(t, []string{revB + ":100"}, splitOf(t, f), "nothing else can take the instances")
	assert.Equal(t, map[string]int32{revB: 10}, instancesOf(t, f))
}

// TestPool_QuickSyncPrunes: quickSync.prune deletes the revisions that have no instances, are not the
// rollback target and are not among the 5 newest.
func TestPool_QuickSyncPrunes(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newPoolEnv(t, f)
	app := poolQuickApp + "      quickSync:\n        prune: true\n"
	var revs []string
	for i := range 8 {
		e.deploy(strings.Repeat(string(rune('1'+i)), 7)+"aaaa", app, poolYAML(fmt.Sprintf("gcr.io/p/consumer:v%d", i+1)))
		revs = append(revs, e.poolRevisionFor())
		status, log := e.run(StageCloudRunSync, "", quick)
		require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	}
	var left []string
	for _, r := range f.WorkerPoolRevisions(poolName()) {
		left = append(left, naming.ShortName(r.GetName()))
	}
	assert.ElementsMatch(t, revs[1:], left, "the new revision, the rollback target and the 5 newest before it stay")
	assert.Equal(t, []string{revs[7] + ":100"}, splitOf(t, f))
}

// TestPool_RefusedRevisionNamesAreBounded: Cloud Run refusing every name of the new revision fails SYNC
// after the last generation, the split unchanged; a re-run applies the recorded last name.
func TestPool_RefusedRevisionNamesAreBounded(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newPoolEnv(t, f)
	revA := quickSyncPoolV1(t, e)

	e.deploy("2222222bbbb", poolQuickApp, poolYAML("gcr.io/p/consumer:v2"))
	last := e.poolRevisionFor() + "-5"
	f.InjectFault("UpdateWorkerPool", fakerun.Fault{Code: codes.AlreadyExists, Message: "Revision named 'x' with different configuration already exists.", Times: naming.MaxRevisionGeneration})
	f.ResetCalls()
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "all 5 names of the new revision were refused, the last being "+last)
	assert.Equal(t, naming.MaxRevisionGeneration, callCounts(f)["UpdateWorkerPool"], "one write per name")
	assert.Equal(t, []string{revA + ":100"}, splitOf(t, f), "the split is unchanged")

	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{last + ":100"}, splitOf(t, f))
}

// TestPool_RollbackToANamedRevision: the revision option gives that revision every instance.
func TestPool_RollbackToANamedRevision(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newPoolEnv(t, f)
	revA := quickSyncPoolV1(t, e)
	e.deploy("2222222bbbb", poolQuickApp, poolYAML("gcr.io/p/consumer:v2"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	e.deploy("3333333cccc", strings.Replace(poolRollbackApp, "consumer-nope", revA, 1), poolYAML("gcr.io/p/consumer:v3"))
	status, log = e.run(StageCloudRunSync, `{"skipTrafficShift": true}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())

	status, log = e.run(StageCloudRunRollback, `{"revision": "`+revA+`"}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revA + ":100"}, splitOf(t, f))
	assert.Contains(t, log.String(), "Rolled back worker pool consumer: 100% of the instances to revision "+revA)
}

// TestPool_RollbackOfAFirstDeploymentToAnUnknownRevision: with no earlier split to restore, an unusable
// revision option fails the rollback and leaves the pool as it is.
func TestPool_RollbackOfAFirstDeploymentToAnUnknownRevision(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newPoolEnv(t, f)
	e.deploy("1111111aaaa", poolRollbackApp, poolYAML("gcr.io/p/consumer:v1"))
	revA := e.poolRevisionFor()
	status, log := e.run(StageCloudRunSync, `{"skipTrafficShift": true}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	f.ResetCalls()

	status, log = e.run(StageCloudRunRollback, `{"revision": "consumer-nope"}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "revision consumer-nope does not exist")
	assert.Equal(t, []string{revA + ":100"}, splitOf(t, f))
	assert.Zero(t, callCounts(f)["UpdateWorkerPool"], "nothing is written")
}

// TestPool_RefusedRollbackNamesTheCommandThatFinishesIt: a rollback Cloud Run refuses says how to restore
// the split by hand, naming only the revisions that had instances.
func TestPool_RefusedRollbackNamesTheCommandThatFinishesIt(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newPoolEnv(t, f)
	revA := quickSyncPoolV1(t, e)
	e.deploy("2222222bbbb", poolCanaryApp, poolYAML("gcr.io/p/consumer:v2"))
	status, log := e.run(StageCloudRunSync, `{"skipTrafficShift": true}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	status, log = e.run(StageCloudRunPromote, `{"percent": 10}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())

	f.InjectFault("UpdateWorkerPool", fakerun.Fault{Code: codes.PermissionDenied})
	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	want := "gcloud beta run worker-pools update-instance-split consumer --region " + testRegion + " --to-revisions " + revA + "=100"
	require.Contains(t, log.String(), want)
	line := log.String()[strings.Index(log.String(), want):]
	assert.Equal(t, want, strings.TrimSpace(strings.SplitN(line, "\n", 2)[0]), "no revision without instances is named")
}
