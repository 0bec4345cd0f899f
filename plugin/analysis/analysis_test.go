package analysis

import (
	"math"
	"testing"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/api/distribution"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/genproto/googleapis/api/monitoredres"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

func ptr[T any](v T) *T { return &v }

var subject = Subject{Project: "proj", Location: "asia-northeast1", Service: "web", New: "web-2", Baseline: []string{"web-1"}}

func TestSubject_Filter(t *testing.T) {
	t.Parallel()
	assert.Equal(t, `metric.type = "run.googleapis.com/request_count" AND resource.type = "cloud_run_revision" AND resource.labels.location = "asia-northeast1" AND resource.labels.service_name = "web" AND resource.labels.revision_name = one_of("web-2", "web-1")`,
		subject.Filter(RequestCount))
	split := Subject{Location: "l", Service: "web", New: "web-3", Baseline: []string{"web-1", "web-2"}}
	assert.Contains(t, split.Filter(RequestLatencies), `resource.labels.revision_name = one_of("web-3", "web-1", "web-2")`, "a baseline of two revisions")
}

func TestQueries(t *testing.T) {
	t.Parallel()
	counts, latencies := Queries(config.AnalysisStageOptions{Metrics: []config.AnalysisMetric{{Latency: &config.LatencyMetric{}}}})
	assert.Equal(t, []bool{false, true}, []bool{counts, latencies})
	counts, latencies = Queries(config.AnalysisStageOptions{Metrics: []config.AnalysisMetric{{ErrorRate: &config.ErrorRateMetric{}}, {Custom: &config.CustomMetric{}}}})
	assert.Equal(t, []bool{true, false}, []bool{counts, latencies})
}

// countSeries is a request_count series of rev with the given points.
func countSeries(rev, class string, points ...int64) *monitoringpb.TimeSeries {
	ts := &monitoringpb.TimeSeries{
		Metric:   &metric.Metric{Type: RequestCount, Labels: map[string]string{"response_code_class": class}},
		Resource: &monitoredres.MonitoredResource{Type: resourceType, Labels: map[string]string{"revision_name": rev}},
	}
	for _, n := range points {
		ts.Points = append(ts.Points, &monitoringpb.Point{Value: &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_Int64Value{Int64Value: n}}})
	}
	return ts
}

// latencySeries is a request_latencies series of rev with one point in linear 10ms buckets.
func latencySeries(rev string, buckets ...int64) *monitoringpb.TimeSeries {
	var count int64
	for _, n := range buckets {
		count += n
	}
	d := &distribution.Distribution{Count: count, BucketCounts: buckets, BucketOptions: &distribution.Distribution_BucketOptions{
		Options: &distribution.Distribution_BucketOptions_LinearBuckets{LinearBuckets: &distribution.Distribution_BucketOptions_Linear{NumFiniteBuckets: 10, Width: 10, Offset: 0}},
	}}
	return &monitoringpb.TimeSeries{
		Metric:   &metric.Metric{Type: RequestLatencies},
		Resource: &monitoredres.MonitoredResource{Type: resourceType, Labels: map[string]string{"revision_name": rev}},
		Points:   []*monitoringpb.Point{{Value: &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DistributionValue{DistributionValue: d}}}},
	}
}

func TestSamples(t *testing.T) {
	t.Parallel()
	ss := Samples{}
	ss.AddRequestCounts([]*monitoringpb.TimeSeries{
		countSeries("web-2", "2xx", 40, 40), countSeries("web-2", "5xx", 20), countSeries("web-1", "2xx", 500), countSeries("web-1", "4xx", 10),
	})
	ss.AddLatencies([]*monitoringpb.TimeSeries{latencySeries("web-2", 0, 50, 50)}, true)
	w := NewWindow(subject, time.Time{}, time.Time{}, ss, nil)
	assert.Equal(t, int64(100), w.New.Requests, "latency counts do not add requests when request_count was read")
	rate, ok := w.New.ErrorRate()
	require.True(t, ok)
	assert.InDelta(t, 0.2, rate, 1e-9)
	require.NotNil(t, w.Baseline)
	assert.Equal(t, int64(510), w.Baseline.Requests)
	assert.Equal(t, int64(0), w.Baseline.Errors, "4xx are not errors")

	only := Samples{}
	only.AddLatencies([]*monitoringpb.TimeSeries{latencySeries("web-2", 0, 50, 50)}, false)
	assert.Equal(t, int64(100), only.of("web-2").Requests, "without request_count the latency counts are the requests")

	first := NewWindow(Subject{New: "web-1"}, time.Time{}, time.Time{}, ss, nil)
	assert.Nil(t, first.Baseline, "a first deployment has no baseline")
}

