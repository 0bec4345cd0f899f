package livestate

import (
	"testing"
	"time"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/internal/fakeenv"
)

// A cancelled execution is neither healthy nor failed: its health is unknown and it says it was cancelled.
func TestLivestate_CancelledExecution(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		"gcr.io/proj/report:v1": {Task: fakerun.TaskBehavior{Duration: time.Hour}},
	}}))
	f.DeployJob(fakeenv.JobV1, fakeenv.CommitV1)
	exec, err := f.Client.RunJob(t.Context(), fakeenv.JobName, nil)
	require.NoError(t, err)
	_, err = f.Client.CancelExecution(t.Context(), exec.GetName())
	require.NoError(t, err)

	resp := f.livestate(fakeenv.JobSource(t, fakeenv.CommitV1, fakeenv.JobV1))
	execs := resourcesOfType(resp, ResourceTypeExecution)
	require.Len(t, execs, 1)
	assert.Equal(t, sdk.ResourceHealthStateUnknown, execs[0].HealthStatus)
	assert.Regexp(t, `^cancelled; tasks: 0 running, 0 succeeded, 0 failed, 1 cancelled of 1`, execs[0].HealthDescription)
}
