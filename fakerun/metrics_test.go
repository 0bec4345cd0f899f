package fakerun

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/metrics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/iterator"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	countFilter   = `metric.type = "run.googleapis.com/request_count"`
	latencyFilter = `metric.type = "run.googleapis.com/request_latencies"`
)

// metricsFake serves a canary where svc-v1 answers 200 after 100ms and
// svc-v2 503 after 300ms (on a frozen clock, so nothing sleeps). At T0 the
// stable tag gets 4 requests and the canary tag 2; at T0+60s 6 and 1.
func metricsFake(t *testing.T, opts ...Option) (*Server, *monitoring.MetricClient) {
	t.Helper()
	srv, c := newFake(t, append([]Option{WithBehaviors(Behaviors{Images: map[string]Behavior{
		imageV1: {Latency: 100 * time.Millisecond},
		imageV2: {Latency: 300 * time.Millisecond, ErrorRate: 1, ErrorCode: http.StatusServiceUnavailable},
	}})}, opts...)...)
	srv.SetNow(testEpoch)
	svc := canary(t, c)
	client := srv.TrafficClient()
	send := func(tag string, n, want int) {
		for range n {
			code, _, _ := get(t, client, tagURL(svc, tag))
			require.Equal(t, want, code)
		}
	}
	send("stable", 4, http.StatusOK)
	send("canary", 2, http.StatusServiceUnavailable)
	srv.Advance(time.Minute)
	send("stable", 6, http.StatusOK)
	send("canary", 1, http.StatusServiceUnavailable)
	srv.Advance(time.Minute)
	return srv, newMetricClient(t, srv)
}

// query asks for filter over (T0-60s, T0+120s] with agg.
func query(filter string, agg *monitoringpb.Aggregation) *monitoringpb.ListTimeSeriesRequest {
	return &monitoringpb.ListTimeSeriesRequest{Name: "projects/p", Filter: filter,
		Interval: window(testEpoch.Add(-time.Minute), testEpoch.Add(2*time.Minute)), Aggregation: agg}
}

func aligned(aligner monitoringpb.Aggregation_Aligner, reducer monitoringpb.Aggregation_Reducer, groupBy ...string) *monitoringpb.Aggregation {
	return &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(time.Minute), PerSeriesAligner: aligner,
		CrossSeriesReducer: reducer, GroupByFields: groupBy}
}

// ints returns each series' INT64 values, newest first, keyed by a label.
func ints(series []*monitoringpb.TimeSeries, key func(*monitoringpb.TimeSeries) string) map[string][]int64 {
	out := map[string][]int64{}
	for _, ts := range series {
		for _, p := range ts.GetPoints() {
			out[key(ts)] = append(out[key(ts)], p.GetValue().GetInt64Value())
		}
	}
	return out
}

func doubles(series []*monitoringpb.TimeSeries) [][]float64 {
	var out [][]float64
	for _, ts := range series {
		var vs []float64
		for _, p := range ts.GetPoints() {
			vs = append(vs, p.GetValue().GetDoubleValue())
		}
		out = append(out, vs)
	}
	return out
}

func revisionOf(ts *monitoringpb.TimeSeries) string {
	return ts.GetResource().GetLabels()["revision_name"]
}

