package fakerun

import (
	"context"
	"strings"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func (s *server) GetRevision(_ context.Context, req *runpb.GetRevisionRequest) (*runpb.Revision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.revisionLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	return s.revisionProtoLocked(r), nil
}

// revisionLocked returns the revision of the request field name, with the state settled to now: an
// invalid name is INVALID_ARGUMENT and an unknown one NOT_FOUND, as Cloud Run answers. s.mu is held.
func (s *server) revisionLocked(name string) (*revision, error) {
	serviceName, short, err := parseRevisionName("name", name)
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
	return notFound("REVISION", short, serviceName[:strings.Index(serviceName, "/services/")])
}

// ListRevisions lists a service's revisions newest first; the service "-"
// lists every service of the location, by service name.
func (s *server) ListRevisions(_ context.Context, req *runpb.ListRevisionsRequest) (*runpb.ListRevisionsResponse, error) {
	project, region, id, err := parseServiceName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	var services []*service
	if id == "-" {
		for _, name := range s.serviceIndex[locationName(project, region)] {
			services = append(services, s.services[name])
		}
	} else {
		svc := s.services[req.GetParent()]
		if svc == nil {
			return nil, serviceNotFound(req.GetParent())
		}
		services = []*service{svc}
	}
	total := 0
	for _, svc := range services {
		total += len(svc.revisions)
	}
	start, end, next, err := pageBounds(req.GetPageSize(), req.GetPageToken(), total)
	if err != nil {
		return nil, err
	}
	resp := &runpb.ListRevisionsResponse{Revisions: make([]*runpb.Revision, 0, end-start), NextPageToken: next}
	offset := 0
	for _, svc := range services {
		n := len(svc.revisions)
		for i := max(start-offset, 0); i < n && offset+i < end; i++ {
			resp.Revisions = append(resp.Revisions, s.revisionProtoLocked(svc.revisions[n-1-i]))
		}
		offset += n
		if offset >= end {
			break
		}
	}
	return resp, nil
}

// DeleteRevision deletes a revision unless it is the service's latest
// revision or can receive traffic, which Cloud Run refuses.
func (s *server) DeleteRevision(_ context.Context, req *runpb.DeleteRevisionRequest) (*longrunningpb.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.revisionLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	short := shortName(r.name)
	if etag := req.GetEtag(); etag != "" && etag != r.etag {
		return nil, status.Errorf(s.cfg.compat.etagMismatchCode(), "The etag %s does not match the current etag %s of revision '%s'.", etag, r.etag, short)
	}
	svc := r.service
	switch {
	case svc.svc.GetLatestCreatedRevision() == r.name || len(svc.revisions) == 1:
		return nil, status.Errorf(codes.FailedPrecondition, "Revision '%s' cannot be deleted because it is the latest revision of service '%s'.", short, svc.id)
	case s.addressableLocked(r) || s.awaitedLocked(r):
		return nil, status.Errorf(codes.FailedPrecondition, "Revision '%s' cannot be directly deleted because it is actively serving.", short)
	}
	now := s.nowLocked()
	resp := proto.Clone(s.revisionProtoLocked(r)).(*runpb.Revision)
	resp.DeleteTime = timestamppb.New(now)
	resp.ExpireTime = timestamppb.New(now.Add(deletedRetention))
	if req.GetValidateOnly() {
		return validateOnlyOperation(svc.location, resp)
	}
	s.removeRevisionLocked(r)
	return s.doneOperationLocked(svc.location, resp)
}