func TestDistribution_Percentile(t *testing.T) {
	t.Parallel()
	exp := &distribution.Distribution_BucketOptions{Options: &distribution.Distribution_BucketOptions_ExponentialBuckets{
		ExponentialBuckets: &distribution.Distribution_BucketOptions_Exponential{NumFiniteBuckets: 3, GrowthFactor: 2, Scale: 100},
	}}
	explicit := &distribution.Distribution_BucketOptions{Options: &distribution.Distribution_BucketOptions_ExplicitBuckets{
		ExplicitBuckets: &distribution.Distribution_BucketOptions_Explicit{Bounds: []float64{0, 50, 100}},
	}}
	linear := &distribution.Distribution_BucketOptions{Options: &distribution.Distribution_BucketOptions_LinearBuckets{
		LinearBuckets: &distribution.Distribution_BucketOptions_Linear{NumFiniteBuckets: 2, Width: 10, Offset: 5},
	}}
	testcases := []struct {
		name   string
		points []*distribution.Distribution
		p      float64
		want   time.Duration
	}{
		// Exponential buckets [100,200), [200,400), [400,800): p50 of 10 values is the 5th, halfway into [200,400).
		{"exponential", []*distribution.Distribution{{Count: 10, BucketOptions: exp, BucketCounts: []int64{0, 4, 2, 4}}}, 50, 300 * time.Millisecond},
		{"exponential overflow", []*distribution.Distribution{{Count: 2, BucketOptions: exp, BucketCounts: []int64{0, 0, 0, 0, 2}}}, 99, 800 * time.Millisecond},
		{"explicit", []*distribution.Distribution{{Count: 4, BucketOptions: explicit, BucketCounts: []int64{0, 2, 2}}}, 75, 75 * time.Millisecond},
		{"merged points", []*distribution.Distribution{
			{Count: 5, BucketOptions: exp, BucketCounts: []int64{0, 5}},
			{Count: 5, BucketOptions: exp, BucketCounts: []int64{0, 0, 0, 5}},
		}, 90, 720 * time.Millisecond},
		{"no buckets: the mean", []*distribution.Distribution{{Count: 3, Mean: 42}}, 99, 42 * time.Millisecond},
		// Linear buckets [5,15), [15,25): the underflow [0,5) holds 2 of 8, so p25 is the end of the underflow.
		{"linear with underflow", []*distribution.Distribution{{Count: 8, BucketOptions: linear, BucketCounts: []int64{2, 4, 2}}}, 25, 5 * time.Millisecond},
		{"linear", []*distribution.Distribution{{Count: 8, BucketOptions: linear, BucketCounts: []int64{2, 4, 2}}}, 50, 10 * time.Millisecond},
		// Two points of one layout: [5,15) holds 1 + 3 values, so the 2nd of 4 is halfway into it, in either order.
		{"points of one layout merge their buckets", []*distribution.Distribution{
			{Count: 1, BucketOptions: linear, BucketCounts: []int64{0, 1}},
			{Count: 3, BucketOptions: linear, BucketCounts: []int64{0, 3}},
		}, 50, 10 * time.Millisecond},
		{"points of one layout merge their buckets, other order", []*distribution.Distribution{
			{Count: 3, BucketOptions: linear, BucketCounts: []int64{0, 3}},
			{Count: 1, BucketOptions: linear, BucketCounts: []int64{0, 1}},
		}, 50, 10 * time.Millisecond},
		// The rank falls on the end of [5,15), followed by an empty bucket: 15ms, not the next bucket's start.
		{"rank at the end of a bucket before a gap", []*distribution.Distribution{{Count: 4, BucketOptions: linear, BucketCounts: []int64{0, 2, 0, 2}}}, 50, 15 * time.Millisecond},
		// Buckets starting at the same bound sort by their end, whatever the order of the points: the mean
		// [100,100] before [100,200), so the 2nd of 2 values is halfway into [100,200).
		{"same start, sorted by end", []*distribution.Distribution{
			{Count: 1, BucketOptions: exp, BucketCounts: []int64{0, 1}},
			{Count: 1, Mean: 100},
		}, 75, 150 * time.Millisecond},
		{"explicit overflow", []*distribution.Distribution{{Count: 2, BucketOptions: explicit, BucketCounts: []int64{0, 0, 0, 2}}}, 50, 100 * time.Millisecond},
		{"empty point ignored", []*distribution.Distribution{{Count: 0, Mean: 999}, {Count: 1, Mean: 10}}, 99, 10 * time.Millisecond},
		{"zero-count bucket ignored", []*distribution.Distribution{{Count: 2, BucketOptions: exp, BucketCounts: []int64{0, 0, 2}}}, 0, 200 * time.Millisecond},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var d Distribution
			for _, p := range tc.points {
				d.Add(p)
			}
			got, ok := d.Percentile(tc.p)
			require.True(t, ok)
			assert.InDelta(t, float64(tc.want), float64(got), float64(time.Microsecond))
		})
	}
	var empty Distribution
	_, ok := empty.Percentile(50)
	assert.False(t, ok)
}

