package control

import (
	"fmt"
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

// operation is a long-running operation. Rollout operations (create and
// update of a service) stay pending until the revisions they wait for are
// ready, and fail when one of them fails.
type operation struct {
	op       *longrunningpb.Operation // copy-on-write, like service.svc
	location string
	service  *service    // the service a rollout publishes, or
	pool     *workerPool // the worker pool it publishes
	// generation of the service this rollout publishes when it completes.
	generation int64
	// waitFor must all become ready; any failing fails the operation.
	waitFor []*revision
	// follow is the latest created revision a LATEST target waits for
	// without failing if it fails.
	follow *revision
	// missing names a revision referenced by traffic that does not exist.
	missing string
	created time.Time
	seq     int64 // registration order
}

// revisionStateLocked evaluates r's readiness against the clock.
// Must be called with s.mu held.
func (s *Server) revisionStateLocked(r *revision) revState {
	if r.state != revPending || r.manual {
		return r.state
	}
	if s.nowLocked().Before(r.readyAt) {
		return revPending
	}
	if r.failImage != "" {
		s.setRevisionStateLocked(r, revFailed, runpb.Condition_CONTAINER_MISSING,
			fmt.Sprintf("Image '%s' not found.", r.failImage), r.readyAt)
	} else {
		s.setRevisionStateLocked(r, revReady, 0, "", r.readyAt)
	}
	return r.state
}

// setRevisionStateLocked records a readiness change and makes pending
// operations re-evaluate. Must be called with s.mu held.
func (s *Server) setRevisionStateLocked(r *revision, st revState, reason runpb.Condition_CommonReason, msg string, at time.Time) {
	r.state, r.failReason, r.failMsg, r.changedAt = st, reason, msg, at
	s.dirty = true
}

// revisionProtoLocked renders r. The result shares r's immutable template
// parts, so callers outside RPC handlers must clone it.
// Must be called with s.mu held.
func (s *Server) revisionProtoLocked(r *revision) *runpb.Revision {
	if r.pool != nil {
		return s.poolRevisionProtoLocked(r)
	}
	st := s.revisionStateLocked(r)
	t := r.template
	svc := r.service
	rev := &runpb.Revision{
		Name:                          r.name,
		Uid:                           r.uid,
		Generation:                    1,
		Labels:                        t.GetLabels(),
		Annotations:                   t.GetAnnotations(),
		CreateTime:                    timestamppb.New(r.createTime),
		UpdateTime:                    timestamppb.New(r.changedAt),
		LaunchStage:                   svc.svc.GetLaunchStage(),
		Service:                       svc.name,
		Scaling:                       t.GetScaling(),
		VpcAccess:                     t.GetVpcAccess(),
		MaxInstanceRequestConcurrency: t.GetMaxInstanceRequestConcurrency(),
		Timeout:                       t.GetTimeout(),
		ServiceAccount:                t.GetServiceAccount(),
		Containers:                    t.GetContainers(),
		Volumes:                       t.GetVolumes(),
		ExecutionEnvironment:          t.GetExecutionEnvironment(),
		EncryptionKey:                 t.GetEncryptionKey(),
		ServiceMesh:                   t.GetServiceMesh(),
		EncryptionKeyRevocationAction: t.GetEncryptionKeyRevocationAction(),
		EncryptionKeyShutdownDuration: t.GetEncryptionKeyShutdownDuration(),
		SessionAffinity:               t.GetSessionAffinity(),
		NodeSelector:                  t.GetNodeSelector(),
		GpuZonalRedundancyDisabled:    t.GpuZonalRedundancyDisabled,
		Reconciling:                   st == revPending,
		ObservedGeneration:            1,
		LogUri: "https://console.cloud.google.com/logs/viewer?project=" + svc.project +
			"&resource=cloud_run_revision/service_name/" + svc.id + "/revision_name/" + rules.ShortName(r.name),
		Creator: creator,
		Etag:    r.etag,
	}
	rev.Conditions = revisionConditions(r, st)
	return rev
}

// revisionConditions are the Ready, ContainerReady and ResourcesAvailable conditions of a revision in state st.
func revisionConditions(r *revision, st revState) []*runpb.Condition {
	switch st {
	case revPending:
		return []*runpb.Condition{
			condition("Ready", runpb.Condition_CONDITION_RECONCILING, "Deploying revision.", r.createTime),
			condition("ContainerReady", runpb.Condition_CONDITION_RECONCILING, "", r.createTime),
			condition("ResourcesAvailable", runpb.Condition_CONDITION_RECONCILING, "", r.createTime),
		}
	case revReady:
		return []*runpb.Condition{
			condition("Ready", runpb.Condition_CONDITION_SUCCEEDED, "", r.changedAt),
			condition("ContainerReady", runpb.Condition_CONDITION_SUCCEEDED, "", r.changedAt),
			condition("ResourcesAvailable", runpb.Condition_CONDITION_SUCCEEDED, "", r.changedAt),
		}
	case revFailed:
		ready := condition("Ready", runpb.Condition_CONDITION_FAILED, r.failMsg, r.changedAt)
		ready.Reasons = &runpb.Condition_Reason{Reason: r.failReason}
		container := condition("ContainerReady", runpb.Condition_CONDITION_FAILED, r.failMsg, r.changedAt)
		container.Reasons = &runpb.Condition_Reason{Reason: r.failReason}
		return []*runpb.Condition{ready, container,
			condition("ResourcesAvailable", runpb.Condition_CONDITION_SUCCEEDED, "", r.changedAt)}
	}
	return nil
}

// notReadyMessage is Cloud Run's rollout error for a revision that failed.
func notReadyMessage(r *revision) string {
	return fmt.Sprintf("Revision '%s' is not ready and cannot serve traffic. %s", rules.ShortName(r.name), r.failMsg)
}

// settleLocked advances pending operations whose revisions changed state.
// It is cheap when nothing can have changed. Must be called with s.mu held.
func (s *Server) settleLocked() {
	s.settleJobsLocked()
	if len(s.pending) == 0 {
		return
	}
	if !s.dirty && s.nowLocked().Before(s.nextDue) {
		return
	}
	s.dirty = false
	var next time.Time
	keep := s.pending[:0]
	for _, op := range s.pending {
		if s.advanceLocked(op) {
			continue
		}
		keep = append(keep, op)
		for _, r := range append(slices.Clip(op.waitFor), op.follow) {
			if r != nil && r.state == revPending && !r.manual && (next.IsZero() || r.readyAt.Before(next)) {
				next = r.readyAt
			}
		}
	}
	clear(s.pending[len(keep):])
	s.pending = keep
	if next.IsZero() {
		next = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) // only manual changes can help
	}
	s.nextDue = next
}

