package deployment

import (
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// An ABORTED read is a conflict like an ABORTED write: the stage reads again instead of failing. Found by the
// e2e soak: a rollback whose first read was aborted gave up and left the canary's traffic split half-way.
func TestWrites_RetryAnAbortedRead(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revA, revB := canaryStart(t, e)
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, canarySync, nil)))

	f.InjectFault("GetService", fakerun.Fault{Code: codes.Aborted, Times: 1})
	status, log := e.run(StageCloudRunPromote, `{"percent": 30}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, trafficOf(t, f), revB+":30")

	f.ResetCalls()
	f.InjectFault("GetService", fakerun.Fault{Code: codes.Aborted, Times: 2})
	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f), "the rollback restored the traffic")
	assert.Equal(t, map[string]int{"GetService": 3, "UpdateService": 1}, callCounts(f))
	assert.Contains(t, log.String(), "reading it again (attempt 2 of 5)")

	// A read that keeps being aborted makes the stage give up after writeAttempts.
	f.InjectFault("GetService", fakerun.Fault{Code: codes.Aborted})
	status, log = e.run(StageCloudRunPromote, `{"percent": 50}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "gave up after 5 attempts")
}
