package control

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// execution is one run of a job. Its tasks' attempts are decided when it
// starts (see scheduleTasks); its state follows the clock.
type execution struct {
	name        string
	uid         string
	etag        string
	job         *job
	created     time.Time
	launchStage api.LaunchStage
	template    *runpb.TaskTemplate
	labels      map[string]string
	annotations map[string]string
	taskCount   int32
	parallelism int32
	tasks       []*task
	cancelledAt time.Time // zero unless cancelled
	// docker is set when the tasks run as containers (Behavior.Docker);
	// stop cancels them.
	docker bool
	stop   context.CancelFunc
}

// executionStatus counts an execution's tasks at one time.
type executionStatus struct {
	running, succeeded, failed, cancelled, retried int32
	complete                                       bool
	completedAt                                    time.Time
	firstFailed                                    *task // lowest failed index, or nil
	firstFailedState                               taskState
}

// newExecutionLocked builds (without registering) an execution of j's
// template with overrides applied. s.mu is held.
func (s *Server) newExecutionLocked(j *job, ov *runpb.RunJobRequest_Overrides) (*execution, error) {
	et := j.stored.GetTemplate()
	tmpl := proto.Clone(et.GetTemplate()).(*runpb.TaskTemplate)
	taskCount := et.GetTaskCount()
	if err := applyOverrides(tmpl, &taskCount, ov); err != nil {
		return nil, err
	}
	if err := validateExecutionShape("overrides", taskCount, et.GetParallelism()); err != nil {
		return nil, err
	}
	if err := validateTaskTemplate("overrides", tmpl); err != nil {
		return nil, err
	}
	parallelism := et.GetParallelism()
	if parallelism == 0 || parallelism > taskCount {
		parallelism = taskCount
	}
	name := ""
	for name == "" || s.jobs.executions[name] != nil {
		name = j.name + "/executions/" + j.id + "-" + s.randomLettersLocked(5)
	}
	now := s.nowLocked()
	e := &execution{
		name: name, uid: s.newUIDLocked(), etag: s.newEtagLocked(), job: j, created: now,
		launchStage: j.stored.GetLaunchStage(), template: tmpl, labels: et.GetLabels(), annotations: et.GetAnnotations(),
		taskCount: taskCount, parallelism: parallelism,
	}
	b := s.behaviors.Images[tmpl.GetContainers()[0].GetImage()]
	if e.docker = b.Docker; e.docker {
		e.tasks = make([]*task, taskCount)
		for i := range e.tasks {
			e.tasks[i] = &task{index: int32(i), live: true}
		}
	} else {
		e.tasks = scheduleTasks(now, taskCount, parallelism, tmpl.GetMaxRetries(), tmpl.GetTimeout().AsDuration(), b.Task, s.serveRng)
	}
	for _, t := range e.tasks {
		t.uid = s.newUIDLocked()
	}
	return e, nil
}

// applyOverrides applies RunJob overrides to a task template: a container
// override names its container (empty: the first one); args replace, env
// merges by name; task count and timeout replace.
func applyOverrides(t *runpb.TaskTemplate, taskCount *int32, ov *runpb.RunJobRequest_Overrides) error {
	for i, co := range ov.GetContainerOverrides() {
		var c *runpb.Container
		for _, x := range t.GetContainers() {
			if x.GetName() == co.GetName() || co.GetName() == "" {
				c = x
				break
			}
		}
		if c == nil {
			return rules.InvalidArgument(fmt.Sprintf("overrides.container_overrides[%d].name", i), fmt.Sprintf("no container named %q in the job's template", co.GetName()))
		}
		if len(co.GetArgs()) > 0 || co.GetClearArgs() {
			c.Args = slices.Clone(co.GetArgs())
		}
		for _, env := range co.GetEnv() {
			k := slices.IndexFunc(c.Env, func(x *runpb.EnvVar) bool { return x.GetName() == env.GetName() })
			if k >= 0 {
				c.Env[k] = proto.Clone(env).(*runpb.EnvVar)
			} else {
				c.Env = append(c.Env, proto.Clone(env).(*runpb.EnvVar))
			}
		}
	}
	if ov.GetTaskCount() != 0 {
		*taskCount = ov.GetTaskCount()
	}
	if ov.GetTimeout() != nil {
		t.Timeout = ov.GetTimeout()
	}
	return nil
}

// statusAt counts e's tasks at now.
func (e *execution) statusAt(now time.Time) executionStatus {
	var st executionStatus
	st.complete = true
	for _, t := range e.tasks {
		ts := t.stateAt(now, e.cancelledAt)
		if ts.retried > 0 {
			st.retried++
		}
		switch ts.phase {
		case taskPending:
			st.complete = false
		case taskRunning:
			st.running++
			st.complete = false
		case taskSucceeded:
			st.succeeded++
		case taskFailed:
			st.failed++
			if st.firstFailed == nil {
				st.firstFailed, st.firstFailedState = t, ts
			}
		case taskCancelled:
			st.cancelled++
		}
		if ts.ended.After(st.completedAt) {
			st.completedAt = ts.ended
		}
	}
	return st
}

