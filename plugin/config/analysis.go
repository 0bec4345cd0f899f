package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const stageAnalysis = "CLOUDRUN_ANALYSIS"

// Defaults of CLOUDRUN_ANALYSIS.
const (
	// DefaultAnalysisInterval is how often the analysis checks the metrics.
	DefaultAnalysisInterval = time.Minute
	// DefaultIngestionDelay is how long after a check's window the check waits for its points: Google
	// documents Cloud Run's metrics as sampled every 60 s and visible up to 180 s later.
	DefaultIngestionDelay = 180 * time.Second
	// DefaultMinRequests is how many requests the new revision must answer in a check for it to count.
	DefaultMinRequests = 100
	// DefaultLatencyPercentile is the percentile a latency metric judges.
	DefaultLatencyPercentile = 99
	// DefaultConsecutiveErrorLimit is how many checks in a row may fail to read Cloud Monitoring before
	// the stage fails, as Argo Rollouts' consecutiveErrorLimit.
	DefaultConsecutiveErrorLimit = 4
)

// What a user may write for the fields of CLOUDRUN_ANALYSIS, for error messages.
const (
	analysisDurationAllowed = `a positive duration such as "5m"`
	delayAllowed            = `a duration >= 0 such as "3m" or "0s"`
	countAllowed            = "an integer >= 0"
	percentileAllowed       = "an integer 1-99"
	ratioAllowed            = `a percentage such as "1%", "0.5%" or 1 (0-100)`
	latencyAllowed          = `a duration >= 0 such as "800ms"`
	numberAllowed           = "a number"
	onInconclusiveFail      = "fail"
	onInconclusivePass      = "pass"
)

// Reducers of a custom metric: how the points of a check's window become one value.
const (
	ReduceSum  = "sum"
	ReduceMean = "mean"
	ReduceMax  = "max"
	ReduceMin  = "min"
)

var reducers = []string{ReduceSum, ReduceMean, ReduceMax, ReduceMin}

// AnalysisStageOptions are the options of the CLOUDRUN_ANALYSIS stage, which judges the new revision on
// Cloud Monitoring once per interval and fails the stage (so that piped rolls back) when it is bad.
type AnalysisStageOptions struct {
	// Duration is how long the analysis watches the revisions. Required.
	Duration time.Duration
	// Interval is the length of a check's window: there are Duration/Interval checks. Default 1m.
	Interval time.Duration
	// IngestionDelay is how long after the end of its window a check reads it, so that it sees every
	// point. The stage takes InitialDelay + Duration + IngestionDelay. Default 180s.
	IngestionDelay time.Duration
	// InitialDelay is how long after the stage starts the first window begins, so that the new
	// revision warms up before it is judged. Default 0.
	InitialDelay time.Duration
	// FailureLimit is how many failed checks are tolerated; one more fails the stage. Default 0.
	FailureLimit int
	// InconclusiveLimit is how many inconclusive checks are tolerated; one more makes the analysis
	// inconclusive at once. Default 0.
	InconclusiveLimit int
	// ConsecutiveErrorLimit is how many checks in a row may fail to read Cloud Monitoring (an error of
	// the call, not a failed threshold); one more fails the stage. Default 4.
	ConsecutiveErrorLimit int
	// MinRequests is how many requests the new revision must answer in a check; fewer make the check
	// inconclusive. Default 100.
	MinRequests int
	// PassInconclusive makes an analysis with inconclusive checks (and no failure beyond FailureLimit)
	// pass; by default it fails. Written `onInconclusive: pass` (default `fail`).
	PassInconclusive bool
	// Metrics are the thresholds every check judges. At least one.
	Metrics []AnalysisMetric
}

// AnalysisMetric is one threshold: exactly one of its kinds is set.
type AnalysisMetric struct {
	ErrorRate *ErrorRateMetric
	Latency   *LatencyMetric
	Custom    *CustomMetric
	PromQL    *PromQLMetric
	// DryRun makes the threshold judged and logged without ever failing a check, written `dryRun: true`
	// inside the threshold.
	DryRun bool
}

