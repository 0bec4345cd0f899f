package console_test

import (
	"net/http"
	"testing"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/console"
)

func TestWorkerPoolPageShowsTheSplitAndTheInstancesPerRevision(t *testing.T) {
	f := newFake(t)
	pools, err := run.NewWorkerPoolsClient(t.Context(), f.srv.ClientOptions()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pools.Close() })
	poolPath := console.Prefix + parent + "/workerPools/consumer"

	code, body, _ := f.get(t, poolPath)
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, body, "This worker pool does not exist")

	template := func(revision, image string) *runpb.WorkerPoolRevisionTemplate {
		return &runpb.WorkerPoolRevisionTemplate{Revision: revision, Containers: []*runpb.Container{{Image: image}}}
	}
	op, err := pools.CreateWorkerPool(t.Context(), &runpb.CreateWorkerPoolRequest{Parent: parent, WorkerPoolId: "consumer", WorkerPool: &runpb.WorkerPool{
		Template: template("consumer-v1", imageV1), Scaling: &runpb.WorkerPoolScaling{ManualInstanceCount: proto.Int32(10)},
	}})
	require.NoError(t, err)
	created, err := op.Wait(t.Context())
	require.NoError(t, err)
	created.Template = template("consumer-v2", imageV2)
	created.InstanceSplits = []*runpb.InstanceSplit{
		{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: "consumer-v2", Percent: 10},
		{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: "consumer-v1", Percent: 90},
	}
	uop, err := pools.UpdateWorkerPool(t.Context(), &runpb.UpdateWorkerPoolRequest{WorkerPool: created})
	require.NoError(t, err)
	_, err = uop.Wait(t.Context())
	require.NoError(t, err)

	body = f.page(t, poolPath)
	assert.Contains(t, body, "<h1>Worker pool consumer</h1>")
	assert.Contains(t, body, "10 instance(s); rollout: CONDITION_SUCCEEDED")
	assert.Contains(t, body, "<tr><td>consumer-v2</td><td>10%</td></tr>")
	assert.Contains(t, body, "<tr><td>consumer-v2</td><td>"+imageV2+"</td><td>ready</td><td>10%</td><td>1</td></tr>")
	assert.Contains(t, body, "<tr><td>consumer-v1</td><td>"+imageV1+"</td><td>ready</td><td>90%</td><td>9</td></tr>")
	assert.Contains(t, body, `data-events="`+poolPath+`/events"`)

	region := f.page(t, console.Prefix+parent+"/")
	assert.Contains(t, region, `<a href="`+poolPath+`">consumer</a>`)
	assert.Contains(t, region, `<span class="chip">consumer-v1: 9</span> <span class="chip">consumer-v2: 1</span>`)
}