func TestListTimeSeriesAligners(t *testing.T) {
	t.Parallel()
	_, mc := metricsFake(t)

	t.Run("success: ALIGN_NONE returns per-second DELTA points, newest first", func(t *testing.T) {
		series := listSeries(t, mc, query(countFilter, nil))
		require.Len(t, series, 2)
		v1 := series[0]
		assert.Equal(t, map[string]string{"project_id": "p", "location": "us-central1", "service_name": "svc",
			"revision_name": "svc-v1", "configuration_name": "svc"}, v1.GetResource().GetLabels())
		assert.Equal(t, "cloud_run_revision", v1.GetResource().GetType())
		assert.Equal(t, map[string]string{"response_code": "200", "response_code_class": "2xx"}, v1.GetMetric().GetLabels())
		assert.Equal(t, metric.MetricDescriptor_DELTA, v1.GetMetricKind())
		assert.Equal(t, metric.MetricDescriptor_INT64, v1.GetValueType())
		require.Len(t, v1.GetPoints(), 2)
		newest := v1.GetPoints()[0].GetInterval()
		assert.Equal(t, testEpoch.Add(61*time.Second), newest.GetEndTime().AsTime())
		assert.Equal(t, testEpoch.Add(60*time.Second), newest.GetStartTime().AsTime())
		assert.Equal(t, map[string][]int64{"svc-v1": {6, 4}, "svc-v2": {1, 2}}, ints(series, revisionOf))
		assert.Equal(t, map[string]string{"response_code": "503", "response_code_class": "5xx"}, series[1].GetMetric().GetLabels())
	})
	t.Run("success: ALIGN_DELTA and ALIGN_SUM sum each alignment period, ending at the interval's end", func(t *testing.T) {
		for _, a := range []monitoringpb.Aggregation_Aligner{monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_ALIGN_SUM} {
			series := listSeries(t, mc, query(countFilter, aligned(a, monitoringpb.Aggregation_REDUCE_NONE)))
			assert.Equal(t, map[string][]int64{"svc-v1": {6, 4}, "svc-v2": {1, 2}}, ints(series, revisionOf), a)
			p := series[0].GetPoints()[0].GetInterval()
			assert.Equal(t, testEpoch.Add(2*time.Minute), p.GetEndTime().AsTime(), a)
			assert.Equal(t, testEpoch.Add(time.Minute), p.GetStartTime().AsTime(), a)
		}
	})
	t.Run("success: ALIGN_RATE is per second, a DOUBLE GAUGE", func(t *testing.T) {
		series := listSeries(t, mc, query(countFilter, aligned(monitoringpb.Aggregation_ALIGN_RATE, monitoringpb.Aggregation_REDUCE_NONE)))
		assert.InDeltaSlice(t, []float64{6.0 / 60, 4.0 / 60}, doubles(series)[0], 1e-9)
		assert.Equal(t, metric.MetricDescriptor_GAUGE, series[0].GetMetricKind())
		assert.Equal(t, metric.MetricDescriptor_DOUBLE, series[0].GetValueType())
	})
	t.Run("success: ALIGN_DELTA on latencies gives distributions in ms", func(t *testing.T) {
		series := listSeries(t, mc, query(latencyFilter+` AND resource.labels.revision_name = "svc-v1"`,
			aligned(monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_REDUCE_NONE)))
		require.Len(t, series, 1)
		assert.Equal(t, map[string]string{"response_code_class": "2xx"}, series[0].GetMetric().GetLabels())
		assert.Equal(t, "ms", series[0].GetUnit())
		d := series[0].GetPoints()[1].GetValue().GetDistributionValue()
		assert.Equal(t, int64(4), d.GetCount())
		assert.InDelta(t, 100, d.GetMean(), 1e-9)
		assert.InDelta(t, 1.4, d.GetBucketOptions().GetExponentialBuckets().GetGrowthFactor(), 1e-9)
	})
	t.Run("success: ALIGN_PERCENTILE_50/95/99 read the latency buckets", func(t *testing.T) {
		for _, a := range []monitoringpb.Aggregation_Aligner{monitoringpb.Aggregation_ALIGN_PERCENTILE_50,
			monitoringpb.Aggregation_ALIGN_PERCENTILE_95, monitoringpb.Aggregation_ALIGN_PERCENTILE_99} {
			series := listSeries(t, mc, query(latencyFilter, aligned(a, monitoringpb.Aggregation_REDUCE_NONE)))
			require.Len(t, series, 2)
			// 100 ms lies in the bucket [1.4^13, 1.4^14) = [79.4, 111.1); 300 ms in [217.8, 304.9).
			for _, v := range doubles(series)[0] {
				assert.True(t, v >= 79.3 && v <= 111.2, "%s svc-v1 %v", a, v)
			}
			for _, v := range doubles(series)[1] {
				assert.True(t, v >= 217.7 && v <= 305, "%s svc-v2 %v", a, v)
			}
		}
	})
}

