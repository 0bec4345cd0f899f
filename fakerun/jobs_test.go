package fakerun

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestJobLifecycle(t *testing.T) {
	t.Parallel()
	bothJobTransports(t, func(t *testing.T, srv *Server, c jobClients) {
		j := mustCreateJob(t, c, "job", jobSpec("img:1", 0, 0, 0))
		assert.Equal(t, testJob, j.GetName())
		assert.Len(t, j.GetUid(), 36)
		assert.Equal(t, int64(1), j.GetGeneration())
		assert.Equal(t, int64(1), j.GetObservedGeneration())
		assert.False(t, j.GetReconciling())
		assert.Equal(t, runpb.Condition_CONDITION_SUCCEEDED, j.GetTerminalCondition().GetState())
		assert.NotEmpty(t, j.GetEtag())
		assert.Equal(t, int32(1), j.GetTemplate().GetTaskCount(), "task_count defaults to 1")
		assert.Equal(t, int32(0), j.GetTemplate().GetTemplate().GetMaxRetries(), "max_retries 0 was set explicitly")
		assert.Equal(t, 600*time.Second, j.GetTemplate().GetTemplate().GetTimeout().AsDuration(), "timeout defaults to 600s")

		got, err := c.jobs.GetJob(t.Context(), &runpb.GetJobRequest{Name: testJob})
		require.NoError(t, err)
		assert.True(t, proto.Equal(j, got), "GetJob returns what the operation returned")

		_, err = c.jobs.CreateJob(t.Context(), &runpb.CreateJobRequest{Parent: testParent, JobId: "job", Job: jobSpec("img:1", 1, 0, 0)})
		assert.Equal(t, c.restCode(codes.AlreadyExists), status.Code(err), "%v", err)
		assert.ErrorContains(t, err, "Resource 'job' already exists.")

		stale := proto.Clone(j).(*runpb.Job)
		stale.Etag = `"stale"`
		_, err = c.jobs.UpdateJob(t.Context(), &runpb.UpdateJobRequest{Job: stale})
		assert.Equal(t, codes.Aborted, status.Code(err), "%v", err)

		same, err := c.jobs.UpdateJob(t.Context(), &runpb.UpdateJobRequest{Job: j})
		require.NoError(t, err)
		unchanged, err := same.Wait(waitCtx(t))
		require.NoError(t, err)
		assert.Equal(t, j.GetGeneration(), unchanged.GetGeneration(), "an update that changes nothing is a no-op")
		assert.Equal(t, j.GetEtag(), unchanged.GetEtag())

		next := proto.Clone(j).(*runpb.Job)
		next.Template.Template.Containers[0].Image = "img:2"
		op, err := c.jobs.UpdateJob(t.Context(), &runpb.UpdateJobRequest{Job: next})
		require.NoError(t, err)
		updated, err := op.Wait(waitCtx(t))
		require.NoError(t, err)
		assert.Equal(t, int64(2), updated.GetGeneration())
		assert.Equal(t, int64(2), updated.GetObservedGeneration())
		assert.NotEqual(t, j.GetEtag(), updated.GetEtag())
		assert.Equal(t, "img:2", updated.GetTemplate().GetTemplate().GetContainers()[0].GetImage())

		mustCreateJob(t, c, "job-b", jobSpec("img:1", 1, 0, 0))
		var names []string
		it := c.jobs.ListJobs(t.Context(), &runpb.ListJobsRequest{Parent: testParent, PageSize: 1})
		for {
			x, err := it.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			require.NoError(t, err)
			names = append(names, rules.ShortName(x.GetName()))
		}
		assert.Equal(t, []string{"job-b", "job"}, names, "newest first, across pages")

		del, err := c.jobs.DeleteJob(t.Context(), &runpb.DeleteJobRequest{Name: testJob, Etag: updated.GetEtag()})
		require.NoError(t, err)
		deleted, err := del.Wait(waitCtx(t))
		require.NoError(t, err)
		assert.NotNil(t, deleted.GetDeleteTime())
		_, err = c.jobs.GetJob(t.Context(), &runpb.GetJobRequest{Name: testJob})
		assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)
		assert.ErrorContains(t, err, "Resource 'job' of kind 'JOB' in region 'us-central1' in project 'p' does not exist.")
	})
}

