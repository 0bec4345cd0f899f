package control

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// poolStore holds the worker pools. Their revisions are *revision values registered in Server.revisions
// beside the services' ones, so readiness, behaviours and the readiness knobs apply to both.
type poolStore struct {
	pools      map[string]*workerPool         // by full name
	byLocation map[string][]string            // location name -> sorted pool names
	deleted    map[string][]*runpb.WorkerPool // by location, with delete_time and expire_time
}

func newPoolStore() *poolStore {
	return &poolStore{pools: map[string]*workerPool{}, byLocation: map[string][]string{}, deleted: map[string][]*runpb.WorkerPool{}}
}

// workerPool is one Cloud Run worker pool. wp is copy-on-write, like service.svc.
type workerPool struct {
	name      string
	location  string // projects/{p}/locations/{l}
	project   string
	region    string
	id        string
	nextSeq   int64 // sequence number of the next revision
	wp        *runpb.WorkerPool
	revisions []*revision // oldest first
	deleted   bool
	// deletedRevisions holds the short names of deleted revisions, which cannot be reused.
	deletedRevisions map[string]bool
	// tombstones are the deleted revisions, oldest first, for ListRevisions' show_deleted.
	tombstones []tombstone
}

// workerPoolsServer serves google.cloud.run.v2.WorkerPools on the control plane's state. The IAM RPCs of
// worker pools are not modelled: they stay unimplemented.
type workerPoolsServer struct {
	runpb.UnimplementedWorkerPoolsServer
	srv *Server
}

