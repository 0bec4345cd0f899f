package fakerun

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const failuresType = "custom.googleapis.com/checkout_failures"

// failures is one GAUGE INT64 point of checkout_failures at end, for the task and metric label.
func failures(task, reason string, end time.Time, n int64) *monitoringpb.TimeSeries {
	return &monitoringpb.TimeSeries{
		Metric: &metric.Metric{Type: failuresType, Labels: map[string]string{"reason": reason}},
		Resource: &monitoredres.MonitoredResource{Type: "generic_task", Labels: map[string]string{
			"project_id": "p", "location": "us-central1", "namespace": "shop", "job": "checkout", "task_id": task}},
		Points: []*monitoringpb.Point{{
			Interval: &monitoringpb.TimeInterval{EndTime: timestamppb.New(end)},
			Value:    &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_Int64Value{Int64Value: n}},
		}},
	}
}

func writeSeries(t *testing.T, mc *monitoring.MetricClient, series ...*monitoringpb.TimeSeries) error {
	t.Helper()
	return mc.CreateTimeSeries(t.Context(), &monitoringpb.CreateTimeSeriesRequest{Name: "projects/p", TimeSeries: series})
}

func TestCreateTimeSeriesReadBack(t *testing.T) {
	t.Parallel()
	srv, _ := newFake(t)
	srv.SetNow(testEpoch)
	mc := newMetricClient(t, srv)
	require.NoError(t, writeSeries(t, mc, failures("0", "card", testEpoch.Add(-10*time.Second), 2), failures("1", "card", testEpoch.Add(-10*time.Second), 3)))
	require.NoError(t, writeSeries(t, mc, failures("0", "card", testEpoch, 4), failures("0", "stock", testEpoch, 1)))

	raw := listSeries(t, mc, &monitoringpb.ListTimeSeriesRequest{Name: "projects/p",
		Filter:   `metric.type = "` + failuresType + `" AND resource.type = "generic_task" AND metric.labels.reason = "card"`,
		Interval: window(testEpoch.Add(-time.Minute), testEpoch)})
	require.Len(t, raw, 2)
	assert.Equal(t, "generic_task", raw[0].GetResource().GetType())
	assert.Equal(t, metric.MetricDescriptor_GAUGE, raw[0].GetMetricKind())
	assert.Equal(t, map[string][]int64{"0": {4, 2}, "1": {3}},
		ints(raw, func(ts *monitoringpb.TimeSeries) string { return ts.GetResource().GetLabels()["task_id"] }), "newest point first")

	summed := listSeries(t, mc, &monitoringpb.ListTimeSeriesRequest{Name: "projects/p", Filter: `metric.type = "` + failuresType + `"`,
		Interval: window(testEpoch.Add(-time.Minute), testEpoch),
		Aggregation: &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(time.Minute),
			PerSeriesAligner: monitoringpb.Aggregation_ALIGN_SUM, CrossSeriesReducer: monitoringpb.Aggregation_REDUCE_SUM,
			GroupByFields: []string{"metric.labels.reason"}}})
	assert.Equal(t, map[string][]int64{"card": {9}, "stock": {1}},
		ints(summed, func(ts *monitoringpb.TimeSeries) string { return ts.GetMetric().GetLabels()["reason"] }), "card 2+3+4, stock 1")

	d, err := mc.GetMetricDescriptor(t.Context(), &monitoringpb.GetMetricDescriptorRequest{Name: "projects/p/metricDescriptors/" + failuresType})
	require.NoError(t, err)
	assert.Equal(t, metric.MetricDescriptor_INT64, d.GetValueType())
	assert.Equal(t, []string{"generic_task"}, d.GetMonitoredResourceTypes())
	require.NoError(t, writeSeries(t, mc, &monitoringpb.TimeSeries{
		Metric:   &metric.Metric{Type: failuresType, Labels: map[string]string{"reason": "card", "region": "eu"}},
		Resource: &monitoredres.MonitoredResource{Type: "global", Labels: map[string]string{"project_id": "p"}},
		Points: []*monitoringpb.Point{{Interval: &monitoringpb.TimeInterval{EndTime: timestamppb.New(testEpoch.Add(-time.Hour))},
			Value: &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_Int64Value{Int64Value: 1}}}},
	}))
	d, err = mc.GetMetricDescriptor(t.Context(), &monitoringpb.GetMetricDescriptorRequest{Name: "projects/p/metricDescriptors/" + failuresType})
	require.NoError(t, err)
	assert.Equal(t, []string{"generic_task", "global"}, d.GetMonitoredResourceTypes(), "later writes add resource types")
	assert.Len(t, d.GetLabels(), 2, "and labels")
	byType := listSeries(t, mc, &monitoringpb.ListTimeSeriesRequest{Name: "projects/p", Filter: `metric.type = "` + failuresType + `"`,
		Interval: window(testEpoch.Add(-2*time.Hour), testEpoch),
		Aggregation: &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(2 * time.Hour),
			PerSeriesAligner: monitoringpb.Aggregation_ALIGN_SUM, CrossSeriesReducer: monitoringpb.Aggregation_REDUCE_SUM,
			GroupByFields: []string{"resource.type"}}})
	assert.Equal(t, map[string][]int64{"generic_task": {10}, "global": {1}},
		ints(byType, func(ts *monitoringpb.TimeSeries) string { return ts.GetResource().GetType() }))
	_, err = mc.GetMetricDescriptor(t.Context(), &monitoringpb.GetMetricDescriptorRequest{Name: "projects/other/metricDescriptors/" + failuresType})
	assert.Equal(t, codes.NotFound, status.Code(err), "descriptors belong to the project written to")
	var types []string
	for d, err := range mc.ListMetricDescriptors(t.Context(), &monitoringpb.ListMetricDescriptorsRequest{
		Name: "projects/p", Filter: `metric.type = starts_with("custom.googleapis.com/")`}).All() {
		require.NoError(t, err)
		types = append(types, d.GetType())
	}
	assert.Equal(t, []string{failuresType}, types)

	none := listSeries(t, mc, &monitoringpb.ListTimeSeriesRequest{Name: "projects/p", Filter: `metric.type = "custom.googleapis.com/never_written"`,
		Interval: window(testEpoch.Add(-time.Minute), testEpoch)})
	assert.Empty(t, none, "a user-defined type without points answers no series")

	srv.SetIngestionDelay(30 * time.Second)
	late := listSeries(t, mc, &monitoringpb.ListTimeSeriesRequest{Name: "projects/p", Filter: `metric.type = "` + failuresType + `"`,
		Interval: window(testEpoch.Add(-time.Minute), testEpoch)})
	assert.Empty(t, late, "the ingestion delay holds written points back too")
}