func TestRunJobProgressesOnTheClock(t *testing.T) {
	t.Parallel()
	bothJobTransports(t, func(t *testing.T, srv *Server, c jobClients) {
		mustCreateJob(t, c, "job", jobSpec("img:slow", 3, 2, 0))
		op, name := mustRunJob(t, c, &runpb.RunJobRequest{Name: testJob})
		assert.False(t, op.Done(), "the operation waits for the execution")
		assert.Regexp(t, `^`+testJob+`/executions/job-[a-z]{5}$`, name)

		e := getExecution(t, c, name)
		assert.True(t, e.GetReconciling())
		assert.Equal(t, int32(3), e.GetTaskCount())
		assert.Equal(t, int32(2), e.GetParallelism())
		assert.Equal(t, int32(2), e.GetRunningCount(), "parallelism 2 runs two tasks at once")
		assert.Equal(t, "job", e.GetJob())

		srv.Advance(10 * time.Second)
		e = getExecution(t, c, name)
		assert.Equal(t, int32(1), e.GetRunningCount())
		assert.Equal(t, int32(2), e.GetSucceededCount())
		_, err := op.Poll(t.Context())
		require.NoError(t, err)
		assert.False(t, op.Done())

		srv.Advance(10 * time.Second)
		done, err := op.Poll(t.Context())
		require.NoError(t, err)
		require.True(t, op.Done())
		assert.Equal(t, int32(3), done.GetSucceededCount())
		assert.False(t, done.GetReconciling())
		assert.Equal(t, 20*time.Second, done.GetCompletionTime().AsTime().Sub(done.GetStartTime().AsTime()))
		assert.Equal(t, runpb.Condition_CONDITION_SUCCEEDED, done.GetConditions()[0].GetState())

		j, err := c.jobs.GetJob(t.Context(), &runpb.GetJobRequest{Name: testJob})
		require.NoError(t, err)
		assert.Equal(t, int32(1), j.GetExecutionCount())
		assert.Equal(t, rules.ShortName(name), j.GetLatestCreatedExecution().GetName())
		assert.Equal(t, runpb.ExecutionReference_EXECUTION_SUCCEEDED, j.GetLatestCreatedExecution().GetCompletionStatus())

		tasks := listTasks(t, c, name)
		require.Len(t, tasks, 3)
		for i, task := range tasks {
			assert.Equal(t, int32(i), task.GetIndex())
			assert.Equal(t, name+"/tasks/"+rules.ShortName(name)+"-task"+string(rune('0'+i)), task.GetName())
			assert.Equal(t, runpb.Condition_CONDITION_SUCCEEDED, task.GetConditions()[0].GetState())
		}
		got, err := c.tasks.GetTask(t.Context(), &runpb.GetTaskRequest{Name: tasks[2].GetName()})
		require.NoError(t, err)
		assert.Equal(t, 10*time.Second, got.GetStartTime().AsTime().Sub(done.GetStartTime().AsTime()), "the third task waits for a free slot")
	}, WithBehaviors(Behaviors{Images: map[string]Behavior{"img:slow": {Task: TaskBehavior{Duration: 10 * time.Second}}}}))
}