// advanceLocked completes or fails op if its revisions allow it and reports
// whether op is done. Must be called with s.mu held.
func (s *Server) advanceLocked(op *operation) bool {
	if op.pool != nil && op.pool.deleted {
		s.finishLocked(op, status.New(codes.Aborted, fmt.Sprintf("Worker pool '%s' was deleted while the operation was running.", op.pool.id)), nil)
		return true
	}
	if op.service != nil && op.service.deleted {
		s.finishLocked(op, status.New(codes.Aborted, fmt.Sprintf("Service '%s' was deleted while the operation was running.", op.service.id)), nil)
		return true
	}
	if op.missing != "" {
		what := "traffic to route"
		if op.pool != nil {
			what = "instance splits to point"
		}
		s.failRolloutLocked(op, status.New(codes.Internal, fmt.Sprintf(
			"Revision '%s' does not exist or is deleted. Update all %s to currently available revisions.", op.missing, what)))
		return true
	}
	for _, r := range op.waitFor {
		switch s.revisionStateLocked(r) {
		case revFailed:
			s.failRolloutLocked(op, status.New(codes.FailedPrecondition, notReadyMessage(r)))
			return true
		case revPending:
			return false
		}
	}
	if op.follow != nil && s.revisionStateLocked(op.follow) == revPending {
		return false
	}
	s.completeRolloutLocked(op)
	return true
}