func TestReduce(t *testing.T) {
	t.Parallel()
	series := []*monitoringpb.TimeSeries{countSeries("a", "", 3, 1), countSeries("b", "", 8)}
	for reducer, want := range map[string]float64{config.ReduceSum: 12, config.ReduceMean: 4, config.ReduceMax: 8, config.ReduceMin: 1} {
		assert.Equal(t, CustomValue{Value: want, Points: 3}, Reduce(series, reducer), reducer)
	}
	assert.Equal(t, CustomValue{}, Reduce(nil, config.ReduceSum))
	assert.Equal(t, CustomValue{}, Reduce(nil, config.ReduceMean), "the mean of no points is no value, not NaN")
}

// TestReduceValueTypes: a custom metric may be a double, a bool (true counts 1) or a distribution (its mean).
func TestReduceValueTypes(t *testing.T) {
	t.Parallel()
	point := func(v *monitoringpb.TypedValue) *monitoringpb.Point { return &monitoringpb.Point{Value: v} }
	series := []*monitoringpb.TimeSeries{{Points: []*monitoringpb.Point{
		point(&monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DoubleValue{DoubleValue: 0.25}}),
		point(&monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_BoolValue{BoolValue: true}}),
		point(&monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_BoolValue{BoolValue: false}}),
		point(&monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DistributionValue{DistributionValue: &distribution.Distribution{Count: 2, Mean: 7.5}}}),
		point(&monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_StringValue{StringValue: "9"}}),
	}}}
	assert.Equal(t, CustomValue{Value: 8.75, Points: 5}, Reduce(series, config.ReduceSum))
	assert.Equal(t, CustomValue{Value: 0, Points: 5}, Reduce(series, config.ReduceMin))
	assert.Equal(t, CustomValue{Value: 7.5, Points: 5}, Reduce(series, config.ReduceMax))
}