func TestRunJobFailingTasks(t *testing.T) {
	t.Parallel()
	bothJobTransports(t, func(t *testing.T, srv *Server, c jobClients) {
		mustCreateJob(t, c, "job", jobSpec("img:bad", 3, 0, 1))
		op, name := mustRunJob(t, c, &runpb.RunJobRequest{Name: testJob})
		require.True(t, op.Done(), "tasks of no duration finish at once")
		_, err := op.Wait(waitCtx(t))
		require.Error(t, err)
		assert.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
		assert.ErrorContains(t, err, "1 of 3 task(s) failed. Task "+rules.ShortName(name)+"-task1 failed: The container exited with an exit code of 3.")

		e := getExecution(t, c, name)
		assert.Equal(t, int32(1), e.GetFailedCount())
		assert.Equal(t, int32(2), e.GetSucceededCount())
		assert.Equal(t, int32(1), e.GetRetriedCount())
		assert.Equal(t, runpb.Condition_NON_ZERO_EXIT_CODE, e.GetConditions()[0].GetExecutionReason())

		tasks := listTasks(t, c, name)
		require.Len(t, tasks, 3)
		failed := tasks[1]
		assert.Equal(t, int32(1), failed.GetRetried(), "max_retries 1: two attempts")
		assert.Equal(t, int32(3), failed.GetLastAttemptResult().GetExitCode())
		assert.Equal(t, runpb.Condition_CONDITION_FAILED, failed.GetConditions()[0].GetState())
		assert.Equal(t, int32(0), tasks[0].GetRetried())

		j, err := c.jobs.GetJob(t.Context(), &runpb.GetJobRequest{Name: testJob})
		require.NoError(t, err)
		assert.Equal(t, runpb.ExecutionReference_EXECUTION_FAILED, j.GetLatestCreatedExecution().GetCompletionStatus())
	}, WithBehaviors(Behaviors{Images: map[string]Behavior{"img:bad": {Task: TaskBehavior{ExitCode: 3, FailTasks: []int{1}}}}}))
}

