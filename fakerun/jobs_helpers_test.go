package fakerun

import (
	"context"
	"errors"
	"testing"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
)

const testJob = testParent + "/jobs/job"

// jobClients is one transport's official job clients.
type jobClients struct {
	transport  string
	jobs       *run.JobsClient
	executions *run.ExecutionsClient
	tasks      *run.TasksClient
}

func newJobClients(t *testing.T, srv *Server, transport string) jobClients {
	t.Helper()
	ctx := context.Background()
	newJobs, newExecutions, newTasks, opts := run.NewJobsClient, run.NewExecutionsClient, run.NewTasksClient, srv.ClientOptions()
	if transport == "rest" {
		newJobs, newExecutions, newTasks, opts = run.NewJobsRESTClient, run.NewExecutionsRESTClient, run.NewTasksRESTClient, srv.RESTClientOptions()
	}
	jc, err := newJobs(ctx, opts...)
	require.NoError(t, err)
	ec, err := newExecutions(ctx, opts...)
	require.NoError(t, err)
	tc, err := newTasks(ctx, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = jc.Close(); _ = ec.Close(); _ = tc.Close() })
	return jobClients{transport: transport, jobs: jc, executions: ec, tasks: tc}
}

// newJobFake starts a server for the test and returns it with gRPC job clients.
func newJobFake(t *testing.T, opts ...Option) (*Server, jobClients) {
	t.Helper()
	srv, err := NewServer(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv, newJobClients(t, srv, "grpc")
}

// bothJobTransports runs f once over gRPC and once over REST, each against
// its own server whose clock is frozen.
func bothJobTransports(t *testing.T, f func(t *testing.T, srv *Server, c jobClients), opts ...Option) {
	t.Helper()
	for _, transport := range []string{"grpc", "rest"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			srv, err := NewServer(opts...)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, srv.Close()) })
			srv.SetNow(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
			f(t, srv, newJobClients(t, srv, transport))
		})
	}
}

// restCode is the code the client of c's transport reports for code (see restCode).
func (c jobClients) restCode(code codes.Code) codes.Code {
	return restCode(clients{transport: c.transport}, code)
}

// jobSpec is a job of one container running image, with task count and
// retries as given.
func jobSpec(image string, taskCount, parallelism, maxRetries int32) *runpb.Job {
	return &runpb.Job{Template: &runpb.ExecutionTemplate{
		TaskCount:   taskCount,
		Parallelism: parallelism,
		Template: &runpb.TaskTemplate{
			Containers: []*runpb.Container{{Image: image}},
			Retries:    &runpb.TaskTemplate_MaxRetries{MaxRetries: maxRetries},
		},
	}}
}

func mustCreateJob(t *testing.T, c jobClients, id string, j *runpb.Job) *runpb.Job {
	t.Helper()
	op, err := c.jobs.CreateJob(t.Context(), &runpb.CreateJobRequest{Parent: testParent, JobId: id, Job: j})
	require.NoError(t, err)
	got, err := op.Wait(t.Context())
	require.NoError(t, err)
	return got
}

// mustRunJob starts an execution and returns its operation and name.
func mustRunJob(t *testing.T, c jobClients, req *runpb.RunJobRequest) (*run.RunJobOperation, string) {
	t.Helper()
	op, err := c.jobs.RunJob(t.Context(), req)
	require.NoError(t, err)
	meta, err := op.Metadata()
	require.NoError(t, err)
	return op, meta.GetName()
}

func getExecution(t *testing.T, c jobClients, name string) *runpb.Execution {
	t.Helper()
	e, err := c.executions.GetExecution(t.Context(), &runpb.GetExecutionRequest{Name: name})
	require.NoError(t, err)
	return e
}

func listTasks(t *testing.T, c jobClients, parent string) []*runpb.Task {
	t.Helper()
	var out []*runpb.Task
	it := c.tasks.ListTasks(t.Context(), &runpb.ListTasksRequest{Parent: parent, PageSize: 2})
	for {
		task, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out
		}
		require.NoError(t, err)
		out = append(out, task)
	}
}

// waitTimeout bounds op.Wait in tests: the operation must already be done
// on the frozen clock, so the client's first poll finds it.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pollUntilDone polls a run operation every 50ms (the client's Wait backs
// off to seconds) until it is done, and returns its result.
func pollUntilDone(t *testing.T, op *run.RunJobOperation) (*runpb.Execution, error) {
	t.Helper()
	var e *runpb.Execution
	var err error
	require.Eventually(t, func() bool {
		e, err = op.Poll(t.Context())
		return op.Done()
	}, time.Minute, 50*time.Millisecond)
	return e, err
}
