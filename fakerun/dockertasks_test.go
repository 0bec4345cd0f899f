package fakerun

import (
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// dockerTaskApp is the job container the docker test builds: it sleeps
// SLEEP, then exits 3 when its task index is FAIL_INDEX and its attempt is
// below FAIL_ATTEMPTS (default 1).
const dockerTaskApp = `package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	fmt.Println(os.Getenv("CLOUD_RUN_JOB"), os.Getenv("CLOUD_RUN_EXECUTION"), os.Getenv("CLOUD_RUN_TASK_INDEX"), os.Getenv("CLOUD_RUN_TASK_COUNT"))
	if d, err := time.ParseDuration(os.Getenv("SLEEP")); err == nil {
		time.Sleep(d)
	}
	attempt, _ := strconv.Atoi(os.Getenv("CLOUD_RUN_TASK_ATTEMPT"))
	failAttempts, err := strconv.Atoi(os.Getenv("FAIL_ATTEMPTS"))
	if err != nil {
		failAttempts = 1
	}
	if os.Getenv("CLOUD_RUN_TASK_INDEX") == os.Getenv("FAIL_INDEX") && attempt < failAttempts {
		os.Exit(3)
	}
}
`

func TestDockerTasks(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	tag := fmt.Sprintf("fakerun-test-job:%d", time.Now().UnixNano())
	e.buildImage(tag, dockerTaskApp)
	srv, c := newJobFake(t, WithBehaviors(Behaviors{Images: map[string]Behavior{tag: {Docker: true}}}))
	env := func(name, value string) *runpb.EnvVar {
		return &runpb.EnvVar{Name: name, Values: &runpb.EnvVar_Value{Value: value}}
	}
	spec := jobSpec(tag, 2, 0, 1)
	spec.Template.Template.Containers[0].Env = []*runpb.EnvVar{env("FAIL_INDEX", "1")}
	mustCreateJob(t, c, "job", spec)

	// Task 1 exits 3 on its first attempt and succeeds on its retry.
	op, name := mustRunJob(t, c, &runpb.RunJobRequest{Name: testJob})
	done, err := pollUntilDone(t, op)
	require.NoError(t, err)
	assert.Equal(t, int32(2), done.GetSucceededCount())
	assert.Equal(t, int32(1), done.GetRetriedCount())
	tasks := listTasks(t, c, name)
	require.Len(t, tasks, 2)
	assert.Equal(t, int32(0), tasks[0].GetRetried())
	assert.Equal(t, int32(1), tasks[1].GetRetried(), "CLOUD_RUN_TASK_INDEX and CLOUD_RUN_TASK_ATTEMPT reach the container")

	// A task failing beyond max_retries fails the execution.
	op, _ = mustRunJob(t, c, &runpb.RunJobRequest{Name: testJob, Overrides: &runpb.RunJobRequest_Overrides{
		TaskCount: 1, ContainerOverrides: []*runpb.RunJobRequest_Overrides_ContainerOverride{{
			Env: []*runpb.EnvVar{env("FAIL_INDEX", "0"), env("FAIL_ATTEMPTS", "2")}}}}})
	_, err = pollUntilDone(t, op)
	assert.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
	assert.ErrorContains(t, err, "The container exited with an exit code of 3.")

	// An attempt longer than the task timeout is killed.
	op, _ = mustRunJob(t, c, &runpb.RunJobRequest{Name: testJob, Overrides: &runpb.RunJobRequest_Overrides{
		TaskCount: 1, Timeout: durationpb.New(time.Second),
		ContainerOverrides: []*runpb.RunJobRequest_Overrides_ContainerOverride{{Env: []*runpb.EnvVar{env("SLEEP", "1h")}}}}})
	_, err = pollUntilDone(t, op)
	assert.ErrorContains(t, err, "The task timed out after 1s and was terminated.")

	// Cancelling stops the running containers.
	op, name = mustRunJob(t, c, &runpb.RunJobRequest{Name: testJob, Overrides: &runpb.RunJobRequest_Overrides{
		ContainerOverrides: []*runpb.RunJobRequest_Overrides_ContainerOverride{{Env: []*runpb.EnvVar{env("SLEEP", "1h")}}}}})
	require.Eventually(t, func() bool { return len(e.labelled("fakerun.execution="+name)) == 2 }, time.Minute, 100*time.Millisecond)
	_, err = c.executions.CancelExecution(t.Context(), &runpb.CancelExecutionRequest{Name: name})
	require.NoError(t, err)
	_, err = pollUntilDone(t, op)
	assert.Equal(t, codes.Canceled, status.Code(err), "%v", err)
	require.Eventually(t, func() bool { return len(e.labelled("fakerun.execution="+name)) == 0 }, time.Minute, 100*time.Millisecond)

	// Close removes the containers of running executions.
	_, name = mustRunJob(t, c, &runpb.RunJobRequest{Name: testJob, Overrides: &runpb.RunJobRequest_Overrides{
		ContainerOverrides: []*runpb.RunJobRequest_Overrides_ContainerOverride{{Env: []*runpb.EnvVar{env("SLEEP", "1h")}}}}})
	require.Eventually(t, func() bool { return len(e.labelled("fakerun.execution="+name)) == 2 }, time.Minute, 100*time.Millisecond)
	require.NoError(t, srv.Close())
	assert.Empty(t, e.labelled("fakerun.execution="+name))
}
