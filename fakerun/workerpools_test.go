package fakerun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

const testPool = testParent + "/workerPools/wp"

// poolClients is one transport's worker pool and revision clients.
type poolClients struct {
	transport string
	pools     *run.WorkerPoolsClient
	revisions *run.RevisionsClient
}

// bothPoolTransports runs f once over gRPC and once over REST, each against its own server.
func bothPoolTransports(t *testing.T, f func(t *testing.T, srv *Server, c poolClients), opts ...Option) {
	t.Helper()
	for _, transport := range []string{"grpc", "rest"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			srv, err := NewServer(opts...)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, srv.Close()) })
			ctx := context.Background()
			c := poolClients{transport: transport}
			if transport == "grpc" {
				c.pools, err = run.NewWorkerPoolsClient(ctx, srv.ClientOptions()...)
				require.NoError(t, err)
				c.revisions, err = run.NewRevisionsClient(ctx, srv.ClientOptions()...)
			} else {
				c.pools, err = run.NewWorkerPoolsRESTClient(ctx, srv.RESTClientOptions()...)
				require.NoError(t, err)
				c.revisions, err = run.NewRevisionsRESTClient(ctx, srv.RESTClientOptions()...)
			}
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.pools.Close(); _ = c.revisions.Close() })
			f(t, srv, c)
		})
	}
}

// grpcPools starts a server with opts and a gRPC worker pools client to it.
func grpcPools(t *testing.T, opts ...Option) (*Server, *run.WorkerPoolsClient) {
	t.Helper()
	srv, err := NewServer(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	pools, err := run.NewWorkerPoolsClient(t.Context(), srv.ClientOptions()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pools.Close() })
	return srv, pools
}

func poolTemplate(revision, image string) *runpb.WorkerPoolRevisionTemplate {
	return &runpb.WorkerPoolRevisionTemplate{Revision: revision, Containers: []*runpb.Container{{Image: image}}}
}

func instances(n int32) *runpb.WorkerPoolScaling {
	return &runpb.WorkerPoolScaling{ManualInstanceCount: proto.Int32(n)}
}

func split(revision string, percent int32) *runpb.InstanceSplit {
	return &runpb.InstanceSplit{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: revision, Percent: percent}
}

func splitStatus(revision string, percent int32) *runpb.InstanceSplitStatus {
	return &runpb.InstanceSplitStatus{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: revision, Percent: percent}
}

func createPool(t *testing.T, c poolClients, wp *runpb.WorkerPool) *runpb.WorkerPool {
	t.Helper()
	op, err := c.pools.CreateWorkerPool(t.Context(), &runpb.CreateWorkerPoolRequest{Parent: testParent, WorkerPoolId: "wp", WorkerPool: wp})
	require.NoError(t, err)
	got, err := op.Wait(t.Context())
	require.NoError(t, err)
	return got
}

func updatePool(t *testing.T, c poolClients, wp *runpb.WorkerPool) (*runpb.WorkerPool, error) {
	t.Helper()
	op, err := c.pools.UpdateWorkerPool(t.Context(), &runpb.UpdateWorkerPoolRequest{WorkerPool: wp})
	if err != nil {
		return nil, err
	}
	return op.Wait(t.Context())
}