func TestJudge(t *testing.T) {
	t.Parallel()
	opts := func(metrics ...config.AnalysisMetric) config.AnalysisStageOptions {
		return config.AnalysisStageOptions{Duration: 3 * time.Second, Interval: time.Second, MinRequests: 10, Metrics: metrics}
	}
	errorRate := func(max, increase *float64) config.AnalysisMetric {
		return config.AnalysisMetric{ErrorRate: &config.ErrorRateMetric{Max: max, MaxIncrease: increase}}
	}
	latency := func(max, increase *time.Duration) config.AnalysisMetric {
		return config.AnalysisMetric{Latency: &config.LatencyMetric{Percentile: 50, Max: max, MaxIncrease: increase}}
	}
	sample := func(requests, errors int64, latencyBuckets ...int64) *Sample {
		s := &Sample{Requests: requests, Errors: errors}
		s.Latency.Add(latencySeries("", latencyBuckets...).GetPoints()[0].GetValue().GetDistributionValue())
		return s
	}
	promql := func(lo, hi *float64) config.AnalysisMetric {
		return config.AnalysisMetric{PromQL: &config.PromQLMetric{Query: "q", Min: lo, Max: hi}}
	}
	dryRun := func(m config.AnalysisMetric) config.AnalysisMetric {
		m.DryRun = true
		return m
	}
	window := func(new, base *Sample, custom ...CustomValue) Window {
		return Window{New: *new, Baseline: base, Custom: custom}
	}
	testcases := []struct {
		name     string
		opts     config.AnalysisStageOptions
		window   Window
		want     Verdict
		verdicts []Verdict
		failures string
	}{
		{"error rate within max", opts(errorRate(ptr(0.01), nil)), window(sample(100, 1), nil), Pass, []Verdict{Pass}, ""},
		{"error rate above max", opts(errorRate(ptr(0.01), nil)), window(sample(100, 20), nil), Fail, []Verdict{Fail},
			"errorRate 20.00%, allowed <= 1.00% (20 of 100 requests answered 5xx)"},
		{"too few requests", opts(errorRate(ptr(0.01), nil)), window(sample(9, 9), nil), Inconclusive, []Verdict{Inconclusive}, ""},
		{"no traffic with minRequests 0 is inconclusive", config.AnalysisStageOptions{Duration: time.Second, Interval: time.Second, Metrics: []config.AnalysisMetric{errorRate(ptr(0.01), nil)}},
			window(sample(0, 0), nil), Inconclusive, []Verdict{Inconclusive}, ""},
		{"increase over the baseline", opts(errorRate(nil, ptr(0.005))), window(sample(100, 5), sample(1000, 46)), Pass, []Verdict{Pass}, ""},
		{"increase beyond the baseline", opts(errorRate(nil, ptr(0.005))), window(sample(100, 5), sample(1000, 0)), Fail, []Verdict{Fail},
			"errorRate increase +5.00%, allowed <= baseline + 0.50% (5.00% vs baseline 0.00% (0 of 1000 requests))"},
		{"baseline without traffic", opts(errorRate(nil, ptr(0.005))), window(sample(100, 0), sample(0, 0)), Inconclusive, []Verdict{Inconclusive}, ""},
		{"no baseline: comparisons left out", opts(errorRate(ptr(0.01), ptr(0.005))), window(sample(100, 0), nil), Pass, []Verdict{Pass}, ""},
		// Linear 10ms buckets: 20 values in [0,10) and 20 in [10,20): p50 is 10ms.
		{"latency within max", opts(latency(ptr(10*time.Millisecond), nil)), window(sample(40, 0, 0, 20, 20), nil), Pass, []Verdict{Pass}, ""},
		{"latency above max", opts(latency(ptr(5*time.Millisecond), nil)), window(sample(40, 0, 0, 20, 20), nil), Fail, []Verdict{Fail},
			"latency p50 10ms, allowed <= 5.0ms (over 40 requests)"},
		{"latency regression against the baseline", opts(latency(nil, ptr(5*time.Millisecond))), window(sample(40, 0, 0, 0, 0, 40), sample(40, 0, 0, 40)), Fail, []Verdict{Fail},
			"latency p50 increase +20ms, allowed <= baseline + 5.0ms (25ms vs baseline 5.0ms)"},
		// A slower baseline (p50 15ms) moves the allowance: 25ms is +10ms over it, right at a 10ms increase.
		{"latency at the allowed increase over a slower baseline", opts(latency(nil, ptr(10*time.Millisecond))), window(sample(40, 0, 0, 0, 0, 40), sample(40, 0, 0, 0, 40)), Pass, []Verdict{Pass}, ""},
		{"latency beyond the allowed increase over a slower baseline", opts(latency(nil, ptr(9*time.Millisecond))), window(sample(40, 0, 0, 0, 0, 40), sample(40, 0, 0, 0, 40)), Fail, []Verdict{Fail},
			"latency p50 increase +10ms, allowed <= baseline + 9.0ms (25ms vs baseline 15ms)"},
		{"increase beyond a baseline that has errors too", opts(errorRate(nil, ptr(0.05))), window(sample(100, 10), sample(1000, 20)), Fail, []Verdict{Fail},
			"errorRate increase +8.00%, allowed <= baseline + 5.00% (10.00% vs baseline 2.00% (20 of 1000 requests))"},
		{"error rate at the allowed increase over the baseline", opts(errorRate(nil, ptr(0.01))), window(sample(100, 3), sample(100, 2)), Pass, []Verdict{Pass}, ""},
		{"exactly minRequests requests is enough", opts(errorRate(ptr(0.1), nil)), window(sample(10, 1), nil), Pass, []Verdict{Pass}, ""},
		{"a failure beats an inconclusive threshold", opts(errorRate(ptr(0.01), ptr(0.01))), window(sample(100, 50), sample(1, 0)), Fail, []Verdict{Fail, Inconclusive}, "errorRate 50.00%"},
		{"custom within bounds", opts(config.AnalysisMetric{Custom: &config.CustomMetric{Filter: "f", Reduce: config.ReduceSum, Max: ptr(0.0)}}),
			window(sample(0, 0), nil, CustomValue{Value: 0, Points: 3}), Pass, []Verdict{Pass}, ""},
		{"custom above max", opts(config.AnalysisMetric{Custom: &config.CustomMetric{Filter: "f", Reduce: config.ReduceSum, Max: ptr(0.0), Min: ptr(-1.0)}}),
			window(sample(0, 0), nil, CustomValue{Value: 2, Points: 3}), Fail, []Verdict{Fail}, "custom sum 2, allowed >= -1 and <= 0 (sum of 3 points of f)"},
		{"custom below min", opts(config.AnalysisMetric{Custom: &config.CustomMetric{Filter: "f", Reduce: config.ReduceMean, Min: ptr(5.0)}}),
			window(sample(0, 0), nil, CustomValue{Value: 4, Points: 3}), Fail, []Verdict{Fail}, "custom mean 4, allowed >= 5 (mean of 3 points of f)"},
		{"custom at both bounds", opts(config.AnalysisMetric{Custom: &config.CustomMetric{Filter: "f", Reduce: config.ReduceMean, Min: ptr(5.0), Max: ptr(5.0)}}),
			window(sample(0, 0), nil, CustomValue{Value: 5, Points: 3}), Pass, []Verdict{Pass}, ""},
		{"custom without points", opts(config.AnalysisMetric{Custom: &config.CustomMetric{Filter: "f", Reduce: config.ReduceSum, Max: ptr(0.0)}}),
			window(sample(0, 0), nil, CustomValue{}), Inconclusive, []Verdict{Inconclusive}, ""},
		{"promql within bounds", opts(promql(ptr(0.95), nil)), window(sample(0, 0), nil, CustomValue{Value: 0.99, Points: 1}), Pass, []Verdict{Pass}, ""},
		{"promql at both bounds", opts(promql(ptr(0.95), ptr(0.95))), window(sample(0, 0), nil, CustomValue{Value: 0.95, Points: 1}), Pass, []Verdict{Pass}, ""},
		{"promql above max", opts(promql(nil, ptr(1.0))), window(sample(0, 0), nil, CustomValue{Value: 1.5, Points: 1}), Fail, []Verdict{Fail}, "promql 1.5, allowed <= 1 (q)"},
		{"promql below min", opts(promql(ptr(0.95), nil)), window(sample(0, 0), nil, CustomValue{Value: 0.5, Points: 1}), Fail, []Verdict{Fail}, "promql 0.5, allowed >= 0.95 (q)"},
		{"custom metric whose values were not read", opts(config.AnalysisMetric{Custom: &config.CustomMetric{Filter: "f", Reduce: config.ReduceSum, Max: ptr(0.0)}}),
			window(sample(0, 0), nil), Inconclusive, []Verdict{Inconclusive}, ""},
		{"promql whose value was not read", opts(promql(nil, ptr(1.0))), window(sample(0, 0), nil), Inconclusive, []Verdict{Inconclusive}, ""},
		{"promql without value", opts(promql(nil, ptr(1.0))), window(sample(0, 0), nil, CustomValue{}), Inconclusive, []Verdict{Inconclusive}, ""},
		{"promql NaN", opts(promql(nil, ptr(1.0))), window(sample(0, 0), nil, CustomValue{Value: math.NaN(), Points: 1}), Inconclusive, []Verdict{Inconclusive}, ""},
		{"promql with several series", opts(promql(nil, ptr(1.0))), window(sample(0, 0), nil, CustomValue{Value: 0, Points: 2}), Fail, []Verdict{Fail},
			"promql -, allowed <= 1 (the query gave 2 series, allowed one value: aggregate it (sum, max, ...): q)"},
		{"a failed dry-run threshold leaves the check passing", opts(errorRate(ptr(0.01), nil), dryRun(errorRate(ptr(0.001), nil))),
			window(sample(1000, 5), nil), Pass, []Verdict{Pass, Fail}, ""},
		{"an inconclusive dry-run threshold leaves the check passing", opts(errorRate(ptr(0.01), nil), dryRun(latency(ptr(time.Second), nil))),
			window(&Sample{Requests: 100}, nil), Pass, []Verdict{Pass, Inconclusive}, ""},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Judge(tc.opts, 1, tc.window)
			assert.Equal(t, tc.want, c.Verdict)
			var verdicts []Verdict
			for _, r := range c.Results {
				verdicts = append(verdicts, r.Verdict)
			}
			assert.Equal(t, tc.verdicts, verdicts)
			if tc.failures == "" {
				assert.Empty(t, c.Failures(false))
			} else {
				assert.Contains(t, c.Failures(false), tc.failures)
			}
		})
	}
}

