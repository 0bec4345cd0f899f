package control

import (
	"context"
	"strconv"
	"sync"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/docker"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
)

// TaskRunner runs the tasks of docker-mode executions as containers of the
// task template's first container, in real time, each attempt a container
// that runs to its exit. It has its own lock: it is started with the
// server's lock held and takes that lock only to record attempts.
type TaskRunner struct {
	impl   *Server
	engine *docker.Engine
	ctx    context.Context // cancelled by close
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// NewTaskRunner runs the tasks of s's docker-mode executions on engine.
func NewTaskRunner(s *Server, engine *docker.Engine) *TaskRunner {
	ctx, cancel := context.WithCancel(context.Background())
	return &TaskRunner{impl: s, engine: engine, ctx: ctx, cancel: cancel}
}

// startExecution runs e's tasks in the background; e.stop cancels them.
// It may be called with the server's lock held.
func (r *TaskRunner) startExecution(e *execution) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	e.stop = cancel
	r.wg.Go(func() {
		defer cancel()
		r.run(ctx, e)
	})
}

// run starts e's tasks in index order, at most e.parallelism at once.
func (r *TaskRunner) run(ctx context.Context, e *execution) {
	slots := make(chan struct{}, e.parallelism)
	var wg sync.WaitGroup
	for _, t := range e.tasks {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Go(func() {
			defer func() { <-slots }()
			r.runTask(ctx, e, t)
		})
	}
	wg.Wait()
}

// runTask runs t's attempts until one succeeds or max_retries is spent,
// recording each on the server's clock.
func (r *TaskRunner) runTask(ctx context.Context, e *execution, t *task) {
	impl := r.impl
	for n := range e.template.GetMaxRetries() + 1 {
		impl.mu.Lock()
		t.attempts = append(t.attempts, attempt{start: impl.nowLocked()})
		impl.mu.Unlock()

		code, timedOut, err := r.engine.RunAttempt(ctx, attemptOf(e, t, n))
		if ctx.Err() != nil {
			return // cancelled: the attempt stays unfinished, the task counts as cancelled
		}
		impl.mu.Lock()
		a := &t.attempts[len(t.attempts)-1]
		a.end, a.exitCode, a.timedOut = impl.nowLocked(), code, timedOut
		if err != nil {
			a.failure = err.Error()
		}
		t.done = a.succeeded() || n == e.template.GetMaxRetries()
		impl.mu.Unlock()
		if t.done {
			return
		}
	}
}

// Close cancels every running task and waits until their containers are removed.
func (r *TaskRunner) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// attemptOf describes attempt n of t as a container of the task template's first container, with the jobs
// container contract's variables: https://cloud.google.com/run/docs/container-contract#jobs-env-vars
func attemptOf(e *execution, t *task, n int32) docker.Attempt {
	c := e.template.GetContainers()[0]
	env := []string{"CLOUD_RUN_JOB=" + e.job.id, "CLOUD_RUN_EXECUTION=" + rules.ShortName(e.name),
		"CLOUD_RUN_TASK_INDEX=" + strconv.Itoa(int(t.index)), "CLOUD_RUN_TASK_ATTEMPT=" + strconv.Itoa(int(n)),
		"CLOUD_RUN_TASK_COUNT=" + strconv.Itoa(int(e.taskCount))}
	for _, v := range c.GetEnv() {
		if v.GetValueSource() == nil { // secrets are not modelled
			env = append(env, v.GetName()+"="+v.GetValue())
		}
	}
	return docker.Attempt{Image: c.GetImage(), Env: env, Args: c.GetArgs(), Command: c.GetCommand(),
		Execution: e.name, Timeout: e.template.GetTimeout().AsDuration()}
}
