package deployment

import (
	"strings"
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// revisionsOf returns the short names of the revisions of the service in fake f.
func revisionsOf(t *testing.T, f *fakerun.Server) []string {
	t.Helper()
	var out []string
	for _, r := range f.Revisions(serviceName()) {
		out = append(out, r.GetName()[len(serviceName())+len("/revisions/"):])
	}
	return out
}

// deployThenCleanUpV1 deploys v1 to v4 with quick syncs, then runs CLOUDRUN_CANARY_CLEANUP with keepCount 1
// in v4's deployment, which deletes v1's revision (v4 serves, v3 is the rollback target, v2 the newest kept).
// It returns the names of v1's and v4's revisions.
func deployThenCleanUpV1(t *testing.T, f *fakerun.Server, e *env) (revV1, revV4 string) {
	t.Helper()
	revV1 = deployFour(t, e)
	revV4 = e.revisionFor()
	status, log := e.run(StageCloudRunCanaryCleanup, `{"keepCount": 1}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	require.NotContains(t, revisionsOf(t, f), revV1)
	return revV1, revV4
}

func TestSync_RedeployOfADeletedRevisionTakesTheNextName(t *testing.T) {
	t.Parallel()
	f := newFake(t) // By default fakerun, like Cloud Run most likely, refuses a deleted revision's name.
	e := newEnv(t, f)
	revV1, _ := deployThenCleanUpV1(t, f, e)

	// A revert to v1: same commit, same template, so the same name, which Cloud Run refuses.
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	require.Equal(t, revV1, e.revisionFor())
	f.ResetCalls()
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	renamed := revV1 + "-2"
	assert.Equal(t, []string{renamed + ":100"}, trafficOf(t, f))
	assert.Contains(t, log.String(), "Cloud Run refused the revision name "+revV1)
	assert.Contains(t, log.String(), "Naming the new revision "+renamed+" instead")
	assert.Contains(t, log.String(), "Deployed revision "+renamed+" of service web")
	// One extra write for the refused name; the rest is the normal path.
	calls := callCounts(f)
	assert.Equal(t, 3, calls["UpdateService"], calls)
	assert.Equal(t, 2, calls["GetService"], calls)
	rec, found, err := loadSyncRecord(t.Context(), e.store, "dt1")
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, renamed, rec.Revision)

	// A re-run of the stage finds the revision it created and creates nothing.
	before := revisionsOf(t, f)
	f.ResetCalls()
	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, before, revisionsOf(t, f))
	assert.Equal(t, []string{renamed + ":100"}, trafficOf(t, f))
	assert.Zero(t, callCounts(f)["UpdateService"], callCounts(f))
	assert.NotContains(t, log.String(), "refused")

	// The suffixed revision is a revision like any other for CLOUDRUN_CANARY_CLEANUP.
	status, log = e.run(StageCloudRunCanaryCleanup, `{"keepCount": 1}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, revisionsOf(t, f), renamed)
}

func TestSync_RedeployOfADeletedRevisionInACanaryRollsBack(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revV1, revV4 := deployThenCleanUpV1(t, f, e)

	e.deploy("1111111aaaa", canaryApp, serviceYAML("gcr.io/p/web:v1"))
	tag, err := naming.PreviewTag("web", "1111111aaaa")
	require.NoError(t, err)
	renamed := revV1 + "-2"
	status, log := e.run(StageCloudRunSync, canarySync, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revV4 + ":100", renamed + ":0:" + tag}, trafficOf(t, f))
	assert.Contains(t, log.String(), "Preview URL of revision "+renamed+": https://"+tag+"---web-")

	before := revisionsOf(t, f)
	f.ResetCalls()
	status, log = e.run(StageCloudRunSync, canarySync, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, before, revisionsOf(t, f), "a re-run must not create a revision")
	assert.Zero(t, callCounts(f)["UpdateService"], callCounts(f))

	status, log = e.run(StageCloudRunPromote, `{"percent": 50}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.ElementsMatch(t, []string{renamed + ":50", revV4 + ":50", renamed + ":0:" + tag}, trafficOf(t, f))

	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revV4 + ":100"}, trafficOf(t, f))
	svc, err := f.Service(serviceName())
	require.NoError(t, err)
	assert.Equal(t, revV4, svc.GetTemplate().GetRevision())
}

func TestSync_RedeployOfADeletedRevisionKeepsItsNameWhereCloudRunAllowsIt(t *testing.T) {
	t.Parallel()
	f := newFake(t, fakerun.WithCompatibility(fakerun.Compatibility{AllowDeletedRevisionNames: true}))
	e := newEnv(t, f)
	revV1, _ := deployThenCleanUpV1(t, f, e)

	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revV1 + ":100"}, trafficOf(t, f))
	assert.NotContains(t, log.String(), "refused")
}

func TestSync_RefusedNamesAreBoundedAndARerunUsesTheRecordedName(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revV1 := e.revisionFor()
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())

	e.deploy("2222222bbbb", quickSyncApp, serviceYAML("gcr.io/p/web:v2"))
	revV2 := e.revisionFor()
	last := revV2 + "-5"
	f.InjectFault("UpdateService", fakerun.Fault{Code: codes.AlreadyExists, Message: "Revision named 'x' with different configuration already exists.", Times: naming.MaxRevisionGeneration})
	f.ResetCalls()
	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "all 5 names of the new revision were refused, the last being "+last)
	assert.Contains(t, log.String(), "change the revision template")
	assert.Equal(t, naming.MaxRevisionGeneration, callCounts(f)["UpdateService"], "one write per name")
	assert.Equal(t, []string{revV1 + ":100"}, trafficOf(t, f), "the traffic is unchanged")

	// The run recorded the last name before trying it; a re-run applies that name, once.
	f.ResetCalls()
	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{last + ":100"}, trafficOf(t, f))
	assert.Equal(t, 2, callCounts(f)["UpdateService"], "template and traffic")
	assert.NotContains(t, log.String(), "refused")
}

func TestSync_RenamedServiceSaysTheOldOneStaysServing(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revA := quickSyncV1(t, e)

	e.deploy("2222222bbbb", quickSyncApp, strings.Replace(serviceYAML("gcr.io/p/web:v2"), "name: web", "name: web-renamed", 1))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "The service is renamed: the running commit 1111111 deploys service web, this commit deploys service web-renamed. "+
		"This deployment creates or updates web-renamed and leaves web as it is, still serving its traffic; PipeCD no longer manages web. "+
		"Delete it when nothing uses it any more: gcloud run services delete web --region asia-northeast1")
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f), "the old service keeps serving")

	// A deployment that keeps the name says nothing of the kind.
	e.deploy("3333333cccc", quickSyncApp, strings.Replace(serviceYAML("gcr.io/p/web:v3"), "name: web", "name: web-renamed", 1))
	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.NotContains(t, log.String(), "The service is renamed")
}
