// Package promql serves the Prometheus HTTP API that Cloud Monitoring offers for PromQL
// (/v1/projects/{project}/location/global/prometheus/api/v1/query and query_range) over the metrics
// fakerun records. Queries are parsed by the Prometheus project's own parser
// (github.com/prometheus/prometheus/promql/parser) and evaluated here for the subset gates need:
// selectors with label matchers, rate, increase, histogram_quantile, sum/min/max/avg/count by or
// without, and arithmetic between scalars and vectors. Anything else is a 400 in Prometheus's error shape
// naming what is not supported.
package promql

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/metric"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/metrics"
)

// series is one PromQL time series: its labels (__name__ included) and samples, oldest first.
type series struct {
	labels  map[string]string
	samples []sample
	// fromDelta marks a counter summed from Cloud Monitoring DELTA points: it was 0 before its first
	// sample, so an increase counts that sample whole.
	fromDelta bool
}

type sample struct {
	t time.Time
	v float64
}

// promName is the PromQL name of a Cloud Monitoring metric type: the first "/" becomes ":" and every other
// character other than letters, digits and "_" becomes "_"
// (https://cloud.google.com/monitoring/promql/promql-mapping), e.g. run.googleapis.com/request_count is
// run_googleapis_com:request_count.
func promName(metricType string) string {
	domain, path, _ := strings.Cut(metricType, "/")
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '_'
		}, s)
	}
	return clean(domain) + ":" + clean(path)
}

// toSeries turns snapshots into PromQL series. DELTA points become counters (their running sum), so that
// rate and increase work as on Cloud Monitoring; a distribution becomes the _count, _sum and _bucket
// series of a Prometheus histogram, le in milliseconds.
func toSeries(snaps []metrics.Snapshot) []*series {
	var out []*series
	for _, s := range snaps {
		base := map[string]string{"monitored_resource": s.ResourceType}
		for k, v := range s.ResourceLabels {
			base[k] = v
		}
		for k, v := range s.MetricLabels {
			base[k] = v
		}
		name := promName(s.MetricType)
		delta := s.Kind == metric.MetricDescriptor_DELTA
		if s.Points[0].Histogram == nil {
			out = append(out, numeric(name, base, s.Points, delta))
			continue
		}
		out = append(out, histogramSeries(name, base, s.Points)...)
	}
	return out
}

func withName(base map[string]string, name string, extra ...string) map[string]string {
	l := make(map[string]string, len(base)+2)
	for k, v := range base {
		l[k] = v
	}
	l["__name__"] = name
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

func numeric(name string, base map[string]string, points []metrics.SnapshotPoint, delta bool) *series {
	s := &series{labels: withName(base, name), fromDelta: delta}
	sum := 0.0
	for _, p := range points {
		v := p.Value
		if delta {
			sum += v
			v = sum
		}
		s.samples = append(s.samples, sample{p.End, v})
	}
	return s
}

// histogramSeries are the _count, _sum and one _bucket series per bound (cumulative over le and time) of
// a distribution's DELTA points.
func histogramSeries(name string, base map[string]string, points []metrics.SnapshotPoint) []*series {
	var bounds []float64
	for _, p := range points {
		if len(p.Histogram.Bounds) > len(bounds) {
			bounds = p.Histogram.Bounds
		}
	}
	if n := len(bounds); n == 0 || !math.IsInf(bounds[n-1], 1) {
		bounds = append(slices.Clone(bounds), math.Inf(1))
	}
	count := &series{labels: withName(base, name+"_count"), fromDelta: true}
	sum := &series{labels: withName(base, name+"_sum"), fromDelta: true}
	buckets := make([]*series, len(bounds))
	for i, b := range bounds {
		buckets[i] = &series{labels: withName(base, name+"_bucket", "le", formatFloat(b)), fromDelta: true}
	}
	var c, sm float64
	cum := make([]float64, len(bounds))
	for _, p := range points {
		h := p.Histogram
		c += float64(h.Count)
		sm += h.Sum
		count.samples = append(count.samples, sample{p.End, c})
		sum.samples = append(sum.samples, sample{p.End, sm})
		below := 0.0
		for i := range bounds {
			if i < len(h.Counts) {
				below += float64(h.Counts[i])
			}
			if i == len(bounds)-1 {
				below = float64(h.Count)
			}
			cum[i] += below
			buckets[i].samples = append(buckets[i].samples, sample{p.End, cum[i]})
		}
	}
	return append([]*series{count, sum}, buckets...)
}

// formatFloat renders a value as Prometheus does: +Inf, -Inf, NaN or the shortest decimal.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