func TestWorkerPoolCanaryByInstanceSplit(t *testing.T) {
	bothPoolTransports(t, func(t *testing.T, srv *Server, c poolClients) {
		created := createPool(t, c, &runpb.WorkerPool{Template: poolTemplate("wp-v1", "img:v1"), Scaling: instances(10)})
		assert.Equal(t, testPool, created.GetName())
		assert.False(t, created.GetReconciling())
		assert.Equal(t, runpb.Condition_CONDITION_SUCCEEDED, created.GetTerminalCondition().GetState())
		assert.Equal(t, int64(1), created.GetObservedGeneration())
		assert.Empty(t, cmpSplits(created.GetInstanceSplits(), []*runpb.InstanceSplit{{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST, Percent: 100}}))
		assert.Empty(t, cmpStatuses(created.GetInstanceSplitStatuses(), []*runpb.InstanceSplitStatus{{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST, Percent: 100}}))
		assert.Equal(t, testPool+"/revisions/wp-v1", created.GetLatestReadyRevision())
		counts, err := srv.Instances(testPool)
		require.NoError(t, err)
		assert.Equal(t, map[string]int32{"wp-v1": 10}, counts)

		// The canary: a new revision at 10% of the instances.
		next := proto.Clone(created).(*runpb.WorkerPool)
		next.Template = poolTemplate("wp-v2", "img:v2")
		next.InstanceSplits = []*runpb.InstanceSplit{split("wp-v2", 10), split("wp-v1", 90)}
		canary, err := updatePool(t, c, next)
		require.NoError(t, err)
		assert.Empty(t, cmpStatuses(canary.GetInstanceSplitStatuses(), []*runpb.InstanceSplitStatus{splitStatus("wp-v2", 10), splitStatus("wp-v1", 90)}))
		assert.Equal(t, testPool+"/revisions/wp-v2", canary.GetLatestCreatedRevision())
		assert.Equal(t, int64(2), canary.GetGeneration())
		counts, err = srv.Instances(testPool)
		require.NoError(t, err)
		assert.Equal(t, map[string]int32{"wp-v1": 9, "wp-v2": 1}, counts)

		// Revisions under the pool, newest first.
		var names []string
		it := c.revisions.ListRevisions(t.Context(), &runpb.ListRevisionsRequest{Parent: testPool})
		for {
			r, err := it.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			require.NoError(t, err)
			names = append(names, r.GetName())
		}
		assert.Equal(t, []string{testPool + "/revisions/wp-v2", testPool + "/revisions/wp-v1"}, names)
		rev, err := c.revisions.GetRevision(t.Context(), &runpb.GetRevisionRequest{Name: testPool + "/revisions/wp-v2"})
		require.NoError(t, err)
		assert.Equal(t, "img:v2", rev.GetContainers()[0].GetImage())
		assert.Equal(t, runpb.Condition_CONDITION_SUCCEEDED, rev.GetConditions()[0].GetState())

		// A revision with instances cannot be deleted. Over REST, FAILED_PRECONDITION is HTTP 400, which the
		// Go client reads as InvalidArgument.
		refused := codes.FailedPrecondition
		if c.transport == "rest" {
			refused = codes.InvalidArgument
		}
		_, err = c.revisions.DeleteRevision(t.Context(), &runpb.DeleteRevisionRequest{Name: testPool + "/revisions/wp-v1"})
		assert.Equal(t, refused, status.Code(err), "%v", err)
		assert.Contains(t, err.Error(), "Revision 'wp-v1' cannot be directly deleted because it is assigned instances.")

		// Promote to 100%, then the old revision can go.
		next = proto.Clone(canary).(*runpb.WorkerPool)
		next.InstanceSplits = []*runpb.InstanceSplit{split("wp-v2", 100)}
		promoted, err := updatePool(t, c, next)
		require.NoError(t, err)
		assert.Empty(t, cmpStatuses(promoted.GetInstanceSplitStatuses(), []*runpb.InstanceSplitStatus{splitStatus("wp-v2", 100)}))
		counts, err = srv.Instances(testPool)
		require.NoError(t, err)
		assert.Equal(t, map[string]int32{"wp-v2": 10}, counts)
		delOp, err := c.revisions.DeleteRevision(t.Context(), &runpb.DeleteRevisionRequest{Name: testPool + "/revisions/wp-v1"})
		require.NoError(t, err)
		_, err = delOp.Wait(t.Context())
		require.NoError(t, err)
		_, err = c.revisions.GetRevision(t.Context(), &runpb.GetRevisionRequest{Name: testPool + "/revisions/wp-v1"})
		assert.Equal(t, codes.NotFound, status.Code(err))
	})
}

