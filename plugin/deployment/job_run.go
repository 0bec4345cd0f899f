package deployment

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/stagetime"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
)

const (
	// cancelTimeout bounds the cancellation of an execution after the stage was cancelled or timed out.
	cancelTimeout = 30 * time.Second
	// maxFailedTasksListed bounds the failed tasks named in the stage log.
	maxFailedTasksListed = 10
)

var errExecutionTimeout = errors.New("execution timeout")

// executeJobRun runs CLOUDRUN_JOB_RUN: on every deploy target, start an execution of the job (with the
// stage's overrides), stream its progress to the stage log and wait for it to finish. The stage fails when
// the execution fails, naming the failed tasks; when the stage is cancelled or times out, the execution is
// cancelled.
func (p *Plugin) executeJobRun(ctx context.Context, lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[config.RawApplicationSpec], dts []*sdk.DeployTarget[config.RawDeployTargetConfig]) sdk.StageStatus {
	src, ok := loadJobApp(lp, input)
	if !ok {
		return sdk.StageStatusFailure
	}
	opts, err := config.DecodeJobRunStageOptions(input.Request.StageConfig)
	if err != nil {
		logInvalidOptions(lp, input, err)
		return sdk.StageStatusFailure
	}
	return target.ForEach(ctx, p.registry, lp, dts, func(ctx context.Context, t *target.Target) error {
		job, err := src.DesiredJob(t.Config, input.Request.Deployment)
		if err != nil {
			return err
		}
		return p.runJob(ctx, t, job.GetName(), opts)
	})
}

func (p *Plugin) runJob(ctx context.Context, t *target.Target, job string, opts config.JobRunStageOptions) error {
	overrides := jobOverrides(opts)
	if overrides != nil {
		t.Log.Infof("Running job %s with overrides: %s", naming.ShortName(job), describeOverrides(opts))
	}
	exec, err := t.Client.RunJob(ctx, job, overrides)
	if err != nil {
		return err
	}
	name := naming.ShortName(exec.GetName())
	t.Log.Infof("Started execution %s of job %s with %d task(s); waiting up to %s for it to finish", name, naming.ShortName(job), exec.GetTaskCount(), opts.Timeout.Duration())
	exec, err = p.waitExecution(ctx, t, exec, opts.Timeout.Duration())
	if err != nil {
		return p.stopExecution(ctx, t, name, exec.GetName(), err, opts.Timeout.Duration())
	}
	if c := completed(exec.GetConditions()); c.GetState() == runpb.Condition_CONDITION_SUCCEEDED {
		t.Log.Successf("Execution %s succeeded: %d of %d task(s) succeeded. %s", name, exec.GetSucceededCount(), exec.GetTaskCount(), c.GetMessage())
		return nil
	}
	return p.executionFailure(ctx, t, exec)
}

// jobOverrides is the RunJob overrides of opts; nil when there are none.
func jobOverrides(opts config.JobRunStageOptions) *runpb.RunJobRequest_Overrides {
	if !opts.HasOverrides() {
		return nil
	}
	out := &runpb.RunJobRequest_Overrides{TaskCount: int32(opts.TaskCount)}
	if opts.TaskTimeout > 0 {
		out.Timeout = durationpb.New(opts.TaskTimeout.Duration())
	}
	if opts.Args != nil || len(opts.Env) > 0 {
		c := &runpb.RunJobRequest_Overrides_ContainerOverride{Name: opts.Container, Args: opts.Args, ClearArgs: opts.Args != nil && len(opts.Args) == 0}
		for _, k := range slices.Sorted(maps.Keys(opts.Env)) {
			c.Env = append(c.Env, &runpb.EnvVar{Name: k, Values: &runpb.EnvVar_Value{Value: opts.Env[k]}})
		}
		out.ContainerOverrides = []*runpb.RunJobRequest_Overrides_ContainerOverride{c}
	}
	return out
}

func describeOverrides(opts config.JobRunStageOptions) string {
	var parts []string
	if opts.Args != nil {
		parts = append(parts, fmt.Sprintf("args %q", opts.Args))
	}
	if len(opts.Env) > 0 {
		parts = append(parts, "env "+strings.Join(slices.Sorted(maps.Keys(opts.Env)), ", "))
	}
	if opts.TaskCount > 0 {
		parts = append(parts, fmt.Sprintf("%d task(s)", opts.TaskCount))
	}
	if opts.TaskTimeout > 0 {
		parts = append(parts, "task timeout "+opts.TaskTimeout.Duration().String())
	}
	return strings.Join(parts, ", ")
}

