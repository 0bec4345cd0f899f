package provider

import (
	"context"
	"errors"
	"fmt"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/option"
)

// connectJobs creates the clients of jobs, their executions and the executions' tasks.
func (c *Client) connectJobs(ctx context.Context, opts []option.ClientOption) error {
	jobs, err := run.NewJobsClient(ctx, opts...)
	if err != nil {
		return fmt.Errorf("failed to create the Cloud Run jobs client: %w", err)
	}
	executions, err := run.NewExecutionsClient(ctx, opts...)
	if err != nil {
		_ = jobs.Close()
		return fmt.Errorf("failed to create the Cloud Run executions client: %w", err)
	}
	tasks, err := run.NewTasksClient(ctx, opts...)
	if err != nil {
		_ = errors.Join(jobs.Close(), executions.Close())
		return fmt.Errorf("failed to create the Cloud Run tasks client: %w", err)
	}
	jobs.CallOptions = &run.JobsCallOptions{}
	executions.CallOptions = &run.ExecutionsCallOptions{}
	tasks.CallOptions = &run.TasksCallOptions{}
	c.jobs, c.executions, c.tasks = jobs, executions, tasks
	return nil
}

// GetJob returns the job, or an error wrapping ErrNotFound.
func (c *Client) GetJob(ctx context.Context, name string) (*runpb.Job, error) {
	return call(ctx, c, c.readTimeout, "get job", name, func(ctx context.Context) (*runpb.Job, error) {
		return c.jobs.GetJob(ctx, &runpb.GetJobRequest{Name: name})
	})
}

// CreateJob creates job (its Name is the full resource name) and waits until Cloud Run has applied it.
func (c *Client) CreateJob(ctx context.Context, job *runpb.Job) (*runpb.Job, error) {
	op, err := create(ctx, c, job, "job", "jobs", func(ctx context.Context, parent, id string, body *runpb.Job) (*run.CreateJobOperation, error) {
		return c.jobs.CreateJob(ctx, &runpb.CreateJobRequest{Parent: parent, JobId: id, Job: body})
	})
	if err != nil {
		return nil, err
	}
	return wait[runpb.Job](ctx, c, op, "create job", job.GetName())
}

// ReplaceJob replaces every writable field of the job with job (no update mask, as
// `gcloud run jobs replace` does) and waits until Cloud Run has applied it. job.Etag must be the etag of the
// read the change is based on, so that a concurrent change fails with ErrConflict.
func (c *Client) ReplaceJob(ctx context.Context, job *runpb.Job) (*runpb.Job, error) {
	var op *run.UpdateJobOperation
	if err := c.do(ctx, c.writeTimeout, "update job", job.GetName(), func(ctx context.Context) (err error) {
		op, err = c.jobs.UpdateJob(ctx, &runpb.UpdateJobRequest{Job: job})
		return err
	}); err != nil {
		return nil, err
	}
	return wait[runpb.Job](ctx, c, op, "update job", job.GetName())
}

// ValidateJob asks Cloud Run to check job without applying it (validate_only): a creation when create is
// true, else a replacement as ReplaceJob sends it. It returns nil when Cloud Run accepts the request.
func (c *Client) ValidateJob(ctx context.Context, job *runpb.Job, create bool) error {
	return validate(ctx, c, job, "job", "jobs", create, func(ctx context.Context) error {
		_, err := c.jobs.UpdateJob(ctx, &runpb.UpdateJobRequest{Job: job, ValidateOnly: true})
		return err
	}, func(ctx context.Context, parent, id string, body *runpb.Job) error {
		_, err := c.jobs.CreateJob(ctx, &runpb.CreateJobRequest{Parent: parent, JobId: id, Job: body, ValidateOnly: true})
		return err
	})
}

// RunJob starts an execution of the job with overrides (nil: none) and returns it as Cloud Run reports it
// when it starts; it does not wait for the execution to finish (see GetExecution).
func (c *Client) RunJob(ctx context.Context, name string, overrides *runpb.RunJobRequest_Overrides) (*runpb.Execution, error) {
	var op *run.RunJobOperation
	if err := c.do(ctx, c.writeTimeout, "run job", name, func(ctx context.Context) (err error) {
		op, err = c.jobs.RunJob(ctx, &runpb.RunJobRequest{Name: name, Overrides: overrides})
		return err
	}); err != nil {
		return nil, err
	}
	// The operation's metadata is the execution, also when the operation is done because the execution has
	// already ended (its error is then the execution's failure, which the caller reads from the execution).
	exec, err := op.Metadata()
	if err != nil {
		return nil, fmt.Errorf("failed to read the operation to run job %s: %w", name, err)
	}
	if exec.GetName() == "" && op.Done() {
		if exec, err = result(ctx, op, "run job", name); err != nil {
			return nil, err
		}
	}
	if exec.GetName() == "" {
		return nil, fmt.Errorf("failed to run job %s: Cloud Run did not report the execution it started (operation %s)", name, op.Name())
	}
	return exec, nil
}

// GetExecution returns the execution, or an error wrapping ErrNotFound.
func (c *Client) GetExecution(ctx context.Context, name string) (*runpb.Execution, error) {
	var exec *runpb.Execution
	err := c.do(ctx, c.readTimeout, "get execution", name, func(ctx context.Context) (err error) {
		exec, err = c.executions.GetExecution(ctx, &runpb.GetExecutionRequest{Name: name})
		return err
	})
	return exec, err
}

// ListExecutions returns up to limit executions of the job, newest first as Cloud Run lists them.
func (c *Client) ListExecutions(ctx context.Context, job string, limit int) ([]*runpb.Execution, error) {
	var out []*runpb.Execution
	err := c.do(ctx, c.readTimeout, "list executions of job", job, func(ctx context.Context) (err error) {
		out, err = collect(c.executions.ListExecutions(ctx, &runpb.ListExecutionsRequest{Parent: job, PageSize: int32(limit)}), limit)
		return err
	})
	return out, err
}

// CancelExecution cancels the execution and waits until Cloud Run has cancelled it. An execution that has
// already finished is left as it is.
func (c *Client) CancelExecution(ctx context.Context, name string) (*runpb.Execution, error) {
	var op *run.CancelExecutionOperation
	if err := c.do(ctx, c.writeTimeout, "cancel execution", name, func(ctx context.Context) (err error) {
		op, err = c.executions.CancelExecution(ctx, &runpb.CancelExecutionRequest{Name: name})
		return err
	}); err != nil {
		return nil, err
	}
	return wait[runpb.Execution](ctx, c, op, "cancel execution", name)
}

// ListTasks returns every task of the execution.
func (c *Client) ListTasks(ctx context.Context, execution string) ([]*runpb.Task, error) {
	var out []*runpb.Task
	err := c.do(ctx, c.readTimeout, "list tasks of execution", execution, func(ctx context.Context) (err error) {
		out, err = collect(c.tasks.ListTasks(ctx, &runpb.ListTasksRequest{Parent: execution}), 0)
		return err
	})
	return out, err
}