func TestWorkerPoolUpdateRules(t *testing.T) {
	bothPoolTransports(t, func(t *testing.T, srv *Server, c poolClients) {
		created := createPool(t, c, &runpb.WorkerPool{Template: poolTemplate("", "img:v1"), Scaling: instances(3)})

		// A stale etag is refused.
		stale := proto.Clone(created).(*runpb.WorkerPool)
		stale.Etag = `"stale"`
		stale.Labels = map[string]string{"a": "b"}
		_, err := updatePool(t, c, stale)
		assert.Equal(t, codes.Aborted, status.Code(err), "%v", err)

		// validate_only answers the would-be pool and writes nothing.
		next := proto.Clone(created).(*runpb.WorkerPool)
		next.Template = poolTemplate("", "img:v2")
		vop, err := c.pools.UpdateWorkerPool(t.Context(), &runpb.UpdateWorkerPoolRequest{WorkerPool: next, ValidateOnly: true})
		require.NoError(t, err)
		wouldBe, err := vop.Wait(t.Context())
		require.NoError(t, err)
		assert.Equal(t, "img:v2", wouldBe.GetTemplate().GetContainers()[0].GetImage())
		after, err := srv.WorkerPool(testPool)
		require.NoError(t, err)
		assert.True(t, proto.Equal(created, after), "validate_only changed the pool")

		// An update mask changes only the named field: the scaling, no new revision.
		masked := &runpb.WorkerPool{Name: testPool, Scaling: instances(5)}
		mop, err := c.pools.UpdateWorkerPool(t.Context(), &runpb.UpdateWorkerPoolRequest{WorkerPool: masked, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"scaling"}}})
		require.NoError(t, err)
		scaled, err := mop.Wait(t.Context())
		require.NoError(t, err)
		assert.Equal(t, int32(5), scaled.GetScaling().GetManualInstanceCount())
		assert.Equal(t, created.GetLatestCreatedRevision(), scaled.GetLatestCreatedRevision())
		assert.Len(t, srv.WorkerPoolRevisions(testPool), 1)

		// force_new_revision creates a revision from the same template.
		fop, err := c.pools.UpdateWorkerPool(t.Context(), &runpb.UpdateWorkerPoolRequest{WorkerPool: scaled, ForceNewRevision: true})
		require.NoError(t, err)
		forced, err := fop.Wait(t.Context())
		require.NoError(t, err)
		assert.NotEqual(t, scaled.GetLatestCreatedRevision(), forced.GetLatestCreatedRevision())
		assert.Len(t, srv.WorkerPoolRevisions(testPool), 2)
		counts, err := srv.Instances(testPool)
		require.NoError(t, err)
		assert.Equal(t, map[string]int32{shortName(forced.GetLatestCreatedRevision()): 5}, counts)

		// Delete, then it is gone and listed only with show_deleted.
		dop, err := c.pools.DeleteWorkerPool(t.Context(), &runpb.DeleteWorkerPoolRequest{Name: testPool})
		require.NoError(t, err)
		_, err = dop.Wait(t.Context())
		require.NoError(t, err)
		_, err = c.pools.GetWorkerPool(t.Context(), &runpb.GetWorkerPoolRequest{Name: testPool})
		assert.Equal(t, codes.NotFound, status.Code(err))
		assert.Equal(t, "Resource 'wp' of kind 'WORKER_POOL' in region 'us-central1' in project 'p' does not exist.", status.Convert(err).Message())
		it := c.pools.ListWorkerPools(t.Context(), &runpb.ListWorkerPoolsRequest{Parent: testParent, ShowDeleted: true})
		listed, err := it.Next()
		require.NoError(t, err)
		assert.Equal(t, testPool, listed.GetName())
		assert.NotNil(t, listed.GetDeleteTime())
	})
}

func shortName(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			return name[i+1:]
		}
	}
	return name
}

