package fakerun

import (
	"net"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/knative"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/metrics"
)

// runHostSuffix ends every service and tag URL host fakerun reports.
const runHostSuffix = ".run.app"

// isServingHost reports whether a Host header names a service or tag URL.
func isServingHost(host string) bool {
	return strings.HasSuffix(canonicalHost(host), runHostSuffix)
}

// canonicalHost is a Host header as DNS compares it: lower case, without the port and the trailing dot
// of a fully qualified name.
func canonicalHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// serviceHosts are the host names of a service's uri and urls.
func serviceHosts(svc *runpb.Service) []string {
	var hosts []string
	for _, u := range append([]string{svc.GetUri()}, svc.GetUrls()...) {
		if h, ok := strings.CutPrefix(u, "https://"); ok {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// servingImage is the image of the container that receives requests: the
// one with a port, else the first.
func servingImage(t *runpb.RevisionTemplate) string {
	for _, c := range t.GetContainers() {
		if len(c.GetPorts()) > 0 {
			return c.GetImage()
		}
	}
	if cs := t.GetContainers(); len(cs) > 0 {
		return cs[0].GetImage()
	}
	return ""
}

// servingContainer is the container servingImage names, or nil.
func servingContainer(t *runpb.RevisionTemplate) *runpb.Container {
	img := servingImage(t)
	for _, c := range t.GetContainers() {
		if c.GetImage() == img {
			return c
		}
	}
	return nil
}

// target is a revision chosen to answer one request, with what it does
// and the random draws made for the request.
type target struct {
	revision  string // full name
	resource  metrics.Resource
	image     string
	container *runpb.Container // nil when the template has none
	behavior  Behavior
	fail      bool          // answer with behavior's error code
	latency   time.Duration // modelled: knobs' latency for this request
	trace     string        // X-Cloud-Trace-Context for proxied requests
}

// routeResult is why no revision answers a request.
type routeResult int

const (
	routed          routeResult = iota
	routeNotFound               // unknown host, tag or deleted service: 404
	routeNoRevision             // no ready revision to send it to: 503
)

// routeLocked picks the revision for a request to host: for a service URL
// by the published traffic split (LATEST is the newest ready revision),
// for a tag URL the tagged revision. Must be called with s.mu held.
func (s *server) routeLocked(host string) (target, routeResult) {
	host = canonicalHost(host)
	tag, base, tagged := strings.Cut(host, "---")
	if !tagged {
		base, tag = host, ""
	}
	svc := s.hosts[base]
	if svc == nil {
		return target{}, routeNotFound
	}
	s.settleLocked()
	statuses := svc.svc.GetTrafficStatuses()
	var chosen *runpb.TrafficTargetStatus
	if tag != "" {
		for _, st := range statuses {
			if st.GetTag() == tag {
				chosen = st
			}
		}
		if chosen == nil {
			return target{}, routeNotFound
		}
	} else {
		draw := int32(s.serveRng.IntN(100))
		for _, st := range statuses {
			if draw < st.GetPercent() {
				chosen = st
				break
			}
			draw -= st.GetPercent()
		}
		if chosen == nil {
			return target{}, routeNoRevision
		}
	}
	r := s.statusRevisionLocked(svc, chosen)
	if r == nil || s.revisionStateLocked(r) != revReady {
		return target{}, routeNoRevision
	}
	t := s.targetLocked(r)
	t.fail = t.behavior.ErrorRate > 0 && s.serveRng.Float64() < t.behavior.ErrorRate
	t.latency = s.drawLatencyLocked(t.behavior)
	if t.behavior.Backend != "" || t.behavior.Docker {
		t.trace = s.newTraceLocked()
	}
	return t, routed
}

// statusRevisionLocked resolves a traffic status to its revision (LATEST:
// the newest ready one), or nil. Must be called with s.mu held.
func (s *server) statusRevisionLocked(svc *service, st *runpb.TrafficTargetStatus) *revision {
	if st.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION {
		return s.revisions[revisionName(svc.name, st.GetRevision())]
	}
	return s.latestReadyLocked(svc)
}

// targetLocked describes r as a request target, before any draws.
// Must be called with s.mu held.
func (s *server) targetLocked(r *revision) target {
	svc := r.service
	return target{
		revision: r.name,
		resource: metrics.Resource{ProjectID: svc.project, Location: svc.region, ServiceName: svc.id,
			RevisionName: shortName(r.name), ConfigurationName: svc.id},
		image:     servingImage(r.template),
		container: servingContainer(r.template),
		behavior:  s.behaviorLocked(r),
	}
}

// servingTargetsLocked returns the ready revisions that receive requests
// (a percentage or a tag), by full name. Must be called with s.mu held.
func (s *server) servingTargetsLocked() map[string]target {
	s.settleLocked()
	out := map[string]target{}
	for _, svc := range s.services {
		for _, st := range svc.svc.GetTrafficStatuses() {
			if st.GetPercent() == 0 && st.GetTag() == "" {
				continue
			}
			if r := s.statusRevisionLocked(svc, st); r != nil && s.revisionStateLocked(r) == revReady {
				out[r.name] = s.targetLocked(r)
			}
		}
	}
	return out
}

// hostRouter sends requests for service and tag URLs to the data plane, those
// for the v1 API's hosts ({region}-run.googleapis.com, and run.googleapis.com/v1/)
// to the v1 API, and the rest to the API mux. A *.run.app host never reaches an
// API, however it is spelt.
type hostRouter struct {
	serving, v1, api http.Handler
}

func (h hostRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := canonicalHost(r.Host)
	switch {
	case strings.HasSuffix(host, runHostSuffix):
		h.serving.ServeHTTP(w, r)
	case knative.Serves(host, r.URL.Path):
		h.v1.ServeHTTP(w, r)
	default:
		h.api.ServeHTTP(w, r)
	}
}
