// Package analysis is the judgement of CLOUDRUN_ANALYSIS, without I/O: the Cloud Monitoring filters of
// a deploy target's revisions, the samples read from the time series of a check's window, the verdict
// of each threshold, the stage's conclusion and the tables of the stage log.
package analysis

import (
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

// Cloud Run's request metrics (https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-run).
const (
	RequestCount     = "run.googleapis.com/request_count"
	RequestLatencies = "run.googleapis.com/request_latencies"
	resourceType     = "cloud_run_revision"
)

// Subject is what the analysis of one deploy target looks at.
type Subject struct {
	Project, Location, Service string
	// New is the short name of the revision the deployment created.
	New string
	// Baseline are the short names of the revisions that served before the deployment; none on a first
	// deployment.
	Baseline []string
}

// Filter selects metricType of the subject's revisions on the cloud_run_revision resource.
func (s Subject) Filter(metricType string) string {
	revs := make([]string, 0, 1+len(s.Baseline))
	for _, r := range append([]string{s.New}, s.Baseline...) {
		revs = append(revs, quote(r))
	}
	return fmt.Sprintf("metric.type = %s AND resource.type = %s AND resource.labels.location = %s AND resource.labels.service_name = %s AND resource.labels.revision_name = one_of(%s)",
		quote(metricType), quote(resourceType), quote(s.Location), quote(s.Service), strings.Join(revs, ", "))
}

// quote renders s as a filter string literal.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Queries says which metric types a check of opts reads: request_count for error rates,
// request_latencies for latencies (whose counts then also give the requests), besides one query per
// custom metric.
func Queries(opts config.AnalysisStageOptions) (counts, latencies bool) {
	for _, m := range opts.Metrics {
		counts = counts || m.ErrorRate != nil
		latencies = latencies || m.Latency != nil
	}
	return counts, latencies
}

// Sample is what one revision, or the baseline revisions together, did in a check's window.
type Sample struct {
	Requests int64
	// Errors are the answers with a 5xx status.
	Errors  int64
	Latency Distribution
}

// ErrorRate is the share of 5xx answers; ok is false without requests.
func (s *Sample) ErrorRate() (rate float64, ok bool) {
	if s.Requests == 0 {
		return 0, false
	}
	return float64(s.Errors) / float64(s.Requests), true
}

func (s *Sample) merge(o *Sample) {
	s.Requests += o.Requests
	s.Errors += o.Errors
	s.Latency.Merge(&o.Latency)
}

// Samples are the samples of a check's window by revision.
type Samples map[string]*Sample

func (ss Samples) of(rev string) *Sample {
	if ss[rev] == nil {
		ss[rev] = &Sample{}
	}
	return ss[rev]
}

// AddRequestCounts adds the points of run.googleapis.com/request_count series.
func (ss Samples) AddRequestCounts(series []*monitoringpb.TimeSeries) {
	for _, ts := range series {
		s := ss.of(ts.GetResource().GetLabels()["revision_name"])
		errors := ts.GetMetric().GetLabels()["response_code_class"] == "5xx"
		for _, p := range ts.GetPoints() {
			n := p.GetValue().GetInt64Value()
			s.Requests += n
			if errors {
				s.Errors += n
			}
		}
	}
}

// AddLatencies adds the points of run.googleapis.com/request_latencies series. With counts false (no
// request_count query) their counts are the requests.
func (ss Samples) AddLatencies(series []*monitoringpb.TimeSeries, counts bool) {
	for _, ts := range series {
		s := ss.of(ts.GetResource().GetLabels()["revision_name"])
		for _, p := range ts.GetPoints() {
			d := p.GetValue().GetDistributionValue()
			s.Latency.Add(d)
			if !counts {
				s.Requests += d.GetCount()
			}
		}
	}
}

// Window is the data of one check.
type Window struct {
	Start, End time.Time
	New        Sample
	// Baseline is the baseline revisions together; nil when the deployment has none.
	Baseline *Sample
	// Custom are the values of the custom and PromQL metrics, in the order of the options' metrics. For a
	// PromQL metric, Points is how many series the query gave.
	Custom []CustomValue
}

// NewWindow sums up the samples of the subject's revisions.
func NewWindow(s Subject, start, end time.Time, samples Samples, custom []CustomValue) Window {
	w := Window{Start: start, End: end, New: *samples.of(s.New), Custom: custom}
	if len(s.Baseline) > 0 {
		w.Baseline = &Sample{}
		for _, r := range s.Baseline {
			w.Baseline.merge(samples.of(r))
		}
	}
	return w
}

// PromQLQuery is the query of m for the subject's check of window length: its placeholders replaced.
func (s Subject) PromQLQuery(m *config.PromQLMetric, window time.Duration) string {
	return strings.NewReplacer(
		config.PromQLRevision, s.New, config.PromQLService, s.Service, config.PromQLLocation, s.Location,
		config.PromQLWindow, fmt.Sprintf("%ds", int(window.Seconds())),
	).Replace(m.Query)
}

// CustomValue is a custom metric reduced over a check's window: Points is how many points it reduced.
type CustomValue struct {
	Value  float64
	Points int
}

// Reduce reduces every point of series by reducer (sum, mean, max or min). A distribution point counts
// as its mean.
func Reduce(series []*monitoringpb.TimeSeries, reducer string) CustomValue {
	var out CustomValue
	for _, ts := range series {
		for _, p := range ts.GetPoints() {
			v := pointValue(p.GetValue())
			switch {
			case out.Points == 0:
				out.Value = v
			case reducer == config.ReduceMax:
				out.Value = max(out.Value, v)
			case reducer == config.ReduceMin:
				out.Value = min(out.Value, v)
			default:
				out.Value += v
			}
			out.Points++
		}
	}
	if reducer == config.ReduceMean && out.Points > 0 {
		out.Value /= float64(out.Points)
	}
	return out
}

func pointValue(v *monitoringpb.TypedValue) float64 {
	switch x := v.GetValue().(type) {
	case *monitoringpb.TypedValue_Int64Value:
		return float64(x.Int64Value)
	case *monitoringpb.TypedValue_DoubleValue:
		return x.DoubleValue
	case *monitoringpb.TypedValue_BoolValue:
		if x.BoolValue {
			return 1
		}
	case *monitoringpb.TypedValue_DistributionValue:
		return x.DistributionValue.GetMean()
	}
	return 0
}
