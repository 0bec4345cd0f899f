package fakerun

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/dataplane"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/metrics"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The serving benchmarks, run by `make bench`, print the figures the data
// plane and the Monitoring API are held to on 2 cores: requests through the
// router with the built-in responder at ≥ 0.9× a bare net/http handler
// measured in the same run, proxy mode's overhead over a direct request
// ≤ 1.2× (ratios also as CPU time per call, the "cpu-" figures),
// ListTimeSeries over 1 hour of per-second data for 10 revisions in ≤20 ms,
// and the heap held per recorded point.

// httpGet sends GET url with client, as a request for host when host is
// not empty, with a bearer token as fakerun's traffic client sends, and
// drains the answer. Routed requests and their baselines go through it and
// the same client stack (benchHTTPClient), so that their ratio measures the
// servers.
func httpGet(client *http.Client, url, host string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Host = host
	req.Header.Set("Authorization", "Bearer "+dataplane.InvokerToken)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s (host %q): %s", url, host, resp.Status)
	}
	return nil
}

// benchHTTPClient returns a plain client keeping a connection open per caller.
func benchHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchCallers}}
}

// bareHandler answers like the built-in responder, for baselines.
func bareHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "Hello from fakerun! It's running.\nservice: svc\nrevision: svc-v1\nimage: "+imageV1+"\n")
}

// bareHTTP starts a bare net/http server on loopback answering with
// bareHandler and returns its URL.
func bareHTTP(b *testing.B) string {
	b.Helper()
	bare := httptest.NewServer(http.HandlerFunc(bareHandler))
	b.Cleanup(bare.Close)
	return bare.URL
}

// routedGet returns a call sending GET requests for svc's URL to srv's port.
func routedGet(srv *Server, svc *runpb.Service) func(int) error {
	client, url, host := benchHTTPClient(), "http://"+srv.Addr()+"/", strings.TrimPrefix(svc.GetUri(), "https://")
	return func(int) error { return httpGet(client, url, host) }
}

// BenchmarkTrafficRouter: requests/s to a 90/10 split answered by the
// built-in responder (routing, metrics recording), 8 concurrent callers, and
// the rate over a bare net/http server's answering the same text on
// loopback, measured interleaved (target ≥ 0.9).
func BenchmarkTrafficRouter(b *testing.B) {
	srv, services, _ := newBenchFake(b)
	routed := routedGet(srv, canaryForBench(b, clients{services: services}))
	bareURL, bareClient := bareHTTP(b), benchHTTPClient()
	bare := func(int) error { return httpGet(bareClient, bareURL, "") }
	runCallers(b, benchCallers, routed)
	rateRatio(b, bare, routed).report(b, "x-bare-http(≥0.9)")
	b.ReportMetric(allocsPerCall(b, routed)-allocsPerCall(b, bare), "allocs-over-bare")
}

// BenchmarkProxy: requests/s to a 90/10 split of two revisions in proxy
// mode (their images' Behavior.Backend) to a bare net/http backend, 8
// concurrent callers, and the proxy's overhead: a direct request's rate to
// the same backend over the proxied one's, measured interleaved (target ≤
// 1.2). Beside it, the same overhead of a bare httputil.ReverseProxy (the
// cost of the extra hop alone) and fakerun's over that bare proxy's.
func BenchmarkProxy(b *testing.B) {
	backendURL := bareHTTP(b)
	proxy := Behavior{Backend: backendURL}
	srv, services, _ := newBenchFake(b, WithBehaviors(Behaviors{Images: map[string]Behavior{imageV1: proxy, imageV2: proxy}}))
	proxied := routedGet(srv, canaryForBench(b, clients{services: services}))
	directClient := benchHTTPClient()
	direct := func(int) error { return httpGet(directClient, backendURL, "") }
	bareProxyURL, bareProxyClient := bareReverseProxy(b, backendURL), benchHTTPClient()
	bareProxied := func(int) error { return httpGet(bareProxyClient, bareProxyURL, "") }
	runCallers(b, benchCallers, proxied)
	rateRatio(b, direct, proxied).inverse().report(b, "x-direct(≤1.2)")
	b.ReportMetric(allocsPerCall(b, proxied)-allocsPerCall(b, direct), "allocs-over-direct")
	rateRatio(b, direct, bareProxied).inverse().report(b, "bare-proxy-x-direct")
	rateRatio(b, bareProxied, proxied).inverse().report(b, "x-bare-proxy")
	b.ReportMetric(allocsPerCall(b, proxied)-allocsPerCall(b, bareProxied), "allocs-over-bare-proxy")
}

// bareReverseProxy starts a bare httputil.ReverseProxy to backend on
// loopback, keeping connections to it open and reusing its copy buffers as
// fakerun's does, and returns its URL: the least a proxy hop costs, beside
// which BenchmarkProxy measures fakerun's own.
func bareReverseProxy(b *testing.B, backend string) string {
	b.Helper()
	u, err := url.Parse(backend)
	if err != nil {
		b.Fatal(err)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(transport.CloseIdleConnections)
	proxy := httptest.NewServer(&httputil.ReverseProxy{Transport: transport, BufferPool: dataplane.NewBufferPool(),
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) }})
	b.Cleanup(proxy.Close)
	return proxy.URL
}