// outcome is the error of a completed execution's run operation, nil when it succeeded.
func (e *execution) outcome(st executionStatus) *status.Status {
	switch {
	case st.cancelled > 0:
		return status.New(codes.Canceled, fmt.Sprintf("Execution '%s' was cancelled.", rules.ShortName(e.name)))
	case st.firstFailed != nil:
		return status.New(codes.FailedPrecondition, e.failureMessage(st))
	}
	return nil
}

// failureMessage names how many tasks failed and the first one's exit.
func (e *execution) failureMessage(st executionStatus) string {
	first := st.firstFailed
	return fmt.Sprintf("Execution '%s' failed: %d of %d task(s) failed. Task %s-task%d failed: %s",
		rules.ShortName(e.name), st.failed, e.taskCount, rules.ShortName(e.name), first.index,
		st.firstFailedState.last.exitMessage(e.template.GetTimeout().AsDuration()))
}

func (e *execution) logURI() string {
	return "https://console.cloud.google.com/logs/viewer?project=" + e.job.project +
		"&advancedFilter=resource.type%3D%22cloud_run_job%22%0Aresource.labels.job_name%3D%22" + e.job.id +
		"%22%0Alabels.%22run.googleapis.com/execution_name%22%3D%22" + rules.ShortName(e.name) + "%22"
}

// executionProtoLocked renders e at the server's time. s.mu is held.
func (s *Server) executionProtoLocked(e *execution) *runpb.Execution {
	now := s.nowLocked()
	st := e.statusAt(now)
	out := &runpb.Execution{
		Name:               e.name,
		Uid:                e.uid,
		Creator:            creator,
		Generation:         1,
		ObservedGeneration: 1,
		Labels:             e.labels,
		Annotations:        e.annotations,
		CreateTime:         timestamppb.New(e.created),
		StartTime:          timestamppb.New(e.created),
		UpdateTime:         timestamppb.New(e.created),
		LaunchStage:        e.launchStage,
		Job:                e.job.id,
		Parallelism:        e.parallelism,
		TaskCount:          e.taskCount,
		Template:           e.template,
		Reconciling:        !st.complete,
		RunningCount:       st.running,
		SucceededCount:     st.succeeded,
		FailedCount:        st.failed,
		CancelledCount:     st.cancelled,
		RetriedCount:       st.retried,
		LogUri:             e.logURI(),
		Etag:               e.etag,
	}
	started := condition("Started", runpb.Condition_CONDITION_SUCCEEDED, "", e.created)
	resources := condition("ResourcesAvailable", runpb.Condition_CONDITION_SUCCEEDED, "", e.created)
	var completed *runpb.Condition
	switch err := e.outcome(st); {
	case !st.complete:
		completed = condition("Completed", runpb.Condition_CONDITION_RECONCILING, "", e.created)
	case err == nil:
		completed = condition("Completed", runpb.Condition_CONDITION_SUCCEEDED,
			fmt.Sprintf("Execution completed successfully in %s.", st.completedAt.Sub(e.created)), st.completedAt)
	case err.Code() == codes.Canceled:
		completed = condition("Completed", runpb.Condition_CONDITION_FAILED, err.Message(), st.completedAt)
		completed.Reasons = &runpb.Condition_ExecutionReason_{ExecutionReason: runpb.Condition_CANCELLED}
	default:
		completed = condition("Completed", runpb.Condition_CONDITION_FAILED, err.Message(), st.completedAt)
		completed.Reasons = &runpb.Condition_ExecutionReason_{ExecutionReason: runpb.Condition_NON_ZERO_EXIT_CODE}
	}
	out.Conditions = []*runpb.Condition{completed, resources, started}
	if st.complete {
		out.CompletionTime = timestamppb.New(st.completedAt)
		out.UpdateTime = out.CompletionTime
	}
	return out
}

// executionReferenceLocked is the job's reference to e. s.mu is held.
func (s *Server) executionReferenceLocked(e *execution) *runpb.ExecutionReference {
	st := e.statusAt(s.nowLocked())
	ref := &runpb.ExecutionReference{Name: rules.ShortName(e.name), CreateTime: timestamppb.New(e.created)}
	switch err := e.outcome(st); {
	case !st.complete:
		ref.CompletionStatus = runpb.ExecutionReference_EXECUTION_RUNNING
	case err == nil:
		ref.CompletionStatus = runpb.ExecutionReference_EXECUTION_SUCCEEDED
	case err.Code() == codes.Canceled:
		ref.CompletionStatus = runpb.ExecutionReference_EXECUTION_CANCELLED
	default:
		ref.CompletionStatus = runpb.ExecutionReference_EXECUTION_FAILED
	}
	if st.complete {
		ref.CompletionTime = timestamppb.New(st.completedAt)
	}
	return ref
}