func TestListTimeSeriesReducers(t *testing.T) {
	t.Parallel()
	_, mc := metricsFake(t)

	t.Run("success: REDUCE_SUM without group_by_fields makes one series", func(t *testing.T) {
		series := listSeries(t, mc, query(countFilter, aligned(monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_REDUCE_SUM)))
		require.Len(t, series, 1)
		assert.Empty(t, series[0].GetMetric().GetLabels())
		assert.Empty(t, series[0].GetResource().GetLabels())
		assert.Equal(t, map[string][]int64{"": {7, 6}}, ints(series, revisionOf))
	})
	t.Run("success: REDUCE_SUM keeps only the group_by_fields", func(t *testing.T) {
		series := listSeries(t, mc, query(countFilter, aligned(monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_REDUCE_SUM,
			"metric.labels.response_code_class")))
		require.Len(t, series, 2)
		assert.Equal(t, map[string][]int64{"2xx": {6, 4}, "5xx": {1, 2}}, ints(series, func(ts *monitoringpb.TimeSeries) string {
			return ts.GetMetric().GetLabels()["response_code_class"]
		}))
		assert.Empty(t, series[0].GetResource().GetLabels())
	})
	t.Run("success: REDUCE_MEAN and REDUCE_PERCENTILE_50 of rates", func(t *testing.T) {
		for _, r := range []monitoringpb.Aggregation_Reducer{monitoringpb.Aggregation_REDUCE_MEAN, monitoringpb.Aggregation_REDUCE_PERCENTILE_50} {
			series := listSeries(t, mc, query(countFilter, aligned(monitoringpb.Aggregation_ALIGN_RATE, r)))
			require.Len(t, series, 1, r)
			assert.InDeltaSlice(t, []float64{3.5 / 60, 3.0 / 60}, doubles(series)[0], 1e-9, r)
		}
	})
	t.Run("success: REDUCE_PERCENTILE_95 and _99 interpolate between series", func(t *testing.T) {
		series := listSeries(t, mc, query(countFilter, aligned(monitoringpb.Aggregation_ALIGN_RATE, monitoringpb.Aggregation_REDUCE_PERCENTILE_95)))
		assert.InDeltaSlice(t, []float64{(1 + 0.95*5) / 60, (2 + 0.95*2) / 60}, doubles(series)[0], 1e-9)
		series = listSeries(t, mc, query(countFilter, aligned(monitoringpb.Aggregation_ALIGN_RATE, monitoringpb.Aggregation_REDUCE_PERCENTILE_99)))
		assert.InDeltaSlice(t, []float64{(1 + 0.99*5) / 60, (2 + 0.99*2) / 60}, doubles(series)[0], 1e-9)
	})
	t.Run("success: reducers over distributions merge them", func(t *testing.T) {
		series := listSeries(t, mc, query(latencyFilter, aligned(monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_REDUCE_SUM)))
		require.Len(t, series, 1)
		assert.Equal(t, int64(6), series[0].GetPoints()[1].GetValue().GetDistributionValue().GetCount())
		series = listSeries(t, mc, query(latencyFilter, aligned(monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_REDUCE_MEAN)))
		assert.InDelta(t, (4*100.0+2*300)/6, doubles(series)[0][1], 1e-9)
		series = listSeries(t, mc, query(latencyFilter, aligned(monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_REDUCE_PERCENTILE_99)))
		assert.True(t, doubles(series)[0][1] >= 217.7 && doubles(series)[0][1] <= 305, "%v", doubles(series))
	})
}

