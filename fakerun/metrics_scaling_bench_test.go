package fakerun

import (
	"context"
	"fmt"
	"testing"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/metrics"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// recordOtherServices adds services-1 services besides "svc", each with
// benchRevisions revisions that answered a 200 and a 503 in the second
// before end: as many series per service as "svc" has, with one point each.
// A query filtered to "svc" must not pay for them; their points are never
// read, so one second of them stands for an hour's series at a fraction of
// the memory.
func recordOtherServices(st *metrics.Store, end time.Time, services int) {
	at := end.Add(-time.Second)
	for i := 1; i < services; i++ {
		name := fmt.Sprintf("other%04d", i)
		for r := range benchRevisions {
			res := metrics.Resource{ProjectID: "p", Location: "us-central1", ServiceName: name,
				RevisionName: fmt.Sprintf("%s-%05d-abc", name, r), ConfigurationName: name}
			st.Record(metrics.Request{Resource: res, Code: 200, Latency: 10 * time.Millisecond, Time: at})
			st.Record(metrics.Request{Resource: res, Code: 503, Latency: 200 * time.Millisecond, Time: at})
		}
	}
}

// BenchmarkListTimeSeriesAmongServices: the canary gate's two queries,
// filtered to one service ("svc", 10 revisions, 1 hour of per-second data)
// in a project of 10 and of 1,000 services, through the official client:
// the error-ratio inputs (target ≤ 5 ms) and p99 latency by revision
// (target ≤ 10 ms), each about its cost with 10 services.
func BenchmarkListTimeSeriesAmongServices(b *testing.B) {
	hour := &monitoringpb.TimeInterval{StartTime: timestamppb.New(testEpoch.Add(-time.Hour)), EndTime: timestamppb.New(testEpoch)}
	minute := durationpb.New(time.Minute)
	const onlySvc = ` AND resource.labels.service_name = "svc"`
	for _, services := range []int{10, 1000} {
		srv, err := NewServer()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = srv.Close() })
		srv.SetNow(testEpoch)
		recordHour(srv.metrics, testEpoch)
		recordOtherServices(srv.metrics, testEpoch, services)
		mc, err := monitoring.NewMetricClient(context.Background(), srv.ClientOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = mc.Close() })
		for _, q := range []struct {
			name, unit, filter string
			agg                *monitoringpb.Aggregation
		}{
			{"error-ratio-inputs", "ms/query(≤5)", countFilter + onlySvc, &monitoringpb.Aggregation{AlignmentPeriod: minute,
				PerSeriesAligner: monitoringpb.Aggregation_ALIGN_DELTA, CrossSeriesReducer: monitoringpb.Aggregation_REDUCE_SUM,
				GroupByFields: []string{"resource.labels.revision_name", "metric.labels.response_code_class"}}},
			{"p99-latency-by-revision", "ms/query(≤10)", latencyFilter + onlySvc, &monitoringpb.Aggregation{AlignmentPeriod: minute,
				PerSeriesAligner: monitoringpb.Aggregation_ALIGN_DELTA, CrossSeriesReducer: monitoringpb.Aggregation_REDUCE_PERCENTILE_99,
				GroupByFields: []string{"resource.labels.revision_name"}}},
		} {
			b.Run(fmt.Sprintf("services=%d/%s", services, q.name), func(b *testing.B) {
				req := &monitoringpb.ListTimeSeriesRequest{Name: "projects/p", Filter: q.filter, Interval: hour, Aggregation: q.agg}
				for b.Loop() {
					series := 0
					for ts, err := range mc.ListTimeSeries(context.Background(), req).All() {
						if err != nil {
							b.Fatal(err)
						}
						if len(ts.GetPoints()) != 60 {
							b.Fatalf("a series has %d points, want one a minute for an hour", len(ts.GetPoints()))
						}
						series++
					}
					if series == 0 {
						b.Fatal("no series")
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), q.unit)
			})
		}
	}
}
