package control

import (
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// A multi-region service (multi_region_settings.regions, "List of regions to deploy to, including primary
// region") is one service written through any of its regions and applied to all: fakerun keeps a copy in
// each listed region, with the same settings, template, traffic and revision names, and its own name, URLs,
// uid, etag, conditions and revision readiness. A write through one region replaces the copies of the
// others, a region that leaves the list loses its copy, and a delete through any region deletes them all.

// checkRegionsLocked checks the regions of next, written through region as the service id: they must list
// region, each once, and none may hold a service of that id that belongs to no multi-region service of the
// same multi_region_id. It fills multi_region_id: cur's (the service before the write, nil on create) or a
// new one. Must be called with s.mu held.
func (s *Server) checkRegionsLocked(project, region, id string, next, cur *runpb.Service) error {
	mr := next.GetMultiRegionSettings()
	if mr == nil {
		return nil
	}
	regions := mr.GetRegions()
	if !slices.Contains(regions, region) {
		return rules.InvalidArgument("service.multi_region_settings.regions", fmt.Sprintf(
			"the regions %q must include the region %q the service is written through", strings.Join(regions, ","), region))
	}
	for i, r := range regions {
		if r == "" || strings.Contains(r, "/") || slices.Contains(regions[:i], r) {
			return rules.InvalidArgument("service.multi_region_settings.regions", fmt.Sprintf(
				"region %q must be a region name listed once", r))
		}
	}
	if mr.GetMultiRegionId() == "" {
		mr.MultiRegionId = cur.GetMultiRegionSettings().GetMultiRegionId()
	}
	if mr.GetMultiRegionId() == "" {
		mr.MultiRegionId = s.newUIDLocked()
	}
	for _, r := range regions {
		other := s.services[rules.LocationName(project, r)+"/services/"+id]
		if r != region && other != nil && other.svc.GetMultiRegionSettings().GetMultiRegionId() != mr.GetMultiRegionId() {
			return status.Errorf(codes.AlreadyExists, "Resource '%s' already exists in region %s and is not part of this multi-region service.", id, r)
		}
	}
	return nil
}

// replicateLocked applies svc, a service just written (its new revision created, nil when none), to the
// other regions of its multi-region settings, and deletes the copies in before's regions (the regions the
// service listed before the write) that it no longer lists. Each copy starts its own rollout.
// Must be called with s.mu held.
func (s *Server) replicateLocked(svc *service, before []string, created *revision) error {
	regions := svc.svc.GetMultiRegionSettings().GetRegions()
	for _, r := range before {
		if r != svc.region && !slices.Contains(regions, r) {
			if old := s.services[rules.LocationName(svc.project, r)+"/services/"+svc.id]; old != nil {
				s.deleteServiceLocked(old)
			}
		}
	}
	for _, r := range regions {
		if r == svc.region {
			continue
		}
		if err := s.replicateToLocked(svc, r, created); err != nil {
			return err
		}
	}
	return nil
}

// replicateToLocked writes the copy of svc in region: its state, the revisions of svc it lacks (the copy of
// created among them) and a rollout. Must be called with s.mu held.
func (s *Server) replicateToLocked(svc *service, region string, created *revision) error {
	location := rules.LocationName(svc.project, region)
	rep := s.services[location+"/services/"+svc.id]
	now := s.nowLocked()
	next := proto.Clone(svc.svc).(*runpb.Service)
	if rep == nil {
		rep = &service{name: location + "/services/" + svc.id, location: location, project: svc.project, region: region, id: svc.id, nextSeq: 1}
		next.Uid = s.newUIDLocked()
		next.CreateTime = timestamppb.New(now)
		next.TrafficStatuses, next.LatestReadyRevision, next.ObservedGeneration = nil, "", 0
	} else {
		prev := rep.svc
		next.Uid, next.CreateTime, next.Creator = prev.GetUid(), prev.GetCreateTime(), prev.GetCreator()
		next.TrafficStatuses, next.LatestReadyRevision, next.ObservedGeneration = prev.GetTrafficStatuses(), prev.GetLatestReadyRevision(), prev.GetObservedGeneration()
	}
	next.Name = rep.name
	next.Uri, next.Urls = serviceURLs(svc.project, region, svc.id)
	next.Etag = s.newEtagLocked()
	next.LatestCreatedRevision = rules.RevisionName(rep.name, rules.ShortName(svc.svc.GetLatestCreatedRevision()))
	markReconciling(next, now)
	fresh := rep.svc == nil
	rep.svc = next
	if fresh {
		s.registerServiceLocked(rep)
	}
	var repCreated *revision
	for _, r := range svc.revisions {
		short := rules.ShortName(r.name)
		name := rules.RevisionName(rep.name, short)
		if s.revisions[name] != nil || rep.deletedRevisions[short] {
			continue
		}
		copied := s.startRevisionLocked(name, r.template)
		copied.service = rep
		s.addRevisionLocked(rep, copied)
		if r == created {
			repCreated = copied
		}
	}
	waitFor, follow, missing := s.trafficWaitsLocked(rep, next.GetTraffic(), repCreated)
	_, err := s.startOperationLocked(rep, waitFor, follow, missing)
	return err
}

// multiRegionCopiesLocked returns the copies of svc, a multi-region service, in its other regions.
// Must be called with s.mu held.
func (s *Server) multiRegionCopiesLocked(svc *service) []*service {
	var copies []*service
	for _, r := range svc.svc.GetMultiRegionSettings().GetRegions() {
		if other := s.services[rules.LocationName(svc.project, r)+"/services/"+svc.id]; r != svc.region && other != nil {
			copies = append(copies, other)
		}
	}
	return copies
}