// canaryForBench deploys the 90/10 split of canary for a benchmark.
func canaryForBench(b *testing.B, c clients) *runpb.Service {
	b.Helper()
	ctx := context.Background()
	op, err := c.services.CreateService(ctx, &runpb.CreateServiceRequest{Parent: testParent, ServiceId: "svc",
		Service: &runpb.Service{Template: &runpb.RevisionTemplate{Revision: "svc-v1", Containers: []*runpb.Container{{Image: imageV1}}}}})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := op.Wait(ctx)
	if err != nil {
		b.Fatal(err)
	}
	svc.Template = &runpb.RevisionTemplate{Revision: "svc-v2", Containers: []*runpb.Container{{Image: imageV2}}}
	svc.Traffic = []*runpb.TrafficTarget{revisionTarget("svc-v1", 90, ""), revisionTarget("svc-v2", 10, "")}
	uop, err := c.services.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
	if err != nil {
		b.Fatal(err)
	}
	if svc, err = uop.Wait(ctx); err != nil {
		b.Fatal(err)
	}
	return svc
}

// benchRevisions and benchSeconds size the metrics benchmarks: 1 hour of
// per-second data for 10 revisions, two requests (a 200 and a 503) a second.
const (
	benchRevisions = 10
	benchSeconds   = 3600
)

// recordHour fills st with benchSeconds of requests ending at end.
func recordHour(st *metrics.Store, end time.Time) {
	for sec := range benchSeconds {
		at := end.Add(-time.Duration(benchSeconds-sec) * time.Second)
		for r := range benchRevisions {
			res := metrics.Resource{ProjectID: "p", Location: "us-central1", ServiceName: "svc",
				RevisionName: fmt.Sprintf("svc-%05d-abc", r), ConfigurationName: "svc"}
			st.Record(metrics.Request{Resource: res, Code: 200, Latency: time.Duration(10+sec%90) * time.Millisecond, Time: at})
			st.Record(metrics.Request{Resource: res, Code: 503, Latency: time.Duration(200+r) * time.Millisecond, Time: at})
		}
	}
}

// BenchmarkListTimeSeries: one ListTimeSeries through the official client
// over 1 hour of per-second data for 10 revisions, per query shape. The
// ≤20 ms target is for the aggregated queries a canary gate sends;
// raw-counts transfers all 36,000 points (ALIGN_NONE) for reference, and is
// bound by protobuf encoding on both ends.
func BenchmarkListTimeSeries(b *testing.B) {
	srv, err := NewServer()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	srv.SetNow(testEpoch)
	recordHour(srv.metrics, testEpoch)
	mc, err := monitoring.NewMetricClient(context.Background(), srv.ClientOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = mc.Close() })
	hour := &monitoringpb.TimeInterval{StartTime: timestamppb.New(testEpoch.Add(-time.Hour)), EndTime: timestamppb.New(testEpoch)}
	minute := durationpb.New(time.Minute)
	for _, q := range []struct {
		name   string
		filter string
		agg    *monitoringpb.Aggregation
	}{
		{"error-ratio-inputs", countFilter, &monitoringpb.Aggregation{AlignmentPeriod: minute,
			PerSeriesAligner: monitoringpb.Aggregation_ALIGN_DELTA, CrossSeriesReducer: monitoringpb.Aggregation_REDUCE_SUM,
			GroupByFields: []string{"resource.labels.revision_name", "metric.labels.response_code_class"}}},
		{"p99-latency-by-revision", latencyFilter, &monitoringpb.Aggregation{AlignmentPeriod: minute,
			PerSeriesAligner: monitoringpb.Aggregation_ALIGN_DELTA, CrossSeriesReducer: monitoringpb.Aggregation_REDUCE_PERCENTILE_99,
			GroupByFields: []string{"resource.labels.revision_name"}}},
		{"raw-counts", countFilter + ` AND metric.labels.response_code = "200"`, nil},
	} {
		b.Run(q.name, func(b *testing.B) {
			req := &monitoringpb.ListTimeSeriesRequest{Name: "projects/p", Filter: q.filter, Interval: hour, Aggregation: q.agg}
			for b.Loop() {
				points := 0
				for ts, err := range mc.ListTimeSeries(context.Background(), req).All() {
					if err != nil {
						b.Fatal(err)
					}
					points += len(ts.GetPoints())
				}
				if points == 0 {
					b.Fatal("no points")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/query")
		})
	}
}

// BenchmarkMetricsHeapPerPoint: heap held per stored point (one
// request_count and one request_latencies point per series and second)
// after 1 hour of two requests a second for 10 revisions.
func BenchmarkMetricsHeapPerPoint(b *testing.B) {
	var perPoint float64
	for b.Loop() {
		st, err := metrics.NewStore(func() time.Time { return testEpoch }, 0)
		if err != nil {
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		recordHour(st, testEpoch)
		runtime.GC()
		runtime.ReadMemStats(&after)
		// Per revision and second: 2 request_count points (200, 503) and 2 request_latencies points (2xx, 5xx).
		perPoint = float64(after.HeapAlloc-before.HeapAlloc) / (benchRevisions * benchSeconds * 4)
		runtime.KeepAlive(st)
	}
	b.ReportMetric(perPoint, "heap-B/point")
}
