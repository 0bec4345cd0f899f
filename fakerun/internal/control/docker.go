package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/behavior"
)

// Docker mode talks to the Docker Engine API over its socket with net/http:
// no SDK dependency and no docker CLI needed (see README.md).
const (
	defaultDockerHost = "unix:///var/run/docker.sock"
	containerStart    = 30 * time.Second       // how long a container may take to listen
	reconcileEvery    = 250 * time.Millisecond // real time between container reconciliations
	stopGrace         = 2                      // seconds between SIGTERM and SIGKILL
)

// ContainerManager runs a container for every ready revision that serves
// (a percentage or a tag) and whose behaviour is Docker, and stops it when
// the revision no longer serves.
type ContainerManager struct {
	impl   *Server
	engine *http.Client
	base   string // http://docker or http://host:port

	mu      sync.Mutex
	running map[string]*container // by revision full name
	tasks   *taskRunner           // the tasks of docker-mode job executions
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

// container is one started (or starting) container.
type container struct {
	ready chan struct{} // closed once url or err is set
	id    string
	url   *url.URL
	err   error
}

// newContainerManager connects to DOCKER_HOST (unix:// or tcp://, default
// the local socket) lazily: nothing is dialled until a revision needs it.
func NewContainerManager(impl *Server, dockerHost string) (*ContainerManager, error) {
	engine, base, err := DockerEngine(dockerHost)
	if err != nil {
		return nil, err
	}
	m := &ContainerManager{impl: impl, engine: engine, base: base, running: map[string]*container{},
		stop: make(chan struct{}), done: make(chan struct{})}
	m.tasks = newTaskRunner(m)
	go m.loop()
	return m, nil
}

// DockerEngine returns an HTTP client and base URL for the Engine API at
// dockerHost (unix:// or tcp://; empty: the local socket).
func DockerEngine(dockerHost string) (*http.Client, string, error) {
	if dockerHost == "" {
		dockerHost = defaultDockerHost
	}
	switch {
	case strings.HasPrefix(dockerHost, "unix://"):
		sock := strings.TrimPrefix(dockerHost, "unix://")
		return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}, "http://docker", nil
	case strings.HasPrefix(dockerHost, "tcp://"):
		return &http.Client{}, "http://" + strings.TrimPrefix(dockerHost, "tcp://"), nil
	}
	return nil, "", fmt.Errorf("fakerun: DOCKER_HOST %q: want unix:///path/to/docker.sock or tcp://host:port (TLS is not supported)", dockerHost)
}

// loop reconciles containers with the serving revisions until close.
func (m *ContainerManager) loop() {
	defer close(m.done)
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.reconcile()
		}
	}
}

// reconcile starts containers for serving Docker revisions and stops the rest.
func (m *ContainerManager) reconcile() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.impl.mu.Lock()
	var want map[string]Target
	if m.impl.anyDockerLocked() || len(m.running) > 0 {
		want = m.impl.servingTargetsLocked()
	}
	m.impl.mu.Unlock()
	if m.closed || want == nil {
		return
	}
	for name, t := range want {
		if t.Behavior.Docker && m.running[name] == nil {
			m.startLocked(t)
		}
	}
	for name, c := range m.running {
		if t, ok := want[name]; !ok || !t.Behavior.Docker {
			delete(m.running, name)
			go m.remove(c)
		}
	}
}

// anyDockerLocked reports whether any behaviour asks for Docker.
// Must be called with s.mu held.
func (s *Server) anyDockerLocked() bool {
	for _, m := range []map[string]behavior.Behavior{s.behaviors.Images, s.behaviors.Revisions} {
		for _, b := range m {
			if b.Docker {
				return true
			}
		}
	}
	return false
}