func TestTally_Outcome(t *testing.T) {
	t.Parallel()
	opts := config.AnalysisStageOptions{FailureLimit: 1}
	tally := func(vs ...Verdict) Tally {
		var t Tally
		for _, v := range vs {
			t.Add(v)
		}
		return t
	}
	assert.Equal(t, Pass, tally(Pass, Pass).Outcome(opts))
	assert.Equal(t, Pass, tally(Pass, Fail).Outcome(opts), "within the failure limit")
	assert.Equal(t, Fail, tally(Fail, Fail).Outcome(opts))
	assert.True(t, tally(Fail, Fail).FailedBeyond(opts.FailureLimit))
	assert.Equal(t, Inconclusive, tally(Pass, Inconclusive).Outcome(opts))
	assert.Equal(t, "1 passed, 1 failed, 1 inconclusive", tally(Pass, Fail, Inconclusive).String())
	assert.Equal(t, Pass, tally(Pass, Inconclusive).Outcome(config.AnalysisStageOptions{InconclusiveLimit: 1}), "within the inconclusive limit")
	assert.True(t, tally(Inconclusive, Inconclusive).InconclusiveBeyond(1))
}

func TestTally_Errors(t *testing.T) {
	t.Parallel()
	var tally Tally
	tally.AddError()
	tally.AddError()
	assert.True(t, tally.ErroredBeyond(1))
	assert.False(t, tally.ErroredBeyond(2))
	assert.Equal(t, Inconclusive, tally.Outcome(config.AnalysisStageOptions{}), "no check read its data")
	tally.Add(Pass)
	assert.False(t, tally.ErroredBeyond(0), "a check that read its data ends the errors in a row")
	tally.AddError()
	assert.Equal(t, 1, tally.ConsecutiveErrors)
	assert.Equal(t, Pass, tally.Outcome(config.AnalysisStageOptions{}), "errored checks are neither failed nor inconclusive")
	assert.Equal(t, "1 passed, 0 failed, 0 inconclusive, 3 without data (Cloud Monitoring errors)", tally.String())
}

