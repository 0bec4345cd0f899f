package fakerun

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
)

// Behavior is what the revisions of an image (or one revision) do: whether
// they become ready, and how they answer the requests routed to them. The
// zero value is a revision that becomes ready and answers with the built-in
// responder, like Google's hello sample.
type Behavior struct {
	// Fail makes revisions fail to become ready, as Cloud Run does for a
	// missing image (CONTAINER_MISSING). It applies to revisions created
	// afterwards.
	Fail bool
	// ReadinessDelay, when positive, replaces the server's readiness delay
	// (WithReadinessDelay) for revisions created afterwards: they become
	// ready, or fail with Fail, this long after their creation, even with
	// manual readiness. A delay longer than any timeout is a revision that
	// never becomes ready.
	ReadinessDelay time.Duration
	// ErrorRate is the fraction of requests (0 to 1) answered with ErrorCode.
	ErrorRate float64
	// ErrorCode is the HTTP status of those answers, 500 to 599; 0 means 500.
	ErrorCode int
	// Latency is added to every answer, plus a uniformly random part in
	// [0, Jitter), plus a draw from LatencyPercentiles when it is set.
	Latency, Jitter time.Duration
	// LatencyPercentiles is a latency distribution given by points of its
	// quantile function, sampled by interpolating linearly between them
	// (from 0 at percentile 0), e.g. {{50, 20ms}, {99, 200ms}}.
	LatencyPercentiles []LatencyPercentile
	// Backend proxies requests to a local server, e.g. "http://127.0.0.1:9000",
	// instead of answering with the built-in responder.
	Backend string
	// Docker runs each revision as a container of the image on the local
	// Docker engine and proxies requests to it (see README.md). The image
	// must exist locally; it is never pulled.
	Docker bool
	// Task is what the tasks of job executions using the image do.
	Task TaskBehavior
}

// TaskBehavior is what each task of a job execution does. The zero value is
// a task that exits 0 at once. An attempt fails when ExitCode is non-zero or
// FailTasks is set, restricted to FailTasks' indexes and FailAttempts' first
// attempts when they are set; it also fails with probability FailureRate.
type TaskBehavior struct {
	// Duration is how long each attempt runs, on the server clock; an attempt
	// longer than the task timeout is killed at the timeout.
	Duration time.Duration
	// ExitCode is the exit code of failing attempts; 0 means 1 (and, without
	// FailTasks or FailureRate, that no attempt fails).
	ExitCode int
	// FailTasks are the task indexes whose attempts fail; empty means every task.
	FailTasks []int
	// FailAttempts limits failures to each task's first attempts (then it
	// succeeds), to exercise retries; 0 means every attempt fails.
	FailAttempts int
	// FailureRate is the probability (0 to 1) that any attempt fails, drawn
	// from the seeded generator when the execution starts.
	FailureRate float64
}

// LatencyPercentile is one point of a latency distribution.
type LatencyPercentile struct {
	Percentile float64 // 0 < Percentile <= 100, increasing along the list
	Latency    time.Duration
}

// Behaviors are the behaviours by image and by revision; a revision's own
// behaviour replaces its image's. Revisions are named by full resource name
// or short name ("svc-00002-abc").
type Behaviors struct {
	Images    map[string]Behavior `json:"images,omitempty"`
	Revisions map[string]Behavior `json:"revisions,omitempty"`
}

