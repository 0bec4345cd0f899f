package control

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/behavior"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// SetReadinessDelay changes the delay after which revisions created from
// now on become ready (see WithReadinessDelay).
func (s *Server) SetReadinessDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readinessDelay = max(d, 0)
}

// SetManualReadiness switches manual readiness (see WithManualReadiness) for
// revisions created from now on.
func (s *Server) SetManualReadiness(manual bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.manualReady = manual
}

// Readiness returns how revisions created from now on become ready: after
// delay, or only when SetRevisionReady decides it when manual is true.
func (s *Server) Readiness() (delay time.Duration, manual bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readinessDelay, s.manualReady
}

// SetRevisionReady decides a revision's readiness now: true makes it Ready,
// false makes it fail (Ready condition FAILED), which fails the rollouts
// waiting for it. revisionName is a full resource name or, when unambiguous,
// a short name such as "svc-00002-abc".
func (s *Server) SetRevisionReady(revisionName string, ready bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.findRevisionLocked(revisionName)
	if err != nil {
		return err
	}
	now := s.nowLocked()
	if ready {
		s.setRevisionStateLocked(r, revReady, 0, "", now)
	} else {
		s.setRevisionStateLocked(r, revFailed, runpb.Condition_REVISION_FAILED,
			"The user-provided container failed to start and listen on the port defined provided by the PORT=8080 environment variable within the allocated timeout.", now)
	}
	r.manual = true // decided by hand from now on
	s.settleLocked()
	return nil
}

// findRevisionLocked looks a revision up by full or short name.
// Must be called with s.mu held.
func (s *Server) findRevisionLocked(name string) (*revision, error) {
	if strings.Contains(name, "/") {
		if r := s.revisions[name]; r != nil {
			return r, nil
		}
		return nil, fmt.Errorf("fakerun: revision %q not found", name)
	}
	var found *revision
	for _, r := range s.revisions {
		if rules.ShortName(r.name) == name {
			if found != nil {
				return nil, fmt.Errorf("fakerun: revision name %q is ambiguous (%s and %s); pass the full name", name, found.name, r.name)
			}
			found = r
		}
	}
	if found == nil {
		return nil, fmt.Errorf("fakerun: revision %q not found", name)
	}
	return found, nil
}

// AddFailingImage makes revisions created from now on with image fail (see
// WithFailingImage); it sets Behavior.Fail for the image.
func (s *Server) AddFailingImage(image string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.behaviors.Images[image]
	b.Fail = true
	s.behaviors.Images[image] = b
}

// SetNow freezes the server's own clock at t; Advance then moves it.
// It has no effect when the server was built WithClock.
func (s *Server) SetNow(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock.set(func(c *clock) { c.frozen, c.at = true, t })
}

// Advance moves the server's own clock forward by d (frozen or not).
// It has no effect when the server was built WithClock.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock.set(func(c *clock) {
		if c.frozen {
			c.at = c.at.Add(d)
		} else {
			c.offset += d
		}
	})
}

// FailingImages returns the images whose revisions fail, sorted (see AddFailingImage).
func (s *Server) FailingImages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []string{}
	for img, b := range s.behaviors.Images {
		if b.Fail {
			out = append(out, img)
		}
	}
	slices.Sort(out)
	return out
}

// ClockStatus describes the server's clock.
type ClockStatus struct {
	// Now is the server's current time.
	Now time.Time
	// Frozen is true once SetNow has frozen the server's own clock.
	Frozen bool
	// Injected is true when the clock was given with WithClock: SetNow and Advance then do nothing.
	Injected bool
}

// Clock returns the state of the server's clock.
func (s *Server) Clock() ClockStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ClockStatus{Now: s.nowLocked(), Frozen: s.clock.frozen, Injected: s.cfg.Clock != nil}
}

// Service returns a copy of the named service (full resource name).
func (s *Server) Service(name string) (*runpb.Service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	svc := s.services[name]
	if svc == nil {
		return nil, rules.ServiceNotFound(name)
	}
	return proto.Clone(svc.svc).(*runpb.Service), nil
}

// Revisions returns copies of a service's revisions, newest first (none
// when the service does not exist).
func (s *Server) Revisions(serviceName string) []*runpb.Revision {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	svc := s.services[serviceName]
	if svc == nil {
		return nil
	}
	return s.revisionCopiesLocked(svc)
}

// revisionCopiesLocked renders svc's revisions newest first.
// Must be called with s.mu held.
func (s *Server) revisionCopiesLocked(svc *service) []*runpb.Revision {
	out := make([]*runpb.Revision, 0, len(svc.revisions))
	for i := len(svc.revisions) - 1; i >= 0; i-- {
		out = append(out, proto.Clone(s.revisionProtoLocked(svc.revisions[i])).(*runpb.Revision))
	}
	return out
}

