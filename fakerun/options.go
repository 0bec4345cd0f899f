package fakerun

import (
	"fmt"
	"time"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/behavior"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/control"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/faults"
)

// Option configures a Server created by NewServer.
type Option func(*config) error

// config holds everything options can set.
type config struct {
	control        control.Config // the control plane's: clock, readiness, behaviours, seed, revision cap, compatibility
	address        string
	retention      time.Duration
	ingestionDelay time.Duration
	faults         map[string][]Fault
	// noInvokerCheck lets requests without a bearer token reach services that are not public.
	noInvokerCheck bool
}

func defaultConfig() *config {
	return &config{control: control.Config{RevisionCap: defaultRevisionCap, Seed: 1}, address: "127.0.0.1:0", faults: map[string][]Fault{}}
}

// defaultRevisionCap is Cloud Run's limit of revisions kept per service.
const defaultRevisionCap = 1000

// WithAddress sets the TCP address to listen on, e.g. "127.0.0.1:8080".
// The default is "127.0.0.1:0" (a free loopback port).
func WithAddress(addr string) Option {
	return func(c *config) error {
		if addr == "" {
			return fmt.Errorf("fakerun: WithAddress: address must not be empty")
		}
		c.address = addr
		return nil
	}
}

// WithClock makes the server read time from now instead of its own clock.
// Readiness delays are measured on it. SetNow and Advance then have no effect.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return fmt.Errorf("fakerun: WithClock: clock must not be nil")
		}
		c.control.Clock = now
		return nil
	}
}

// WithReadinessDelay makes new revisions become Ready d after their
// creation, measured on the server's clock. The default is 0 (ready at once),
// in which case Create/UpdateService return operations that are already done.
func WithReadinessDelay(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("fakerun: WithReadinessDelay: delay must not be negative, got %s", d)
		}
		c.control.ReadinessDelay = d
		return nil
	}
}

// WithManualReadiness keeps new revisions not ready (and the operations
// waiting for them pending) until SetRevisionReady is called.
func WithManualReadiness() Option {
	return func(c *config) error {
		c.control.ManualReady = true
		return nil
	}
}

// WithFailingImage makes revisions whose containers use image fail to become
// ready, as Cloud Run does for a missing image: the revision's Ready
// condition turns FAILED and the rollout's operation fails with
// FAILED_PRECONDITION, leaving traffic on the previous revisions. It sets
// Behavior.Fail for the image (see WithBehaviors).
func WithFailingImage(image string) Option {
	return func(c *config) error {
		if image == "" {
			return fmt.Errorf("fakerun: WithFailingImage: image must not be empty")
		}
		behavior.Merge(&c.control.Behaviors, Behaviors{})
		b := c.control.Behaviors.Images[image]
		b.Fail = true
		c.control.Behaviors.Images[image] = b
		return nil
	}
}

// WithRevisionCap sets how many revisions a service keeps; when a new
// revision would exceed it, the oldest revisions that serve no traffic are
// deleted, as Cloud Run does. The default is 1000.
func WithRevisionCap(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("fakerun: WithRevisionCap: cap must be at least 1, got %d", n)
		}
		c.control.RevisionCap = n
		return nil
	}
}

// WithFault registers a fault for method, the RPC's short name such as
// "UpdateService" or "GetOperation" (see Methods).
func WithFault(method string, f Fault) Option {
	return func(c *config) error {
		if err := faults.Validate(method, f); err != nil {
			return fmt.Errorf("fakerun: WithFault: %w", err)
		}
		c.faults[method] = append(c.faults[method], f)
		return nil
	}
}

// WithSeed seeds the randomness of serving: which revision of a split a
// request goes to, error rates and latency draws. The default seed is 1, so
// a run that sends requests one at a time is reproducible.
func WithSeed(seed uint64) Option {
	return func(c *config) error {
		c.control.Seed = seed
		return nil
	}
}

// WithIngestionDelay makes request metrics visible to ListTimeSeries only d after the end of the second
// they were recorded in, on the server clock, as Cloud Monitoring shows Cloud Run's points up to 180s
// late. The default, 0, shows them at once.
func WithIngestionDelay(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("fakerun: WithIngestionDelay: delay must not be negative, got %s", d)
		}
		c.ingestionDelay = d
		return nil
	}
}

// WithMetricsRetention sets how long request metrics are kept, measured on
// the server clock; older points are dropped. The default is 24 hours.
func WithMetricsRetention(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("fakerun: WithMetricsRetention: retention must be positive, got %s", d)
		}
		c.retention = d
		return nil
	}
}

// WithoutInvokerCheck lets every request reach every service, as if all were public. By default, as on
// Cloud Run, a request to a service that is neither public (allUsers holds roles/run.invoker) nor
// invokerIamDisabled needs an "Authorization: Bearer TOKEN" header (any token) or gets 403; the traffic
// client and the load generator send one.
func WithoutInvokerCheck() Option {
	return func(c *config) error {
		c.noInvokerCheck = true
		return nil
	}
}