// ErrorRateMetric judges the share of 5xx answers of the new revision (a fraction, 0.01 is 1%).
type ErrorRateMetric struct {
	// Max is the highest error rate of the new revision that passes.
	Max *float64
	// MaxIncrease is the highest excess of the new revision's error rate over the baseline's that passes.
	MaxIncrease *float64
}

// LatencyMetric judges a percentile of the request latencies of the new revision.
type LatencyMetric struct {
	// Percentile is 1-99. Default 99.
	Percentile int
	// Max is the highest latency that passes.
	Max *time.Duration
	// MaxIncrease is the highest excess over the baseline's latency that passes.
	MaxIncrease *time.Duration
}

// CustomMetric judges any time series of the project: the points of Filter in a check's window, reduced
// by Reduce, must lie within Min and Max.
type CustomMetric struct {
	// Filter is a Cloud Monitoring filter that names a metric.type.
	Filter string
	// Reduce is sum, mean, max or min. Default sum.
	Reduce string
	Max    *float64
	Min    *float64
}

// PromQLMetric judges the value of a PromQL query evaluated at the end of a check's window through Cloud
// Monitoring's Prometheus API: it must lie within Min and Max.
type PromQLMetric struct {
	// Query gives a scalar or a vector of one element. Placeholders (PromQLPlaceholders) are replaced
	// before it is sent.
	Query string
	Max   *float64
	Min   *float64
}

// Placeholders of a PromQL query, replaced by the check's values.
const (
	PromQLRevision = "${CLOUDRUN_REVISION}"
	PromQLService  = "${CLOUDRUN_SERVICE}"
	PromQLLocation = "${CLOUDRUN_LOCATION}"
	PromQLWindow   = "${CLOUDRUN_WINDOW}"
)

// DecodeAnalysisStageOptions strictly decodes and validates the JSON stage config of CLOUDRUN_ANALYSIS.
// duration and metrics are required, so nil or empty raw is an error.
func DecodeAnalysisStageOptions(raw []byte) (AnalysisStageOptions, error) {
	opts := AnalysisStageOptions{
		Interval:              DefaultAnalysisInterval,
		IngestionDelay:        DefaultIngestionDelay,
		MinRequests:           DefaultMinRequests,
		ConsecutiveErrorLimit: DefaultConsecutiveErrorLimit,
	}
	onInconclusive := onInconclusiveFail
	err := decodeObject(stageAnalysis, raw,
		durationField("duration", &opts.Duration, true, analysisDurationAllowed),
		durationField("interval", &opts.Interval, true, analysisDurationAllowed),
		durationField("ingestionDelay", &opts.IngestionDelay, false, delayAllowed),
		durationField("initialDelay", &opts.InitialDelay, false, delayAllowed),
		countField("failureLimit", &opts.FailureLimit),
		countField("inconclusiveLimit", &opts.InconclusiveLimit),
		countField("consecutiveErrorLimit", &opts.ConsecutiveErrorLimit),
		countField("minRequests", &opts.MinRequests),
		enumField("onInconclusive", &onInconclusive, onInconclusiveFail, onInconclusivePass),
		field{"metrics", func(o *object) error { return o.analysisMetrics(&opts.Metrics) }},
	)
	if err != nil {
		return AnalysisStageOptions{}, err
	}
	opts.PassInconclusive = onInconclusive == onInconclusivePass
	switch {
	case opts.Duration == 0:
		return AnalysisStageOptions{}, fmt.Errorf("%s: field %q is required, allowed %s", stageAnalysis, "duration", analysisDurationAllowed)
	case opts.Interval > opts.Duration:
		return AnalysisStageOptions{}, fmt.Errorf("%s: field %q: %s is longer than duration %s, allowed a duration up to duration", stageAnalysis, "interval", opts.Interval, opts.Duration)
	case len(opts.Metrics) == 0:
		return AnalysisStageOptions{}, fmt.Errorf("%s: field %q is required, allowed a list of errorRate, latency, custom or promql thresholds", stageAnalysis, "metrics")
	}
	return opts, nil
}

