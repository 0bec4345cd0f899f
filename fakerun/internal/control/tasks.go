package control

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/behavior"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// task is one task of an execution. Its attempts are decided when the
// execution starts, and what a reader sees follows the clock; in docker mode
// (live) they are added as its containers run, and done says when the last
// one has finished.
type task struct {
	index    int32
	uid      string
	attempts []attempt // consecutive; the last one is final unless live
	live     bool
	done     bool
}

// attempt is one run of a task's container.
type attempt struct {
	start, end time.Time // end is zero while a live attempt runs
	exitCode   int32
	timedOut   bool   // killed at the task timeout
	failure    string // the container could not run (docker mode)
}

func (a attempt) succeeded() bool { return a.exitCode == 0 && !a.timedOut && a.failure == "" }

// finished reports whether every attempt of t is known.
func (t *task) finished() bool { return !t.live || t.done }

type taskPhase int

const (
	taskPending taskPhase = iota
	taskRunning
	taskSucceeded
	taskFailed
	taskCancelled
)

// taskState is what a task looks like at one time.
type taskState struct {
	phase   taskPhase
	retried int32
	last    *attempt  // the latest finished attempt, or nil
	started time.Time // zero until the first attempt starts
	ended   time.Time // when it succeeded, failed or was cancelled
}

// scheduleTasks decides every attempt of count tasks started at start,
// at most parallelism at once, in index order; a failed attempt is retried
// at once on the same slot, up to maxRetries times.
func scheduleTasks(start time.Time, count, parallelism, maxRetries int32, timeout time.Duration, b behavior.TaskBehavior, rng *rand.Rand) []*task {
	slots := make([]time.Time, max(min(parallelism, count), 1))
	for i := range slots {
		slots[i] = start
	}
	tasks := make([]*task, count)
	for i := range count {
		k := 0
		for j := range slots {
			if slots[j].Before(slots[k]) {
				k = j
			}
		}
		t := &task{index: i}
		at := slots[k]
		for n := range maxRetries + 1 {
			a := attempt{start: at, exitCode: b.AttemptExitCode(int(i), int(n), rng)}
			d := b.Duration
			if d > timeout {
				d, a.timedOut = timeout, true
			}
			a.end = at.Add(d)
			t.attempts = append(t.attempts, a)
			at = a.end
			if a.succeeded() {
				break
			}
		}
		slots[k] = at
		tasks[i] = t
	}
	return tasks
}

// stateAt returns t's state at now, given the execution's cancel time (zero
// when not cancelled).
func (t *task) stateAt(now, cancelled time.Time) taskState {
	cut := now
	if !cancelled.IsZero() && cancelled.Before(now) {
		cut = cancelled
	}
	var st taskState
	for i := range t.attempts {
		a := &t.attempts[i]
		if a.start.After(cut) {
			break
		}
		if i == 0 {
			st.started = a.start
		} else {
			st.retried++
		}
		if !a.end.IsZero() && !a.end.After(cut) {
			st.last = a
		}
	}
	var final attempt
	ended := t.finished() && len(t.attempts) > 0
	if ended {
		final = t.attempts[len(t.attempts)-1]
		ended = !final.end.After(cut)
	}
	switch {
	case ended && final.succeeded():
		st.phase, st.ended = taskSucceeded, final.end
	case ended:
		st.phase, st.ended = taskFailed, final.end
	case !cancelled.IsZero() && !now.Before(cancelled):
		st.phase, st.ended = taskCancelled, cancelled
	case !st.started.IsZero():
		st.phase = taskRunning
	}
	return st
}

// exitMessage describes how an attempt ended, as the task's condition and
// last attempt result say it.
func (a *attempt) exitMessage(timeout time.Duration) string {
	switch {
	case a.failure != "":
		return a.failure
	case a.timedOut:
		return fmt.Sprintf("The task timed out after %s and was terminated.", timeout)
	case a.exitCode != 0:
		return fmt.Sprintf("The container exited with an exit code of %d.", a.exitCode)
	}
	return ""
}

// taskName is the full name of an execution's task.
func taskName(e *execution, t *task) string {
	return fmt.Sprintf("%s/tasks/%s-task%d", e.name, rules.ShortName(e.name), t.index)
}