func TestSubject_PromQLQuery(t *testing.T) {
	t.Parallel()
	q := subject.PromQLQuery(&config.PromQLMetric{Query: `rate(x{revision_name="${CLOUDRUN_REVISION}",service_name="${CLOUDRUN_SERVICE}",location="${CLOUDRUN_LOCATION}"}[${CLOUDRUN_WINDOW}])`}, 2*time.Minute)
	assert.Equal(t, `rate(x{revision_name="web-2",service_name="web",location="asia-northeast1"}[120s])`, q)
}

func TestRender_DryRun(t *testing.T) {
	t.Parallel()
	opts := config.AnalysisStageOptions{Duration: time.Second, Interval: time.Second, MinRequests: 1, Metrics: []config.AnalysisMetric{
		{Custom: &config.CustomMetric{Filter: "f", Reduce: config.ReduceMax, Max: ptr(1.0)}, DryRun: true},
	}}
	start := time.Date(2026, 1, 2, 10, 0, 1, 0, time.UTC)
	c := Judge(opts, 1, NewWindow(subject, start, start.Add(time.Second), Samples{}, []CustomValue{{Value: 3, Points: 2}}))
	assert.Equal(t, `Check 1/1 (window 10:00:01-10:00:02 UTC): PASS
METRIC      VALUE  THRESHOLD  VERDICT         DETAIL
custom max  3      <= 1       FAIL (dry run)  max of 2 points of f`, Render(opts, subject, c))
	assert.Equal(t, "custom max 3, allowed <= 1 (max of 2 points of f)", c.Failures(true))
	assert.Empty(t, c.Failures(false))
}

