package analysis

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

// Cause is why a threshold is inconclusive.
type Cause int

const (
	// TooFewRequests is a revision that answered fewer requests than minRequests.
	TooFewRequests Cause = iota + 1
	// NoRequests is a new revision that answered no request at all.
	NoRequests
	// NoLatency is a revision with requests but no latency point.
	NoLatency
	// NoPoints is a custom metric whose filter matched no time series.
	NoPoints
	// NoValue is a PromQL query that gave no value, or NaN.
	NoValue
)

// Whom a threshold judges, in messages.
const (
	newRevision = "the new revision"
	baseline    = "the baseline"
)

// Inconclusions gathers why the checks of an analysis were inconclusive: each cause (of the new revision,
// the baseline or a custom filter) once, with the checks it held in, in the order they first appeared.
type Inconclusions struct {
	reasons []*inconclusion
}

type inconclusion struct {
	cause  Cause
	of     string
	checks []int
}

// Add gathers the inconclusive thresholds of c.
func (in *Inconclusions) Add(c Check) {
	for _, r := range c.Results {
		if r.Verdict != Inconclusive {
			continue
		}
		i := slices.IndexFunc(in.reasons, func(x *inconclusion) bool { return x.cause == r.Cause && x.of == r.Of })
		if i < 0 {
			in.reasons = append(in.reasons, &inconclusion{cause: r.Cause, of: r.Of})
			i = len(in.reasons) - 1
		}
		if checks := in.reasons[i].checks; len(checks) == 0 || checks[len(checks)-1] != c.Number {
			in.reasons[i].checks = append(checks, c.Number)
		}
	}
}

// Reason is one cause of an inconclusive analysis in words, with what to do about it.
type Reason struct {
	Cause Cause
	Text  string
}

// Reasons says what made the analysis of opts inconclusive and what to do about each cause, e.g.
// `the custom filter metric.type = "x" matched no time series in checks 1, 2/3: check its metric.type and
// labels, and that something writes the metric`. The reason of NoRequests says no more than that, for the
// caller to add what the traffic is now.
func (in *Inconclusions) Reasons(opts config.AnalysisStageOptions) []Reason {
	out := make([]Reason, 0, len(in.reasons))
	for _, r := range in.reasons {
		checks := checkList(r.checks, opts.Checks())
		var text string
		switch r.cause {
		case NoRequests:
			text = fmt.Sprintf("%s served 0 requests in %s", r.of, checks)
		case TooFewRequests:
			text = fmt.Sprintf("%s answered fewer than minRequests (%d) requests in %s: send the service more traffic or lower minRequests",
				r.of, max(opts.MinRequests, 1), checks)
		case NoLatency:
			text = fmt.Sprintf("%s had requests but no latency point in %s: Cloud Monitoring has not written them (yet); a longer ingestionDelay gives it time", r.of, checks)
		case NoPoints:
			text = fmt.Sprintf("the custom filter %s matched no time series in %s: check its metric.type and labels, and that something writes the metric", r.of, checks)
		case NoValue:
			text = fmt.Sprintf("the PromQL query %s gave no value in %s: check its metric names and labels, and that the new revision had traffic", r.of, checks)
		}
		out = append(out, Reason{Cause: r.cause, Text: text})
	}
	return out
}

// checkList names checks of of, e.g. "check 2/3" or "checks 1, 2, 3/3".
func checkList(checks []int, of int) string {
	numbers := make([]string, 0, len(checks))
	for _, n := range checks {
		numbers = append(numbers, strconv.Itoa(n))
	}
	word := "check"
	if len(checks) > 1 {
		word = "checks"
	}
	return fmt.Sprintf("%s %s/%d", word, strings.Join(numbers, ", "), of)
}