// TestWorkerPoolBadInput checks each refused request leaves the pool exactly as it was.
func TestWorkerPoolBadInput(t *testing.T) {
	bothPoolTransports(t, func(t *testing.T, srv *Server, c poolClients) {
		created := createPool(t, c, &runpb.WorkerPool{Template: poolTemplate("wp-v1", "img:v1"), Scaling: instances(4)})
		for _, tc := range []struct {
			name   string
			change func(wp *runpb.WorkerPool)
			code   codes.Code
			msg    string
		}{
			{"split not adding up to 100", func(wp *runpb.WorkerPool) {
				wp.InstanceSplits = []*runpb.InstanceSplit{split("wp-v1", 60)}
			}, codes.InvalidArgument, "Invalid value for field 'worker_pool.instance_splits': instance split percentages must add up to 100, got 60"},
			{"negative instance count", func(wp *runpb.WorkerPool) {
				wp.Scaling = instances(-1)
			}, codes.InvalidArgument, "Invalid value for field 'worker_pool.scaling.manual_instance_count': the instance count must be 0 or more, got -1"},
			{"latest naming a revision", func(wp *runpb.WorkerPool) {
				wp.InstanceSplits = []*runpb.InstanceSplit{{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST, Revision: "wp-v1", Percent: 100}}
			}, codes.InvalidArgument, `Invalid value for field 'worker_pool.instance_splits[0].revision': an entry of type INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST must not name a revision, got "wp-v1"`},
			{"reserved label", func(wp *runpb.WorkerPool) {
				wp.Labels = map[string]string{"run.googleapis.com/x": "y"}
			}, codes.InvalidArgument, ""},
			{"no container", func(wp *runpb.WorkerPool) {
				wp.Template = &runpb.WorkerPoolRevisionTemplate{}
			}, codes.InvalidArgument, "Invalid value for field 'worker_pool.template.containers': at least one container is required"},
			{"revision not named after the pool", func(wp *runpb.WorkerPool) {
				wp.Template = poolTemplate("other-v2", "img:v2")
			}, codes.InvalidArgument, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				next := proto.Clone(created).(*runpb.WorkerPool)
				tc.change(next)
				_, err := updatePool(t, c, next)
				require.Error(t, err)
				assert.Equal(t, tc.code, status.Code(err), "%v", err)
				if tc.msg != "" {
					assert.Equal(t, tc.msg, status.Convert(err).Message())
				}
				after, err := srv.WorkerPool(testPool)
				require.NoError(t, err)
				assert.Empty(t, cmpPool(created, after))
				assert.Len(t, srv.WorkerPoolRevisions(testPool), 1)
			})
		}

		// An unknown revision fails the rollout; the applied split stays.
		next := proto.Clone(created).(*runpb.WorkerPool)
		next.InstanceSplits = []*runpb.InstanceSplit{split("wp-nope", 50), split("wp-v1", 50)}
		_, err := updatePool(t, c, next)
		require.Error(t, err)
		assert.Contains(t, status.Convert(err).Message(), "Revision 'wp-nope' does not exist or is deleted. Update all instance splits to point to currently available revisions.")
		after, err := srv.WorkerPool(testPool)
		require.NoError(t, err)
		assert.Empty(t, cmpStatuses(after.GetInstanceSplitStatuses(), created.GetInstanceSplitStatuses()))
		assert.Equal(t, runpb.Condition_CONDITION_FAILED, after.GetTerminalCondition().GetState())
		counts, err := srv.Instances(testPool)
		require.NoError(t, err)
		assert.Equal(t, map[string]int32{"wp-v1": 4}, counts)
	})
}