// waitExecution polls the execution until it completes, logging its task counts whenever they change. It
// returns the last execution read along with an error when ctx ends or timeout passes.
func (p *Plugin) waitExecution(ctx context.Context, t *target.Target, exec *runpb.Execution, timeout time.Duration) (*runpb.Execution, error) {
	wctx, cancel := context.WithTimeoutCause(ctx, timeout, errExecutionTimeout)
	defer cancel()
	name, last := exec.GetName(), ""
	for {
		if progress := executionProgress(exec); progress != last {
			t.Log.Infof("Execution %s: %s", naming.ShortName(name), progress)
			last = progress
		}
		if exec.GetCompletionTime() != nil {
			return exec, nil
		}
		if err := stagetime.Sleep(wctx, p.pollInterval); err != nil {
			return exec, err
		}
		got, err := t.Client.GetExecution(wctx, name)
		switch {
		case err == nil:
			exec = got
		case wctx.Err() != nil:
			return exec, context.Cause(wctx)
		default:
			return exec, err
		}
	}
}

// executionProgress is a one-line summary of the execution's tasks.
func executionProgress(exec *runpb.Execution) string {
	s := fmt.Sprintf("%d running, %d succeeded, %d failed", exec.GetRunningCount(), exec.GetSucceededCount(), exec.GetFailedCount())
	if n := exec.GetCancelledCount(); n > 0 {
		s += fmt.Sprintf(", %d cancelled", n)
	}
	if n := exec.GetRetriedCount(); n > 0 {
		s += fmt.Sprintf(", %d retried", n)
	}
	return s + fmt.Sprintf(" (of %d)", exec.GetTaskCount())
}

// stopExecution cancels the execution after waiting for it ended with cause (the stage was cancelled,
// timed out, or Cloud Run could not be read), and returns the stage's error.
func (p *Plugin) stopExecution(ctx context.Context, t *target.Target, short, name string, cause error, timeout time.Duration) error {
	why := fmt.Sprintf("waiting for execution %s failed: %v", short, cause)
	switch {
	case errors.Is(cause, errExecutionTimeout):
		why = fmt.Sprintf("execution %s did not finish within %s (raise the stage option \"timeout\" if it needs longer)", short, timeout)
	case ctx.Err() != nil:
		why = fmt.Sprintf("the stage was cancelled while execution %s ran", short)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelTimeout)
	defer cancel()
	if _, err := t.Client.CancelExecution(cctx, name); err != nil {
		return fmt.Errorf("%s, and cancelling the execution failed: %w", why, err)
	}
	t.Log.Infof("Cancelled execution %s", short)
	return fmt.Errorf("%s; the execution was cancelled", why)
}

// executionFailure is the error of a failed execution, naming its failed tasks and their exit messages.
func (p *Plugin) executionFailure(ctx context.Context, t *target.Target, exec *runpb.Execution) error {
	name := naming.ShortName(exec.GetName())
	msg := fmt.Sprintf("execution %s failed: %s", name, completed(exec.GetConditions()).GetMessage())
	tasks, err := t.Client.ListTasks(ctx, exec.GetName())
	if err != nil {
		return fmt.Errorf("%s (its tasks could not be listed: %w)", msg, err)
	}
	var failed []string
	for _, task := range tasks {
		if c := completed(task.GetConditions()); c.GetState() != runpb.Condition_CONDITION_FAILED || c.GetExecutionReason() == runpb.Condition_CANCELLED {
			continue
		}
		failed = append(failed, fmt.Sprintf("task %d (%s): exit code %d: %s", task.GetIndex(), naming.ShortName(task.GetName()),
			task.GetLastAttemptResult().GetExitCode(), taskMessage(task)))
	}
	if len(failed) > maxFailedTasksListed {
		failed = append(failed[:maxFailedTasksListed], fmt.Sprintf("and %d more", len(failed)-maxFailedTasksListed))
	}
	if len(failed) > 0 {
		msg += fmt.Sprintf("\nFailed tasks (%d of %d):\n  - %s", exec.GetFailedCount(), exec.GetTaskCount(), strings.Join(failed, "\n  - "))
	}
	if u := exec.GetLogUri(); u != "" {
		msg += "\nLogs: " + u
	}
	return errors.New(msg)
}

// taskMessage is how a task's last attempt ended.
func taskMessage(task *runpb.Task) string {
	if m := task.GetLastAttemptResult().GetStatus().GetMessage(); m != "" {
		return m
	}
	return completed(task.GetConditions()).GetMessage()
}

// completed returns the "Completed" condition among the conditions of an execution or task; nil when
// there is none.
func completed(conds []*runpb.Condition) *runpb.Condition {
	for _, c := range conds {
		if c.GetType() == "Completed" {
			return c
		}
	}
	return nil
}