func TestRunJobRetriesAndTimeout(t *testing.T) {
	t.Parallel()
	bs := Behaviors{Images: map[string]Behavior{
		"img:flaky": {Task: TaskBehavior{ExitCode: 2, FailAttempts: 2, Duration: time.Second}},
		"img:long":  {Task: TaskBehavior{Duration: 2 * time.Minute}},
	}}
	srv, c := newJobFake(t, WithBehaviors(bs))
	srv.SetNow(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

	mustCreateJob(t, c, "flaky", jobSpec("img:flaky", 1, 0, 2))
	op, name := mustRunJob(t, c, &runpb.RunJobRequest{Name: testParent + "/jobs/flaky"})
	srv.Advance(3 * time.Second)
	e, err := op.Poll(t.Context())
	require.NoError(t, err, "the third attempt succeeds within max_retries 2")
	require.True(t, op.Done())
	assert.Equal(t, int32(1), e.GetRetriedCount())
	tasks := listTasks(t, c, name)
	assert.Equal(t, int32(2), tasks[0].GetRetried())

	mustCreateJob(t, c, "long", jobSpec("img:long", 1, 0, 0))
	op, name = mustRunJob(t, c, &runpb.RunJobRequest{Name: testParent + "/jobs/long",
		Overrides: &runpb.RunJobRequest_Overrides{Timeout: durationpb.New(time.Minute)}})
	srv.Advance(time.Minute)
	_, err = op.Poll(t.Context())
	require.Error(t, err)
	assert.ErrorContains(t, err, "The task timed out after 1m0s and was terminated.")
	tasks = listTasks(t, c, name)
	assert.Equal(t, int32(9), tasks[0].GetLastAttemptResult().GetTermSignal())
	assert.Equal(t, int32(codes.DeadlineExceeded), tasks[0].GetLastAttemptResult().GetStatus().GetCode())
}

func TestRunJobOverrides(t *testing.T) {
	t.Parallel()
	bothJobTransports(t, func(t *testing.T, srv *Server, c jobClients) {
		spec := jobSpec("img:1", 1, 0, 0)
		spec.Template.Template.Containers[0].Args = []string{"--old"}
		spec.Template.Template.Containers[0].Env = []*runpb.EnvVar{
			{Name: "A", Values: &runpb.EnvVar_Value{Value: "1"}}, {Name: "B", Values: &runpb.EnvVar_Value{Value: "2"}}}
		mustCreateJob(t, c, "job", spec)
		op, err := c.jobs.RunJob(t.Context(), &runpb.RunJobRequest{Name: testJob, Overrides: &runpb.RunJobRequest_Overrides{
			ContainerOverrides: []*runpb.RunJobRequest_Overrides_ContainerOverride{{
				Args: []string{"--new"},
				Env:  []*runpb.EnvVar{{Name: "B", Values: &runpb.EnvVar_Value{Value: "3"}}, {Name: "C", Values: &runpb.EnvVar_Value{Value: "4"}}},
			}},
			TaskCount: 4,
		}})
		require.NoError(t, err)
		e, err := op.Wait(waitCtx(t))
		require.NoError(t, err)
		assert.Equal(t, int32(4), e.GetTaskCount())
		assert.Equal(t, int32(4), e.GetSucceededCount())
		container := e.GetTemplate().GetContainers()[0]
		assert.Equal(t, []string{"--new"}, container.GetArgs())
		var env []string
		for _, v := range container.GetEnv() {
			env = append(env, v.GetName()+"="+v.GetValue())
		}
		assert.Equal(t, []string{"A=1", "B=3", "C=4"}, env, "env merges by name")

		j, err := c.jobs.GetJob(t.Context(), &runpb.GetJobRequest{Name: testJob})
		require.NoError(t, err)
		assert.Equal(t, []string{"--old"}, j.GetTemplate().GetTemplate().GetContainers()[0].GetArgs(), "the job keeps its template")

		_, err = c.jobs.RunJob(t.Context(), &runpb.RunJobRequest{Name: testJob, Overrides: &runpb.RunJobRequest_Overrides{
			ContainerOverrides: []*runpb.RunJobRequest_Overrides_ContainerOverride{{Name: "nope"}}}})
		assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	})
}

func TestCancelAndDeleteExecution(t *testing.T) {
	t.Parallel()
	bothJobTransports(t, func(t *testing.T, srv *Server, c jobClients) {
		mustCreateJob(t, c, "job", jobSpec("img:hour", 2, 1, 0))
		op, name := mustRunJob(t, c, &runpb.RunJobRequest{Name: testJob})
		srv.Advance(time.Minute)

		_, err := c.jobs.DeleteJob(t.Context(), &runpb.DeleteJobRequest{Name: testJob})
		assert.Equal(t, c.restCode(codes.FailedPrecondition), status.Code(err), "%v", err)
		assert.ErrorContains(t, err, "is still running")
		_, err = c.executions.DeleteExecution(t.Context(), &runpb.DeleteExecutionRequest{Name: name})
		assert.Equal(t, c.restCode(codes.FailedPrecondition), status.Code(err), "%v", err)

		_, err = c.executions.CancelExecution(t.Context(), &runpb.CancelExecutionRequest{Name: name, Etag: `"stale"`})
		assert.Equal(t, codes.Aborted, status.Code(err), "%v", err)
		cancel, err := c.executions.CancelExecution(t.Context(), &runpb.CancelExecutionRequest{Name: name})
		require.NoError(t, err)
		cancelled, err := cancel.Wait(waitCtx(t))
		require.NoError(t, err)
		assert.Equal(t, int32(2), cancelled.GetCancelledCount(), "the running and the waiting task")
		assert.Equal(t, runpb.Condition_CANCELLED, cancelled.GetConditions()[0].GetExecutionReason())

		_, err = op.Poll(t.Context())
		assert.Equal(t, codes.Canceled, status.Code(err), "%v", err)
		assert.True(t, op.Done())

		_, err = c.executions.CancelExecution(t.Context(), &runpb.CancelExecutionRequest{Name: name})
		assert.Equal(t, c.restCode(codes.FailedPrecondition), status.Code(err), "%v", err)

		del, err := c.executions.DeleteExecution(t.Context(), &runpb.DeleteExecutionRequest{Name: name})
		require.NoError(t, err)
		_, err = del.Wait(waitCtx(t))
		require.NoError(t, err)
		_, err = c.executions.GetExecution(t.Context(), &runpb.GetExecutionRequest{Name: name})
		assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)
		j, err := c.jobs.GetJob(t.Context(), &runpb.GetJobRequest{Name: testJob})
		require.NoError(t, err)
		assert.Equal(t, int32(1), j.GetExecutionCount(), "execution_count counts the executions created")

		delJob, err := c.jobs.DeleteJob(t.Context(), &runpb.DeleteJobRequest{Name: testJob})
		require.NoError(t, err)
		_, err = delJob.Wait(waitCtx(t))
		require.NoError(t, err)
	}, WithBehaviors(Behaviors{Images: map[string]Behavior{"img:hour": {Task: TaskBehavior{Duration: time.Hour}}}}))
}

