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

func TestLivestate_Job(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		"gcr.io/proj/report:v2": {Task: fakerun.TaskBehavior{ExitCode: 2}},
	}}))

	resp := f.livestate(fakeenv.JobSource(t, fakeenv.CommitV1, fakeenv.JobV1))
	assert.Equal(t, sdk.ApplicationSyncStateOutOfSync, resp.SyncState.Status)
	assert.Contains(t, resp.SyncState.ShortReason, "Job report does not exist")

	f.DeployJob(fakeenv.JobV1, fakeenv.CommitV1)
	runAndWait(t, f)
	resp = f.livestate(fakeenv.JobSource(t, fakeenv.CommitV1, fakeenv.JobV1))
	assert.Equal(t, sdk.ApplicationSyncStateSynced, resp.SyncState.Status, "server defaults (task count, retries, timeout) are no drift: %s", resp.SyncState.Reason)
	job := resourceByName(t, resp, "report")
	assert.Equal(t, ResourceTypeJob, job.ResourceType)
	assert.Equal(t, sdk.ResourceHealthStateHealthy, job.HealthStatus)
	assert.Contains(t, job.HealthDescription, "image gcr.io/proj/report:v1, 1 task(s), 1 execution(s)")
	execs := resourcesOfType(resp, ResourceTypeExecution)
	require.Len(t, execs, 1)
	assert.Equal(t, sdk.ResourceHealthStateHealthy, execs[0].HealthStatus)
	assert.Equal(t, []string{fakeenv.JobName}, execs[0].ParentIDs)
	assert.Equal(t, "1", execs[0].ResourceMetadata["succeededCount"])

	f.DeployJob(fakeenv.JobV2, fakeenv.CommitV2)
	runAndWait(t, f)
	resp = f.livestate(fakeenv.JobSource(t, fakeenv.CommitV1, fakeenv.JobV1))
	assert.Equal(t, sdk.ApplicationSyncStateOutOfSync, resp.SyncState.Status)
	assert.Contains(t, resp.SyncState.ShortReason, "Job report differs from git: template.template.containers[report].image")
	assert.Contains(t, resp.SyncState.Reason, "-    - image: gcr.io/proj/report:v2")
	execs = resourcesOfType(resp, ResourceTypeExecution)
	require.Len(t, execs, 2)
	unhealthy := 0
	for _, e := range execs {
		if e.HealthStatus == sdk.ResourceHealthStateUnhealthy {
			unhealthy++
			assert.Contains(t, e.HealthDescription, "failed: ")
		}
	}
	assert.Equal(t, 1, unhealthy, "the failed execution of v2 is unhealthy")
}

func runAndWait(t *testing.T, f *fixture) {
	t.Helper()
	exec, err := f.Client.RunJob(t.Context(), fakeenv.JobName, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := f.Client.GetExecution(t.Context(), exec.GetName())
		return err == nil && got.GetCompletionTime() != nil
	}, 10*time.Second, 5*time.Millisecond)
}

func resourcesOfType(resp *sdk.GetLivestateResponse, kind string) []sdk.ResourceState {
	var out []sdk.ResourceState
	for _, r := range resp.LiveState.Resources {
		if r.ResourceType == kind {
			out = append(out, r)
		}
	}
	return out
}