func (w *workerPoolsServer) CreateWorkerPool(_ context.Context, req *runpb.CreateWorkerPoolRequest) (*longrunningpb.Operation, error) {
	s := w.srv
	project, region, err := rules.ParseConcreteLocation("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	id := req.GetWorkerPoolId()
	if id != "" {
		if err := validatePoolID("worker_pool_id", id); err != nil {
			return nil, err
		}
	}
	if req.GetWorkerPool() == nil {
		return nil, rules.InvalidArgument("worker_pool", "a worker pool is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	if id == "" {
		for id == "" || s.pools.pools[req.GetParent()+"/workerPools/"+id] != nil {
			id = "worker-pool-" + s.randomLettersLocked(8)
		}
	}
	if s.pools.pools[req.GetParent()+"/workerPools/"+id] != nil {
		return nil, status.Errorf(codes.AlreadyExists, "Resource '%s' already exists.", id)
	}
	return s.createPoolLocked(project, region, id, req.GetWorkerPool(), req.GetValidateOnly())
}

// validatePoolID checks a worker pool id by the rule of the v2 protos: it begins with a letter, does not
// end with a hyphen and has fewer than 50 characters (the rule of service ids).
func validatePoolID(field, id string) error {
	if !rules.ServiceIDPattern.MatchString(id) {
		return rules.InvalidArgument(field, fmt.Sprintf("worker pool id %q must use only lowercase letters, digits and hyphens, begin with a letter, not end with a hyphen, and be fewer than 50 characters", id))
	}
	return nil
}

// createPoolLocked creates a worker pool and its first revision. Must be called with s.mu held.
func (s *Server) createPoolLocked(project, region, id string, in *runpb.WorkerPool, validateOnly bool) (*longrunningpb.Operation, error) {
	now := s.nowLocked()
	location := rules.LocationName(project, region)
	pool := &workerPool{name: location + "/workerPools/" + id, location: location, project: project, region: region, id: id, nextSeq: 1}
	next := &runpb.WorkerPool{}
	rules.ReplaceWritable(next, proto.Clone(in).(*runpb.WorkerPool))
	normalizePool(next)
	if err := validatePool(next); err != nil {
		return nil, err
	}
	next.Name = pool.name
	next.Uid = s.newUIDLocked()
	next.Generation = 1
	next.CreateTime = timestamppb.New(now)
	next.UpdateTime = next.CreateTime
	next.Creator, next.LastModifier = creator, creator
	next.Etag = s.newEtagLocked()
	markPoolReconciling(next, now)
	rev, err := s.newPoolRevisionLocked(pool, 1, next.GetTemplate())
	if err != nil {
		return nil, err
	}
	waitFor, follow, missing := s.splitWaitsLocked(pool, next.GetInstanceSplits(), rev)
	next.LatestCreatedRevision = rev.name
	if validateOnly {
		return validateOnlyOperation(location, next)
	}
	pool.wp = next
	s.pools.pools[pool.name] = pool
	names := s.pools.byLocation[location]
	i, _ := slices.BinarySearch(names, pool.name)
	s.pools.byLocation[location] = slices.Insert(names, i, pool.name)
	s.addPoolRevisionLocked(pool, rev)
	return s.startPoolOperationLocked(pool, waitFor, follow, missing)
}

// normalizePool fills the defaults Cloud Run stores for empty fields: an empty instance split gives 100%
// of the instances to the latest ready revision, and the launch stage is GA.
func normalizePool(wp *runpb.WorkerPool) {
	if len(wp.GetInstanceSplits()) == 0 {
		wp.InstanceSplits = []*runpb.InstanceSplit{{
			Type:    runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST,
			Percent: 100,
		}}
	}
	if wp.GetLaunchStage() == api.LaunchStage_LAUNCH_STAGE_UNSPECIFIED {
		wp.LaunchStage = api.LaunchStage_GA
	}
}

// validatePool checks the documented limits of a worker pool's fields and the instance split rules.
func validatePool(wp *runpb.WorkerPool) error {
	if err := rules.ValidateDescription("worker_pool.description", wp.GetDescription()); err != nil {
		return err
	}
	if err := rules.ValidateLabels("worker_pool.labels", wp.GetLabels()); err != nil {
		return err
	}
	if err := rules.ValidateAnnotations("worker_pool.annotations", wp.GetAnnotations()); err != nil {
		return err
	}
	if err := rules.ValidateWorkerPoolTemplate("worker_pool.template", wp.GetTemplate()); err != nil {
		return err
	}
	if err := rules.ValidateWorkerPoolScaling("worker_pool.scaling", wp.GetScaling()); err != nil {
		return err
	}
	return rules.ValidateInstanceSplits(wp.GetInstanceSplits())
}

// markPoolReconciling sets the conditions of a worker pool whose rollout started.
func markPoolReconciling(wp *runpb.WorkerPool, now time.Time) {
	wp.Reconciling = true
	wp.TerminalCondition = condition("Ready", runpb.Condition_CONDITION_RECONCILING, "Deploying revision.", now)
	wp.Conditions = []*runpb.Condition{
		condition("ConfigurationsReady", runpb.Condition_CONDITION_RECONCILING, "", now),
	}
}

// splitWaitsLocked returns what a rollout of instance splits must wait for, as trafficWaitsLocked does for
// a service: the new revision and every revision given instances (failing if they fail), the latest
// created revision a LATEST entry follows, and the first named revision that does not exist.
// Must be called with s.mu held.
func (s *Server) splitWaitsLocked(pool *workerPool, splits []*runpb.InstanceSplit, created *revision) (waitFor []*revision, follow *revision, missing string) {
	if created != nil {
		waitFor = append(waitFor, created)
	}
	for _, sp := range splits {
		if rules.SplitType(sp) == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST {
			if created == nil && len(pool.revisions) > 0 {
				follow = pool.revisions[len(pool.revisions)-1]
			}
			continue
		}
		if created != nil && sp.GetRevision() == rules.ShortName(created.name) {
			continue
		}
		r := s.revisions[rules.RevisionName(pool.name, sp.GetRevision())]
		switch {
		case r == nil:
			if missing == "" {
				missing = sp.GetRevision()
			}
		case sp.GetPercent() > 0 && !slices.Contains(waitFor, r):
			waitFor = append(waitFor, r)
		}
	}
	return waitFor, follow, missing
}

func (w *workerPoolsServer) GetWorkerPool(_ context.Context, req *runpb.GetWorkerPoolRequest) (*runpb.WorkerPool, error) {
	s := w.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	pool, err := s.poolLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	return pool.wp, nil
}

// poolLocked returns the worker pool of the request field name, settled to now: an invalid name is
// INVALID_ARGUMENT and an unknown one NOT_FOUND. Must be called with s.mu held.
func (s *Server) poolLocked(name string) (*workerPool, error) {
	if _, _, _, err := rules.ParseWorkerPoolName("name", name); err != nil {
		return nil, err
	}
	s.settleLocked()
	pool := s.pools.pools[name]
	if pool == nil {
		return nil, rules.WorkerPoolNotFound(name)
	}
	return pool, nil
}

func (w *workerPoolsServer) ListWorkerPools(_ context.Context, req *runpb.ListWorkerPoolsRequest) (*runpb.ListWorkerPoolsResponse, error) {
	s := w.srv
	_, _, err := rules.ParseConcreteLocation("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	listed := make([]*runpb.WorkerPool, 0, len(s.pools.byLocation[req.GetParent()]))
	for _, name := range s.pools.byLocation[req.GetParent()] {
		listed = append(listed, s.pools.pools[name].wp)
	}
	if req.GetShowDeleted() {
		now := s.nowLocked()
		kept := slices.DeleteFunc(s.pools.deleted[req.GetParent()], func(wp *runpb.WorkerPool) bool {
			return !wp.GetExpireTime().AsTime().After(now)
		})
		s.pools.deleted[req.GetParent()] = kept
		listed = append(listed, kept...)
	}
	// "Results are sorted by creation time, descending."
	slices.SortStableFunc(listed, func(a, b *runpb.WorkerPool) int {
		return cmp.Or(b.GetCreateTime().AsTime().Compare(a.GetCreateTime().AsTime()), strings.Compare(a.GetName(), b.GetName()))
	})
	start, end, next, err := rules.PageBounds(req.GetPageSize(), req.GetPageToken(), len(listed))
	if err != nil {
		return nil, err
	}
	return &runpb.ListWorkerPoolsResponse{WorkerPools: listed[start:end], NextPageToken: next}, nil
}

func (w *workerPoolsServer) UpdateWorkerPool(_ context.Context, req *runpb.UpdateWorkerPoolRequest) (*longrunningpb.Operation, error) {
	s := w.srv
	if req.GetWorkerPool() == nil {
		return nil, rules.InvalidArgument("worker_pool", "a worker pool is required")
	}
	project, region, id, err := rules.ParseWorkerPoolName("worker_pool.name", req.GetWorkerPool().GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	pool := s.pools.pools[req.GetWorkerPool().GetName()]
	if pool == nil {
		if err := missingForUpdate(req.GetAllowMissing(), "worker_pool.name", req.GetWorkerPool().GetName(), region, id, rules.WorkerPoolNotFound, validatePoolID); err != nil {
			return nil, err
		}
		return s.createPoolLocked(project, region, id, req.GetWorkerPool(), req.GetValidateOnly())
	}
	if err := rules.CheckEtag(s.cfg.Compat.etagMismatchCode(), "worker pool", req.GetWorkerPool().GetEtag(), pool.wp.GetEtag(), id); err != nil {
		return nil, err
	}
	return updateRevisionedLocked(s, s.poolKindLocked(pool), req.GetWorkerPool(), req.GetUpdateMask().GetPaths(), req.GetForceNewRevision(), req.GetValidateOnly())
}

// poolKindLocked is pool's side of the update path shared with services. Must be called with s.mu held.
func (s *Server) poolKindLocked(pool *workerPool) revisionedKind[*runpb.WorkerPool, *runpb.WorkerPoolRevisionTemplate] {
	return revisionedKind[*runpb.WorkerPool, *runpb.WorkerPoolRevisionTemplate]{
		title: "Worker pool", id: pool.id, owner: pool.name, location: pool.location, cur: pool.wp,
		pending: func() *operation { return s.pendingPoolRolloutLocked(pool) },
		prepare: func(next *runpb.WorkerPool) error {
			normalizePool(next)
			return validatePool(next)
		},
		template:         (*runpb.WorkerPool).GetTemplate,
		revisionTemplate: func(r *revision) *runpb.WorkerPoolRevisionTemplate { return r.poolTemplate },
		newRevision: func(generation int64, t *runpb.WorkerPoolRevisionTemplate) (*revision, error) {
			return s.newPoolRevisionLocked(pool, generation, t)
		},
		markReconciling: markPoolReconciling,
		commit: func(next *runpb.WorkerPool, rev *revision) (*longrunningpb.Operation, error) {
			waitFor, follow, missing := s.splitWaitsLocked(pool, next.GetInstanceSplits(), rev)
			pool.wp = next
			if rev != nil {
				s.addPoolRevisionLocked(pool, rev)
			}
			return s.startPoolOperationLocked(pool, waitFor, follow, missing)
		},
	}
}

func (w *workerPoolsServer) DeleteWorkerPool(_ context.Context, req *runpb.DeleteWorkerPoolRequest) (*longrunningpb.Operation, error) {
	s := w.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	pool, err := s.poolLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	if err := rules.CheckEtag(s.cfg.Compat.etagMismatchCode(), "worker pool", req.GetEtag(), pool.wp.GetEtag(), pool.id); err != nil {
		return nil, err
	}
	now := s.nowLocked()
	resp := proto.Clone(pool.wp).(*runpb.WorkerPool)
	resp.DeleteTime = timestamppb.New(now)
	resp.ExpireTime = timestamppb.New(now.Add(deletedRetention))
	if req.GetValidateOnly() {
		return validateOnlyOperation(pool.location, resp)
	}
	delete(s.pools.pools, pool.name)
	s.pools.deleted[pool.location] = append(s.pools.deleted[pool.location], resp)
	names := s.pools.byLocation[pool.location]
	if i, found := slices.BinarySearch(names, pool.name); found {
		s.pools.byLocation[pool.location] = slices.Delete(names, i, i+1)
	}
	for _, r := range pool.revisions {
		delete(s.revisions, r.name)
	}
	pool.revisions = nil
	pool.deleted = true
	s.dirty = true
	return s.doneOperationLocked(pool.location, resp)
}

// pendingPoolRolloutLocked returns the oldest pending rollout of pool, or nil. Must be called with s.mu held.
func (s *Server) pendingPoolRolloutLocked(pool *workerPool) *operation {
	for _, op := range s.pending {
		if op.pool == pool {
			return op
		}
	}
	return nil
}
