package analysis

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

// Verdict is the outcome of a threshold, a check or the analysis.
type Verdict string

const (
	Pass         Verdict = "PASS"
	Fail         Verdict = "FAIL"
	Inconclusive Verdict = "INCONCLUSIVE"
)

// Result is the verdict of one threshold in one check.
type Result struct {
	// Metric names the threshold, e.g. "errorRate", "latency p99 increase".
	Metric string
	// Value is the measured value, Threshold the limit it is held to, Detail what it is computed from.
	Value, Threshold, Detail string
	Verdict                  Verdict
	// Cause says why an inconclusive threshold is inconclusive, and Of whom: "the new revision", "the
	// baseline" or a custom metric's filter.
	Cause Cause
	Of    string
	// DryRun marks a threshold that is judged and logged but never fails its check.
	DryRun bool
}

// Check is one judged window.
type Check struct {
	// Number counts from 1 to Of.
	Number, Of int
	Window
	Results []Result
	Verdict Verdict
}

// Judge holds the window of check number of opts.Checks() to every threshold of opts. A threshold
// compared with the baseline is left out when the deployment has no baseline. With fewer than
// opts.MinRequests requests to the new revision (or the baseline, for a comparison), or no data at all,
// a threshold is inconclusive, never a pass. The check fails when a threshold fails, else it is
// inconclusive when one is, else it passes; dry-run thresholds are left out of the check's verdict.
func Judge(opts config.AnalysisStageOptions, number int, w Window) Check {
	c := Check{Number: number, Of: opts.Checks(), Window: w}
	// unknown is why a threshold cannot be judged.
	type unknown struct {
		why   string
		cause Cause
		of    string
	}
	enough := func(s *Sample, who string) (unknown, bool) {
		if s.Requests < int64(opts.MinRequests) || s.Requests == 0 {
			cause := TooFewRequests
			if s.Requests == 0 && who == newRevision {
				cause = NoRequests
			}
			return unknown{fmt.Sprintf("%d requests to %s, fewer than minRequests %d", s.Requests, who, max(opts.MinRequests, 1)), cause, who}, false
		}
		return unknown{}, true
	}
	var dryRun bool
	judge := func(metric, threshold string, fail bool, value, detail string) {
		v := Pass
		if fail {
			v = Fail
		}
		c.Results = append(c.Results, Result{Metric: metric, Value: value, Threshold: threshold, Detail: detail, Verdict: v, DryRun: dryRun})
	}
	inconclusive := func(metric, threshold string, u unknown) {
		c.Results = append(c.Results, Result{Metric: metric, Value: "-", Threshold: threshold, Detail: u.why, Verdict: Inconclusive, Cause: u.cause, Of: u.of, DryRun: dryRun})
	}
	for i, m := range opts.Metrics {
		dryRun = m.DryRun
		switch {
		case m.ErrorRate != nil:
			newRate, _ := w.New.ErrorRate()
			detail := fmt.Sprintf("%d of %d requests answered 5xx", w.New.Errors, w.New.Requests)
			if limit := m.ErrorRate.Max; limit != nil {
				threshold := "<= " + percent(*limit)
				if why, ok := enough(&w.New, newRevision); !ok {
					inconclusive("errorRate", threshold, why)
				} else {
					judge("errorRate", threshold, newRate > *limit+epsilon, percent(newRate), detail)
				}
			}
			if limit := m.ErrorRate.MaxIncrease; limit != nil && w.Baseline != nil {
				threshold := "<= baseline + " + percent(*limit)
				why, ok := enough(&w.New, newRevision)
				if ok {
					why, ok = enough(w.Baseline, baseline)
				}
				if !ok {
					inconclusive("errorRate increase", threshold, why)
					continue
				}
				baseRate, _ := w.Baseline.ErrorRate()
				judge("errorRate increase", threshold, newRate-baseRate > *limit+epsilon,
					signedPercent(newRate-baseRate), fmt.Sprintf("%s vs baseline %s (%d of %d requests)", percent(newRate), percent(baseRate), w.Baseline.Errors, w.Baseline.Requests))
			}
		case m.Latency != nil:
			l := m.Latency
			name := fmt.Sprintf("latency p%d", l.Percentile)
			newLat, newOK := w.New.Latency.Percentile(float64(l.Percentile))
			why, ok := enough(&w.New, newRevision)
			if ok && !newOK {
				why, ok = unknown{"no latency points of the new revision", NoLatency, newRevision}, false
			}
			if l.Max != nil {
				threshold := "<= " + ms(*l.Max)
				if !ok {
					inconclusive(name, threshold, why)
				} else {
					judge(name, threshold, newLat > *l.Max, ms(newLat), fmt.Sprintf("over %d requests", w.New.Latency.Count()))
				}
			}
			if l.MaxIncrease != nil && w.Baseline != nil {
				threshold := "<= baseline + " + ms(*l.MaxIncrease)
				baseLat, baseOK := w.Baseline.Latency.Percentile(float64(l.Percentile))
				if ok {
					why, ok = enough(w.Baseline, baseline)
				}
				if ok && !baseOK {
					why, ok = unknown{"no latency points of the baseline", NoLatency, baseline}, false
				}
				if !ok {
					inconclusive(name+" increase", threshold, why)
					continue
				}
				judge(name+" increase", threshold, newLat-baseLat > *l.MaxIncrease,
					signedMs(newLat-baseLat), fmt.Sprintf("%s vs baseline %s", ms(newLat), ms(baseLat)))
			}
		case m.Custom != nil:
			cm := m.Custom
			name := fmt.Sprintf("custom %s", cm.Reduce)
			threshold := limits(cm.Min, cm.Max)
			var v CustomValue
			if i < len(w.Custom) {
				v = w.Custom[i]
			}
			if v.Points == 0 {
				inconclusive(name, threshold, unknown{"no points of " + cm.Filter, NoPoints, cm.Filter})
				continue
			}
			fail := (cm.Max != nil && v.Value > *cm.Max) || (cm.Min != nil && v.Value < *cm.Min)
			judge(name, threshold, fail, fmt.Sprintf("%g", v.Value), fmt.Sprintf("%s of %d points of %s", cm.Reduce, v.Points, cm.Filter))
		case m.PromQL != nil:
			q := m.PromQL
			threshold := limits(q.Min, q.Max)
			var v CustomValue
			if i < len(w.Custom) {
				v = w.Custom[i]
			}
			switch {
			case v.Points == 0:
				inconclusive("promql", threshold, unknown{"the query gave no value: " + q.Query, NoValue, q.Query})
			case v.Points > 1:
				judge("promql", threshold, true, "-", fmt.Sprintf("the query gave %d series, allowed one value: aggregate it (sum, max, ...): %s", v.Points, q.Query))
			case math.IsNaN(v.Value):
				inconclusive("promql", threshold, unknown{"the query gave NaN (a division by no data?): " + q.Query, NoValue, q.Query})
			default:
				fail := (q.Max != nil && v.Value > *q.Max) || (q.Min != nil && v.Value < *q.Min)
				judge("promql", threshold, fail, fmt.Sprintf("%g", v.Value), q.Query)
			}
		}
	}
	c.Verdict = Pass
	for _, r := range c.Results {
		if r.DryRun {
			continue
		}
		if r.Verdict == Fail {
			c.Verdict = Fail
			break
		}
		if r.Verdict == Inconclusive {
			c.Verdict = Inconclusive
		}
	}
	return c
}