// TestCreateTimeSeriesOverREST posts to timeSeries.create as a REST client
// would (the Go client of Monitoring speaks only gRPC).
func TestCreateTimeSeriesOverREST(t *testing.T) {
	t.Parallel()
	srv, _ := newFake(t)
	srv.SetNow(testEpoch)
	post := func(n int64) (int, string) {
		body, err := protojson.Marshal(&monitoringpb.CreateTimeSeriesRequest{TimeSeries: []*monitoringpb.TimeSeries{failures("0", "card", testEpoch, n)}})
		require.NoError(t, err)
		resp, err := http.Post("http://"+srv.Addr()+"/v3/projects/p/timeSeries", "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		out, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(out)
	}
	code, body := post(5)
	require.Equal(t, http.StatusOK, code, body)
	code, body = post(6)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "points must be written in order")

	raw := listSeries(t, newMetricClient(t, srv), &monitoringpb.ListTimeSeriesRequest{Name: "projects/p",
		Filter: `metric.type = "` + failuresType + `"`, Interval: window(testEpoch.Add(-time.Minute), testEpoch)})
	require.Len(t, raw, 1)
	assert.Equal(t, int64(5), raw[0].GetPoints()[0].GetValue().GetInt64Value())
}

func TestCreateTimeSeriesErrors(t *testing.T) {
	t.Parallel()
	srv, _ := newFake(t)
	srv.SetNow(testEpoch)
	mc := newMetricClient(t, srv)
	require.NoError(t, writeSeries(t, mc, failures("0", "card", testEpoch.Add(-time.Minute), 1)))
	require.NoError(t, mc.CreateTimeSeries(t.Context(), &monitoringpb.CreateTimeSeriesRequest{Name: "projects/p", TimeSeries: []*monitoringpb.TimeSeries{{
		Metric:     &metric.Metric{Type: "custom.googleapis.com/orders"},
		Resource:   &monitoredres.MonitoredResource{Type: "global", Labels: map[string]string{"project_id": "p"}},
		MetricKind: metric.MetricDescriptor_DELTA,
		Points: []*monitoringpb.Point{{Interval: window(testEpoch.Add(-2*time.Minute), testEpoch.Add(-time.Minute)),
			Value: &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DoubleValue{DoubleValue: 1.5}}}},
	}}}))

	with := func(change func(ts *monitoringpb.TimeSeries)) *monitoringpb.TimeSeries {
		ts := failures("0", "card", testEpoch, 1)
		change(ts)
		return ts
	}
	many := make([]*monitoringpb.TimeSeries, 201)
	for i := range many {
		many[i] = failures(string(rune('a'+i%26))+string(rune('a'+i/26)), "card", testEpoch, 1)
	}
	orders := func(kind metric.MetricDescriptor_MetricKind, start, end time.Time) *monitoringpb.TimeSeries {
		return &monitoringpb.TimeSeries{Metric: &metric.Metric{Type: "custom.googleapis.com/orders"},
			Resource:   &monitoredres.MonitoredResource{Type: "global", Labels: map[string]string{"project_id": "p"}},
			MetricKind: kind,
			Points: []*monitoringpb.Point{{Interval: window(start, end),
				Value: &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DoubleValue{DoubleValue: 1}}}}}
	}
	for _, tc := range []struct {
		name   string
		series []*monitoringpb.TimeSeries
		field  string
		msg    string
	}{
		{"no series", nil, "time_series", "at least one"},
		{"too many series", many, "time_series", "at most 200 time series per request, got 201"},
		{"built-in metric", []*monitoringpb.TimeSeries{with(func(ts *monitoringpb.TimeSeries) { ts.Metric.Type = "run.googleapis.com/request_count" })},
			"time_series[0].metric.type", "not a user-defined metric type"},
		{"bad label key", []*monitoringpb.TimeSeries{with(func(ts *monitoringpb.TimeSeries) { ts.Metric.Labels = map[string]string{"Reason": "x"} })},
			"time_series[0].metric.labels", `label key "Reason"`},
		{"no resource", []*monitoringpb.TimeSeries{with(func(ts *monitoringpb.TimeSeries) { ts.Resource = nil })},
			"time_series[0].resource.type", "required: a monitored resource type"},
		{"missing resource label", []*monitoringpb.TimeSeries{with(func(ts *monitoringpb.TimeSeries) { delete(ts.Resource.Labels, "task_id") })},
			"time_series[0].resource.labels", "takes exactly the labels job, location, namespace, project_id, task_id"},
		{"two points", []*monitoringpb.TimeSeries{with(func(ts *monitoringpb.TimeSeries) { ts.Points = append(ts.Points, ts.Points[0]) })},
			"time_series[0].points", "exactly one point per time series per request, got 2"},
		{"no value", []*monitoringpb.TimeSeries{with(func(ts *monitoringpb.TimeSeries) { ts.Points[0].Value = nil })},
			"time_series[0].points[0].value", "required"},
		{"bool value", []*monitoringpb.TimeSeries{with(func(ts *monitoringpb.TimeSeries) {
			ts.Points[0].Value = &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_BoolValue{BoolValue: true}}
		})}, "time_series[0].points[0].value", "only int64_value and double_value"},
		{"too old", []*monitoringpb.TimeSeries{failures("9", "card", testEpoch.Add(-26*time.Hour), 1)},
			"time_series[0].points[0].interval", "more than 25 hours in the past"},
		{"in the future", []*monitoringpb.TimeSeries{failures("9", "card", testEpoch.Add(6*time.Minute), 1)},
			"time_series[0].points[0].interval", "more than 5 minutes in the future"},
		{"gauge with a span", []*monitoringpb.TimeSeries{with(func(ts *monitoringpb.TimeSeries) {
			ts.Points[0].Interval.StartTime = timestamppb.New(testEpoch.Add(-time.Second))
		})}, "time_series[0].points[0].interval", "GAUGE point's start_time must be left out or equal end_time"},
		{"value type against descriptor", []*monitoringpb.TimeSeries{with(func(ts *monitoringpb.TimeSeries) {
			ts.Points[0].Value = &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DoubleValue{DoubleValue: 1}}
		})}, "time_series[0].value_type", "DOUBLE does not match the metric descriptor's INT64"},
		{"kind against descriptor", []*monitoringpb.TimeSeries{orders(metric.MetricDescriptor_GAUGE, testEpoch, testEpoch)},
			"time_series[0].metric_kind", "GAUGE does not match the metric descriptor's DELTA"},
		{"out of order", []*monitoringpb.TimeSeries{failures("0", "card", testEpoch.Add(-2*time.Minute), 1)},
			"time_series[0].points[0].interval.end_time", "points must be written in order"},
		{"too frequent", []*monitoringpb.TimeSeries{failures("0", "card", testEpoch.Add(-time.Minute+4*time.Second), 1)},
			"time_series[0].points[0].interval.end_time", "at most one point each 5s per time series"},
		{"overlapping delta", []*monitoringpb.TimeSeries{orders(metric.MetricDescriptor_DELTA, testEpoch.Add(-90*time.Second), testEpoch)},
			"time_series[0].points[0].interval.start_time", "must start after the end of the series' latest point"},
		{"value types differing in one request", []*monitoringpb.TimeSeries{
			with(func(ts *monitoringpb.TimeSeries) { ts.Metric.Type = "custom.googleapis.com/fresh" }),
			with(func(ts *monitoringpb.TimeSeries) {
				ts.Metric.Type, ts.Resource.Labels["task_id"] = "custom.googleapis.com/fresh", "1"
				ts.Points[0].Value = &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DoubleValue{DoubleValue: 1}}
			}),
		}, "time_series[1]", "GAUGE DOUBLE does not match time_series[0]'s GAUGE INT64"},
		{"duplicate series", []*monitoringpb.TimeSeries{failures("5", "card", testEpoch, 1), failures("5", "card", testEpoch, 2)},
			"time_series[1]", "duplicate of time_series[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := writeSeries(t, mc, tc.series...)
			require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
			assert.ErrorContains(t, err, tc.msg)
			var violation *errdetails.BadRequest_FieldViolation
			for _, d := range status.Convert(err).Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					violation = br.GetFieldViolations()[0]
				}
			}
			require.NotNil(t, violation)
			assert.Equal(t, tc.field, violation.GetField())
		})
	}

	raw := listSeries(t, mc, &monitoringpb.ListTimeSeriesRequest{Name: "projects/p", Filter: `metric.type = "` + failuresType + `"`,
		Interval: window(testEpoch.Add(-2*time.Hour), testEpoch.Add(time.Hour))})
	require.Len(t, raw, 1, "no failed write stored a point, not even the valid series of a failed request")
	assert.Len(t, raw[0].GetPoints(), 1)
}

func TestCreateTimeSeriesFaultAndCalls(t *testing.T) {
	t.Parallel()
	srv, _ := newFake(t)
	srv.SetNow(testEpoch)
	mc := newMetricClient(t, srv)
	srv.InjectFault("CreateTimeSeries", Fault{Code: codes.PermissionDenied, Message: "Permission monitoring.timeSeries.create denied", Times: 1})
	err := writeSeries(t, mc, failures("0", "card", testEpoch, 1))
	assert.Equal(t, codes.PermissionDenied, status.Code(err))
	require.NoError(t, writeSeries(t, mc, failures("0", "card", testEpoch, 1)), "the fault was for one call")
	var codesSeen []codes.Code
	for _, c := range srv.Calls() {
		if c.Method == "CreateTimeSeries" {
			codesSeen = append(codesSeen, c.Code)
		}
	}
	assert.Equal(t, []codes.Code{codes.PermissionDenied, codes.OK}, codesSeen)
}