// State is a snapshot of everything the fake holds. It marshals to JSON with
// protojson (camelCase field names) via encoding/json.
type State struct {
	Services   []*runpb.Service              // by name
	Revisions  map[string][]*runpb.Revision  // by service name, newest first
	Jobs       []*runpb.Job                  // by name
	Executions map[string][]*runpb.Execution // by job name, newest first
	Operations []*longrunningpb.Operation    // oldest first
	// WorkerPools are by name, WorkerPoolRevisions by pool name (newest first), and Instances by pool name
	// then short revision name: the instances each revision runs under the pool's applied split.
	WorkerPools         []*runpb.WorkerPool
	WorkerPoolRevisions map[string][]*runpb.Revision
	Instances           map[string]map[string]int32
}

// MarshalJSON renders the state as {"services":[…],"revisions":{…},"jobs":[…],"executions":{…},"operations":[…],
// "workerPools":[…],"workerPoolRevisions":{…},"instances":{…}}.
func (st *State) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Services            []json.RawMessage            `json:"services"`
		Revisions           map[string][]json.RawMessage `json:"revisions"`
		Jobs                []json.RawMessage            `json:"jobs"`
		Executions          map[string][]json.RawMessage `json:"executions"`
		Operations          []json.RawMessage            `json:"operations"`
		WorkerPools         []json.RawMessage            `json:"workerPools"`
		WorkerPoolRevisions map[string][]json.RawMessage `json:"workerPoolRevisions"`
		Instances           map[string]map[string]int32  `json:"instances"`
	}{rawList(st.Services), rawLists(st.Revisions), rawList(st.Jobs), rawLists(st.Executions), rawList(st.Operations),
		rawList(st.WorkerPools), rawLists(st.WorkerPoolRevisions), st.Instances})
}

// rawList renders messages with protojson (null for one that fails).
func rawList[M proto.Message](ms []M) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(ms))
	for _, m := range ms {
		b, err := protojson.Marshal(m)
		if err != nil {
			b = json.RawMessage(`null`)
		}
		out = append(out, b)
	}
	return out
}

// rawLists renders lists of messages by key.
func rawLists[M proto.Message](byKey map[string][]M) map[string][]json.RawMessage {
	out := make(map[string][]json.RawMessage, len(byKey))
	for key, ms := range byKey {
		out[key] = rawList(ms)
	}
	return out
}

// State returns a copy of all services, revisions, jobs, executions, operations and worker pools.
func (s *Server) State() *State {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	st := &State{Revisions: map[string][]*runpb.Revision{}}
	for _, names := range s.serviceIndex {
		for _, name := range names {
			svc := s.services[name]
			st.Services = append(st.Services, proto.Clone(svc.svc).(*runpb.Service))
			st.Revisions[name] = s.revisionCopiesLocked(svc)
		}
	}
	slices.SortFunc(st.Services, func(a, b *runpb.Service) int { return strings.Compare(a.GetName(), b.GetName()) })
	st.Jobs, st.Executions = s.jobCopiesLocked()
	st.WorkerPoolRevisions = map[string][]*runpb.Revision{}
	for name, pool := range s.pools.pools {
		st.WorkerPools = append(st.WorkerPools, proto.Clone(pool.wp).(*runpb.WorkerPool))
		st.WorkerPoolRevisions[name] = s.poolRevisionCopiesLocked(pool)
	}
	slices.SortFunc(st.WorkerPools, func(a, b *runpb.WorkerPool) int { return strings.Compare(a.GetName(), b.GetName()) })
	st.Instances = s.allInstancesLocked()
	for _, op := range s.sortedOperationsLocked("") {
		st.Operations = append(st.Operations, proto.Clone(op.op).(*longrunningpb.Operation))
	}
	return st
}

// Reset drops all services, revisions, jobs, executions and operations and restores the Config given to New.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

// MergeBehaviors replaces the behaviours of the images and revisions named in bs (already validated),
// keeping the others.
func (s *Server) MergeBehaviors(bs behavior.Behaviors) {
	s.mu.Lock()
	defer s.mu.Unlock()
	behavior.Merge(&s.behaviors, bs)
}

// ClearBehaviors removes every behaviour (failing images included).
func (s *Server) ClearBehaviors() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behaviors = behavior.Behaviors{Images: map[string]behavior.Behavior{}, Revisions: map[string]behavior.Behavior{}}
}

// Behaviors returns a copy of the behaviours by image and by revision.
func (s *Server) Behaviors() behavior.Behaviors {
	s.mu.Lock()
	defer s.mu.Unlock()
	return behavior.Behaviors{Images: maps.Clone(s.behaviors.Images), Revisions: maps.Clone(s.behaviors.Revisions)}
}