// taskProtoLocked renders task t of e. s.mu is held.
func (s *Server) taskProtoLocked(e *execution, t *task) *runpb.Task {
	now := s.nowLocked()
	st := t.stateAt(now, e.cancelledAt)
	tmpl := e.template
	timeout := tmpl.GetTimeout().AsDuration()
	out := &runpb.Task{
		Name:                 taskName(e, t),
		Uid:                  t.uid,
		Generation:           1,
		ObservedGeneration:   1,
		Labels:               e.labels,
		Annotations:          e.annotations,
		CreateTime:           timestamppb.New(e.created),
		ScheduledTime:        timestamppb.New(e.created),
		UpdateTime:           timestamppb.New(e.created),
		Job:                  e.job.id,
		Execution:            rules.ShortName(e.name),
		Containers:           tmpl.GetContainers(),
		Volumes:              tmpl.GetVolumes(),
		MaxRetries:           tmpl.GetMaxRetries(),
		Timeout:              tmpl.GetTimeout(),
		ServiceAccount:       tmpl.GetServiceAccount(),
		ExecutionEnvironment: tmpl.GetExecutionEnvironment(),
		EncryptionKey:        tmpl.GetEncryptionKey(),
		VpcAccess:            tmpl.GetVpcAccess(),
		NodeSelector:         tmpl.GetNodeSelector(),
		Index:                t.index,
		Retried:              st.retried,
		Reconciling:          st.phase == taskPending || st.phase == taskRunning,
		LogUri:               e.logURI(),
		Etag:                 e.etag,
	}
	if !st.started.IsZero() {
		out.StartTime = timestamppb.New(st.started)
		out.UpdateTime = out.StartTime
	}
	if st.last != nil {
		res := &runpb.TaskAttemptResult{Status: &spb.Status{}, ExitCode: st.last.exitCode}
		if st.last.timedOut {
			res.Status = &spb.Status{Code: int32(codes.DeadlineExceeded), Message: st.last.exitMessage(timeout)}
			res.ExitCode, res.TermSignal = 0, 9
		} else if st.last.exitCode != 0 {
			res.Status = &spb.Status{Code: int32(codes.Unknown), Message: st.last.exitMessage(timeout)}
		}
		out.LastAttemptResult = res
		out.UpdateTime = timestamppb.New(st.last.end)
	}
	switch st.phase {
	case taskPending:
		out.Conditions = []*runpb.Condition{condition("Completed", runpb.Condition_CONDITION_PENDING, "", e.created)}
	case taskRunning:
		out.Conditions = []*runpb.Condition{condition("Completed", runpb.Condition_CONDITION_RECONCILING, "", st.started)}
	case taskSucceeded:
		out.Conditions = []*runpb.Condition{condition("Completed", runpb.Condition_CONDITION_SUCCEEDED, "", st.ended)}
	case taskFailed:
		c := condition("Completed", runpb.Condition_CONDITION_FAILED, st.last.exitMessage(timeout), st.ended)
		c.Reasons = &runpb.Condition_ExecutionReason_{ExecutionReason: runpb.Condition_NON_ZERO_EXIT_CODE}
		out.Conditions = []*runpb.Condition{c}
	case taskCancelled:
		c := condition("Completed", runpb.Condition_CONDITION_FAILED, "The task was cancelled.", st.ended)
		c.Reasons = &runpb.Condition_ExecutionReason_{ExecutionReason: runpb.Condition_CANCELLED}
		out.Conditions = []*runpb.Condition{c}
	}
	if !st.ended.IsZero() {
		out.CompletionTime = timestamppb.New(st.ended)
		out.UpdateTime = out.CompletionTime
	}
	return out
}

func (s *jobsServer) GetTask(_ context.Context, req *runpb.GetTaskRequest) (*runpb.Task, error) {
	executionName, _, err := rules.ParseTaskName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	if e := s.jobs.executions[executionName]; e != nil {
		for _, t := range e.tasks {
			if taskName(e, t) == req.GetName() {
				return s.taskProtoLocked(e, t), nil
			}
		}
	}
	return nil, rules.TaskNotFound(req.GetName())
}

// ListTasks lists an execution's tasks by index; "-" as the execution (and
// as the job) lists the tasks of every execution of the job (of the location).
func (s *jobsServer) ListTasks(_ context.Context, req *runpb.ListTasksRequest) (*runpb.ListTasksResponse, error) {
	jobName, executionID, err := rules.ParseExecutionName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	var executions []*execution
	if executionID == "-" {
		executions = s.executionsOfLocked(jobName)
	} else if e := s.jobs.executions[req.GetParent()]; e != nil {
		executions = []*execution{e}
	} else {
		return nil, rules.ExecutionNotFound(req.GetParent())
	}
	type ref struct {
		e *execution
		t *task
	}
	var all []ref
	for _, e := range executions {
		for _, t := range e.tasks {
			all = append(all, ref{e, t})
		}
	}
	start, end, next, err := rules.PageBounds(req.GetPageSize(), req.GetPageToken(), len(all))
	if err != nil {
		return nil, err
	}
	resp := &runpb.ListTasksResponse{Tasks: make([]*runpb.Task, 0, end-start), NextPageToken: next}
	for _, r := range all[start:end] {
		resp.Tasks = append(resp.Tasks, s.taskProtoLocked(r.e, r.t))
	}
	return resp, nil
}
