package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
)

// taskRunner runs the tasks of docker-mode executions as containers of the
// task template's first container, in real time, each attempt a container
// that runs to its exit. It has its own lock: it is started with the
// server's lock held and takes that lock only to record attempts.
type taskRunner struct {
	m      *ContainerManager
	ctx    context.Context // cancelled by close
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func newTaskRunner(m *ContainerManager) *taskRunner {
	ctx, cancel := context.WithCancel(context.Background())
	return &taskRunner{m: m, ctx: ctx, cancel: cancel}
}

// startExecution runs e's tasks in the background; e.stop cancels them.
// It may be called with the server's lock held.
func (r *taskRunner) startExecution(e *execution) {
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
func (r *taskRunner) run(ctx context.Context, e *execution) {
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
func (r *taskRunner) runTask(ctx context.Context, e *execution, t *task) {
	impl := r.m.impl
	for n := range e.template.GetMaxRetries() + 1 {
		impl.mu.Lock()
		t.attempts = append(t.attempts, attempt{start: impl.nowLocked()})
		impl.mu.Unlock()

		code, timedOut, err := r.runAttempt(ctx, e, t, n)
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

// runAttempt runs one container for attempt n of t and returns its exit
// code, or timedOut when it outlived the task timeout and was killed.
func (r *taskRunner) runAttempt(ctx context.Context, e *execution, t *task, n int32) (code int32, timedOut bool, err error) {
	c := e.template.GetContainers()[0]
	if err := r.m.call(ctx, http.MethodGet, "/images/"+url.PathEscape(c.GetImage())+"/json", nil, nil); err != nil {
		if errors.Is(err, errNotFound) {
			return 0, false, fmt.Errorf("image %q is not present on the Docker engine; fakerun never pulls images (docker pull or docker build it first)", c.GetImage())
		}
		return 0, false, err
	}
	// The jobs container contract: https://cloud.google.com/run/docs/container-contract#jobs-env-vars
	env := []string{"CLOUD_RUN_JOB=" + e.job.id, "CLOUD_RUN_EXECUTION=" + rules.ShortName(e.name),
		"CLOUD_RUN_TASK_INDEX=" + strconv.Itoa(int(t.index)), "CLOUD_RUN_TASK_ATTEMPT=" + strconv.Itoa(int(n)),
		"CLOUD_RUN_TASK_COUNT=" + strconv.Itoa(int(e.taskCount))}
	for _, v := range c.GetEnv() {
		if v.GetValueSource() == nil { // secrets are not modelled
			env = append(env, v.GetName()+"="+v.GetValue())
		}
	}
	spec := map[string]any{"Image": c.GetImage(), "Env": env, "Labels": map[string]string{"fakerun.execution": e.name}}
	if args := c.GetArgs(); len(args) > 0 {
		spec["Cmd"] = args
	}
	if cmd := c.GetCommand(); len(cmd) > 0 {
		spec["Entrypoint"] = cmd
	}
	// Creating and removing outlive a cancellation, so that no container
	// is left behind.
	var created struct{ ID string }
	if err := r.uncancelled(ctx, http.MethodPost, "/containers/create", spec, &created); err != nil {
		return 0, false, fmt.Errorf("creating a container of %s: %w", c.GetImage(), err)
	}
	defer func() {
		// Forced removal also kills a container that is still running.
		_ = r.uncancelled(ctx, http.MethodDelete, "/containers/"+created.ID+"?force=true", nil, nil)
	}()
	if err := r.m.call(ctx, http.MethodPost, "/containers/"+created.ID+"/start", nil, nil); err != nil {
		return 0, false, fmt.Errorf("starting container %.12s: %w", created.ID, err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, e.template.GetTimeout().AsDuration())
	defer cancel()
	var exit struct{ StatusCode int32 }
	if err := r.m.call(waitCtx, http.MethodPost, "/containers/"+created.ID+"/wait", nil, &exit); err != nil {
		if ctx.Err() == nil && errors.Is(waitCtx.Err(), context.DeadlineExceeded) {
			return 0, true, nil
		}
		return 0, false, fmt.Errorf("waiting for container %.12s: %w", created.ID, err)
	}
	return exit.StatusCode, false, nil
}

// uncancelled sends an Engine API request that ctx's cancellation does not abort.
func (r *taskRunner) uncancelled(ctx context.Context, method, path string, body, out any) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), (stopGrace+10)*time.Second)
	defer cancel()
	return r.m.call(ctx, method, path, body, out)
}

// close cancels every running task and waits until their containers are removed.
func (r *taskRunner) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}