func TestRender(t *testing.T) {
	t.Parallel()
	opts := config.AnalysisStageOptions{Duration: 2 * time.Second, Interval: time.Second, MinRequests: 1, Metrics: []config.AnalysisMetric{
		{ErrorRate: &config.ErrorRateMetric{Max: ptr(0.01)}},
		{Latency: &config.LatencyMetric{Percentile: 50, Max: ptr(time.Second)}},
	}}
	ss := Samples{}
	ss.AddRequestCounts([]*monitoringpb.TimeSeries{countSeries("web-2", "2xx", 8), countSeries("web-2", "5xx", 2), countSeries("web-1", "2xx", 90)})
	ss.AddLatencies([]*monitoringpb.TimeSeries{latencySeries("web-2", 0, 10), latencySeries("web-1", 0, 0, 90)}, true)
	start := time.Date(2026, 1, 2, 10, 0, 1, 0, time.UTC)
	c := Judge(opts, 2, NewWindow(subject, start, start.Add(time.Second), ss, nil))
	assert.Equal(t, `Check 2/2 (window 10:00:01-10:00:02 UTC): FAIL
REVISION  ROLE      REQUESTS  ERROR RATE  P50
web-2     new       10        20.00%      5.0ms
web-1     baseline  90        0.00%       15ms
METRIC       VALUE   THRESHOLD  VERDICT  DETAIL
errorRate    20.00%  <= 1.00%   FAIL     2 of 10 requests answered 5xx
latency p50  5.0ms   <= 1000ms  PASS     over 10 requests`, Render(opts, subject, c))
}

