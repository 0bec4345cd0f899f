package fakerun

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dockerWorker is the worker pool container the docker test builds: it listens on nothing and runs until
// it is stopped, like a queue consumer.
const dockerWorker = `package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
`

func TestDockerModeWorkerPoolInstancesFollowTheSplit(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	tag := fmt.Sprintf("fakerun-test-worker:%d", time.Now().UnixNano())
	e.buildImage(tag, dockerWorker)

	srv, err := NewServer(WithBehaviors(Behaviors{Images: map[string]Behavior{tag: {Docker: true}}}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	pools, err := run.NewWorkerPoolsClient(t.Context(), srv.ClientOptions()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pools.Close() })
	c := poolClients{pools: pools}

	v1, v2 := testPool+"/revisions/wp-v1", testPool+"/revisions/wp-v2"
	running := func() [2]int { return [2]int{len(e.containers(v1)), len(e.containers(v2))} }
	follows := func(want [2]int) {
		t.Helper()
		require.Eventually(t, func() bool { return running() == want }, time.Minute, 100*time.Millisecond,
			"containers of wp-v1 and wp-v2: want %v", want)
	}

	tmpl := poolTemplate("wp-v1", tag)
	tmpl.Containers[0].Env = []*runpb.EnvVar{{Name: "FOO", Values: &runpb.EnvVar_Value{Value: "bar"}}}
	wp := createPool(t, c, &runpb.WorkerPool{Template: tmpl, Scaling: instances(4)})
	follows([2]int{4, 0}) // 100/0
	var info struct {
		Config struct{ Env []string }
		State  struct{ Running bool }
	}
	// The reconciler runs on its own loop, so a container listed a moment ago may be gone when it is
	// inspected: list and inspect again until a running container answers.
	require.Eventually(t, func() bool {
		ids := e.containers(v1)
		if len(ids) == 0 {
			return false
		}
		out, err := e.do(http.MethodGet, "/containers/"+ids[0]+"/json", "", nil)
		return err == nil && json.Unmarshal(out, &info) == nil && info.State.Running
	}, time.Minute, 100*time.Millisecond, "a running container of wp-v1")
	assert.Subset(t, info.Config.Env, []string{"CLOUD_RUN_WORKER_POOL=wp", "CLOUD_RUN_WORKER_POOL_REVISION=wp-v1", "FOO=bar"})

	wp.Template = poolTemplate("wp-v2", tag)
	wp.InstanceSplits = []*runpb.InstanceSplit{split("wp-v2", 50), split("wp-v1", 50)}
	wp, err = updatePool(t, c, wp)
	require.NoError(t, err)
	follows([2]int{2, 2}) // 50/50
	got, err := srv.Instances(testPool)
	require.NoError(t, err)
	assert.Equal(t, map[string]int32{"wp-v1": 2, "wp-v2": 2}, got)

	wp.InstanceSplits = []*runpb.InstanceSplit{split("wp-v2", 100)}
	_, err = updatePool(t, c, wp)
	require.NoError(t, err)
	follows([2]int{0, 4}) // 0/100

	// Deleting a pool stops its instances.
	other := fmt.Sprintf("%s/workerPools/other", testParent)
	op, err := pools.CreateWorkerPool(t.Context(), &runpb.CreateWorkerPoolRequest{Parent: testParent, WorkerPoolId: "other",
		WorkerPool: &runpb.WorkerPool{Template: poolTemplate("other-v1", tag)}})
	require.NoError(t, err)
	_, err = op.Wait(t.Context())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(e.containers(other+"/revisions/other-v1")) == 1 }, time.Minute, 100*time.Millisecond)
	dop, err := pools.DeleteWorkerPool(t.Context(), &runpb.DeleteWorkerPoolRequest{Name: other})
	require.NoError(t, err)
	_, err = dop.Wait(t.Context())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(e.containers(other+"/revisions/other-v1")) == 0 }, time.Minute, 100*time.Millisecond)

	// Close removes every instance fakerun started.
	require.NoError(t, srv.Close())
	assert.Equal(t, [2]int{0, 0}, running())
}