func TestListTimeSeriesFilters(t *testing.T) {
	t.Parallel()
	_, mc := metricsFake(t)
	testcases := []struct {
		name   string
		filter string
		want   []string // revision_name of the series returned, in order
	}{
		{"success: resource.type and resource.labels", countFilter + ` AND resource.type = "cloud_run_revision" AND resource.labels.revision_name = "svc-v2"`, []string{"svc-v2"}},
		{"success: metric.labels with !=", countFilter + ` AND metric.labels.response_code != "200"`, []string{"svc-v2"}},
		{"success: one_of", countFilter + ` AND metric.label.response_code_class = one_of("4xx", "5xx")`, []string{"svc-v2"}},
		{"success: starts_with", countFilter + ` AND resource.labels.revision_name = starts_with("svc-v")`, []string{"svc-v1", "svc-v2"}},
		{"success: OR inside parentheses", countFilter + ` AND (resource.labels.revision_name = "svc-v1" OR metric.labels.response_code = "404")`, []string{"svc-v1"}},
		{"success: NOT", countFilter + ` AND NOT resource.labels.revision_name = "svc-v1"`, []string{"svc-v2"}},
		{"success: project", countFilter + ` AND project = "p"`, []string{"svc-v1", "svc-v2"}},
		{"success: a label nobody has matches nothing", countFilter + ` AND resource.labels.zone = "x"`, nil},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, ts := range listSeries(t, mc, query(tc.filter, nil)) {
				got = append(got, revisionOf(ts))
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestListTimeSeriesErrors(t *testing.T) {
	t.Parallel()
	_, mc := metricsFake(t)
	testcases := []struct {
		name    string
		req     *monitoringpb.ListTimeSeriesRequest
		mention string // the part the error must name
	}{
		{"fail: malformed filter", query(countFilter+` AND resource.labels.service_name ==`, nil), "offset"},
		{"fail: unterminated string", query(`metric.type = "run.googleapis.com/request_count`, nil), "unterminated string"},
		{"fail: unknown function", query(countFilter+` AND resource.labels.service_name = ends_width("x")`, nil), `"ends_width"`},
		{"fail: unknown selector", query(countFilter+` AND metric.name = "x"`, nil), `"metric.name"`},
		{"fail: no metric type", query(`resource.type = "cloud_run_revision"`, nil), "single type"},
		{"fail: metric type fakerun does not record", query(`metric.type = "run.googleapis.com/container/cpu/utilizations"`, nil), "container/cpu/utilizations"},
		{"fail: unsupported aligner", query(countFilter, aligned(monitoringpb.Aggregation_ALIGN_MEAN, monitoringpb.Aggregation_REDUCE_NONE)), "ALIGN_MEAN"},
		{"fail: unsupported reducer", query(countFilter, aligned(monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_REDUCE_MAX)), "REDUCE_MAX"},
		{"fail: ALIGN_RATE on a distribution", query(latencyFilter, aligned(monitoringpb.Aggregation_ALIGN_RATE, monitoringpb.Aggregation_REDUCE_NONE)), "ALIGN_RATE"},
		{"fail: a percentile aligner on INT64", query(countFilter, aligned(monitoringpb.Aggregation_ALIGN_PERCENTILE_99, monitoringpb.Aggregation_REDUCE_NONE)), "ALIGN_PERCENTILE_99"},
		{"fail: a reducer with ALIGN_NONE", query(countFilter, aligned(monitoringpb.Aggregation_ALIGN_NONE, monitoringpb.Aggregation_REDUCE_SUM)), "per_series_aligner"},
		{"fail: alignment period under 60s", query(countFilter, &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(time.Second),
			PerSeriesAligner: monitoringpb.Aggregation_ALIGN_DELTA}), "alignment_period"},
		{"fail: no alignment period", query(countFilter, &monitoringpb.Aggregation{PerSeriesAligner: monitoringpb.Aggregation_ALIGN_DELTA}), "alignment_period"},
		{"fail: bad group_by_fields", query(countFilter, aligned(monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_REDUCE_SUM, "labels.x")), "group_by_fields[0]"},
		{"fail: no interval", &monitoringpb.ListTimeSeriesRequest{Name: "projects/p", Filter: countFilter}, "interval.end_time"},
		{"fail: organizations are not modelled", &monitoringpb.ListTimeSeriesRequest{Name: "organizations/1", Filter: countFilter}, "name"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mc.ListTimeSeries(t.Context(), tc.req).Next()
			assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
			assert.Contains(t, status.Convert(err).Message(), tc.mention)
		})
	}
}

func TestListTimeSeriesViewsAndPaging(t *testing.T) {
	t.Parallel()
	_, mc := metricsFake(t)

	t.Run("success: FULL pages hold page_size points; a series continues on the next page", func(t *testing.T) {
		// The client's iterator counts series, so read the raw pages it fetched.
		page := func(token string) *monitoringpb.ListTimeSeriesResponse {
			req := query(countFilter, nil)
			req.PageSize, req.PageToken = 3, token
			it := mc.ListTimeSeries(t.Context(), req)
			_, err := it.Next()
			require.NoError(t, err)
			return it.Response.(*monitoringpb.ListTimeSeriesResponse)
		}
		first := page("")
		require.NotEmpty(t, first.GetNextPageToken())
		assert.Equal(t, map[string][]int64{"svc-v1": {6, 4}, "svc-v2": {1}}, ints(first.GetTimeSeries(), revisionOf))
		second := page(first.GetNextPageToken())
		assert.Empty(t, second.GetNextPageToken())
		assert.Equal(t, map[string][]int64{"svc-v2": {2}}, ints(second.GetTimeSeries(), revisionOf))
	})
	t.Run("success: HEADERS returns series without points, paged by series", func(t *testing.T) {
		req := query(countFilter, nil)
		req.View = monitoringpb.ListTimeSeriesRequest_HEADERS
		pager := iterator.NewPager(mc.ListTimeSeries(t.Context(), req), 1, "")
		var names []string
		for {
			var page []*monitoringpb.TimeSeries
			token, err := pager.NextPage(&page)
			require.NoError(t, err)
			require.Len(t, page, 1)
			assert.Empty(t, page[0].GetPoints())
			names = append(names, revisionOf(page[0]))
			if token == "" {
				break
			}
		}
		assert.Equal(t, []string{"svc-v1", "svc-v2"}, names)
	})
	t.Run("fail: a page token that was not returned", func(t *testing.T) {
		req := query(countFilter, nil)
		req.PageToken = "x"
		_, err := mc.ListTimeSeries(t.Context(), req).Next()
		assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	})
}

func TestMetricsClockAndRetention(t *testing.T) {
	t.Parallel()
	srv, mc := metricsFake(t, WithMetricsRetention(90*time.Second))
	// The clock is at T0+120s: the points ending at T0+1s are past the 90s retention.
	series := listSeries(t, mc, query(countFilter, nil))
	assert.Equal(t, map[string][]int64{"svc-v1": {6}, "svc-v2": {1}}, ints(series, revisionOf))

	srv.Advance(time.Hour)
	assert.Empty(t, listSeries(t, mc, query(countFilter, nil)))

	srv.Reset()
	assert.Empty(t, listSeries(t, mc, &monitoringpb.ListTimeSeriesRequest{Name: "projects/p", Filter: countFilter,
		Interval: window(time.Unix(0, 0), testEpoch.Add(48*time.Hour))}))
}

func TestMetricsIngestionDelay(t *testing.T) {
	t.Parallel()
	// The clock is at T0+120s; the points end at T0+1s and T0+61s.
	srv, mc := metricsFake(t, WithIngestionDelay(90*time.Second))
	assert.Equal(t, 90*time.Second, srv.IngestionDelay())
	series := listSeries(t, mc, query(countFilter, nil))
	assert.Equal(t, map[string][]int64{"svc-v1": {4}, "svc-v2": {2}}, ints(series, revisionOf), "the points of T0+61s arrive at T0+151s")

	srv.Advance(31 * time.Second)
	series = listSeries(t, mc, query(countFilter, nil))
	assert.Equal(t, map[string][]int64{"svc-v1": {6, 4}, "svc-v2": {1, 2}}, ints(series, revisionOf))

	srv.SetIngestionDelay(time.Hour)
	assert.Empty(t, listSeries(t, mc, query(countFilter, nil)), "the delay applies to points already recorded")

	srv.Reset()
	assert.Equal(t, 90*time.Second, srv.IngestionDelay(), "Reset restores the delay given to NewServer")
	_, err := NewServer(WithIngestionDelay(-time.Second))
	assert.ErrorContains(t, err, "fakerun: WithIngestionDelay: delay must not be negative, got -1s")
}

func TestMetricDescriptors(t *testing.T) {
	t.Parallel()
	_, mc := metricsFake(t)
	d, err := mc.GetMetricDescriptor(t.Context(), &monitoringpb.GetMetricDescriptorRequest{
		Name: "projects/p/metricDescriptors/run.googleapis.com/request_latencies"})
	require.NoError(t, err)
	assert.Equal(t, metric.MetricDescriptor_DELTA, d.GetMetricKind())
	assert.Equal(t, metric.MetricDescriptor_DISTRIBUTION, d.GetValueType())
	assert.Equal(t, "ms", d.GetUnit())
	assert.Equal(t, "projects/p/metricDescriptors/run.googleapis.com/request_latencies", d.GetName())

	_, err = mc.GetMetricDescriptor(t.Context(), &monitoringpb.GetMetricDescriptorRequest{
		Name: "projects/p/metricDescriptors/run.googleapis.com/nothing"})
	assert.Equal(t, codes.NotFound, status.Code(err))

	var types []string
	for d, err := range mc.ListMetricDescriptors(t.Context(), &monitoringpb.ListMetricDescriptorsRequest{
		Name: "projects/p", Filter: `metric.type = starts_with("run.googleapis.com/request_")`}).All() {
		require.NoError(t, err)
		types = append(types, d.GetType())
	}
	assert.Equal(t, []string{"run.googleapis.com/request_count", "run.googleapis.com/request_latencies"}, types)
}

func TestListTimeSeriesREST(t *testing.T) {
	t.Parallel()
	srv, _ := metricsFake(t)
	q := url.Values{
		"filter":                         {countFilter},
		"interval.startTime":             {testEpoch.Add(-time.Minute).Format(time.RFC3339)},
		"interval.endTime":               {testEpoch.Add(2 * time.Minute).Format(time.RFC3339)},
		"aggregation.alignmentPeriod":    {"120s"},
		"aggregation.perSeriesAligner":   {"ALIGN_DELTA"},
		"aggregation.crossSeriesReducer": {"REDUCE_SUM"},
		"aggregation.groupByFields":      {"resource.labels.revision_name"},
	}
	resp, err := http.Get("http://" + srv.Addr() + "/v3/projects/p/timeSeries?" + q.Encode())
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	var out struct {
		TimeSeries []struct {
			Resource struct{ Labels map[string]string }
			Points   []struct{ Value struct{ Int64Value string } }
		}
	}
	require.NoError(t, json.Unmarshal(body, &out))
	got := map[string]string{}
	for _, ts := range out.TimeSeries {
		got[ts.Resource.Labels["revision_name"]] = ts.Points[0].Value.Int64Value
	}
	assert.Equal(t, map[string]string{"svc-v1": "10", "svc-v2": "3"}, got)

	resp, err = http.Get("http://" + srv.Addr() + "/v3/projects/p/timeSeries?filter=" + url.QueryEscape("metric.type ="))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestListTimeSeriesFilteredByService(t *testing.T) {
	t.Parallel()
	srv, _ := newFake(t)
	srv.SetNow(testEpoch)
	for _, name := range []string{"a", "b", "c"} {
		srv.metrics.Record(metrics.Request{Resource: metrics.Resource{ProjectID: "p", Location: "us-central1", ServiceName: name,
			RevisionName: name + "-v1", ConfigurationName: name}, Code: 200, Latency: time.Millisecond, Time: testEpoch.Add(-30 * time.Second)})
	}
	mc := newMetricClient(t, srv)
	testcases := []struct {
		name   string
		filter string
		want   []string // revision_name of the series returned, in order
	}{
		{"success: one service", countFilter + ` AND resource.labels.service_name = "b"`, []string{"b-v1"}},
		{"success: one service, its revision", countFilter + ` AND resource.labels.service_name = "b" AND resource.labels.revision_name = "b-v1"`, []string{"b-v1"}},
		{"success: two services ANDed match nothing", countFilter + ` AND resource.labels.service_name = "b" AND resource.labels.service_name = "a"`, nil},
		{"success: services ORed", countFilter + ` AND (resource.labels.service_name = "a" OR resource.labels.service_name = "c")`, []string{"a-v1", "c-v1"}},
		{"success: all services but one", countFilter + ` AND resource.labels.service_name != "a"`, []string{"b-v1", "c-v1"}},
		{"success: an unknown service matches nothing", countFilter + ` AND resource.labels.service_name = "d"`, nil},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, ts := range listSeries(t, mc, query(tc.filter, nil)) {
				got = append(got, revisionOf(ts))
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