// Checks is how many checks the analysis makes: one per whole interval of the duration.
func (o AnalysisStageOptions) Checks() int {
	return int(o.Duration / o.Interval)
}

// durationField decodes a duration, positive or at least zero.
func durationField(name string, dst *time.Duration, positive bool, allowed string) field {
	return field{name, func(o *object) error {
		d := *dst
		if err := o.duration(name, &d, allowed); err != nil {
			return err
		}
		if d < 0 || (positive && d == 0 && o.value(name) != nil) {
			return o.errorf(name, "%q is out of range, allowed %s", d.String(), allowed)
		}
		*dst = d
		return nil
	}}
}

// countField decodes an integer >= 0.
func countField(name string, dst *int) field {
	return field{name, func(o *object) error {
		if err := o.int(name, dst, countAllowed); err != nil {
			return err
		}
		if *dst < 0 {
			return o.errorf(name, "%d is out of range, allowed %s", *dst, countAllowed)
		}
		return nil
	}}
}

// enumField decodes a string that must be one of allowed.
func enumField(name string, dst *string, allowed ...string) field {
	return field{name, func(o *object) error {
		if err := o.string(name, dst); err != nil {
			return err
		}
		for _, a := range allowed {
			if *dst == a {
				return nil
			}
		}
		return o.errorf(name, "%q is not allowed, allowed %s", *dst, strings.Join(allowed, ", "))
	}}
}

// ratioField decodes a percentage ("1%", "0.5%" or the number 1) into a fraction.
func ratioField(name string, dst **float64) field {
	return field{name, func(o *object) error {
		v := o.value(name)
		if v == nil {
			return nil
		}
		text := strings.TrimSpace(string(v))
		var s string
		if json.Unmarshal(v, &s) == nil {
			text = strings.TrimSuffix(strings.TrimSpace(s), "%")
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || f < 0 || f > 100 {
			return o.errorf(name, "%s is not allowed, allowed %s", shorten(v), ratioAllowed)
		}
		f /= 100
		*dst = &f
		return nil
	}}
}

// latencyField decodes a duration >= 0 such as "800ms".
func latencyField(name string, dst **time.Duration) field {
	return field{name, func(o *object) error {
		if o.value(name) == nil {
			return nil
		}
		var d time.Duration
		if err := o.duration(name, &d, latencyAllowed); err != nil {
			return err
		}
		if d < 0 {
			return o.errorf(name, "%q is out of range, allowed %s", d.String(), latencyAllowed)
		}
		*dst = &d
		return nil
	}}
}

// numberField decodes any JSON number.
func numberField(name string, dst **float64) field {
	return field{name, func(o *object) error {
		v := o.value(name)
		if v == nil {
			return nil
		}
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			return o.errorf(name, "%s is not a number, allowed %s", shorten(v), numberAllowed)
		}
		*dst = &f
		return nil
	}}
}

// analysisMetrics decodes the metrics list: each item an object with exactly one of errorRate, latency
// and custom.
func (o *object) analysisMetrics(dst *[]AnalysisMetric) error {
	v := o.value("metrics")
	if v == nil {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return o.errorf("metrics", "%s is not a list, allowed a list of errorRate, latency, custom or promql thresholds", shorten(v))
	}
	for i, raw := range items {
		m, err := decodeAnalysisMetric(o.where, fmt.Sprintf("%smetrics[%d].", o.prefix, i), raw)
		if err != nil {
			return err
		}
		*dst = append(*dst, m)
	}
	return nil
}