// completeRolloutLocked publishes the observed state of op's generation if
// it is still the newest, then finishes op. Must be called with s.mu held.
func (s *Server) completeRolloutLocked(op *operation) {
	at := op.created
	for _, r := range append(slices.Clip(op.waitFor), op.follow) {
		if r != nil && r.changedAt.After(at) {
			at = r.changedAt
		}
	}
	if op.pool != nil {
		s.completePoolRolloutLocked(op, at)
		return
	}
	svc := op.service
	if svc.svc.GetGeneration() == op.generation {
		next := shallowCopy(svc.svc)
		statuses, serving := s.trafficStatusesLocked(svc, next.GetTraffic())
		next.TrafficStatuses = statuses
		if serving != nil {
			next.LatestReadyRevision = serving.name
		}
		next.ObservedGeneration = op.generation
		next.Reconciling = false
		setServiceConditions(next, runpb.Condition_CONDITION_SUCCEEDED, "", "", at)
		svc.svc = next
	}
	s.finishLocked(op, nil, svc.svc)
}

// failRolloutLocked marks the service's rollout failed (when op is the
// newest) and fails op; traffic and latest_ready_revision keep their last
// serving state. Must be called with s.mu held.
func (s *Server) failRolloutLocked(op *operation, st *status.Status) {
	if op.pool != nil {
		s.failPoolRolloutLocked(op, st)
		return
	}
	svc := op.service
	if svc.svc.GetGeneration() == op.generation {
		at := s.nowLocked()
		next := shallowCopy(svc.svc)
		next.Reconciling = false
		setServiceConditions(next, runpb.Condition_CONDITION_FAILED, st.Message(), st.Message(), at)
		svc.svc = next
	}
	s.finishLocked(op, st, nil)
}

// finishLocked marks op done with either an error or a response.
// Must be called with s.mu held.
func (s *Server) finishLocked(op *operation, st *status.Status, response proto.Message) {
	next := &longrunningpb.Operation{Name: op.op.GetName(), Metadata: op.op.GetMetadata(), Done: true}
	if st != nil {
		next.Result = &longrunningpb.Operation_Error{Error: st.Proto()}
	} else {
		resp, err := anypb.New(response)
		if err != nil {
			next.Result = &longrunningpb.Operation_Error{Error: status.New(codes.Internal, err.Error()).Proto()}
		} else {
			next.Metadata = resp
			next.Result = &longrunningpb.Operation_Response{Response: resp}
		}
	}
	op.op = next
}

// startOperationLocked registers a rollout operation for svc at its current
// generation and settles it at once when nothing has to wait.
// Must be called with s.mu held.
func (s *Server) startOperationLocked(svc *service, waitFor []*revision, follow *revision, missing string) (*longrunningpb.Operation, error) {
	started := svc.svc // the metadata until done: marshalled only when op does not succeed at once
	op, err := s.registerRolloutLocked(&operation{
		op:         &longrunningpb.Operation{Name: svc.location + "/operations/" + s.newUIDLocked()},
		location:   svc.location,
		service:    svc,
		generation: svc.svc.GetGeneration(),
		waitFor:    waitFor,
		follow:     follow,
		missing:    missing,
		created:    s.nowLocked(),
	})
	if err != nil || op.GetMetadata() != nil {
		return op, err
	}
	meta, err := anypb.New(started)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	op.Metadata = meta
	return op, nil
}

// registerRolloutLocked registers a rollout operation of a service or a worker pool and settles it at
// once when nothing has to wait. Must be called with s.mu held.
func (s *Server) registerRolloutLocked(op *operation) (*longrunningpb.Operation, error) {
	s.opSeq++
	op.seq = s.opSeq
	s.operations[op.op.GetName()] = op
	if !s.advanceLocked(op) {
		s.pending = append(s.pending, op)
		s.dirty = true
	}
	return op.op, nil
}

// doneOperationLocked registers an operation that is done at once with
// response (delete operations). Must be called with s.mu held.
func (s *Server) doneOperationLocked(location string, response proto.Message) (*longrunningpb.Operation, error) {
	resp, err := anypb.New(response)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	op := &operation{
		op: &longrunningpb.Operation{Name: location + "/operations/" + s.newUIDLocked(), Metadata: resp, Done: true,
			Result: &longrunningpb.Operation_Response{Response: resp}},
		location: location,
		created:  s.nowLocked(),
	}
	s.opSeq++
	op.seq = s.opSeq
	s.operations[op.op.GetName()] = op
	return op.op, nil
}

// pendingRolloutLocked returns the oldest pending rollout of svc, or nil.
// Must be called with s.mu held.
func (s *Server) pendingRolloutLocked(svc *service) *operation {
	for _, op := range s.pending {
		if op.service == svc {
			return op
		}
	}
	return nil
}
