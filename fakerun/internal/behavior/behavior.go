// Package behavior is the model of what a fake workload does: how a revision's image (or one revision)
// becomes ready and answers requests, and what a job's tasks do, with their validation and JSON form (the
// one the -behaviors flag and the admin API take).
package behavior

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

// Validate checks b; errors name the field at fault in the JSON form.
func (b Behavior) Validate() error {
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
	if err := b.Task.Validate(); err != nil {
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

// Validate checks every behaviour and names the one at fault.
func (bs Behaviors) Validate() error {
	for _, kind := range []struct {
		name string
		m    map[string]Behavior
	}{{"images", bs.Images}, {"revisions", bs.Revisions}} {
		for _, key := range slices.Sorted(maps.Keys(kind.m)) {
			if key == "" {
				return fmt.Errorf("%s: the name must not be empty", kind.name)
			}
			if err := kind.m[key].Validate(); err != nil {
				return fmt.Errorf("%s[%q]: %w", kind.name, key, err)
			}
		}
	}
	return nil
}

// Parse reads Behaviors from their JSON form, the one the
// -behaviors flag and the admin API take, e.g.
//
//	{"images": {"…/app:v2-bad": {"errorRate": 0.2, "errorCode": 503, "latency": "50ms"}}}
func Parse(data []byte) (Behaviors, error) {
	var bs Behaviors
	if err := StrictUnmarshal(data, &bs); err != nil {
		return Behaviors{}, err
	}
	return bs, bs.Validate()
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
	if err := StrictUnmarshal(data, &in); err != nil {
		return err
	}
	var err error
	out := Behavior{Fail: in.Fail, ErrorRate: in.ErrorRate, ErrorCode: in.ErrorCode, Backend: in.Backend, Docker: in.Docker}
	if out.Task, err = in.Task.parse(); err != nil {
		return err
	}
	if out.ReadinessDelay, err = ParseDuration("readinessDelay", in.ReadinessDelay); err != nil {
		return err
	}
	if out.Latency, err = ParseDuration("latency", in.Latency); err != nil {
		return err
	}
	if out.Jitter, err = ParseDuration("jitter", in.Jitter); err != nil {
		return err
	}
	for key, raw := range in.LatencyPercentiles {
		pct, err := strconv.ParseFloat(key, 64)
		if err != nil {
			return fmt.Errorf("field %q: key %q is not a percentile; want a number such as \"99\"", "latencyPercentiles", key)
		}
		d, err := ParseDuration("latencyPercentiles."+key, raw)
		if err != nil {
			return err
		}
		out.LatencyPercentiles = append(out.LatencyPercentiles, LatencyPercentile{Percentile: pct, Latency: d})
	}
	slices.SortFunc(out.LatencyPercentiles, func(a, b LatencyPercentile) int { return cmp.Compare(a.Percentile, b.Percentile) })
	*b = out
	return nil
}

// Merge copies src's entries into dst, replacing those of the same name.
func Merge(dst *Behaviors, src Behaviors) {
	if dst.Images == nil {
		dst.Images = map[string]Behavior{}
	}
	if dst.Revisions == nil {
		dst.Revisions = map[string]Behavior{}
	}
	maps.Copy(dst.Images, src.Images)
	maps.Copy(dst.Revisions, src.Revisions)
}

// StrictUnmarshal decodes one JSON value, rejecting unknown fields.
func StrictUnmarshal(data []byte, v any) error {
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

// ParseDuration reads a non-negative Go duration such as "250ms" from field of a JSON form; empty means 0.
func ParseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("field %q: invalid duration %q; want a Go duration such as \"250ms\", \"2s\" or \"1m30s\"", field, s)
	}
	if d < 0 {
		return 0, fmt.Errorf("field %q: must not be negative, got %q", field, s)
	}
	return d, nil
}

// SamplePercentiles evaluates the quantile function through ps (starting
// at 0 at percentile 0) at percentile u; above the last point it stays there.
func SamplePercentiles(ps []LatencyPercentile, u float64) time.Duration {
	prev := LatencyPercentile{}
	for _, p := range ps {
		if u <= p.Percentile {
			frac := (u - prev.Percentile) / (p.Percentile - prev.Percentile)
			return prev.Latency + time.Duration(frac*float64(p.Latency-prev.Latency))
		}
		prev = p
	}
	return prev.Latency
}
