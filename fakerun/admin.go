package fakerun

import (
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/control"
)

// ClockStatus describes the server's clock: Now (its current time), Frozen (true once SetNow has frozen
// the server's own clock) and Injected (true when the clock was given with WithClock: SetNow and Advance
// then do nothing).
type ClockStatus = control.ClockStatus

// State is a snapshot of everything the fake holds: Services (by name), Revisions (by service name, newest
// first), Jobs (by name), Executions (by job name, newest first) and Operations (oldest first). It marshals
// to JSON with protojson (camelCase field names) via encoding/json.
type State = control.State

// SetReadinessDelay changes the delay after which revisions created from
// now on become ready (see WithReadinessDelay).
func (s *Server) SetReadinessDelay(d time.Duration) {
	s.control.SetReadinessDelay(d)
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
	s.control.SetManualReadiness(manual)
}

// Readiness returns how revisions created from now on become ready: after
// delay, or only when SetRevisionReady decides it when manual is true.
func (s *Server) Readiness() (delay time.Duration, manual bool) {
	return s.control.Readiness()
}

// SetRevisionReady decides a revision's readiness now: true makes it Ready,
// false makes it fail (Ready condition FAILED), which fails the rollouts
// waiting for it. revisionName is a full resource name or, when unambiguous,
// a short name such as "svc-00002-abc".
func (s *Server) SetRevisionReady(revisionName string, ready bool) error {
	return s.control.SetRevisionReady(revisionName, ready)
}

// AddFailingImage makes revisions created from now on with image fail (see
// WithFailingImage); it sets Behavior.Fail for the image.
func (s *Server) AddFailingImage(image string) {
	s.control.AddFailingImage(image)
}

// SetNow freezes the server's own clock at t; Advance then moves it.
// It has no effect when the server was built WithClock.
func (s *Server) SetNow(t time.Time) {
	s.control.SetNow(t)
}

// Advance moves the server's own clock forward by d (frozen or not).
// It has no effect when the server was built WithClock.
func (s *Server) Advance(d time.Duration) {
	s.control.Advance(d)
}

// FailingImages returns the images whose revisions fail, sorted (see AddFailingImage).
func (s *Server) FailingImages() []string {
	return s.control.FailingImages()
}

// Clock returns the state of the server's clock.
func (s *Server) Clock() ClockStatus {
	return s.control.Clock()
}

// Service returns a copy of the named service (full resource name).
func (s *Server) Service(name string) (*runpb.Service, error) {
	return s.control.Service(name)
}

// Revisions returns copies of a service's revisions, newest first (none
// when the service does not exist).
func (s *Server) Revisions(serviceName string) []*runpb.Revision {
	return s.control.Revisions(serviceName)
}

// WorkerPool returns a copy of the named worker pool (full resource name).
func (s *Server) WorkerPool(name string) (*runpb.WorkerPool, error) {
	return s.control.WorkerPool(name)
}

// WorkerPoolRevisions returns copies of a worker pool's revisions, newest first (none when the pool does
// not exist).
func (s *Server) WorkerPoolRevisions(poolName string) []*runpb.Revision {
	return s.control.WorkerPoolRevisions(poolName)
}

// Instances returns how many instances each revision of the named worker pool runs under its applied
// instance split (instance_split_statuses), by short revision name: the pool's manual_instance_count
// divided by the split's percentages, rounded as fakerun/README.md says. Revisions without instances are
// left out.
func (s *Server) Instances(poolName string) (map[string]int32, error) {
	return s.control.Instances(poolName)
}

// State returns a copy of all services, revisions, jobs, executions and operations.
func (s *Server) State() *State {
	return s.control.State()
}

// Reset drops all services, revisions, jobs, executions, operations, faults, calls, metrics
// and finished load runs (running ones stop), and restores the options given
// to NewServer (clock, readiness, behaviours, seed, ingestion delay).
func (s *Server) Reset() {
	s.control.Reset()
	s.faults.Reset(s.cfg.faults)
	s.calls.Reset()
	s.metrics.Reset()
	s.metrics.SetIngestionDelay(s.cfg.ingestionDelay)
	s.loads.Reset()
}
