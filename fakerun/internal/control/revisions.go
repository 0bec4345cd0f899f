package control

import (
	"context"
	"strings"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func (s *Server) GetRevision(_ context.Context, req *runpb.GetRevisionRequest) (*runpb.Revision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	revisionOf := s.revisionLocked
	if rules.IsWorkerPoolResource(req.GetName()) {
		revisionOf = s.poolRevisionLocked
	}
	r, err := revisionOf(req.GetName())
	if err != nil {
		return nil, err
	}
	return s.revisionProtoLocked(r), nil
}

// revisionLocked returns the revision of the request field name, with the state settled to now: an
// invalid name is INVALID_ARGUMENT and an unknown one NOT_FOUND, as Cloud Run answers. s.mu is held.
func (s *Server) revisionLocked(name string) (*revision, error) {
	serviceName, short, err := rules.ParseRevisionName("name", name)
	if err != nil {
		return nil, err
	}
	s.settleLocked()
	r := s.revisions[name]
	if r == nil {
		return nil, revisionNotFound(serviceName, short)
	}
	return r, nil
}

func revisionNotFound(serviceName, short string) error {
	return rules.NotFound("REVISION", short, serviceName[:strings.Index(serviceName, "/services/")])
}

// ListRevisions lists a service's or a worker pool's revisions newest first; the service "-"
// lists every service of the location, by service name. With show_deleted,
// deleted revisions that have not expired are listed among them.
func (s *Server) ListRevisions(_ context.Context, req *runpb.ListRevisionsRequest) (*runpb.ListRevisionsResponse, error) {
	if rules.IsWorkerPoolResource(req.GetParent()) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.listPoolRevisionsLocked(req)
	}
	project, region, id, err := rules.ParseServiceName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	var services []*service
	if id == "-" {
		for _, name := range s.serviceIndex[rules.LocationName(project, region)] {
			services = append(services, s.services[name])
		}
	} else {
		svc := s.services[req.GetParent()]
		if svc == nil {
			return nil, rules.ServiceNotFound(req.GetParent())
		}
		services = []*service{svc}
	}
	// listed holds, newest first per service, a live revision or a deleted one.
	type entry struct {
		live *revision
		dead *runpb.Revision
	}
	var listed []entry
	now := s.nowLocked()
	for _, svc := range services {
		i, j := len(svc.revisions)-1, -1
		if req.GetShowDeleted() {
			j = len(svc.tombstones) - 1
		}
		for i >= 0 || j >= 0 {
			if j < 0 || i >= 0 && svc.revisions[i].seq > svc.tombstones[j].seq {
				listed = append(listed, entry{live: svc.revisions[i]})
				i--
				continue
			}
			if dead := svc.tombstones[j].rev; dead.GetExpireTime().AsTime().After(now) {
				listed = append(listed, entry{dead: dead})
			}
			j--
		}
	}
	start, end, next, err := rules.PageBounds(req.GetPageSize(), req.GetPageToken(), len(listed))
	if err != nil {
		return nil, err
	}
	resp := &runpb.ListRevisionsResponse{Revisions: make([]*runpb.Revision, 0, end-start), NextPageToken: next}
	for _, e := range listed[start:end] {
		if e.live != nil {
			resp.Revisions = append(resp.Revisions, s.revisionProtoLocked(e.live))
		} else {
			resp.Revisions = append(resp.Revisions, e.dead)
		}
	}
	return resp, nil
}

// DeleteRevision deletes a revision unless it is the service's latest
// revision or can receive traffic, which Cloud Run refuses.
func (s *Server) DeleteRevision(_ context.Context, req *runpb.DeleteRevisionRequest) (*longrunningpb.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rules.IsWorkerPoolResource(req.GetName()) {
		return s.deletePoolRevisionLocked(req)
	}
	r, err := s.revisionLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	short := rules.ShortName(r.name)
	if err := rules.CheckEtag(s.cfg.Compat.etagMismatchCode(), "revision", req.GetEtag(), r.etag, short); err != nil {
		return nil, err
	}
	svc := r.service
	switch {
	case svc.svc.GetLatestCreatedRevision() == r.name || len(svc.revisions) == 1:
		return nil, status.Errorf(codes.FailedPrecondition, "Revision '%s' cannot be deleted because it is the latest revision of service '%s'.", short, svc.id)
	case s.addressableLocked(r) || s.awaitedLocked(r):
		return nil, status.Errorf(codes.FailedPrecondition, "Revision '%s' cannot be directly deleted because it is actively serving.", short)
	}
	resp := s.deletedRevisionLocked(r)
	if req.GetValidateOnly() {
		return validateOnlyOperation(svc.location, resp)
	}
	s.removeRevisionLocked(r)
	return s.doneOperationLocked(svc.location, resp)
}

// deletedRevisionLocked is r as deleted now: with delete_time, and
// expire_time when it stops being listed. Must be called with s.mu held.
func (s *Server) deletedRevisionLocked(r *revision) *runpb.Revision {
	now := s.nowLocked()
	rev := proto.Clone(s.revisionProtoLocked(r)).(*runpb.Revision)
	rev.DeleteTime = timestamppb.New(now)
	rev.ExpireTime = timestamppb.New(now.Add(deletedRetention))
	return rev
}
