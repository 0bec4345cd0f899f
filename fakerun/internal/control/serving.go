package control

import (
	"math/bits"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/behavior"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/docker"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/metrics"
)

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

// servingImage is the image of the ingress container.
func servingImage(t *runpb.RevisionTemplate) string {
	return ingressContainer(t).GetImage()
}

// ingressContainer is the container that receives requests: the one with a port, else the first; nil
// without containers.
func ingressContainer(t *runpb.RevisionTemplate) *runpb.Container {
	for _, c := range t.GetContainers() {
		if len(c.GetPorts()) > 0 {
			return c
		}
	}
	if len(t.GetContainers()) > 0 {
		return t.Containers[0]
	}
	return nil
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

// Target is a revision chosen to answer one request, with what it does
// and the random draws made for the request.
type Target struct {
	Revision  string // full name
	Resource  metrics.Resource
	Image     string
	Container *runpb.Container // nil when the template has none
	Behavior  behavior.Behavior
	Fail      bool          // answer with Behavior's error code
	Latency   time.Duration // modelled: knobs' latency for this request
	Trace     string        // X-Cloud-Trace-Context for proxied requests
	// Invokable is true when anyone may invoke the service: invoker IAM disabled, or allUsers holds
	// roles/run.invoker in its IAM policy.
	Invokable bool
}

// RouteResult is why no revision answers a request.
type RouteResult int

const (
	Routed          RouteResult = iota
	RouteNotFound               // unknown host, tag or deleted service: 404
	RouteNoRevision             // no ready revision to send it to: 503
)

// Route picks the revision for a request to host (see routeLocked) and reads the clock: when the request
// starts, and whether the clock runs in real time.
func (s *Server) Route(host string) (t Target, res RouteResult, start time.Time, realTime bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, res = s.routeLocked(host)
	return t, res, s.nowLocked(), s.cfg.Clock == nil && !s.clock.frozen
}

// routeLocked picks the revision for a request to host (lower case, without
// port or trailing dot: the data plane's CanonicalHost): for a service URL
// by the published traffic split (LATEST is the newest ready revision),
// for a tag URL the tagged revision. Must be called with s.mu held.
func (s *Server) routeLocked(host string) (Target, RouteResult) {
	tag, base, tagged := strings.Cut(host, "---")
	if !tagged {
		base, tag = host, ""
	}
	svc := s.hosts[base]
	if svc == nil {
		return Target{}, RouteNotFound
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
			return Target{}, RouteNotFound
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
			return Target{}, RouteNoRevision
		}
	}
	r := s.statusRevisionLocked(svc, chosen)
	if r == nil || s.revisionStateLocked(r) != revReady {
		return Target{}, RouteNoRevision
	}
	t := s.targetLocked(r)
	t.Invokable = svc.svc.GetInvokerIamDisabled() || s.iam.Public(svc.name)
	t.Fail = t.Behavior.ErrorRate > 0 && s.serveRng.Float64() < t.Behavior.ErrorRate
	t.Latency = s.drawLatencyLocked(t.Behavior)
	if t.Behavior.Backend != "" || t.Behavior.Docker {
		t.Trace = s.newTraceLocked()
	}
	return t, Routed
}

// statusRevisionLocked resolves a traffic status to its revision (LATEST:
// the newest ready one), or nil. Must be called with s.mu held.
func (s *Server) statusRevisionLocked(svc *service, st *runpb.TrafficTargetStatus) *revision {
	if st.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION {
		var buf [256]byte // the full name built on the stack: a lookup per routed request
		return s.revisions[string(rules.AppendRevisionName(buf[:0], svc.name, st.GetRevision()))]
	}
	return s.latestReadyLocked(svc)
}

