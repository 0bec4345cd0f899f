package docker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Attempt is one attempt of a job task: a container of Image with Env, Args (CMD) and Command
// (ENTRYPOINT), labelled with its execution's full name, killed after Timeout.
type Attempt struct {
	Image         string
	Env           []string
	Args, Command []string
	Execution     string
	Timeout       time.Duration
}

// RunAttempt runs one container for a and returns its exit code, or timedOut when it outlived its
// timeout and was killed.
func (m *Engine) RunAttempt(ctx context.Context, a Attempt) (code int32, timedOut bool, err error) {
	if err := m.Call(ctx, http.MethodGet, "/images/"+url.PathEscape(a.Image)+"/json", nil, nil); err != nil {
		if errors.Is(err, ErrNotFound) {
			return 0, false, fmt.Errorf("image %q is not present on the Docker engine; fakerun never pulls images (docker pull or docker build it first)", a.Image)
		}
		return 0, false, err
	}
	spec := map[string]any{"Image": a.Image, "Env": a.Env, "Labels": map[string]string{"fakerun.execution": a.Execution}}
	if args := a.Args; len(args) > 0 {
		spec["Cmd"] = args
	}
	if cmd := a.Command; len(cmd) > 0 {
		spec["Entrypoint"] = cmd
	}
	// Creating and removing outlive a cancellation, so that no container
	// is left behind.
	var created struct{ ID string }
	if err := m.uncancelled(ctx, http.MethodPost, "/containers/create", spec, &created); err != nil {
		return 0, false, fmt.Errorf("creating a container of %s: %w", a.Image, err)
	}
	defer func() {
		// Forced removal also kills a container that is still running.
		_ = m.uncancelled(ctx, http.MethodDelete, "/containers/"+created.ID+"?force=true", nil, nil)
	}()
	if err := m.Call(ctx, http.MethodPost, "/containers/"+created.ID+"/start", nil, nil); err != nil {
		return 0, false, fmt.Errorf("starting container %.12s: %w", created.ID, err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, a.Timeout)
	defer cancel()
	var exit struct{ StatusCode int32 }
	if err := m.Call(waitCtx, http.MethodPost, "/containers/"+created.ID+"/wait", nil, &exit); err != nil {
		if ctx.Err() == nil && errors.Is(waitCtx.Err(), context.DeadlineExceeded) {
			return 0, true, nil
		}
		return 0, false, fmt.Errorf("waiting for container %.12s: %w", created.ID, err)
	}
	return exit.StatusCode, false, nil
}

// uncancelled sends an Engine API request that ctx's cancellation does not abort.
func (m *Engine) uncancelled(ctx context.Context, method, path string, body, out any) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), (stopGrace+10)*time.Second)
	defer cancel()
	return m.Call(ctx, method, path, body, out)
}
