package docker

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeEngine is the part of the Engine API the pool reconciler uses. The start of container failStart
// fails, and its removal waits for release: a container that failed to start and is not gone yet.
type fakeEngine struct {
	failStart     string
	release       chan struct{}
	deleteStarted chan struct{}

	mu      sync.Mutex
	created int
	live    map[string]bool // created and not deleted
}

func (f *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/containers/")
	id, _, _ = strings.Cut(id, "/")
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/images/"):
		_, _ = w.Write([]byte("{}"))
	case r.Method == http.MethodPost && r.URL.Path == "/containers/create":
		f.mu.Lock()
		f.created++
		id := fmt.Sprintf("c%d", f.created)
		f.live[id] = true
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"Id": id})
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/start") && id == f.failStart:
		http.Error(w, `{"message":"cannot start container"}`, http.StatusInternalServerError)
	case r.Method == http.MethodDelete:
		if id == f.failStart {
			close(f.deleteStarted)
			<-f.release
		}
		f.mu.Lock()
		delete(f.live, id)
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default: // start, stop
		w.WriteHeader(http.StatusNoContent)
	}
}

// state returns the containers on the engine, sorted, and how many were ever created.
func (f *fakeEngine) state() ([]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.live)), f.created
}

// steppedSource wants instances containers of one revision, and lets the test run the reconciler one pass
// at a time: each pass waits for a step.
type steppedSource struct {
	rev  PoolRevision
	step chan struct{}
	quit chan struct{}
}

func (s *steppedSource) DockerPoolRevisions() map[string]PoolRevision {
	select {
	case <-s.step:
	case <-s.quit:
	}
	return map[string]PoolRevision{s.rev.Name: s.rev}
}

func TestPoolsNeverRunMoreContainersThanInstances(t *testing.T) {
	t.Parallel()
	f := &fakeEngine{failStart: "c2", release: make(chan struct{}), deleteStarted: make(chan struct{}), live: map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	engine, err := NewEngine("tcp://" + srv.Listener.Addr().String())
	require.NoError(t, err)
	rev := PoolRevision{Name: "projects/p/locations/l/workerPools/wp/revisions/wp-v1", Image: "worker:v1", Pool: "wp", Short: "wp-v1", Instances: 4}
	src := &steppedSource{rev: rev, step: make(chan struct{}), quit: make(chan struct{})}
	p := NewPools(engine, src)
	t.Cleanup(func() { close(src.quit); p.Close() })
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(f.release) }) }
	t.Cleanup(release)

	// reconcile runs n whole passes (the next pass has begun when the last step is taken) and waits for
	// the containers they started.
	reconcile := func(n int) {
		t.Helper()
		for range n + 1 {
			select {
			case src.step <- struct{}{}:
			case <-time.After(30 * time.Second):
				require.FailNow(t, "the reconciler took no step in 30s")
			}
		}
		p.mu.Lock()
		cs := slices.Clone(p.running[rev.Name])
		p.mu.Unlock()
		for _, c := range cs {
			<-c.ready
		}
	}

	reconcile(1)
	select {
	case <-f.deleteStarted:
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the container that failed to start was never removed")
	}
	reconcile(3)
	live, created := f.state()
	assert.Equal(t, []string{"c1", "c2", "c3", "c4"}, live,
		"while the container that failed to start is still on the engine, no other takes its place")
	assert.Equal(t, 4, created)

	release()
	for range 40 { // until the reconciler sees the failed container gone and replaces it
		if _, created = f.state(); created > 4 {
			break
		}
		reconcile(1)
	}
	reconcile(1)
	live, created = f.state()
	require.Equal(t, []string{"c1", "c3", "c4", "c5"}, live, "once it is gone, one container replaces it")
	require.Equal(t, 5, created)

	reconcile(8)
	live, created = f.state()
	assert.Equal(t, []string{"c1", "c3", "c4", "c5"}, live, "at a steady split the containers stay the same")
	assert.Equal(t, 5, created)
}