func TestInconclusions_Reasons(t *testing.T) {
	t.Parallel()
	opts := config.AnalysisStageOptions{Duration: 3 * time.Second, Interval: time.Second, MinRequests: 10, Metrics: []config.AnalysisMetric{
		{ErrorRate: &config.ErrorRateMetric{Max: ptr(0.01), MaxIncrease: ptr(0.01)}},
		{Latency: &config.LatencyMetric{Percentile: 99, Max: ptr(time.Second)}},
		{Custom: &config.CustomMetric{Filter: `metric.type = "custom.googleapis.com/x"`, Reduce: config.ReduceSum, Max: ptr(0.0)}},
	}}
	var in Inconclusions
	// Check 1: a few requests to the new revision, none to the baseline, no custom point.
	in.Add(Judge(opts, 1, Window{New: Sample{Requests: 3}, Baseline: &Sample{}, Custom: make([]CustomValue, 3)}))
	// Check 2: no request to the new revision.
	in.Add(Judge(opts, 2, Window{New: Sample{}, Baseline: &Sample{Requests: 50}, Custom: make([]CustomValue, 3)}))
	// Check 3: enough requests but no latency point; the custom filter still matches nothing.
	in.Add(Judge(opts, 3, Window{New: Sample{Requests: 50}, Baseline: &Sample{Requests: 50}, Custom: make([]CustomValue, 3)}))
	assert.Equal(t, []Reason{
		{TooFewRequests, "the new revision answered fewer than minRequests (10) requests in check 1/3: send the service more traffic or lower minRequests"},
		{NoPoints, `the custom filter metric.type = "custom.googleapis.com/x" matched no time series in checks 1, 2, 3/3: check its metric.type and labels, and that something writes the metric`},
		{NoRequests, "the new revision served 0 requests in check 2/3"},
		{NoLatency, "the new revision had requests but no latency point in check 3/3: Cloud Monitoring has not written them (yet); a longer ingestionDelay gives it time"},
	}, in.Reasons(opts))
}

// TestInconclusions_BaselineAndPromQL: a baseline with too few requests and a PromQL query without a value are
// told apart from the new revision's causes; minRequests 0 still asks for one request.
func TestInconclusions_BaselineAndPromQL(t *testing.T) {
	t.Parallel()
	opts := config.AnalysisStageOptions{Duration: 2 * time.Second, Interval: time.Second, Metrics: []config.AnalysisMetric{
		{ErrorRate: &config.ErrorRateMetric{MaxIncrease: ptr(0.01)}},
		{PromQL: &config.PromQLMetric{Query: "sum(up)", Min: ptr(1.0)}},
	}}
	var in Inconclusions
	in.Add(Judge(opts, 1, Window{New: Sample{Requests: 50}, Baseline: &Sample{}, Custom: make([]CustomValue, 2)}))
	in.Add(Judge(opts, 2, Window{New: Sample{Requests: 50}, Baseline: &Sample{Requests: 50}, Custom: []CustomValue{{}, {Value: math.NaN(), Points: 1}}}))
	assert.Equal(t, []Reason{
		{TooFewRequests, "the baseline answered fewer than minRequests (1) requests in check 1/2: send the service more traffic or lower minRequests"},
		{NoValue, "the PromQL query sum(up) gave no value in checks 1, 2/2: check its metric names and labels, and that the new revision had traffic"},
	}, in.Reasons(opts))
}

// TestLatencyFormat: one decimal below 10ms either way, whole milliseconds from 10ms, no "-0.0".
func TestLatencyFormat(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "-10ms", signedMs(-10*time.Millisecond))
	assert.Equal(t, "-9.5ms", signedMs(-9500*time.Microsecond))
	assert.Equal(t, "+10ms", signedMs(10*time.Millisecond))
	assert.Equal(t, "+9.9ms", signedMs(9900*time.Microsecond))
	assert.Equal(t, "+0.0ms", signedMs(-40*time.Microsecond))
	assert.Equal(t, "250ms", ms(250*time.Millisecond))
	assert.Equal(t, "0.5ms", ms(500*time.Microsecond))
}