// Backend returns the URL of t's container, starting it if needed.
func (m *ContainerManager) Backend(ctx context.Context, t Target) (*url.URL, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errors.New("fakerun is shutting down")
	}
	c := m.running[t.Revision]
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
func (m *ContainerManager) startLocked(t Target) *container {
	c := &container{ready: make(chan struct{})}
	m.running[t.Revision] = c
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), containerStart)
		defer cancel()
		c.url, c.err = m.run(ctx, c, t)
		close(c.ready)
		if c.err != nil {
			m.mu.Lock()
			if m.running[t.Revision] == c {
				delete(m.running, t.Revision) // retried by the next request or reconciliation
			}
			m.mu.Unlock()
			m.remove(c)
		}
	}()
	return c
}

// run creates and starts t's container and waits until it listens.
func (m *ContainerManager) run(ctx context.Context, c *container, t Target) (*url.URL, error) {
	if err := m.call(ctx, http.MethodGet, "/images/"+url.PathEscape(t.Image)+"/json", nil, nil); err != nil {
		if errors.Is(err, errNotFound) {
			return nil, fmt.Errorf("image %q is not present on the Docker engine; fakerun never pulls images (docker pull or docker build it first)", t.Image)
		}
		return nil, err
	}
	port := 8080
	if ps := t.Container.GetPorts(); len(ps) > 0 && ps[0].GetContainerPort() > 0 {
		port = int(ps[0].GetContainerPort())
	}
	portKey := strconv.Itoa(port) + "/tcp"
	env := []string{"PORT=" + strconv.Itoa(port), "K_SERVICE=" + t.Resource.ServiceName,
		"K_REVISION=" + t.Resource.RevisionName, "K_CONFIGURATION=" + t.Resource.ConfigurationName}
	for _, e := range t.Container.GetEnv() {
		if e.GetValueSource() == nil { // secrets are not modelled
			env = append(env, e.GetName()+"="+e.GetValue())
		}
	}
	spec := map[string]any{
		"Image":        t.Image,
		"Env":          env,
		"ExposedPorts": map[string]any{portKey: map[string]any{}},
		"Labels":       map[string]string{"fakerun.revision": t.Revision},
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
	if err := m.call(ctx, http.MethodPost, "/containers/create", spec, &created); err != nil {
		return nil, fmt.Errorf("creating a container of %s: %w", t.Image, err)
	}
	c.id = created.ID
	if err := m.call(ctx, http.MethodPost, "/containers/"+c.id+"/start", nil, nil); err != nil {
		return nil, fmt.Errorf("starting container %.12s: %w", c.id, err)
	}
	var info struct {
		NetworkSettings struct {
			Ports map[string][]struct{ HostIP, HostPort string }
		}
	}
	if err := m.call(ctx, http.MethodGet, "/containers/"+c.id+"/json", nil, &info); err != nil {
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
func (m *ContainerManager) remove(c *container) {
	<-c.ready
	if c.id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), (stopGrace+10)*time.Second)
	defer cancel()
	_ = m.call(ctx, http.MethodPost, "/containers/"+c.id+"/stop?t="+strconv.Itoa(stopGrace), nil, nil)
	_ = m.call(ctx, http.MethodDelete, "/containers/"+c.id+"?force=true", nil, nil)
}

// close stops the loop and removes every container.
func (m *ContainerManager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	running := m.running
	m.running = map[string]*container{}
	m.mu.Unlock()
	m.tasks.close()
	close(m.stop)
	<-m.done
	var wg sync.WaitGroup
	for _, c := range running {
		wg.Go(func() { m.remove(c) })
	}
	wg.Wait()
}

var errNotFound = errors.New("not found")

// call sends one Engine API request with a JSON body and decodes the JSON answer into out.
func (m *ContainerManager) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, m.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.engine.Do(req)
	if err != nil {
		return fmt.Errorf("the Docker engine is not reachable (set DOCKER_HOST to reach another): %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w", method, path, errNotFound)
	case resp.StatusCode >= 300:
		var e struct{ Message string }
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(data))
		}
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Message)
	case out != nil:
		return json.Unmarshal(data, out)
	}
	return nil
}
