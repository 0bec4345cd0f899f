package control

import (
	"slices"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// newPoolRevisionLocked builds (without registering) a revision of pool from template t, named by
// t.revision or automatically {pool}-{generation}-{xyz}. Its readiness follows the same settings and
// behaviours as a service's revision, by its containers' images. Must be called with s.mu held.
func (s *Server) newPoolRevisionLocked(pool *workerPool, generation int64, t *runpb.WorkerPoolRevisionTemplate) (*revision, error) {
	name, err := s.revisionIDLocked(pool.name, pool.id, "worker_pool", pool.deletedRevisions, generation, t.GetRevision())
	if err != nil {
		return nil, err
	}
	tmpl := proto.Clone(t).(*runpb.WorkerPoolRevisionTemplate)
	tmpl.Revision = name
	r := s.startRevisionLocked(rules.RevisionName(pool.name, name), &runpb.RevisionTemplate{Revision: name, Containers: tmpl.GetContainers()})
	r.pool, r.poolTemplate = pool, tmpl
	return r, nil
}

// addPoolRevisionLocked registers r and, above the revision cap, deletes the oldest revisions that have
// no instances. Must be called with s.mu held.
func (s *Server) addPoolRevisionLocked(pool *workerPool, r *revision) {
	r.seq = pool.nextSeq
	pool.nextSeq++
	pool.revisions = append(pool.revisions, r)
	s.revisions[r.name] = r
	for i := 0; len(pool.revisions) > s.cfg.RevisionCap && i < len(pool.revisions)-1; {
		old := pool.revisions[i]
		if s.splitNamesLocked(old) || s.awaitedLocked(old) {
			i++
			continue
		}
		s.removePoolRevisionLocked(old)
	}
}

// removePoolRevisionLocked deletes r, keeping it as a tombstone. Must be called with s.mu held.
func (s *Server) removePoolRevisionLocked(r *revision) {
	pool := r.pool
	pool.revisions = slices.DeleteFunc(pool.revisions, func(x *revision) bool { return x == r })
	delete(s.revisions, r.name)
	pool.tombstones = append(pool.tombstones, tombstone{seq: r.seq, rev: s.deletedRevisionLocked(r)})
	if len(pool.tombstones) > s.cfg.RevisionCap {
		pool.tombstones = slices.Delete(pool.tombstones, 0, len(pool.tombstones)-s.cfg.RevisionCap)
	}
	if pool.deletedRevisions == nil {
		pool.deletedRevisions = map[string]bool{}
	}
	pool.deletedRevisions[rules.ShortName(r.name)] = true
}

// splitNamesLocked reports whether r is named by its pool's desired or applied instance split, or is the
// revision an applied LATEST entry resolves to. Must be called with s.mu held.
func (s *Server) splitNamesLocked(r *revision) bool {
	wp := r.pool.wp
	short := rules.ShortName(r.name)
	for _, sp := range wp.GetInstanceSplits() {
		if sp.GetRevision() == short {
			return true
		}
	}
	for _, st := range wp.GetInstanceSplitStatuses() {
		if st.GetRevision() == short && st.GetPercent() > 0 {
			return true
		}
		if st.GetType() == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST && wp.GetLatestReadyRevision() == r.name {
			return true
		}
	}
	return false
}

// poolRevisionProtoLocked renders a worker pool's revision; it shares r's immutable template parts.
// Must be called with s.mu held.
func (s *Server) poolRevisionProtoLocked(r *revision) *runpb.Revision {
	st := s.revisionStateLocked(r)
	t := r.poolTemplate
	pool := r.pool
	rev := &runpb.Revision{
		Name:                          r.name,
		Uid:                           r.uid,
		Generation:                    1,
		Labels:                        t.GetLabels(),
		Annotations:                   t.GetAnnotations(),
		CreateTime:                    timestamppb.New(r.createTime),
		UpdateTime:                    timestamppb.New(r.changedAt),
		LaunchStage:                   pool.wp.GetLaunchStage(),
		VpcAccess:                     t.GetVpcAccess(),
		ServiceAccount:                t.GetServiceAccount(),
		Containers:                    t.GetContainers(),
		Volumes:                       t.GetVolumes(),
		EncryptionKey:                 t.GetEncryptionKey(),
		ServiceMesh:                   t.GetServiceMesh(),
		EncryptionKeyRevocationAction: t.GetEncryptionKeyRevocationAction(),
		EncryptionKeyShutdownDuration: t.GetEncryptionKeyShutdownDuration(),
		NodeSelector:                  t.GetNodeSelector(),
		GpuZonalRedundancyDisabled:    t.GpuZonalRedundancyDisabled,
		Reconciling:                   st == revPending,
		ObservedGeneration:            1,
		LogUri: "https://console.cloud.google.com/logs/viewer?project=" + pool.project +
			"&resource=cloud_run_worker_pool/worker_pool_name/" + pool.id + "/revision_name/" + rules.ShortName(r.name),
		Creator: creator,
		Etag:    r.etag,
	}
	rev.Conditions = revisionConditions(r, st)
	return rev
}

// startPoolOperationLocked registers a rollout operation for pool at its current generation.
// Must be called with s.mu held.
func (s *Server) startPoolOperationLocked(pool *workerPool, waitFor []*revision, follow *revision, missing string) (*longrunningpb.Operation, error) {
	meta, err := anypb.New(pool.wp)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return s.registerRolloutLocked(&operation{
		op:         &longrunningpb.Operation{Name: pool.location + "/operations/" + s.newUIDLocked(), Metadata: meta},
		location:   pool.location,
		pool:       pool,
		generation: pool.wp.GetGeneration(),
		waitFor:    waitFor,
		follow:     follow,
		missing:    missing,
		created:    s.nowLocked(),
	})
}

// completePoolRolloutLocked publishes the applied instance split of op's generation if it is still the
// newest, then finishes op. Must be called with s.mu held.
func (s *Server) completePoolRolloutLocked(op *operation, at time.Time) {
	pool := op.pool
	if pool.wp.GetGeneration() == op.generation {
		next := proto.Clone(pool.wp).(*runpb.WorkerPool)
		latest := s.latestReadyPoolRevisionLocked(pool)
		next.InstanceSplitStatuses = make([]*runpb.InstanceSplitStatus, 0, len(next.GetInstanceSplits()))
		var newest *revision
		for _, sp := range next.GetInstanceSplits() {
			st := &runpb.InstanceSplitStatus{Type: rules.SplitType(sp), Percent: sp.GetPercent()}
			r := latest
			if st.Type == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION {
				st.Revision = sp.GetRevision()
				r = s.revisions[rules.RevisionName(pool.name, sp.GetRevision())]
			}
			if r != nil && sp.GetPercent() > 0 && (newest == nil || r.seq > newest.seq) {
				newest = r
			}
			next.InstanceSplitStatuses = append(next.InstanceSplitStatuses, st)
		}
		if newest != nil {
			next.LatestReadyRevision = newest.name
		}
		next.ObservedGeneration = op.generation
		next.Reconciling = false
		next.TerminalCondition = condition("Ready", runpb.Condition_CONDITION_SUCCEEDED, "", at)
		next.Conditions = []*runpb.Condition{condition("ConfigurationsReady", runpb.Condition_CONDITION_SUCCEEDED, "", at)}
		pool.wp = next
	}
	s.finishLocked(op, nil, pool.wp)
}

// failPoolRolloutLocked marks the pool's rollout failed (when op is the newest) and fails op; the applied
// split and latest_ready_revision keep their last state. Must be called with s.mu held.
func (s *Server) failPoolRolloutLocked(op *operation, st *status.Status) {
	pool := op.pool
	if pool.wp.GetGeneration() == op.generation {
		at := s.nowLocked()
		next := proto.Clone(pool.wp).(*runpb.WorkerPool)
		next.Reconciling = false
		next.TerminalCondition = condition("Ready", runpb.Condition_CONDITION_FAILED, st.Message(), at)
		next.Conditions = []*runpb.Condition{condition("ConfigurationsReady", runpb.Condition_CONDITION_FAILED, st.Message(), at)}
		pool.wp = next
	}
	s.finishLocked(op, st, nil)
}

// latestReadyPoolRevisionLocked returns the newest ready revision of pool, or nil. Must be called with s.mu held.
func (s *Server) latestReadyPoolRevisionLocked(pool *workerPool) *revision {
	for i := len(pool.revisions) - 1; i >= 0; i-- {
		if s.revisionStateLocked(pool.revisions[i]) == revReady {
			return pool.revisions[i]
		}
	}
	return nil
}

// defaultManualInstances is the instance count of a pool whose scaling sets none (fakerun's choice).
const defaultManualInstances = 1

// poolInstancesLocked returns how many instances each revision of pool runs under its applied instance
// split: manual_instance_count divided by the split's percentages with rules.InstanceCounts, LATEST
// entries counting for the latest ready revision. Revisions without instances are left out.
// Must be called with s.mu held.
func (s *Server) poolInstancesLocked(pool *workerPool) map[string]int32 {
	total := int32(defaultManualInstances)
	if sc := pool.wp.GetScaling(); sc != nil && sc.ManualInstanceCount != nil {
		total = sc.GetManualInstanceCount()
	}
	statuses := pool.wp.GetInstanceSplitStatuses()
	percents := make([]int32, len(statuses))
	for i, st := range statuses {
		percents[i] = st.GetPercent()
	}
	out := map[string]int32{}
	for i, n := range rules.InstanceCounts(total, percents) {
		name := statuses[i].GetRevision()
		if statuses[i].GetType() == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST {
			name = rules.ShortName(pool.wp.GetLatestReadyRevision())
		}
		if n > 0 && name != "" {
			out[name] += n
		}
	}
	return out
}

// poolRevisionNotFound is NOT_FOUND for a worker pool's revision.
func poolRevisionNotFound(poolName, short string) error {
	project, location, _, err := rules.ParseWorkerPoolName("name", poolName)
	if err != nil {
		return err
	}
	return rules.NotFound("REVISION", short, rules.LocationName(project, location))
}

// poolRevisionLocked returns the worker pool revision named name, settled to now. Must be called with s.mu held.
func (s *Server) poolRevisionLocked(name string) (*revision, error) {
	poolName, short, err := rules.ParseWorkerPoolRevisionName("name", name)
	if err != nil {
		return nil, err
	}
	s.settleLocked()
	r := s.revisions[name]
	if r == nil || r.pool == nil {
		return nil, poolRevisionNotFound(poolName, short)
	}
	return r, nil
}

// listPoolRevisionsLocked lists a worker pool's revisions newest first, with show_deleted the unexpired
// deleted ones among them. Must be called with s.mu held.
func (s *Server) listPoolRevisionsLocked(req *runpb.ListRevisionsRequest) (*runpb.ListRevisionsResponse, error) {
	if _, _, _, err := rules.ParseWorkerPoolName("parent", req.GetParent()); err != nil {
		return nil, err
	}
	s.settleLocked()
	pool := s.pools.pools[req.GetParent()]
	if pool == nil {
		return nil, rules.WorkerPoolNotFound(req.GetParent())
	}
	var listed []*runpb.Revision
	now := s.nowLocked()
	i, j := len(pool.revisions)-1, -1
	if req.GetShowDeleted() {
		j = len(pool.tombstones) - 1
	}
	for i >= 0 || j >= 0 {
		if j < 0 || i >= 0 && pool.revisions[i].seq > pool.tombstones[j].seq {
			listed = append(listed, s.poolRevisionProtoLocked(pool.revisions[i]))
			i--
			continue
		}
		if dead := pool.tombstones[j].rev; dead.GetExpireTime().AsTime().After(now) {
			listed = append(listed, dead)
		}
		j--
	}
	start, end, next, err := rules.PageBounds(req.GetPageSize(), req.GetPageToken(), len(listed))
	if err != nil {
		return nil, err
	}
	return &runpb.ListRevisionsResponse{Revisions: listed[start:end], NextPageToken: next}, nil
}

// deletePoolRevisionLocked deletes a worker pool's revision unless it is the pool's latest revision or has
// a share of instances, which Cloud Run refuses as for a service's serving revision. Must be called with s.mu held.
func (s *Server) deletePoolRevisionLocked(req *runpb.DeleteRevisionRequest) (*longrunningpb.Operation, error) {
	r, err := s.poolRevisionLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	short := rules.ShortName(r.name)
	if err := rules.CheckEtag(s.cfg.Compat.etagMismatchCode(), "revision", req.GetEtag(), r.etag, short); err != nil {
		return nil, err
	}
	pool := r.pool
	switch {
	case pool.wp.GetLatestCreatedRevision() == r.name || len(pool.revisions) == 1:
		return nil, status.Errorf(codes.FailedPrecondition, "Revision '%s' cannot be deleted because it is the latest revision of worker pool '%s'.", short, pool.id)
	case s.splitNamesLocked(r) || s.awaitedLocked(r):
		return nil, status.Errorf(codes.FailedPrecondition, "Revision '%s' cannot be directly deleted because it is assigned instances.", short)
	}
	resp := s.deletedRevisionLocked(r)
	if req.GetValidateOnly() {
		return validateOnlyOperation(pool.location, resp)
	}
	s.removePoolRevisionLocked(r)
	return s.doneOperationLocked(pool.location, resp)
}
