package control

import (
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// revisionTemplate is the template of a service's or a worker pool's revisions.
type revisionTemplate interface {
	*runpb.RevisionTemplate | *runpb.WorkerPoolRevisionTemplate
	proto.Message
	GetRevision() string
}

// templated is a resource whose template updates create revisions: a service or a worker pool.
type templated interface {
	*runpb.Service | *runpb.WorkerPool
	proto.Message
	GetGeneration() int64
}

// revisionedKind is one kind's side of the update path shared by services and worker pools.
type revisionedKind[M templated, T revisionTemplate] struct {
	title    string // "Service" or "Worker pool", for messages
	id       string
	owner    string // full name of the service or worker pool
	location string
	cur      M
	// pending returns the oldest pending rollout of the resource, or nil.
	pending func() *operation
	// prepare fills the defaults of the merged resource and validates it.
	prepare func(next M) error
	// template returns a resource's revision template; revisionTemplate an existing revision's.
	template         func(M) T
	revisionTemplate func(*revision) T
	// newRevision builds (without registering) a revision of the resource from t.
	newRevision func(generation int64, t T) (*revision, error)
	// markReconciling sets the conditions of the resource whose rollout starts.
	markReconciling func(next M, now time.Time)
	// commit stores next, registers rev (nil when the update creates none) and starts the rollout.
	commit func(next M, rev *revision) (*longrunningpb.Operation, error)
}

// updateRevisionedLocked updates the service or worker pool k describes, found and its etag checked, with
// in: it merges in (the paths of update_mask, or every writable field), lets k fill defaults and validate,
// decides whether the template makes a revision (force_new_revision forcing one), answers a no-op update
// with the resource as is, and otherwise stamps the next generation and starts the rollout.
// Must be called with s.mu held.
func updateRevisionedLocked[M templated, T revisionTemplate](s *Server, k revisionedKind[M, T], in M, paths []string, force, validateOnly bool) (*longrunningpb.Operation, error) {
	if s.cfg.Compat.RejectUpdateWhileReconciling {
		if op := k.pending(); op != nil {
			return nil, status.Errorf(codes.Aborted, "%s '%s' is still being updated by operation '%s'; wait for it to finish, then retry.", k.title, k.id, op.op.GetName())
		}
	}
	next, err := mergeUpdate(k.cur, in, paths)
	if err != nil {
		return nil, err
	}
	if err := k.prepare(next); err != nil {
		return nil, err
	}
	t := k.template(next)
	creates, err := updateCreatesRevisionLocked(s, k, t)
	if err != nil {
		return nil, err
	}
	if !creates && force {
		if name := t.GetRevision(); name != "" {
			return nil, status.Errorf(codes.AlreadyExists, "Revision named '%s' already exists; force_new_revision needs a template that names a new revision or none.", name)
		}
		creates = true
	}
	var rev *revision
	if creates {
		if rev, err = k.newRevision(k.cur.GetGeneration()+1, t); err != nil {
			return nil, err
		}
	}
	if rev == nil && !s.cfg.Compat.BumpGenerationOnNoOpUpdate && rules.SameWritable(next, k.cur) {
		// Nothing to change: no new generation, answer with the resource as is.
		return s.doneOperationLocked(k.location, k.cur)
	}
	now := s.nowLocked()
	stampUpdate(next, now, s.newEtagLocked(), rev)
	k.markReconciling(next, now)
	if validateOnly {
		return validateOnlyOperation(k.location, next)
	}
	return k.commit(next, rev)
}

// mergeUpdate returns a copy of cur updated with in: the fields of the update_mask paths, or every
// writable field when there are none.
func mergeUpdate[M proto.Message](cur, in M, paths []string) (M, error) {
	next := proto.Clone(cur).(M)
	if len(paths) > 0 {
		if err := rules.ApplyMask(next, proto.Clone(in), paths); err != nil {
			var zero M
			return zero, err
		}
		return next, nil
	}
	rules.ReplaceWritable(next, proto.Clone(in))
	return next, nil
}

// updateCreatesRevisionLocked reports whether an update to template t creates a revision: not when t
// equals the current template (t naming no revision, or the current one), nor when t names an existing
// revision with the same template; an existing revision with another template is an error.
// Must be called with s.mu held.
func updateCreatesRevisionLocked[M templated, T revisionTemplate](s *Server, k revisionedKind[M, T], t T) (bool, error) {
	if t.GetRevision() == "" {
		cur := k.template(k.cur)
		if cur.GetRevision() == "" {
			return !proto.Equal(t, cur), nil
		}
		revision := t.ProtoReflect().Descriptor().Fields().ByName("revision")
		t.ProtoReflect().Set(revision, protoreflect.ValueOfString(cur.GetRevision()))
		same := proto.Equal(t, cur)
		t.ProtoReflect().Clear(revision)
		return !same, nil
	}
	if existing := s.revisions[rules.RevisionName(k.owner, t.GetRevision())]; existing != nil {
		if proto.Equal(k.revisionTemplate(existing), t) {
			return false, nil
		}
		return false, status.Errorf(codes.AlreadyExists, "Revision named '%s' with different configuration already exists.", t.GetRevision())
	}
	return true, nil
}

// stampUpdate records an accepted update on next (a service, worker pool or job): the next generation,
// the update time, the modifier, the new etag and, when rev is not nil, rev as latest created revision.
func stampUpdate(next proto.Message, now time.Time, etag string, rev *revision) {
	m := next.ProtoReflect()
	fields := m.Descriptor().Fields()
	generation := fields.ByName("generation")
	m.Set(generation, protoreflect.ValueOfInt64(m.Get(generation).Int()+1))
	m.Set(fields.ByName("update_time"), protoreflect.ValueOfMessage(timestamppb.New(now).ProtoReflect()))
	m.Set(fields.ByName("last_modifier"), protoreflect.ValueOfString(creator))
	m.Set(fields.ByName("etag"), protoreflect.ValueOfString(etag))
	if rev != nil {
		m.Set(fields.ByName("latest_created_revision"), protoreflect.ValueOfString(rev.name))
	}
}

// missingForUpdate answers an update of a resource that does not exist: NOT_FOUND (by notFound) without
// allow_missing, INVALID_ARGUMENT for the '-' location or an invalid id, and nil when the update may
// create it.
func missingForUpdate(allowMissing bool, field, name, region, id string, notFound func(string) error, validateID func(field, id string) error) error {
	if !allowMissing {
		return notFound(name)
	}
	if region == "-" {
		return rules.InvalidArgument(field, "the location must not be the '-' wildcard")
	}
	return validateID(field, id)
}