// targetLocked describes r as a request Target, before any draws.
// Must be called with s.mu held.
func (s *Server) targetLocked(r *revision) Target {
	svc := r.service
	return Target{
		Revision: r.name,
		Resource: metrics.Resource{ProjectID: svc.project, Location: svc.region, ServiceName: svc.id,
			RevisionName: rules.ShortName(r.name), ConfigurationName: svc.id},
		Image:     servingImage(r.template),
		Container: servingContainer(r.template),
		Behavior:  s.behaviorLocked(r),
	}
}

// servingTargetsLocked returns the ready revisions that receive requests
// (a percentage or a tag), by full name. Must be called with s.mu held.
func (s *Server) servingTargetsLocked() map[string]Target {
	s.settleLocked()
	out := map[string]Target{}
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

// drawLatencyLocked draws the modelled latency of one request.
// Must be called with s.mu held.
func (s *Server) drawLatencyLocked(b behavior.Behavior) time.Duration {
	d := b.Latency
	if b.Jitter > 0 {
		d += time.Duration(s.serveRng.Int64N(int64(b.Jitter)))
	}
	if ps := b.LatencyPercentiles; len(ps) > 0 {
		d += behavior.SamplePercentiles(ps, s.serveRng.Float64()*100)
	}
	return d
}

// newTraceLocked returns an X-Cloud-Trace-Context value: TRACE_ID/SPAN_ID;o=1.
// Must be called with s.mu held.
func (s *Server) newTraceLocked() string {
	b := make([]byte, 0, 64)
	for range 2 {
		v := s.serveRng.Uint64()
		b = append(b, "0000000000000000"[:16-hexDigits(v)]...)
		b = strconv.AppendUint(b, v, 16)
	}
	b = append(b, '/')
	b = strconv.AppendUint(b, s.serveRng.Uint64()>>1, 10)
	return string(append(b, ";o=1"...))
}

// hexDigits is the number of hex digits of v.
func hexDigits(v uint64) int {
	return max(1, (bits.Len64(v)+3)/4)
}

// DockerRevisions returns the ready revisions that serve (a percentage or a tag) and whose behaviour is
// Docker, by full name: the ones that need a container.
func (s *Server) DockerRevisions() map[string]docker.Revision {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]docker.Revision{}
	if !s.anyDockerLocked() {
		return out
	}
	for name, t := range s.servingTargetsLocked() {
		if t.Behavior.Docker {
			out[name] = t.DockerRevision()
		}
	}
	return out
}

// DockerRevision describes t's revision as a container to run.
func (t Target) DockerRevision() docker.Revision {
	return docker.Revision{Name: t.Revision, Image: t.Image, Container: t.Container,
		Service: t.Resource.ServiceName, Short: t.Resource.RevisionName, Configuration: t.Resource.ConfigurationName}
}

// anyDockerLocked reports whether any behaviour asks for Docker.
// Must be called with s.mu held.
func (s *Server) anyDockerLocked() bool {
	for _, m := range []map[string]behavior.Behavior{s.behaviors.Images, s.behaviors.Revisions} {
		for _, b := range m {
			if b.Docker {
				return true
			}
		}
	}
	return false
}

// DockerPoolRevisions returns the ready worker pool revisions with instances under their pool's applied
// split whose behaviour is Docker, by full name, with their instance counts: the ones that need containers.
func (s *Server) DockerPoolRevisions() map[string]docker.PoolRevision {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]docker.PoolRevision{}
	if !s.anyDockerLocked() {
		return out
	}
	s.settleLocked()
	for _, pool := range s.pools.pools {
		for short, n := range s.poolInstancesLocked(pool) {
			r := s.revisions[rules.RevisionName(pool.name, short)]
			if r == nil || s.revisionStateLocked(r) != revReady || !s.behaviorLocked(r).Docker {
				continue
			}
			out[r.name] = docker.PoolRevision{Name: r.name, Image: servingImage(r.template),
				Container: servingContainer(r.template), Pool: pool.id, Short: short, Instances: int(n)}
		}
	}
	return out
}