func TestJobValidateOnly(t *testing.T) {
	t.Parallel()
	bothJobTransports(t, func(t *testing.T, srv *Server, c jobClients) {
		op, err := c.jobs.CreateJob(t.Context(), &runpb.CreateJobRequest{Parent: testParent, JobId: "job", Job: jobSpec("img:1", 1, 0, 0), ValidateOnly: true})
		require.NoError(t, err)
		j, err := op.Wait(waitCtx(t))
		require.NoError(t, err)
		assert.Equal(t, testJob, j.GetName())
		_, err = c.jobs.GetJob(t.Context(), &runpb.GetJobRequest{Name: testJob})
		assert.Equal(t, codes.NotFound, status.Code(err), "validate_only stores nothing")

		mustCreateJob(t, c, "job", jobSpec("img:1", 1, 0, 0))
		run, err := c.jobs.RunJob(t.Context(), &runpb.RunJobRequest{Name: testJob, ValidateOnly: true})
		require.NoError(t, err)
		_, err = run.Wait(waitCtx(t))
		require.NoError(t, err)
		it := c.executions.ListExecutions(t.Context(), &runpb.ListExecutionsRequest{Parent: testJob})
		_, err = it.Next()
		assert.ErrorIs(t, err, iterator.Done, "validate_only runs nothing")

		j, err = c.jobs.GetJob(t.Context(), &runpb.GetJobRequest{Name: testJob})
		require.NoError(t, err)
		j.Labels = map[string]string{"team": "data"}
		update, err := c.jobs.UpdateJob(t.Context(), &runpb.UpdateJobRequest{Job: j, ValidateOnly: true})
		require.NoError(t, err)
		would, err := update.Wait(waitCtx(t))
		require.NoError(t, err)
		assert.Equal(t, int64(2), would.GetGeneration(), "the answer is the job as it would be")
		j, err = c.jobs.GetJob(t.Context(), &runpb.GetJobRequest{Name: testJob})
		require.NoError(t, err)
		assert.Equal(t, int64(1), j.GetGeneration(), "validate_only changes nothing")
		assert.Empty(t, j.GetLabels())

		missing := jobSpec("img:1", 1, 0, 0)
		missing.Name = testParent + "/jobs/upserted"
		_, err = c.jobs.UpdateJob(t.Context(), &runpb.UpdateJobRequest{Job: missing})
		assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)
		upsert, err := c.jobs.UpdateJob(t.Context(), &runpb.UpdateJobRequest{Job: missing, AllowMissing: true})
		require.NoError(t, err)
		created, err := upsert.Wait(waitCtx(t))
		require.NoError(t, err)
		assert.Equal(t, int64(1), created.GetGeneration(), "allow_missing creates the job")
	})
}