// settleRunLocked finishes a run operation whose execution has completed
// and reports whether it is done. s.mu is held.
func (s *Server) settleRunLocked(jo *jobOperation, now time.Time) bool {
	st := jo.execution.statusAt(now)
	if !st.complete {
		return false
	}
	if err := jo.execution.outcome(st); err != nil {
		s.finishLocked(jo.op, err, nil)
	} else {
		s.finishLocked(jo.op, nil, s.executionProtoLocked(jo.execution))
	}
	return true
}

func (s *jobsServer) GetExecution(_ context.Context, req *runpb.GetExecutionRequest) (*runpb.Execution, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.executionLocked(req.GetName(), "")
	if err != nil {
		return nil, err
	}
	return s.executionProtoLocked(e), nil
}

// executionLocked returns the named execution, with the state settled; an
// etag other than the execution's (unless empty) is ABORTED. s.mu is held.
func (s *Server) executionLocked(name, etag string) (*execution, error) {
	if _, _, err := rules.ParseExecutionName("name", name); err != nil {
		return nil, err
	}
	s.settleLocked()
	e := s.jobs.executions[name]
	if e == nil {
		return nil, rules.ExecutionNotFound(name)
	}
	if err := rules.CheckEtag(s.cfg.Compat.etagMismatchCode(), "execution", etag, e.etag, rules.ShortName(e.name)); err != nil {
		return nil, err
	}
	return e, nil
}

// executionsOfLocked returns the executions of a job, oldest first; the job
// "-" means every job of the location. s.mu is held.
func (s *Server) executionsOfLocked(jobName string) []*execution {
	if strings.HasSuffix(jobName, "/jobs/-") {
		var out []*execution
		for _, j := range s.jobs.byLocation[rules.JobLocation(jobName)] {
			out = append(out, j.executions...)
		}
		return out
	}
	if j := s.jobs.jobs[jobName]; j != nil {
		return j.executions
	}
	return nil
}

// ListExecutions lists a job's executions, newest first; the job "-" lists
// every job's of the location.
func (s *jobsServer) ListExecutions(_ context.Context, req *runpb.ListExecutionsRequest) (*runpb.ListExecutionsResponse, error) {
	if _, _, _, err := rules.ParseJobName("parent", req.GetParent()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	if !strings.HasSuffix(req.GetParent(), "/jobs/-") && s.jobs.jobs[req.GetParent()] == nil {
		return nil, rules.JobNotFound(req.GetParent())
	}
	executions := slices.Clone(s.executionsOfLocked(req.GetParent()))
	slices.SortStableFunc(executions, func(a, b *execution) int { return b.created.Compare(a.created) })
	start, end, next, err := rules.PageBounds(req.GetPageSize(), req.GetPageToken(), len(executions))
	if err != nil {
		return nil, err
	}
	resp := &runpb.ListExecutionsResponse{Executions: make([]*runpb.Execution, 0, end-start), NextPageToken: next}
	for _, e := range executions[start:end] {
		resp.Executions = append(resp.Executions, s.executionProtoLocked(e))
	}
	return resp, nil
}

// DeleteExecution deletes a completed execution; a running one is refused.
func (s *jobsServer) DeleteExecution(_ context.Context, req *runpb.DeleteExecutionRequest) (*longrunningpb.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.executionLocked(req.GetName(), req.GetEtag())
	if err != nil {
		return nil, err
	}
	now := s.nowLocked()
	if !e.statusAt(now).complete {
		return nil, rules.FailedPrecondition("Execution '%s' cannot be deleted because it is still running; cancel it or wait for it to finish.", rules.ShortName(e.name))
	}
	resp := s.executionProtoLocked(e)
	resp.DeleteTime = timestamppb.New(now)
	resp.ExpireTime = timestamppb.New(now.Add(deletedRetention))
	if req.GetValidateOnly() {
		return validateOnlyOperation(e.job.location, resp)
	}
	delete(s.jobs.executions, e.name)
	e.job.executions = slices.DeleteFunc(e.job.executions, func(x *execution) bool { return x == e })
	return s.doneOperationLocked(e.job.location, resp)
}

// CancelExecution cancels a running execution at once: its unfinished tasks
// become cancelled and its run operation fails with CANCELLED.
func (s *jobsServer) CancelExecution(_ context.Context, req *runpb.CancelExecutionRequest) (*longrunningpb.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.executionLocked(req.GetName(), req.GetEtag())
	if err != nil {
		return nil, err
	}
	now := s.nowLocked()
	if e.statusAt(now).complete {
		return nil, rules.FailedPrecondition("Execution '%s' has already completed and cannot be cancelled.", rules.ShortName(e.name))
	}
	if req.GetValidateOnly() {
		return validateOnlyOperation(e.job.location, s.executionProtoLocked(e))
	}
	e.cancelledAt = now
	e.etag = s.newEtagLocked()
	if e.stop != nil {
		e.stop()
	}
	s.settleJobsLocked()
	return s.doneOperationLocked(e.job.location, s.executionProtoLocked(e))
}