// validate checks b; errors name the field at fault in the JSON form.
func (b Behavior) validate() error {
	switch {
	case b.ErrorRate < 0 || b.ErrorRate > 1:
		return fmt.Errorf("field %q: must be between 0 and 1, got %v", "errorRate", b.ErrorRate)
	case b.ErrorCode != 0 && (b.ErrorCode < 500 || b.ErrorCode > 599):
		return fmt.Errorf("field %q: must be an HTTP status from 500 to 599 (0 means 500), got %d", "errorCode", b.ErrorCode)
	case b.ReadinessDelay < 0:
		return fmt.Errorf("field %q: must not be negative, got %s", "readinessDelay", b.ReadinessDelay)
	case b.Latency < 0:
		return fmt.Errorf("field %q: must not be negative, got %s", "latency", b.Latency)
	case b.Jitter < 0:
		return fmt.Errorf("field %q: must not be negative, got %s", "jitter", b.Jitter)
	case b.Backend != "" && b.Docker:
		return fmt.Errorf("fields %q and %q: choose one way to serve the revision", "backend", "docker")
	}
	if b.Backend != "" {
		u, err := url.Parse(b.Backend)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return fmt.Errorf("field %q: want an http:// URL such as http://127.0.0.1:9000, got %q", "backend", b.Backend)
		}
	}
	if err := b.Task.validate(); err != nil {
		return err
	}
	prev := LatencyPercentile{}
	for _, p := range b.LatencyPercentiles {
		if p.Percentile <= prev.Percentile || p.Percentile > 100 || p.Latency < prev.Latency {
			return fmt.Errorf("field %q: percentiles must increase within (0, 100] with non-decreasing latencies, got %v%% → %s after %v%% → %s",
				"latencyPercentiles", p.Percentile, p.Latency, prev.Percentile, prev.Latency)
		}
		prev = p
	}
	return nil
}

// validate checks every behaviour and names the one at fault.
func (bs Behaviors) validate() error {
	for _, kind := range []struct {
		name string
		m    map[string]Behavior
	}{{"images", bs.Images}, {"revisions", bs.Revisions}} {
		for _, key := range slices.Sorted(maps.Keys(kind.m)) {
			if key == "" {
				return fmt.Errorf("%s: the name must not be empty", kind.name)
			}
			if err := kind.m[key].validate(); err != nil {
				return fmt.Errorf("%s[%q]: %w", kind.name, key, err)
			}
		}
	}
	return nil
}

// ParseBehaviors reads Behaviors from their JSON form, the one the
// -behaviors flag and the admin API take, e.g.
//
//	{"images": {"…/app:v2-bad": {"errorRate": 0.2, "errorCode": 503, "latency": "50ms"}}}
func ParseBehaviors(data []byte) (Behaviors, error) {
	var bs Behaviors
	if err := strictUnmarshal(data, &bs); err != nil {
		return Behaviors{}, err
	}
	return bs, bs.validate()
}

// behaviorJSON is Behavior's JSON form: durations as Go strings
// ("50ms"), percentiles as an object {"50": "20ms", "99": "200ms"}.
type behaviorJSON struct {
	Fail               bool              `json:"fail,omitempty"`
	ReadinessDelay     string            `json:"readinessDelay,omitempty"`
	ErrorRate          float64           `json:"errorRate,omitempty"`
	ErrorCode          int               `json:"errorCode,omitempty"`
	Latency            string            `json:"latency,omitempty"`
	Jitter             string            `json:"jitter,omitempty"`
	LatencyPercentiles map[string]string `json:"latencyPercentiles,omitempty"`
	Backend            string            `json:"backend,omitempty"`
	Docker             bool              `json:"docker,omitempty"`
	Task               *taskBehaviorJSON `json:"task,omitempty"`
}