// TestWorkerPoolFailingRevision: a revision that never gets ready fails the rollout; the instances stay
// where they were.
func TestWorkerPoolFailingRevision(t *testing.T) {
	bothPoolTransports(t, func(t *testing.T, srv *Server, c poolClients) {
		created := createPool(t, c, &runpb.WorkerPool{Template: poolTemplate("wp-v1", "img:v1"), Scaling: instances(2)})
		srv.AddFailingImage("img:broken")
		next := proto.Clone(created).(*runpb.WorkerPool)
		next.Template = poolTemplate("wp-v2", "img:broken")
		next.InstanceSplits = []*runpb.InstanceSplit{split("wp-v2", 50), split("wp-v1", 50)}
		_, err := updatePool(t, c, next)
		require.Error(t, err)
		assert.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
		assert.Contains(t, status.Convert(err).Message(), "Revision 'wp-v2' is not ready")
		after, err := srv.WorkerPool(testPool)
		require.NoError(t, err)
		assert.Empty(t, cmpStatuses(after.GetInstanceSplitStatuses(), created.GetInstanceSplitStatuses()))
		assert.Equal(t, testPool+"/revisions/wp-v1", after.GetLatestReadyRevision())
		counts, err := srv.Instances(testPool)
		require.NoError(t, err)
		assert.Equal(t, map[string]int32{"wp-v1": 2}, counts)
	})
}

// TestWorkerPoolReconcilingWhileRevisionPending: with manual readiness the rollout waits and the pool
// reports reconciling until the revision is ready.
func TestWorkerPoolReconcilingWhileRevisionPending(t *testing.T) {
	srv, pools := grpcPools(t, WithManualReadiness())
	op, err := pools.CreateWorkerPool(t.Context(), &runpb.CreateWorkerPoolRequest{Parent: testParent, WorkerPoolId: "wp",
		WorkerPool: &runpb.WorkerPool{Template: poolTemplate("wp-v1", "img:v1"), Scaling: instances(3)}})
	require.NoError(t, err)
	pending, err := srv.WorkerPool(testPool)
	require.NoError(t, err)
	assert.True(t, pending.GetReconciling())
	assert.Equal(t, runpb.Condition_CONDITION_RECONCILING, pending.GetTerminalCondition().GetState())
	assert.Empty(t, pending.GetInstanceSplitStatuses())
	counts, err := srv.Instances(testPool)
	require.NoError(t, err)
	assert.Empty(t, counts)

	require.NoError(t, srv.SetRevisionReady("wp-v1", true))
	ready, err := op.Wait(t.Context())
	require.NoError(t, err)
	assert.False(t, ready.GetReconciling())
	counts, err = srv.Instances(testPool)
	require.NoError(t, err)
	assert.Equal(t, map[string]int32{"wp-v1": 3}, counts)
}

func TestAdminInstances(t *testing.T) {
	srv, pools := grpcPools(t)
	op, err := pools.CreateWorkerPool(t.Context(), &runpb.CreateWorkerPoolRequest{Parent: testParent, WorkerPoolId: "wp",
		WorkerPool: &runpb.WorkerPool{Template: poolTemplate("wp-v1", "img:v1"), Scaling: instances(3)}})
	require.NoError(t, err)
	_, err = op.Wait(t.Context())
	require.NoError(t, err)

	h := srv.AdminHandler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_fakerun/instances?workerPool="+testPool, nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var one map[string]int32
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &one))
	assert.Equal(t, map[string]int32{"wp-v1": 3}, one)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_fakerun/instances", nil))
	var all map[string]map[string]int32
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &all))
	assert.Equal(t, map[string]map[string]int32{testPool: {"wp-v1": 3}}, all)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_fakerun/instances?workerPool="+testParent+"/workerPools/nope", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Contains(t, rec.Body.String(), "Resource 'nope' of kind 'WORKER_POOL'")
}

func cmpSplits(got, want []*runpb.InstanceSplit) string { return protoListDiff(got, want) }

func cmpStatuses(got, want []*runpb.InstanceSplitStatus) string { return protoListDiff(got, want) }

func cmpPool(want, got *runpb.WorkerPool) string {
	return protoListDiff([]*runpb.WorkerPool{got}, []*runpb.WorkerPool{want})
}

// protoListDiff is empty when got and want hold equal messages in order, else both in text form.
func protoListDiff[M proto.Message](got, want []M) string {
	equal := len(got) == len(want)
	for i := 0; equal && i < len(got); i++ {
		equal = proto.Equal(got[i], want[i])
	}
	if equal {
		return ""
	}
	return fmt.Sprintf("got  %v\nwant %v", got, want)
}