func TestJobReconcile(t *testing.T) {
	t.Parallel()
	srv, c := newJobFake(t, WithReadinessDelay(5*time.Second), WithFailingImage("img:missing"))
	srv.SetNow(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

	op, err := c.jobs.CreateJob(t.Context(), &runpb.CreateJobRequest{Parent: testParent, JobId: "job", Job: jobSpec("img:1", 1, 0, 0)})
	require.NoError(t, err)
	j, err := c.jobs.GetJob(t.Context(), &runpb.GetJobRequest{Name: testJob})
	require.NoError(t, err)
	assert.True(t, j.GetReconciling())
	assert.Equal(t, int64(0), j.GetObservedGeneration())
	srv.Advance(5 * time.Second)
	j, err = op.Poll(t.Context())
	require.NoError(t, err)
	require.True(t, op.Done())
	assert.Equal(t, int64(1), j.GetObservedGeneration())

	j.Template.Template.Containers[0].Image = "img:missing"
	update, err := c.jobs.UpdateJob(t.Context(), &runpb.UpdateJobRequest{Job: j})
	require.NoError(t, err)
	srv.Advance(5 * time.Second)
	_, err = update.Poll(t.Context())
	assert.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
	assert.ErrorContains(t, err, "Image 'img:missing' not found.")
	j, err = c.jobs.GetJob(t.Context(), &runpb.GetJobRequest{Name: testJob})
	require.NoError(t, err)
	assert.Equal(t, int64(2), j.GetGeneration())
	assert.Equal(t, int64(1), j.GetObservedGeneration(), "the failed generation is not observed")
	assert.Equal(t, runpb.Condition_CONDITION_FAILED, j.GetTerminalCondition().GetState())
	_, err = c.jobs.RunJob(t.Context(), &runpb.RunJobRequest{Name: testJob})
	assert.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
}

func TestJobInvalidInput(t *testing.T) {
	t.Parallel()
	_, c := newJobFake(t)
	mustCreateJob(t, c, "job", jobSpec("img:1", 1, 0, 0))
	withTemplate := func(f func(j *runpb.Job)) *runpb.Job {
		j := jobSpec("img:1", 1, 0, 0)
		f(j)
		return j
	}
	testcases := []struct {
		name      string
		parent    string
		id        string
		job       *runpb.Job
		wantField string
	}{
		{name: "fail: bad parent", parent: "projects/p", id: "j", job: jobSpec("i", 1, 0, 0), wantField: "parent"},
		{name: "fail: wildcard location", parent: "projects/p/locations/-", id: "j", job: jobSpec("i", 1, 0, 0), wantField: "parent"},
		{name: "fail: id with upper case", parent: testParent, id: "Job", job: jobSpec("i", 1, 0, 0), wantField: "job_id"},
		{name: "fail: id too long", parent: testParent, id: strings.Repeat("a", 64), job: jobSpec("i", 1, 0, 0), wantField: "job_id"},
		{name: "fail: no template", parent: testParent, id: "j", job: &runpb.Job{}, wantField: "job.template"},
		{name: "fail: no task template", parent: testParent, id: "j", job: &runpb.Job{Template: &runpb.ExecutionTemplate{}}, wantField: "job.template.template"},
		{name: "fail: no container", parent: testParent, id: "j", job: withTemplate(func(j *runpb.Job) { j.Template.Template.Containers = nil }), wantField: "job.template.template.containers"},
		{name: "fail: no image", parent: testParent, id: "j", job: jobSpec("", 1, 0, 0), wantField: "job.template.template.containers[0].image"},
		{name: "fail: too many tasks", parent: testParent, id: "j", job: jobSpec("i", 10001, 0, 0), wantField: "job.template.task_count"},
		{name: "fail: negative parallelism", parent: testParent, id: "j", job: jobSpec("i", 1, -1, 0), wantField: "job.template.parallelism"},
		{name: "fail: parallelism above task count", parent: testParent, id: "j", job: jobSpec("i", 2, 3, 0), wantField: "job.template.parallelism"},
		{name: "fail: too many retries", parent: testParent, id: "j", job: jobSpec("i", 1, 0, 11), wantField: "job.template.template.max_retries"},
		{name: "fail: zero timeout", parent: testParent, id: "j", job: withTemplate(func(j *runpb.Job) { j.Template.Template.Timeout = durationpb.New(0) }), wantField: "job.template.template.timeout"},
		{name: "fail: reserved label", parent: testParent, id: "j", job: withTemplate(func(j *runpb.Job) { j.Labels = map[string]string{"run.googleapis.com/x": "y"} }), wantField: "job.labels"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.jobs.CreateJob(t.Context(), &runpb.CreateJobRequest{Parent: tc.parent, JobId: tc.id, Job: tc.job})
			require.Error(t, err)
			assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
			assert.ErrorContains(t, err, "Invalid value for field '"+tc.wantField+"'")
		})
	}

	for _, name := range []string{"projects/p/jobs/j", testJob + "/executions", testJob + "/executions/e/tasks"} {
		_, err := c.executions.GetExecution(t.Context(), &runpb.GetExecutionRequest{Name: name})
		assert.Equal(t, codes.InvalidArgument, status.Code(err), "%s: %v", name, err)
	}
	_, err := c.jobs.GetJob(t.Context(), &runpb.GetJobRequest{Name: testParent + "/jobs/nope"})
	assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)
	_, err = c.executions.GetExecution(t.Context(), &runpb.GetExecutionRequest{Name: testJob + "/executions/nope"})
	assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)
	_, err = c.tasks.GetTask(t.Context(), &runpb.GetTaskRequest{Name: testJob + "/executions/nope/tasks/nope-task0"})
	assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)
	_, err = c.jobs.RunJob(t.Context(), &runpb.RunJobRequest{Name: testJob, Overrides: &runpb.RunJobRequest_Overrides{TaskCount: 10001}})
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
}

