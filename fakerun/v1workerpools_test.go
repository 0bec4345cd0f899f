package fakerun

import (
	"errors"
	"net/http"
	"testing"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/googleapi"
	runv1 "google.golang.org/api/run/v1"
)

// TestV1WorkerPoolsAreViewsOfV2 reads worker pools through the v1 JSON that `gcloud beta run worker-pools
// list` and `describe` call: the pool as v2 has it, its scaling as gcloud's annotations, its split and
// the applied split.
func TestV1WorkerPoolsAreViewsOfV2(t *testing.T) {
	t.Parallel()
	srv, err := NewServer()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	pools, err := run.NewWorkerPoolsClient(t.Context(), srv.ClientOptions()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pools.Close() })
	c := poolClients{pools: pools}
	regional, global := v1Clients(t, srv)

	wp := createPool(t, c, &runpb.WorkerPool{Labels: map[string]string{"team": "queue"}, Description: "consumes orders",
		Template: poolTemplate("wp-v1", imageV1), Scaling: instances(4)})
	wp.Template = poolTemplate("wp-v2", imageV2)
	wp.InstanceSplits = []*runpb.InstanceSplit{split("wp-v2", 25), split("wp-v1", 75)}
	wp, err = updatePool(t, c, wp)
	require.NoError(t, err)
	op, err := pools.CreateWorkerPool(t.Context(), &runpb.CreateWorkerPoolRequest{Parent: "projects/p/locations/europe-west1", WorkerPoolId: "elsewhere",
		WorkerPool: &runpb.WorkerPool{Template: poolTemplate("elsewhere-v1", imageV1)}})
	require.NoError(t, err)
	_, err = op.Wait(t.Context())
	require.NoError(t, err)

	got, err := regional.Namespaces.Workerpools.Get("namespaces/p/workerpools/wp").Do()
	require.NoError(t, err)
	assert.Equal(t, "run.googleapis.com/v1", got.ApiVersion)
	assert.Equal(t, "WorkerPool", got.Kind)
	assert.Equal(t, "wp", got.Metadata.Name)
	assert.Equal(t, "p", got.Metadata.Namespace)
	assert.Equal(t, wp.GetUid(), got.Metadata.Uid)
	assert.Equal(t, int64(2), got.Metadata.Generation)
	assert.Equal(t, map[string]string{"team": "queue", "cloud.googleapis.com/location": "us-central1"}, got.Metadata.Labels)
	assert.Equal(t, "consumes orders", got.Metadata.Annotations["run.googleapis.com/description"])
	assert.Equal(t, "manual", got.Metadata.Annotations["run.googleapis.com/scalingMode"])
	assert.Equal(t, "4", got.Metadata.Annotations["run.googleapis.com/manualInstanceCount"])
	assert.Equal(t, "wp-v2", got.Spec.Template.Metadata.Name)
	require.Len(t, got.Spec.Template.Spec.Containers, 1)
	assert.Equal(t, imageV2, got.Spec.Template.Spec.Containers[0].Image)
	splits := []*runv1.InstanceSplit{{RevisionName: "wp-v2", Percent: 25}, {RevisionName: "wp-v1", Percent: 75}}
	assert.Equal(t, splits, got.Spec.InstanceSplits)
	assert.Equal(t, splits, got.Status.InstanceSplits)
	assert.Equal(t, "wp-v2", got.Status.LatestCreatedRevisionName)
	assert.Equal(t, "wp-v2", got.Status.LatestReadyRevisionName)
	assert.Equal(t, int64(2), got.Status.ObservedGeneration)
	require.NotEmpty(t, got.Status.Conditions)
	assert.Equal(t, "Ready", got.Status.Conditions[0].Type)
	assert.Equal(t, "True", got.Status.Conditions[0].Status)

	// A pool created with the default split shows LATEST resolved to the revision it reaches.
	europe, err := runv1.NewService(t.Context(), srv.V1ClientOptions("europe-west1")...)
	require.NoError(t, err)
	other, err := europe.Namespaces.Workerpools.Get("namespaces/p/workerpools/elsewhere").Do()
	require.NoError(t, err)
	assert.Equal(t, []*runv1.InstanceSplit{{LatestRevision: true, Percent: 100}}, other.Spec.InstanceSplits)
	assert.Equal(t, []*runv1.InstanceSplit{{LatestRevision: true, RevisionName: "elsewhere-v1", Percent: 100}}, other.Status.InstanceSplits)
	assert.NotContains(t, other.Metadata.Annotations, "run.googleapis.com/scalingMode", "no manual_instance_count set")

	// A regional list reads its region; the global endpoint lists every region.
	list, err := regional.Namespaces.Workerpools.List("namespaces/p").Do()
	require.NoError(t, err)
	assert.Equal(t, []string{"wp"}, v1PoolNames(list))
	all, err := global.Namespaces.Workerpools.List("namespaces/p").Do()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"wp", "elsewhere"}, v1PoolNames(all))

	_, err = regional.Namespaces.Workerpools.Get("namespaces/p/workerpools/nope").Do()
	assertV1Code(t, http.StatusNotFound, err)
	_, err = regional.Namespaces.Workerpools.Delete("namespaces/p/workerpools/wp").Do()
	assertV1Code(t, http.StatusNotImplemented, err)
	_, err = pools.GetWorkerPool(t.Context(), &runpb.GetWorkerPoolRequest{Name: testPool})
	require.NoError(t, err, "the refused delete left the pool")
}

func v1PoolNames(list *runv1.ListWorkerPoolsResponse) []string {
	names := make([]string, len(list.Items))
	for i, wp := range list.Items {
		names[i] = wp.Metadata.Name
	}
	return names
}

func assertV1Code(t *testing.T, code int, err error) {
	t.Helper()
	var gerr *googleapi.Error
	require.True(t, errors.As(err, &gerr), "want a googleapi.Error, got %v", err)
	assert.Equal(t, code, gerr.Code, gerr.Message)
}