// limits renders the limits of a custom or PromQL threshold, e.g. ">= 1 and <= 5".
func limits(lo, hi *float64) string {
	var out []string
	if lo != nil {
		out = append(out, fmt.Sprintf(">= %g", *lo))
	}
	if hi != nil {
		out = append(out, fmt.Sprintf("<= %g", *hi))
	}
	return strings.Join(out, " and ")
}

// epsilon absorbs the rounding of rates, so that a rate exactly at its limit passes.
const epsilon = 1e-12

// Failures describes the failed thresholds of c in one line, with their numbers; dry-run ones only when
// dryRun.
func (c Check) Failures(dryRun bool) string {
	var out []string
	for _, r := range c.Results {
		if r.Verdict == Fail && r.DryRun == dryRun {
			out = append(out, fmt.Sprintf("%s %s, allowed %s (%s)", r.Metric, r.Value, r.Threshold, r.Detail))
		}
	}
	return strings.Join(out, "; ")
}

// Tally counts the verdicts of the checks so far, and the checks that could not read their data.
type Tally struct {
	Passed, Failed, Inconclusive int
	// Errored counts the checks whose data could not be read; ConsecutiveErrors those of them in a row
	// up to the latest check.
	Errored, ConsecutiveErrors int
}

// AddError counts a check that could not read its data.
func (t *Tally) AddError() {
	t.Errored++
	t.ConsecutiveErrors++
}

// Add counts v.
func (t *Tally) Add(v Verdict) {
	t.ConsecutiveErrors = 0
	switch v {
	case Pass:
		t.Passed++
	case Fail:
		t.Failed++
	default:
		t.Inconclusive++
	}
}

// FailedBeyond reports whether the failed checks exceed the failure limit: the analysis fails at once.
func (t Tally) FailedBeyond(limit int) bool { return t.Failed > limit }

// InconclusiveBeyond reports whether the inconclusive checks exceed the inconclusive limit.
func (t Tally) InconclusiveBeyond(limit int) bool { return t.Inconclusive > limit }

// ErroredBeyond reports whether more checks in a row than limit could not read their data: the analysis
// fails at once.
func (t Tally) ErroredBeyond(limit int) bool { return t.ConsecutiveErrors > limit }

// Judged reports whether a check read its data.
func (t Tally) Judged() bool { return t.Passed+t.Failed+t.Inconclusive > 0 }

// Outcome is the verdict of the analysis after its last check: Fail beyond the failure limit, else
// Inconclusive beyond the inconclusive limit or when no check could read its data, else Pass.
func (t Tally) Outcome(opts config.AnalysisStageOptions) Verdict {
	switch {
	case t.FailedBeyond(opts.FailureLimit):
		return Fail
	case t.InconclusiveBeyond(opts.InconclusiveLimit), !t.Judged():
		return Inconclusive
	}
	return Pass
}

func (t Tally) String() string {
	s := fmt.Sprintf("%d passed, %d failed, %d inconclusive", t.Passed, t.Failed, t.Inconclusive)
	if t.Errored > 0 {
		s += fmt.Sprintf(", %d without data (Cloud Monitoring errors)", t.Errored)
	}
	return s
}

func percent(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

func signedPercent(f float64) string { return fmt.Sprintf("%+.2f%%", 100*f) }

// ms renders a latency in milliseconds, with one decimal below 10ms.
func ms(d time.Duration) string { return strings.TrimPrefix(signedMs(d), "+") }

// signedMs renders a latency difference in milliseconds with its sign, with one decimal below 10ms.
func signedMs(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 10 && v > -10 {
		return strings.Replace(fmt.Sprintf("%+.1fms", v), "-0.0", "+0.0", 1)
	}
	return fmt.Sprintf("%+.0fms", v)
}