func decodeAnalysisMetric(where, prefix string, raw []byte) (AnalysisMetric, error) {
	kinds := []string{"custom", "errorRate", "latency", "promql"}
	item, err := parseNested(where, prefix, raw, kinds)
	if err != nil {
		return AnalysisMetric{}, err
	}
	if len(item.fields) != 1 {
		return AnalysisMetric{}, fmt.Errorf("%s: field %q: must have exactly one of %s", where, strings.TrimSuffix(prefix, "."), strings.Join(kinds, ", "))
	}
	var m AnalysisMetric
	thresholdsRequired := func(name string, set ...bool) error {
		for _, s := range set {
			if s {
				return nil
			}
		}
		return item.errorf(name, "sets no threshold, allowed fields with a threshold: %s", map[string]string{
			"errorRate": "max, maxIncrease", "latency": "max, maxIncrease", "custom": "max, min", "promql": "max, min",
		}[name])
	}
	switch {
	case item.value("errorRate") != nil:
		e := &ErrorRateMetric{}
		if err := item.decode([]field{objectField("errorRate", ratioField("max", &e.Max), ratioField("maxIncrease", &e.MaxIncrease), boolField("dryRun", &m.DryRun))}); err != nil {
			return m, err
		}
		m.ErrorRate = e
		return m, thresholdsRequired("errorRate", e.Max != nil, e.MaxIncrease != nil)
	case item.value("latency") != nil:
		l := &LatencyMetric{Percentile: DefaultLatencyPercentile}
		if err := item.decode([]field{objectField("latency",
			intField("percentile", &l.Percentile, percentileAllowed),
			latencyField("max", &l.Max), latencyField("maxIncrease", &l.MaxIncrease), boolField("dryRun", &m.DryRun))}); err != nil {
			return m, err
		}
		if l.Percentile < 1 || l.Percentile > 99 {
			return m, fmt.Errorf("%s: field %q: %d is out of range, allowed %s", where, prefix+"latency.percentile", l.Percentile, percentileAllowed)
		}
		m.Latency = l
		return m, thresholdsRequired("latency", l.Max != nil, l.MaxIncrease != nil)
	case item.value("custom") != nil:
		c := &CustomMetric{Reduce: ReduceSum}
		if err := item.decode([]field{objectField("custom",
			stringField("filter", &c.Filter), enumField("reduce", &c.Reduce, reducers...),
			numberField("max", &c.Max), numberField("min", &c.Min), boolField("dryRun", &m.DryRun))}); err != nil {
			return m, err
		}
		if !strings.Contains(c.Filter, "metric.type") {
			return m, fmt.Errorf("%s: field %q: %q names no metric, allowed a Cloud Monitoring filter with metric.type = \"...\"", where, prefix+"custom.filter", c.Filter)
		}
		m.Custom = c
		return m, thresholdsRequired("custom", c.Max != nil, c.Min != nil)
	case item.value("promql") != nil:
		q := &PromQLMetric{}
		if err := item.decode([]field{objectField("promql",
			stringField("query", &q.Query), numberField("max", &q.Max), numberField("min", &q.Min), boolField("dryRun", &m.DryRun))}); err != nil {
			return m, err
		}
		if strings.TrimSpace(q.Query) == "" {
			return m, fmt.Errorf("%s: field %q: is required, allowed a PromQL query that gives one value, such as "+
				"'sum(rate(run_googleapis_com:request_count{revision_name=\"${CLOUDRUN_REVISION}\",response_code_class=\"5xx\"}[${CLOUDRUN_WINDOW}]))'", where, prefix+"promql.query")
		}
		m.PromQL = q
		return m, thresholdsRequired("promql", q.Max != nil, q.Min != nil)
	}
	return m, fmt.Errorf("%s: field %q: must be an object with one of %s", where, strings.TrimSuffix(prefix, "."), strings.Join(kinds, ", "))
}
