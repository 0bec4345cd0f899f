package deployment

import (
	"testing"
	"time"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// halfWay runs a canary up to 50% on e and returns the revision before the deployment and the new one.
func halfWay(t *testing.T, e *env) (string, string) {
	t.Helper()
	revA, revB := canaryStart(t, e)
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, canarySync, nil)))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunPromote, `{"percent": 50}`, nil)))
	return revA, revB
}

func TestRollback_RetriesInternalErrorsUntilItRestores(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revA, _ := halfWay(t, e)
	e.plugin.rollbackBudget = 2 * time.Second // three attempts fit even when each one is slow (loaded, race-instrumented)

	f.ResetCalls()
	f.InjectFault("UpdateService", fakerun.Fault{Code: codes.Internal, Times: 2})
	status, log := e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "Restoring service web failed (attempt 2), trying again")
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
	assert.Equal(t, 3, callCounts(f)["UpdateService"])
}

func TestRollback_PersistentInternalErrorSaysWhatIsLeftAndHowToFinish(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revA, revB := halfWay(t, e)
	before := trafficOf(t, f)
	// A budget of many attempts' length, so that a slow (loaded, race-instrumented) attempt still leaves room
	// for the retries this test counts.
	e.plugin.rollbackBudget = 2 * time.Second

	f.ResetCalls()
	f.InjectFault("UpdateService", fakerun.Fault{Code: codes.Internal})
	status, log := e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusFailure, status)
	assert.Greater(t, callCounts(f)["UpdateService"], 2, "retried within the rollback's budget")
	assert.Contains(t, log.String(), "gave up restoring service web after ")
	assert.Contains(t, log.String(), "Service web is left as it is: template revision "+revB+" (image gcr.io/p/web:v2")
	assert.Contains(t, log.String(), "The deployment's preview tag preview-2222222 is still there.")
	assert.Contains(t, log.String(), "deploy the commit that ran before this deployment again")
	assert.Contains(t, log.String(), "gcloud run services update-traffic web --region asia-northeast1 --to-revisions "+revA+"=100 --remove-tags preview-2222222")
	assert.Equal(t, before, trafficOf(t, f))
}
