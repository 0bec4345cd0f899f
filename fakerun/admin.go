package fakerun

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// InjectFault makes calls to method (an RPC short name from Methods) fail or
// slow down; faults for one method apply in the order they were added.
// An unknown method name is ignored, since it could never match a call.
func (s *Server) InjectFault(method string, f Fault) {
	if validateFault(method, f) != nil {
		return
	}
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	s.impl.faults[method] = append(s.impl.faults[method], newFaultState(f))
}

// ClearFaults removes every fault, including those given by WithFault.
func (s *Server) ClearFaults() {
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	s.impl.faults = map[string][]*faultState{}
}

// SetReadinessDelay changes the delay after which revisions created from
// now on become ready (see WithReadinessDelay).
func (s *Server) SetReadinessDelay(d time.Duration) {
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	s.impl.readinessDelay = max(d, 0)
}

// SetIngestionDelay changes how long after the end of their second request metrics become visible to
// ListTimeSeries (see WithIngestionDelay); it applies to the points already recorded too.
func (s *Server) SetIngestionDelay(d time.Duration) {
	s.metrics.SetIngestionDelay(d)
}

// IngestionDelay returns the current ingestion delay of request metrics.
func (s *Server) IngestionDelay() time.Duration {
	return s.metrics.IngestionDelay()
}

// SetManualReadiness switches manual readiness (see WithManualReadiness) for
// revisions created from now on.
func (s *Server) SetManualReadiness(manual bool) {
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	s.impl.manualReady = manual
}

// Readiness returns how revisions created from now on become ready: after
// delay, or only when SetRevisionReady decides it when manual is true.
func (s *Server) Readiness() (delay time.Duration, manual bool) {
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	return s.impl.readinessDelay, s.impl.manualReady
}

// SetRevisionReady decides a revision's readiness now: true makes it Ready,
// false makes it fail (Ready condition FAILED), which fails the rollouts
// waiting for it. revisionName is a full resource name or, when unambiguous,
// a short name such as "svc-00002-abc".
func (s *Server) SetRevisionReady(revisionName string, ready bool) error {
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	r, err := s.impl.findRevisionLocked(revisionName)
	if err != nil {
		return err
	}
	now := s.impl.nowLocked()
	if ready {
		s.impl.setRevisionStateLocked(r, revReady, 0, "", now)
	} else {
		s.impl.setRevisionStateLocked(r, revFailed, runpb.Condition_REVISION_FAILED,
			"The user-provided container failed to start and listen on the port defined provided by the PORT=8080 environment variable within the allocated timeout.", now)
	}
	r.manual = true // decided by hand from now on
	s.impl.settleLocked()
	return nil
}

