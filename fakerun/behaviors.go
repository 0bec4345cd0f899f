package fakerun

import (
	"fmt"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/behavior"
)

// Behavior is what the revisions of an image (or one revision) do: whether
// they become ready, and how they answer the requests routed to them. The
// zero value is a revision that becomes ready and answers with the built-in
// responder, like Google's hello sample. Its fields: Fail, ReadinessDelay,
// ErrorRate, ErrorCode, Latency, Jitter, LatencyPercentiles, Backend, Docker
// and Task (see README.md for each).
type Behavior = behavior.Behavior

// TaskBehavior is what each task of a job execution does: Duration, ExitCode,
// FailTasks, FailAttempts and FailureRate. The zero value is a task that
// exits 0 at once.
type TaskBehavior = behavior.TaskBehavior

// LatencyPercentile is one point of a latency distribution.
type LatencyPercentile = behavior.LatencyPercentile

// Behaviors are the behaviours by image and by revision; a revision's own
// behaviour replaces its image's. Revisions are named by full resource name
// or short name ("svc-00002-abc").
type Behaviors = behavior.Behaviors

// ParseBehaviors reads Behaviors from their JSON form, the one the
// -behaviors flag and the admin API take, e.g.
//
//	{"images": {"…/app:v2-bad": {"errorRate": 0.2, "errorCode": 503, "latency": "50ms"}}}
func ParseBehaviors(data []byte) (Behaviors, error) {
	return behavior.Parse(data)
}

// WithBehaviors sets behaviours by image and by revision (see Behavior);
// later options win for the same name.
func WithBehaviors(bs Behaviors) Option {
	return func(c *config) error {
		if err := bs.Validate(); err != nil {
			return fmt.Errorf("fakerun: WithBehaviors: %w", err)
		}
		behavior.Merge(&c.control.Behaviors, bs)
		return nil
	}
}

// SetBehaviors replaces the behaviours of the images and revisions named
// in bs, keeping the others. It returns an error naming an invalid entry.
func (s *Server) SetBehaviors(bs Behaviors) error {
	if err := bs.Validate(); err != nil {
		return fmt.Errorf("fakerun: %w", err)
	}
	s.control.MergeBehaviors(bs)
	return nil
}

// ClearBehaviors removes every behaviour (failing images included), also
// those given by options.
func (s *Server) ClearBehaviors() {
	s.control.ClearBehaviors()
}

// Behaviors returns a copy of the behaviours by image and by revision.
func (s *Server) Behaviors() Behaviors {
	return s.control.Behaviors()
}
