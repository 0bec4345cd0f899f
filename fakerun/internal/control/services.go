package control

import (
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
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// creator is the caller identity recorded as creator and last_modifier.
const creator = "fakerun@example.com"

// deletedRetention is how long a deleted resource's expire_time lies after delete_time.
const deletedRetention = 30 * 24 * time.Hour

func (s *Server) CreateService(_ context.Context, req *runpb.CreateServiceRequest) (*longrunningpb.Operation, error) {
	project, region, err := rules.ParseConcreteLocation("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	id := req.GetServiceId()
	if id != "" {
		if err := validateServiceID("service_id", id); err != nil {
			return nil, err
		}
	}
	if req.GetService() == nil {
		return nil, rules.InvalidArgument("service", "a service is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	if id == "" {
		id = s.generatedServiceIDLocked(req.GetParent())
	}
	if _, ok := s.services[req.GetParent()+"/services/"+id]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Resource '%s' already exists.", id)
	}
	return s.createLocked(project, region, id, req.GetService(), req.GetValidateOnly())
}

// generatedServiceIDLocked returns an unused service id for a CreateService
// without service_id ("the server will generate a unique service_id"):
// "service-" and 8 seeded random letters. Must be called with s.mu held.
func (s *Server) generatedServiceIDLocked(parent string) string {
	for {
		id := "service-" + s.randomLettersLocked(8)
		if s.services[parent+"/services/"+id] == nil {
			return id
		}
	}
}

func validateServiceID(field, id string) error {
	if !rules.ServiceIDPattern.MatchString(id) {
		return rules.InvalidArgument(field, fmt.Sprintf("service id %q must use only lowercase letters, digits and hyphens, begin with a letter, not end with a hyphen, and be fewer than 50 characters", id))
	}
	return nil
}

// createLocked creates a service and its first revision.
// Must be called with s.mu held.
func (s *Server) createLocked(project, region, id string, in *runpb.Service, validateOnly bool) (*longrunningpb.Operation, error) {
	now := s.nowLocked()
	location := rules.LocationName(project, region)
	svc := &service{name: location + "/services/" + id, location: location, project: project, region: region, id: id, nextSeq: 1}
	next := &runpb.Service{}
	rules.ReplaceWritable(next, proto.Clone(in).(*runpb.Service))
	normalizeService(next)
	if s.cfg.Compat.AcceptFullRevisionNames {
		shortenRevisionNames(svc.name, next.GetTraffic())
	}
	if err := validateService(id, next); err != nil {
		return nil, err
	}
	if err := s.checkRegionsLocked(project, region, id, next, nil); err != nil {
		return nil, err
	}
	applyServiceDefaults(next)
	next.Name = svc.name
	next.Uid = s.newUIDLocked()
	next.Generation = 1
	next.CreateTime = timestamppb.New(now)
	next.UpdateTime = next.CreateTime
	next.Creator, next.LastModifier = creator, creator
	next.Etag = s.newEtagLocked()
	next.Uri, next.Urls = serviceURLs(project, region, id)
	markReconciling(next, now)
	rev, err := s.newRevisionLocked(svc, 1, next.GetTemplate())
	if err != nil {
		return nil, err
	}
	waitFor, follow, missing := s.trafficWaitsLocked(svc, next.GetTraffic(), rev)
	next.LatestCreatedRevision = rev.name
	if validateOnly {
		return validateOnlyOperation(location, next)
	}
	svc.svc = next
	s.registerServiceLocked(svc)
	s.addRevisionLocked(svc, rev)
	if err := s.replicateLocked(svc, nil, rev); err != nil {
		return nil, err
	}
	return s.startOperationLocked(svc, waitFor, follow, missing)
}

// serviceURLs returns the uri and urls of a service: its deterministic URL and the project-number one.
func serviceURLs(project, region, id string) (string, []string) {
	uri := serviceURI(project, region, id, "")
	return uri, []string{"https://" + id + "-" + projectNumber(project) + "." + region + ".run.app", uri}
}

// registerServiceLocked stores svc (svc.svc set) by name, hosts and location. Must be called with s.mu held.
func (s *Server) registerServiceLocked(svc *service) {
	s.services[svc.name] = svc
	for _, h := range serviceHosts(svc.svc) {
		s.hosts[h] = svc
	}
	names := s.serviceIndex[svc.location]
	i, _ := slices.BinarySearch(names, svc.name)
	s.serviceIndex[svc.location] = slices.Insert(names, i, svc.name)
}

// normalizeService fills the defaults Cloud Run stores for empty fields.
func normalizeService(svc *runpb.Service) {
	if len(svc.GetTraffic()) == 0 {
		svc.Traffic = defaultTraffic()
	}
	if svc.GetIngress() == runpb.IngressTraffic_INGRESS_TRAFFIC_UNSPECIFIED {
		svc.Ingress = runpb.IngressTraffic_INGRESS_TRAFFIC_ALL
	}
	if svc.GetLaunchStage() == api.LaunchStage_LAUNCH_STAGE_UNSPECIFIED {
		svc.LaunchStage = api.LaunchStage_GA
	}
}

// validateService checks the documented limits of a service's fields and the traffic rules.
func validateService(id string, svc *runpb.Service) error {
	if err := rules.ValidateDescription("service.description", svc.GetDescription()); err != nil {
		return err
	}
	if err := rules.ValidateLabels("service.labels", svc.GetLabels()); err != nil {
		return err
	}
	if err := rules.ValidateAnnotations("service.annotations", svc.GetAnnotations()); err != nil {
		return err
	}
	if err := rules.ValidateRevisionTemplate("service.template", svc.GetTemplate()); err != nil {
		return err
	}
	if err := rules.ValidateServiceFields(svc); err != nil {
		return err
	}
	return validateTraffic(id, svc.GetTraffic())
}

// markReconciling sets the conditions of a service whose rollout started.
func markReconciling(svc *runpb.Service, now time.Time) {
	svc.Reconciling = true
	setServiceConditions(svc, runpb.Condition_CONDITION_RECONCILING, "Deploying revision.", "", now)
}

// setServiceConditions sets svc's terminal Ready condition (with readyMsg) and its RoutesReady and
// ConfigurationsReady conditions (with msg) to state, changed at at. The three share one timestamp,
// which, like every stored message, is never changed in place.
func setServiceConditions(svc *runpb.Service, state runpb.Condition_State, readyMsg, msg string, at time.Time) {
	ts := timestamppb.New(at)
	svc.TerminalCondition = &runpb.Condition{Type: "Ready", State: state, Message: readyMsg, LastTransitionTime: ts}
	svc.Conditions = []*runpb.Condition{
		{Type: "RoutesReady", State: state, Message: msg, LastTransitionTime: ts},
		{Type: "ConfigurationsReady", State: state, Message: msg, LastTransitionTime: ts},
	}
}

// validateOnlyOperation is the done, unregistered operation answering a
// validate_only request; it carries the would-be resource.
func validateOnlyOperation(location string, resource proto.Message) (*longrunningpb.Operation, error) {
	resp, err := anypb.New(resource)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &longrunningpb.Operation{Name: location + "/operations/validate-only", Metadata: resp, Done: true,
		Result: &longrunningpb.Operation_Response{Response: resp}}, nil
}

// trafficWaitsLocked returns what a rollout of traffic must wait for: the
// new revision and every revision given traffic or a tag (failing if they
// fail), the latest created revision when a LATEST target follows it, and
// the first referenced revision that does not exist. Must be called with s.mu held.
func (s *Server) trafficWaitsLocked(svc *service, traffic []*runpb.TrafficTarget, created *revision) (waitFor []*revision, follow *revision, missing string) {
	if created != nil {
		waitFor = append(waitFor, created)
	}
	for _, t := range traffic {
		if targetType(t) == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST {
			if created == nil && len(svc.revisions) > 0 {
				follow = svc.revisions[len(svc.revisions)-1]
			}
			continue
		}
		if created != nil && t.GetRevision() == rules.ShortName(created.name) {
			continue
		}
		r := s.revisions[rules.RevisionName(svc.name, t.GetRevision())]
		switch {
		case r == nil:
			if missing == "" {
				missing = t.GetRevision()
			}
		case (t.GetPercent() > 0 || t.GetTag() != "") && !slices.Contains(waitFor, r):
			waitFor = append(waitFor, r)
		}
	}
	return waitFor, follow, missing
}

func (s *Server) GetService(_ context.Context, req *runpb.GetServiceRequest) (*runpb.Service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, err := s.serviceLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	return svc.svc, nil
}

// serviceLocked returns the service of the request field name, with the state settled to now: an invalid
// name is INVALID_ARGUMENT and an unknown one NOT_FOUND, as Cloud Run answers. s.mu is held.
func (s *Server) serviceLocked(name string) (*service, error) {
	if _, _, _, err := rules.ParseServiceName("name", name); err != nil {
		return nil, err
	}
	s.settleLocked()
	svc := s.services[name]
	if svc == nil {
		return nil, rules.ServiceNotFound(name)
	}
	return svc, nil
}

func (s *Server) ListServices(_ context.Context, req *runpb.ListServicesRequest) (*runpb.ListServicesResponse, error) {
	_, _, err := rules.ParseConcreteLocation("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	listed := make([]*runpb.Service, 0, len(s.serviceIndex[req.GetParent()]))
	for _, name := range s.serviceIndex[req.GetParent()] {
		listed = append(listed, s.services[name].svc)
	}
	if req.GetShowDeleted() {
		listed = append(listed, s.unexpiredDeletedServicesLocked(req.GetParent())...)
		slices.SortStableFunc(listed, func(a, b *runpb.Service) int { return strings.Compare(a.GetName(), b.GetName()) })
	}
	start, end, next, err := rules.PageBounds(req.GetPageSize(), req.GetPageToken(), len(listed))
	if err != nil {
		return nil, err
	}
	return &runpb.ListServicesResponse{Services: listed[start:end], NextPageToken: next}, nil
}

// unexpiredDeletedServicesLocked returns the deleted services of a location
// whose expire_time has not passed, and forgets the others. s.mu is held.
func (s *Server) unexpiredDeletedServicesLocked(location string) []*runpb.Service {
	now := s.nowLocked()
	kept := slices.DeleteFunc(s.deletedServices[location], func(svc *runpb.Service) bool {
		return !svc.GetExpireTime().AsTime().After(now)
	})
	s.deletedServices[location] = kept
	return kept
}

func (s *Server) UpdateService(_ context.Context, req *runpb.UpdateServiceRequest) (*longrunningpb.Operation, error) {
	if req.GetService() == nil {
		return nil, rules.InvalidArgument("service", "a service is required")
	}
	project, region, id, err := rules.ParseServiceName("service.name", req.GetService().GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	svc := s.services[req.GetService().GetName()]
	if svc == nil {
		if err := missingForUpdate(req.GetAllowMissing(), "service.name", req.GetService().GetName(), region, id, rules.ServiceNotFound, validateServiceID); err != nil {
			return nil, err
		}
		return s.createLocked(project, region, id, req.GetService(), req.GetValidateOnly())
	}
	if err := rules.CheckEtag(s.cfg.Compat.etagMismatchCode(), "service", req.GetService().GetEtag(), svc.svc.GetEtag(), id); err != nil {
		return nil, err
	}
	return updateRevisionedLocked(s, s.serviceKindLocked(svc), req.GetService(), req.GetUpdateMask().GetPaths(), req.GetForceNewRevision(), req.GetValidateOnly())
}

// serviceKindLocked is svc's side of the update path shared with worker pools. Must be called with s.mu held.
func (s *Server) serviceKindLocked(svc *service) revisionedKind[*runpb.Service, *runpb.RevisionTemplate] {
	return revisionedKind[*runpb.Service, *runpb.RevisionTemplate]{
		title: "Service", id: svc.id, owner: svc.name, location: svc.location, cur: svc.svc,
		pending: func() *operation { return s.pendingRolloutLocked(svc) },
		prepare: func(next *runpb.Service) error {
			normalizeService(next)
			if s.cfg.Compat.AcceptFullRevisionNames {
				shortenRevisionNames(svc.name, next.GetTraffic())
			}
			if err := validateService(svc.id, next); err != nil {
				return err
			}
			if err := s.checkRegionsLocked(svc.project, svc.region, svc.id, next, svc.svc); err != nil {
				return err
			}
			applyServiceDefaults(next)
			return nil
		},
		template:         (*runpb.Service).GetTemplate,
		revisionTemplate: func(r *revision) *runpb.RevisionTemplate { return r.template },
		newRevision: func(generation int64, t *runpb.RevisionTemplate) (*revision, error) {
			return s.newRevisionLocked(svc, generation, t)
		},
		markReconciling: markReconciling,
		commit: func(next *runpb.Service, rev *revision) (*longrunningpb.Operation, error) {
			waitFor, follow, missing := s.trafficWaitsLocked(svc, next.GetTraffic(), rev)
			before := svc.svc.GetMultiRegionSettings().GetRegions()
			svc.svc = next
			if rev != nil {
				s.addRevisionLocked(svc, rev)
			}
			if err := s.replicateLocked(svc, before, rev); err != nil {
				return nil, err
			}
			return s.startOperationLocked(svc, waitFor, follow, missing)
		},
	}
}

// newRevisionLocked builds (without registering) a revision of svc from
// template t, named by t.revision or automatically {service}-{generation}-{xyz}.
// Must be called with s.mu held.
func (s *Server) newRevisionLocked(svc *service, generation int64, t *runpb.RevisionTemplate) (*revision, error) {
	name, err := s.revisionIDLocked(svc.name, svc.id, "service", svc.deletedRevisions, generation, t.GetRevision())
	if err != nil {
		return nil, err
	}
	tmpl := proto.Clone(t).(*runpb.RevisionTemplate)
	tmpl.Revision = name
	r := s.startRevisionLocked(rules.RevisionName(svc.name, name), tmpl)
	r.service = svc
	return r, nil
}

// revisionIDLocked returns the short name of a new revision of the service or worker pool named owner
// (kind "service" or "worker_pool"): requested when given and free, else {id}-{generation}-{xyz}. A
// requested name must start with the owner's id and a hyphen and never have been used, even by a
// deleted revision. Must be called with s.mu held.
func (s *Server) revisionIDLocked(owner, id, kind string, deleted map[string]bool, generation int64, requested string) (string, error) {
	name := requested
	switch {
	case name == "":
		for name == "" || s.revisions[rules.RevisionName(owner, name)] != nil || deleted[name] {
			name = fmt.Sprintf("%s-%05d-%s", id, generation, s.randomLettersLocked(3))
		}
	case !strings.HasPrefix(name, id+"-") || len(name) > 63 || !rules.DnsLabelPattern.MatchString(name):
		return "", rules.InvalidArgument(kind+".template.revision", fmt.Sprintf(
			"revision name %q must start with the %s name followed by a hyphen (%q), use only lowercase letters, digits and hyphens, not end with a hyphen, and have at most 63 characters",
			name, strings.ReplaceAll(kind, "_", " "), id+"-"))
	case s.revisions[rules.RevisionName(owner, name)] != nil:
		return "", status.Errorf(codes.AlreadyExists, "Revision named '%s' with different configuration already exists.", name)
	case deleted[name]:
		return "", status.Errorf(codes.AlreadyExists, "Revision named '%s' was deleted; the name of a deleted revision cannot be reused.", name)
	}
	return name, nil
}

// startRevisionLocked builds a revision named name (full) running tmpl, pending readiness as the server's
// readiness settings and the behaviours of its image or name say. Must be called with s.mu held.
func (s *Server) startRevisionLocked(name string, tmpl *runpb.RevisionTemplate) *revision {
	now := s.nowLocked()
	r := &revision{
		name:       name,
		uid:        s.newUIDLocked(),
		etag:       s.newEtagLocked(),
		template:   tmpl,
		createTime: now,
		readyAt:    now.Add(s.readinessDelay),
		manual:     s.manualReady,
		changedAt:  now,
	}
	if r.failImage = s.failingImageLocked(r); r.failImage != "" {
		r.manual = false // a failing image fails on schedule even with manual readiness
	}
	if d := s.behaviorLocked(r).ReadinessDelay; d > 0 {
		r.readyAt, r.manual = now.Add(d), false
	}
	return r
}

// addRevisionLocked registers r and, above the revision cap, deletes the
// oldest revisions that serve no traffic. Must be called with s.mu held.
func (s *Server) addRevisionLocked(svc *service, r *revision) {
	r.seq = svc.nextSeq
	svc.nextSeq++
	svc.revisions = append(svc.revisions, r)
	s.revisions[r.name] = r
	for i := 0; len(svc.revisions) > s.cfg.RevisionCap && i < len(svc.revisions)-1; {
		old := svc.revisions[i]
		if s.addressableLocked(old) || s.awaitedLocked(old) {
			i++
			continue
		}
		s.removeRevisionLocked(old)
	}
}

// awaitedLocked reports whether a pending operation waits for r.
// Must be called with s.mu held.
func (s *Server) awaitedLocked(r *revision) bool {
	for _, op := range s.pending {
		if op.follow == r || slices.Contains(op.waitFor, r) {
			return true
		}
	}
	return false
}

// removeRevisionLocked deletes r, keeping it as a tombstone. Must be called with s.mu held.
func (s *Server) removeRevisionLocked(r *revision) {
	svc := r.service
	i, found := slices.BinarySearchFunc(svc.revisions, r.seq, func(x *revision, seq int64) int { return int(x.seq - seq) })
	if found {
		svc.revisions = slices.Delete(svc.revisions, i, i+1)
	}
	delete(s.revisions, r.name)
	svc.tombstones = append(svc.tombstones, tombstone{seq: r.seq, rev: s.deletedRevisionLocked(r)})
	if len(svc.tombstones) > s.cfg.RevisionCap {
		svc.tombstones = slices.Delete(svc.tombstones, 0, len(svc.tombstones)-s.cfg.RevisionCap)
	}
	if !s.cfg.Compat.AllowDeletedRevisionNames {
		if svc.deletedRevisions == nil {
			svc.deletedRevisions = map[string]bool{}
		}
		svc.deletedRevisions[rules.ShortName(r.name)] = true
	}
}

func (s *Server) DeleteService(_ context.Context, req *runpb.DeleteServiceRequest) (*longrunningpb.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, err := s.serviceLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	if err := rules.CheckEtag(s.cfg.Compat.etagMismatchCode(), "service", req.GetEtag(), svc.svc.GetEtag(), svc.id); err != nil {
		return nil, err
	}
	if req.GetValidateOnly() {
		return validateOnlyOperation(svc.location, deletedView(svc.svc, s.nowLocked()))
	}
	for _, c := range s.multiRegionCopiesLocked(svc) {
		s.deleteServiceLocked(c)
	}
	resp := s.deleteServiceLocked(svc)
	return s.doneOperationLocked(svc.location, resp)
}

// deleteServiceLocked deletes svc and its revisions, keeps it for show_deleted and returns it as deleted.
// Must be called with s.mu held.
func (s *Server) deleteServiceLocked(svc *service) *runpb.Service {
	resp := deletedView(svc.svc, s.nowLocked())
	delete(s.services, svc.name)
	s.iam.Forget(svc.name)
	s.deletedServices[svc.location] = append(s.deletedServices[svc.location], resp)
	for _, h := range serviceHosts(svc.svc) {
		delete(s.hosts, h)
	}
	names := s.serviceIndex[svc.location]
	if i, found := slices.BinarySearch(names, svc.name); found {
		s.serviceIndex[svc.location] = slices.Delete(names, i, i+1)
	}
	for _, r := range svc.revisions {
		delete(s.revisions, r.name)
	}
	svc.revisions = nil
	svc.deleted = true
	s.dirty = true
	return resp
}

// deletedView is svc as a delete at now answers it, with delete_time and expire_time.
func deletedView(svc *runpb.Service, now time.Time) *runpb.Service {
	resp := proto.Clone(svc).(*runpb.Service)
	resp.DeleteTime = timestamppb.New(now)
	resp.ExpireTime = timestamppb.New(now.Add(deletedRetention))
	return resp
}
