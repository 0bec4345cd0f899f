package control

import (
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
)

// maxTagAndServiceLen is Cloud Run's limit on len(tag)+len(service id).
const maxTagAndServiceLen = 46

// targetType resolves TRAFFIC_TARGET_ALLOCATION_TYPE_UNSPECIFIED: a target
// naming a revision pins it, otherwise it follows the latest ready revision.
func targetType(t *runpb.TrafficTarget) runpb.TrafficTargetAllocationType {
	if t.GetType() != runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_UNSPECIFIED {
		return t.GetType()
	}
	if t.GetRevision() != "" {
		return runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
	}
	return runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
}

// defaultTraffic is what Cloud Run stores when traffic is empty.
func defaultTraffic() []*runpb.TrafficTarget {
	return []*runpb.TrafficTarget{{
		Type:    runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST,
		Percent: 100,
	}}
}

// validateTraffic checks the rules that do not depend on which revisions
// exist: percentages, types and tags.
func validateTraffic(serviceID string, traffic []*runpb.TrafficTarget) error {
	sum := 0
	tags := make(map[string]int, len(traffic))
	for i, t := range traffic {
		field := func(sub string) string { return fmt.Sprintf("service.traffic[%d]%s", i, sub) } // built only for an error
		if t.GetPercent() < 0 || t.GetPercent() > 100 {
			return rules.InvalidArgument(field(".percent"), fmt.Sprintf("percent must be between 0 and 100, got %d", t.GetPercent()))
		}
		sum += int(t.GetPercent())
		switch t.GetType() {
		case runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_UNSPECIFIED:
		case runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION:
			if t.GetRevision() == "" {
				return rules.InvalidArgument(field(".revision"), "a target of type TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION must name a revision")
			}
		case runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST:
			if t.GetRevision() != "" {
				return rules.InvalidArgument(field(".revision"), fmt.Sprintf("a target of type TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST must not name a revision, got %q", t.GetRevision()))
			}
		default:
			return rules.InvalidArgument(field(".type"), fmt.Sprintf("unknown traffic type %d; allowed: TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST (1), TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION (2)", t.GetType()))
		}
		if tag := t.GetTag(); tag != "" {
			if len(tag) < 3 || !rules.DnsLabelPattern.MatchString(tag) {
				return rules.InvalidArgument(field(".tag"), fmt.Sprintf("tag %q must be at least 3 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen", tag))
			}
			if len(tag)+len(serviceID) > maxTagAndServiceLen {
				return rules.InvalidArgument(field(".tag"), fmt.Sprintf("Combined traffic tag and service name cannot exceed %d characters (tag %q, service %q).", maxTagAndServiceLen, tag, serviceID))
			}
			if j, dup := tags[tag]; dup {
				return rules.InvalidArgument(field(".tag"), fmt.Sprintf("tag %q is already used by service.traffic[%d]; tags must be unique", tag, j))
			}
			tags[tag] = i
		}
	}
	if len(traffic) > 0 && sum != 100 {
		return rules.InvalidArgument("service.traffic", fmt.Sprintf("traffic percentages must add up to 100, got %d", sum))
	}
	return nil
}

// latestReadyLocked returns the newest ready revision of svc, or nil: the one revision a LATEST target
// resolves to, for traffic statuses, routing and the console (LatestReady). Must be called with s.mu held.
func (s *Server) latestReadyLocked(svc *service) *revision {
	for i := len(svc.revisions) - 1; i >= 0; i-- {
		if s.revisionStateLocked(svc.revisions[i]) == revReady {
			return svc.revisions[i]
		}
	}
	return nil
}

// trafficStatusesLocked resolves traffic into observed statuses and returns
// the newest revision that receives traffic. LATEST statuses carry no
// revision name, as on Cloud Run. Must be called with s.mu held.
func (s *Server) trafficStatusesLocked(svc *service, traffic []*runpb.TrafficTarget) ([]*runpb.TrafficTargetStatus, *revision) {
	latest := s.latestReadyLocked(svc)
	var newestServing *revision
	serve := func(r *revision, percent int32) {
		if r != nil && percent > 0 && (newestServing == nil || r.seq > newestServing.seq) {
			newestServing = r
		}
	}
	statuses := make([]*runpb.TrafficTargetStatus, 0, len(traffic))
	for _, t := range traffic {
		st := &runpb.TrafficTargetStatus{Type: targetType(t), Percent: t.GetPercent(), Tag: t.GetTag()}
		if st.Type == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION {
			st.Revision = t.GetRevision()
			serve(s.revisions[rules.RevisionName(svc.name, t.GetRevision())], t.GetPercent())
		} else {
			serve(latest, t.GetPercent())
		}
		if st.Tag != "" {
			st.Uri = serviceURI(svc.project, svc.region, svc.id, st.Tag)
		}
		statuses = append(statuses, st)
	}
	return statuses, newestServing
}

// addressableLocked reports whether r is named by the service's desired or
// observed traffic (with a percentage or a tag) or resolved by a LATEST target.
// Must be called with s.mu held.
func (s *Server) addressableLocked(r *revision) bool {
	svc := r.service.svc
	short := rules.ShortName(r.name)
	for _, t := range svc.GetTraffic() {
		if t.GetRevision() == short {
			return true
		}
	}
	for _, t := range svc.GetTrafficStatuses() {
		if t.GetRevision() == short && (t.GetPercent() > 0 || t.GetTag() != "") {
			return true
		}
		if t.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST &&
			svc.GetLatestReadyRevision() == r.name {
			return true
		}
	}
	return false
}

// LatestReady returns, by service name, the short name of the revision a LATEST target sends requests to
// (the newest ready one; services with none are absent).
func (s *Server) LatestReady() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	out := map[string]string{}
	for name, svc := range s.services {
		if r := s.latestReadyLocked(svc); r != nil && !svc.deleted {
			out[name] = rules.ShortName(r.name)
		}
	}
	return out
}
