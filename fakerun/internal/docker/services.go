package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
)

// Services runs a container for every ready revision that serves
// (a percentage or a tag) and whose behaviour is Docker, and stops it when
// the revision no longer serves.
type Services struct {
	source Source
	engine *Engine

	mu      sync.Mutex
	running map[string]*container // by revision full name
	closed  bool
	loop    *loop
}

// container is one started (or starting) container.
type container struct {
	ready chan struct{} // closed once url or err is set
	id    string
	url   *url.URL
	err   error
}

// Revision is a revision to run as a container: its full name, image and serving container, and the names
// its K_SERVICE, K_REVISION and K_CONFIGURATION variables carry.
type Revision struct {
	Name                          string
	Image                         string
	Container                     *runpb.Container // nil when the template has none
	Service, Short, Configuration string
}

// Source tells which revisions need a container: the ready revisions that serve (a percentage or a tag)
// and whose behaviour is Docker, by full name.
type Source interface {
	DockerRevisions() map[string]Revision
}

// NewServices starts reconciling containers with source's revisions on engine.
func NewServices(engine *Engine, source Source) *Services {
	m := &Services{source: source, engine: engine, running: map[string]*container{}}
	m.loop = startLoop(m.reconcile)
	return m
}

// reconcile starts containers for serving Docker revisions and stops the rest.
func (m *Services) reconcile() {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := m.source.DockerRevisions()
	if m.closed {
		return
	}
	for name, r := range want {
		if m.running[name] == nil {
			m.startLocked(r)
		}
	}
	for name, c := range m.running {
		if _, ok := want[name]; !ok {
			delete(m.running, name)
			go m.engine.remove(c)
		}
	}
}

// Backend returns the URL of t's container, starting it if needed.
func (m *Services) Backend(ctx context.Context, t Revision) (*url.URL, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errors.New("fakerun is shutting down")
	}
	c := m.running[t.Name]
	if c == nil {
		c = m.startLocked(t)
	}
	m.mu.Unlock()
	select {
	case <-c.ready:
		return c.url, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// startLocked registers and starts a container for t in the background.
// Must be called with m.mu held.
func (m *Services) startLocked(t Revision) *container {
	c := &container{ready: make(chan struct{})}
	m.running[t.Name] = c
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), containerStart)
		defer cancel()
		c.url, c.err = m.run(ctx, c, t)
		close(c.ready)
		if c.err != nil {
			m.mu.Lock()
			if m.running[t.Name] == c {
				delete(m.running, t.Name) // retried by the next request or reconciliation
			}
			m.mu.Unlock()
			m.engine.remove(c)
		}
	}()
	return c
}

// run creates and starts t's container and waits until it listens.
func (m *Services) run(ctx context.Context, c *container, t Revision) (*url.URL, error) {
	if err := m.engine.Call(ctx, http.MethodGet, "/images/"+url.PathEscape(t.Image)+"/json", nil, nil); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("image %q is not present on the Docker engine; fakerun never pulls images (docker pull or docker build it first)", t.Image)
		}
		return nil, err
	}
	port := 8080
	if ps := t.Container.GetPorts(); len(ps) > 0 && ps[0].GetContainerPort() > 0 {
		port = int(ps[0].GetContainerPort())
	}
	portKey := strconv.Itoa(port) + "/tcp"
	env := []string{"PORT=" + strconv.Itoa(port), "K_SERVICE=" + t.Service,
		"K_REVISION=" + t.Short, "K_CONFIGURATION=" + t.Configuration}
	for _, e := range t.Container.GetEnv() {
		if e.GetValueSource() == nil { // secrets are not modelled
			env = append(env, e.GetName()+"="+e.GetValue())
		}
	}
	spec := map[string]any{
		"Image":        t.Image,
		"Env":          env,
		"ExposedPorts": map[string]any{portKey: map[string]any{}},
		"Labels":       map[string]string{"fakerun.revision": t.Name},
		"HostConfig": map[string]any{
			"PortBindings": map[string]any{portKey: []map[string]string{{"HostIp": "127.0.0.1", "HostPort": ""}}},
		},
	}
	if args := t.Container.GetArgs(); len(args) > 0 {
		spec["Cmd"] = args
	}
	if cmd := t.Container.GetCommand(); len(cmd) > 0 {
		spec["Entrypoint"] = cmd
	}
	var created struct{ ID string }
	if err := m.engine.Call(ctx, http.MethodPost, "/containers/create", spec, &created); err != nil {
		return nil, fmt.Errorf("creating a container of %s: %w", t.Image, err)
	}
	c.id = created.ID
	if err := m.engine.Call(ctx, http.MethodPost, "/containers/"+c.id+"/start", nil, nil); err != nil {
		return nil, fmt.Errorf("starting container %.12s: %w", c.id, err)
	}
	var info struct {
		NetworkSettings struct {
			Ports map[string][]struct{ HostIP, HostPort string }
		}
	}
	if err := m.engine.Call(ctx, http.MethodGet, "/containers/"+c.id+"/json", nil, &info); err != nil {
		return nil, fmt.Errorf("inspecting container %.12s: %w", c.id, err)
	}
	bindings := info.NetworkSettings.Ports[portKey]
	if len(bindings) == 0 {
		return nil, fmt.Errorf("container %.12s publishes no port for %s", c.id, portKey)
	}
	u := &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", bindings[0].HostPort)}
	// Wait until the container answers HTTP on PORT. Cloud Run's default
	// startup probe is TCP, but Docker's port forwarding accepts connections
	// before the container listens, so only an answer tells.
	probe := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String()+"/", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", "fakerun-startup-probe")
		if resp, err := probe.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			return u, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("container %.12s of %s did not listen on PORT=%d within %s", c.id, t.Image, port, containerStart)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// remove stops and deletes c once it has started (or failed to).
func (m *Engine) remove(c *container) {
	<-c.ready
	if c.id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), (stopGrace+10)*time.Second)
	defer cancel()
	_ = m.Call(ctx, http.MethodPost, "/containers/"+c.id+"/stop?t="+strconv.Itoa(stopGrace), nil, nil)
	_ = m.Call(ctx, http.MethodDelete, "/containers/"+c.id+"?force=true", nil, nil)
}

// Close stops the loop and removes every container.
func (m *Services) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	running := m.running
	m.running = map[string]*container{}
	m.mu.Unlock()
	m.loop.halt()
	m.engine.removeAll(slices.Collect(maps.Values(running)))
}