// MarshalJSON writes the JSON form.
func (b Behavior) MarshalJSON() ([]byte, error) {
	out := behaviorJSON{Fail: b.Fail, ErrorRate: b.ErrorRate, ErrorCode: b.ErrorCode, Backend: b.Backend, Docker: b.Docker,
		Task: b.Task.toJSON()}
	if b.ReadinessDelay > 0 {
		out.ReadinessDelay = b.ReadinessDelay.String()
	}
	if b.Latency > 0 {
		out.Latency = b.Latency.String()
	}
	if b.Jitter > 0 {
		out.Jitter = b.Jitter.String()
	}
	for _, p := range b.LatencyPercentiles {
		if out.LatencyPercentiles == nil {
			out.LatencyPercentiles = map[string]string{}
		}
		out.LatencyPercentiles[strconv.FormatFloat(p.Percentile, 'f', -1, 64)] = p.Latency.String()
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the JSON form, rejecting unknown fields.
func (b *Behavior) UnmarshalJSON(data []byte) error {
	var in behaviorJSON
	if err := strictUnmarshal(data, &in); err != nil {
		return err
	}
	var err error
	out := Behavior{Fail: in.Fail, ErrorRate: in.ErrorRate, ErrorCode: in.ErrorCode, Backend: in.Backend, Docker: in.Docker}
	if out.Task, err = in.Task.parse(); err != nil {
		return err
	}
	if out.ReadinessDelay, err = parseDuration("readinessDelay", in.ReadinessDelay); err != nil {
		return err
	}
	if out.Latency, err = parseDuration("latency", in.Latency); err != nil {
		return err
	}
	if out.Jitter, err = parseDuration("jitter", in.Jitter); err != nil {
		return err
	}
	for key, raw := range in.LatencyPercentiles {
		pct, err := strconv.ParseFloat(key, 64)
		if err != nil {
			return fmt.Errorf("field %q: key %q is not a percentile; want a number such as \"99\"", "latencyPercentiles", key)
		}
		d, err := parseDuration("latencyPercentiles."+key, raw)
		if err != nil {
			return err
		}
		out.LatencyPercentiles = append(out.LatencyPercentiles, LatencyPercentile{Percentile: pct, Latency: d})
	}
	slices.SortFunc(out.LatencyPercentiles, func(a, b LatencyPercentile) int { return cmp.Compare(a.Percentile, b.Percentile) })
	*b = out
	return nil
}

// WithBehaviors sets behaviours by image and by revision (see Behavior);
// later options win for the same name.
func WithBehaviors(bs Behaviors) Option {
	return func(c *config) error {
		if err := bs.validate(); err != nil {
			return fmt.Errorf("fakerun: WithBehaviors: %w", err)
		}
		mergeBehaviors(&c.behaviors, bs)
		return nil
	}
}

// mergeBehaviors copies src's entries into dst, replacing those of the same name.
func mergeBehaviors(dst *Behaviors, src Behaviors) {
	if dst.Images == nil {
		dst.Images = map[string]Behavior{}
	}
	if dst.Revisions == nil {
		dst.Revisions = map[string]Behavior{}
	}
	maps.Copy(dst.Images, src.Images)
	maps.Copy(dst.Revisions, src.Revisions)
}

// SetBehaviors replaces the behaviours of the images and revisions named
// in bs, keeping the others. It returns an error naming an invalid entry.
func (s *Server) SetBehaviors(bs Behaviors) error {
	if err := bs.validate(); err != nil {
		return fmt.Errorf("fakerun: %w", err)
	}
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	mergeBehaviors(&s.impl.behaviors, bs)
	return nil
}

// ClearBehaviors removes every behaviour (failing images included), also
// those given by options.
func (s *Server) ClearBehaviors() {
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	s.impl.behaviors = Behaviors{Images: map[string]Behavior{}, Revisions: map[string]Behavior{}}
}

// Behaviors returns a copy of the behaviours by image and by revision.
func (s *Server) Behaviors() Behaviors {
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	return Behaviors{Images: maps.Clone(s.impl.behaviors.Images), Revisions: maps.Clone(s.impl.behaviors.Revisions)}
}

// behaviorLocked returns what r does: its own behaviour, else its serving
// image's. Must be called with s.mu held.
func (s *server) behaviorLocked(r *revision) Behavior {
	if b, ok := s.ownBehaviorLocked(r); ok {
		return b
	}
	return s.behaviors.Images[servingImage(r.template)]
}

// ownBehaviorLocked returns the behaviour set for r by full or short name.
// Must be called with s.mu held.
func (s *server) ownBehaviorLocked(r *revision) (Behavior, bool) {
	if b, ok := s.behaviors.Revisions[r.name]; ok {
		return b, true
	}
	b, ok := s.behaviors.Revisions[rules.ShortName(r.name)]
	return b, ok
}

// failingImageLocked returns the image that makes r fail, or "": with a
// behaviour of its own, r fails when that says so; otherwise when any of
// its containers' images does. Must be called with s.mu held.
func (s *server) failingImageLocked(r *revision) string {
	if b, ok := s.ownBehaviorLocked(r); ok {
		if b.Fail {
			return servingImage(r.template)
		}
		return ""
	}
	for _, c := range r.template.GetContainers() {
		if s.behaviors.Images[c.GetImage()].Fail {
			return c.GetImage()
		}
	}
	return ""
}

// strictUnmarshal decodes one JSON value, rejecting unknown fields.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("want exactly one JSON value")
	}
	return nil
}