// findRevisionLocked looks a revision up by full or short name.
// Must be called with s.mu held.
func (s *server) findRevisionLocked(name string) (*revision, error) {
	if strings.Contains(name, "/") {
		if r := s.revisions[name]; r != nil {
			return r, nil
		}
		return nil, fmt.Errorf("fakerun: revision %q not found", name)
	}
	var found *revision
	for _, r := range s.revisions {
		if shortName(r.name) == name {
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
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	b := s.impl.behaviors.Images[image]
	b.Fail = true
	s.impl.behaviors.Images[image] = b
}

// SetNow freezes the server's own clock at t; Advance then moves it.
// It has no effect when the server was built WithClock.
func (s *Server) SetNow(t time.Time) {
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	s.impl.ownFrozen, s.impl.ownNow = true, t
}

// Advance moves the server's own clock forward by d (frozen or not).
// It has no effect when the server was built WithClock.
func (s *Server) Advance(d time.Duration) {
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	if s.impl.ownFrozen {
		s.impl.ownNow = s.impl.ownNow.Add(d)
	} else {
		s.impl.ownOffset += d
	}
}

// Faults returns the registered faults by method, each method's in the order
// they apply. Times is the number of calls a fault still affects (0: every call).
func (s *Server) Faults() map[string][]Fault {
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	out := map[string][]Fault{}
	for method, queue := range s.impl.faults {
		for _, f := range queue {
			fault := f.Fault
			fault.Times = max(f.remaining, 0)
			out[method] = append(out[method], fault)
		}
	}
	return out
}

// FailingImages returns the images whose revisions fail, sorted (see AddFailingImage).
func (s *Server) FailingImages() []string {
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	out := []string{}
	for img, b := range s.impl.behaviors.Images {
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
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	return ClockStatus{Now: s.impl.nowLocked(), Frozen: s.impl.ownFrozen, Injected: s.impl.cfg.clock != nil}
}

// Calls returns the RPCs received so far (the most recent ones, at least
// 10,000), oldest first, over gRPC and REST alike.
func (s *Server) Calls() []Call {
	return s.impl.calls.snapshot()
}

// ResetCalls empties the call log. Call.Seq keeps counting.
func (s *Server) ResetCalls() {
	s.impl.calls.reset()
}

// CallMark returns the Seq of the last call answered so far (0 before the first): pass it to
// WaitForCallAfter to wait for a call that comes after this point.
func (s *Server) CallMark() uint64 {
	return s.impl.calls.mark()
}

// WaitForCall returns the oldest call to method (an RPC short name from Methods) in the call log,
// blocking until one is answered when there is none yet. It returns ctx's error when ctx ends first.
func (s *Server) WaitForCall(ctx context.Context, method string) (Call, error) {
	return s.impl.calls.wait(ctx, method, 0)
}

// WaitForCallAfter returns the first call to method whose Seq is above after (a CallMark, or the Seq of
// a call already seen), blocking until one is answered. A call answered before WaitForCallAfter was
// called counts, so "mark, act, wait" cannot miss it; waiting again with the returned call's Seq waits
// for the next one. It returns ctx's error when ctx ends first.
func (s *Server) WaitForCallAfter(ctx context.Context, after uint64, method string) (Call, error) {
	return s.impl.calls.wait(ctx, method, after)
}

// Service returns a copy of the named service (full resource name).
func (s *Server) Service(name string) (*runpb.Service, error) {
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	s.impl.settleLocked()
	svc := s.impl.services[name]
	if svc == nil {
		return nil, serviceNotFound(name)
	}
	return proto.Clone(svc.svc).(*runpb.Service), nil
}

// Revisions returns copies of a service's revisions, newest first (none
// when the service does not exist).
func (s *Server) Revisions(serviceName string) []*runpb.Revision {
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	s.impl.settleLocked()
	svc := s.impl.services[serviceName]
	if svc == nil {
		return nil
	}
	return s.impl.revisionCopiesLocked(svc)
}

// revisionCopiesLocked renders svc's revisions newest first.
// Must be called with s.mu held.
func (s *server) revisionCopiesLocked(svc *service) []*runpb.Revision {
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
}

// MarshalJSON renders the state as {"services":[…],"revisions":{…},"jobs":[…],"executions":{…},"operations":[…]}.
func (st *State) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Services   []json.RawMessage            `json:"services"`
		Revisions  map[string][]json.RawMessage `json:"revisions"`
		Jobs       []json.RawMessage            `json:"jobs"`
		Executions map[string][]json.RawMessage `json:"executions"`
		Operations []json.RawMessage            `json:"operations"`
	}{rawList(st.Services), rawLists(st.Revisions), rawList(st.Jobs), rawLists(st.Executions), rawList(st.Operations)})
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

// State returns a copy of all services, revisions, jobs, executions and operations.
func (s *Server) State() *State {
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	s.impl.settleLocked()
	st := &State{Revisions: map[string][]*runpb.Revision{}}
	for _, names := range s.impl.serviceIndex {
		for _, name := range names {
			svc := s.impl.services[name]
			st.Services = append(st.Services, proto.Clone(svc.svc).(*runpb.Service))
			st.Revisions[name] = s.impl.revisionCopiesLocked(svc)
		}
	}
	slices.SortFunc(st.Services, func(a, b *runpb.Service) int { return strings.Compare(a.GetName(), b.GetName()) })
	st.Jobs, st.Executions = s.impl.jobCopiesLocked()
	for _, op := range s.impl.sortedOperationsLocked("") {
		st.Operations = append(st.Operations, proto.Clone(op.op).(*longrunningpb.Operation))
	}
	return st
}

// Reset drops all services, revisions, jobs, executions, operations, faults, calls, metrics
// and finished load runs (running ones stop), and restores the options given
// to NewServer (clock, readiness, behaviours, seed, ingestion delay).
func (s *Server) Reset() {
	s.impl.mu.Lock()
	s.impl.resetLocked()
	s.impl.mu.Unlock()
	s.metrics.Reset()
	s.metrics.SetIngestionDelay(s.ingestionDelay)
	s.loads.reset()
}