func TestJobStateFaultsAndReset(t *testing.T) {
	t.Parallel()
	srv, c := newJobFake(t)
	mustCreateJob(t, c, "job", jobSpec("img:1", 1, 0, 0))

	srv.InjectFault("RunJob", Fault{Code: codes.Unavailable, Times: 1})
	_, err := c.jobs.RunJob(t.Context(), &runpb.RunJobRequest{Name: testJob})
	assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	op, name := mustRunJob(t, c, &runpb.RunJobRequest{Name: testJob})
	_, err = op.Wait(waitCtx(t))
	require.NoError(t, err)
	var methods []string
	for _, call := range srv.Calls() {
		methods = append(methods, call.Method)
	}
	assert.Equal(t, []string{"CreateJob", "RunJob", "RunJob"}, methods)

	st := srv.State()
	require.Len(t, st.Jobs, 1)
	assert.Equal(t, testJob, st.Jobs[0].GetName())
	require.Len(t, st.Executions[testJob], 1)
	assert.Equal(t, name, st.Executions[testJob][0].GetName())
	out, err := json.Marshal(st)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"executions":{"`+testJob+`":[{"name":"`+name+`"`)

	srv.Reset()
	_, err = c.jobs.GetJob(t.Context(), &runpb.GetJobRequest{Name: testJob})
	assert.Equal(t, codes.NotFound, status.Code(err), "Reset drops jobs: %v", err)
	assert.Empty(t, srv.State().Jobs)
}

// TestJobsRESTWire sends raw HTTP as the REST clients do and checks the
// routes of the jobs API and the shape of its answers.
func TestJobsRESTWire(t *testing.T) {
	t.Parallel()
	srv, _ := newJobFake(t)
	base := "http://" + srv.Addr() + "/v2/"
	send := func(method, path, body string) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, strings.Join(strings.Fields(string(b)), "")
	}
	code, body := send(http.MethodPost, testParent+"/jobs?jobId=wire", `{"template":{"taskCount":2,"template":{"containers":[{"image":"img:1"}]}}}`)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"done":true`)
	code, body = send(http.MethodPost, testParent+"/jobs/wire:run", `{"overrides":{"taskCount":3}}`)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"@type":"type.googleapis.com/google.cloud.run.v2.Execution"`)
	assert.Contains(t, body, `"taskCount":3`)
	code, body = send(http.MethodGet, testParent+"/jobs/wire/executions", "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"succeededCount":3`)
	code, body = send(http.MethodGet, testParent+"/jobs/-/executions/-/tasks", "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, 3, strings.Count(body, `/tasks/wire-`), body)
	code, body = send(http.MethodGet, testParent+"/jobs/nope", "")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, `{"error":{"code":404,"message":"Resource'nope'ofkind'JOB'inregion'us-central1'inproject'p'doesnotexist.","status":"NOT_FOUND"}}`, body)
}

// TestJobsOverAdminAndRealClock sets task behaviour over the admin API and
// lets executions run on the real clock.
func TestJobsOverAdminAndRealClock(t *testing.T) {
	t.Parallel()
	srv, _, admin := newAdminFake(t)
	c := newJobClients(t, srv, "grpc")
	code, body := adminDo(t, http.MethodPut, admin+"/behaviors", `{"images":{"img:admin":{"task":{"duration":"300ms","exitCode":5,"failTasks":[0]}}}}`)
	require.Equal(t, http.StatusOK, code, "%v", body)
	mustCreateJob(t, c, "job", jobSpec("img:admin", 2, 0, 0))
	mustCreateJob(t, c, "other", jobSpec("img:1", 1, 0, 0))

	op, name := mustRunJob(t, c, &runpb.RunJobRequest{Name: testJob})
	assert.False(t, op.Done())
	assert.Equal(t, int32(2), getExecution(t, c, name).GetRunningCount())
	_, err := pollUntilDone(t, op)
	assert.ErrorContains(t, err, "The container exited with an exit code of 5.")
	e := getExecution(t, c, name)
	assert.GreaterOrEqual(t, e.GetCompletionTime().AsTime().Sub(e.GetStartTime().AsTime()), 300*time.Millisecond)

	_, err = pollUntilDone(t, func() *run.RunJobOperation {
		op, _ := mustRunJob(t, c, &runpb.RunJobRequest{Name: testParent + "/jobs/other"})
		return op
	}())
	require.NoError(t, err)
	var jobsOf []string
	it := c.executions.ListExecutions(t.Context(), &runpb.ListExecutionsRequest{Parent: testParent + "/jobs/-", PageSize: 1})
	for {
		x, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		require.NoError(t, err)
		jobsOf = append(jobsOf, x.GetJob())
	}
	assert.Equal(t, []string{"other", "job"}, jobsOf, "'-' lists every job's executions, newest first, across pages")
}

func TestRunJobDoneAtStart(t *testing.T) {
	t.Parallel()
	srv, c := newJobFake(t, WithCompatibility(Compatibility{RunJobDoneAtStart: true}),
		WithBehaviors(Behaviors{Images: map[string]Behavior{"img:bad": {Task: TaskBehavior{Duration: time.Minute, ExitCode: 1}}}}))
	srv.SetNow(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	mustCreateJob(t, c, "job", jobSpec("img:bad", 1, 0, 0))
	op, name := mustRunJob(t, c, &runpb.RunJobRequest{Name: testJob})
	require.True(t, op.Done(), "the operation is done when the execution starts")
	started, err := op.Wait(waitCtx(t))
	require.NoError(t, err, "the execution has not failed yet")
	assert.True(t, started.GetReconciling())
	assert.Equal(t, int32(1), started.GetRunningCount())

	srv.Advance(time.Minute)
	e := getExecution(t, c, name)
	assert.Equal(t, int32(1), e.GetFailedCount(), "the execution is followed by polling it")
}
