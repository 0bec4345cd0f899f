package docker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
)

// Pools runs the instances of worker pool revisions whose behaviour is Docker: as many containers per
// revision as its share of the pool's instances, started and stopped as the instance split moves.
type Pools struct {
	source PoolSource
	engine *Engine

	mu      sync.Mutex
	running map[string][]*container // by revision full name, one per instance
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

// PoolRevision is a worker pool revision to run as Instances containers: its full name, image and
// container, and the names its CLOUD_RUN_WORKER_POOL and CLOUD_RUN_WORKER_POOL_REVISION variables carry.
type PoolRevision struct {
	Name        string
	Image       string
	Container   *runpb.Container // nil when the template has none
	Pool, Short string
	Instances   int
}

// PoolSource tells which worker pool revisions need containers, by full name: the ready revisions with
// instances under their pool's applied split whose behaviour is Docker.
type PoolSource interface {
	DockerPoolRevisions() map[string]PoolRevision
}

// NewPools starts reconciling pool instance containers with source's revisions on engine.
func NewPools(engine *Engine, source PoolSource) *Pools {
	m := &Pools{source: source, engine: engine, running: map[string][]*container{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go m.loop()
	return m
}

// loop reconciles containers with the pools' instances until close.
func (m *Pools) loop() {
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

// reconcile starts the missing instances of every revision and stops those beyond its count, newest first.
func (m *Pools) reconcile() {
	want := m.source.DockerPoolRevisions()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	for name, r := range want {
		for len(m.running[name]) < r.Instances {
			m.running[name] = append(m.running[name], m.startLocked(r, len(m.running[name])))
		}
	}
	for name, cs := range m.running {
		keep := want[name].Instances
		for _, c := range cs[min(keep, len(cs)):] {
			go m.engine.remove(c)
		}
		if keep == 0 {
			delete(m.running, name)
		} else if keep < len(cs) {
			m.running[name] = cs[:keep]
		}
	}
}

// startLocked starts instance i of r in the background. A container that fails to start is removed from
// the engine, then dropped from running, to be retried by the next reconciliation: it holds its slot until
// it is gone, so a revision never has more containers than instances. Must be called with m.mu held.
func (m *Pools) startLocked(r PoolRevision, i int) *container {
	c := &container{ready: make(chan struct{})}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), containerStart)
		defer cancel()
		c.err = m.run(ctx, c, r, i)
		close(c.ready)
		if c.err == nil {
			return
		}
		m.engine.remove(c)
		m.mu.Lock()
		cs := m.running[r.Name]
		for j, x := range cs {
			if x == c {
				m.running[r.Name] = append(cs[:j:j], cs[j+1:]...)
			}
		}
		m.mu.Unlock()
	}()
	return c
}

// run creates and starts instance i of r. A worker pool instance has no port and receives no requests:
// it is up once its container started.
func (m *Pools) run(ctx context.Context, c *container, r PoolRevision, i int) error {
	if err := m.engine.Call(ctx, http.MethodGet, "/images/"+url.PathEscape(r.Image)+"/json", nil, nil); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("image %q is not present on the Docker engine; fakerun never pulls images (docker pull or docker build it first)", r.Image)
		}
		return err
	}
	env := []string{"CLOUD_RUN_WORKER_POOL=" + r.Pool, "CLOUD_RUN_WORKER_POOL_REVISION=" + r.Short}
	for _, e := range r.Container.GetEnv() {
		if e.GetValueSource() == nil { // secrets are not modelled
			env = append(env, e.GetName()+"="+e.GetValue())
		}
	}
	spec := map[string]any{
		"Image":  r.Image,
		"Env":    env,
		"Labels": map[string]string{"fakerun.revision": r.Name, "fakerun.instance": strconv.Itoa(i)},
	}
	if args := r.Container.GetArgs(); len(args) > 0 {
		spec["Cmd"] = args
	}
	if cmd := r.Container.GetCommand(); len(cmd) > 0 {
		spec["Entrypoint"] = cmd
	}
	var created struct{ ID string }
	if err := m.engine.Call(ctx, http.MethodPost, "/containers/create", spec, &created); err != nil {
		return fmt.Errorf("creating a container of %s: %w", r.Image, err)
	}
	c.id = created.ID
	if err := m.engine.Call(ctx, http.MethodPost, "/containers/"+c.id+"/start", nil, nil); err != nil {
		return fmt.Errorf("starting container %.12s: %w", c.id, err)
	}
	return nil
}

// Close stops the loop and removes every container.
func (m *Pools) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	running := m.running
	m.running = map[string][]*container{}
	m.mu.Unlock()
	close(m.stop)
	<-m.done
	var wg sync.WaitGroup
	for _, cs := range running {
		for _, c := range cs {
			wg.Go(func() { m.engine.remove(c) })
		}
	}
	wg.Wait()
}
