package fakerun

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countByCode reads request_count over the last minute, summed by response_code.
func countByCode(t *testing.T, srv *Server) map[string][]int64 {
	t.Helper()
	now := srv.Clock().Now.Truncate(time.Second)
	series := listSeries(t, newMetricClient(t, srv), &monitoringpb.ListTimeSeriesRequest{
		Name: "projects/p", Filter: countFilter, Interval: window(now.Add(-time.Minute), now.Add(time.Minute)),
		Aggregation: sumBy(2*time.Minute, "metric.labels.response_code"),
	})
	return ints(series, func(ts *monitoringpb.TimeSeries) string { return ts.GetMetric().GetLabels()["response_code"] })
}

// meanLatency reads the mean of request_latencies over the last minute.
func meanLatency(t *testing.T, srv *Server) float64 {
	t.Helper()
	now := srv.Clock().Now.Truncate(time.Second)
	series := listSeries(t, newMetricClient(t, srv), &monitoringpb.ListTimeSeriesRequest{
		Name: "projects/p", Filter: latencyFilter, Interval: window(now.Add(-time.Minute), now.Add(time.Minute)),
		Aggregation: aligned(monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_REDUCE_MEAN),
	})
	require.Len(t, series, 1)
	return series[0].GetPoints()[0].GetValue().GetDoubleValue()
}

func TestErrorRateKnob(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t, WithBehaviors(Behaviors{Images: map[string]Behavior{imageV2: {ErrorRate: 0.2, ErrorCode: 503}}}))
	srv.SetNow(testEpoch)
	svc := canary(t, c)
	client := srv.TrafficClient()
	const n = 2000
	got := map[int]int{}
	for range n {
		code, rev, _ := get(t, client, tagURL(svc, "canary"))
		require.Equal(t, "svc-v2", rev)
		got[code]++
	}
	// Binomial(2000, 0.2): σ ≈ 18; the seed makes it reproducible.
	assert.InDelta(t, 400, got[503], 90, "%v", got)
	assert.Equal(t, n, got[200]+got[503], "%v", got)
	assert.Equal(t, map[string][]int64{"200": {int64(got[200])}, "503": {int64(got[503])}}, countByCode(t, srv))
}

func TestLatencyKnobsOnAFrozenClock(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name     string
		behavior Behavior
		lo, hi   float64 // bounds of the mean latency in ms
	}{
		{"success: fixed latency plus jitter", Behavior{Latency: 200 * time.Millisecond, Jitter: 50 * time.Millisecond}, 215, 235},
		// The quantile function through (0, 0), (50, 20ms), (99, 200ms), then flat: mean 5 + 53.9 + 2 = 60.9 ms.
		{"success: a distribution given by percentiles", Behavior{LatencyPercentiles: []LatencyPercentile{{Percentile: 50, Latency: 20 * time.Millisecond}, {Percentile: 99, Latency: 200 * time.Millisecond}}}, 55, 67},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, c := newFake(t, WithBehaviors(Behaviors{Images: map[string]Behavior{imageV1: tc.behavior}}))
			srv.SetNow(testEpoch)
			svc := canary(t, c)
			client := srv.TrafficClient()
			start := time.Now()
			for range 500 {
				code, _, _ := get(t, client, tagURL(svc, "stable"))
				require.Equal(t, http.StatusOK, code)
			}
			// Slept for real, 500 requests would take at least 25 s.
			assert.Less(t, time.Since(start), 15*time.Second, "the frozen clock must not sleep")
			mean := meanLatency(t, srv)
			assert.True(t, mean >= tc.lo && mean <= tc.hi, "mean latency %v ms not in [%v, %v]", mean, tc.lo, tc.hi)
		})
	}
}

func TestLatencyKnobSleepsOnARunningClock(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t, WithBehaviors(Behaviors{Images: map[string]Behavior{imageV1: {Latency: 80 * time.Millisecond}}}))
	svc := canary(t, c)
	start := time.Now()
	code, _, _ := get(t, srv.TrafficClient(), tagURL(svc, "stable"))
	require.Equal(t, http.StatusOK, code)
	assert.GreaterOrEqual(t, time.Since(start), 80*time.Millisecond)
	assert.GreaterOrEqual(t, meanLatency(t, srv), 80.0)
}

func TestRevisionBehaviorOverridesImage(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	svc := canary(t, c)
	require.NoError(t, srv.SetBehaviors(Behaviors{
		Images:    map[string]Behavior{imageV1: {ErrorRate: 1, ErrorCode: 502}},
		Revisions: map[string]Behavior{"svc-v1": {}},
	}))
	client := srv.TrafficClient()
	code, _, _ := get(t, client, tagURL(svc, "stable"))
	assert.Equal(t, http.StatusOK, code, "the revision's own behaviour wins")

	srv.ClearBehaviors()
	require.NoError(t, srv.SetBehaviors(Behaviors{Images: map[string]Behavior{imageV1: {ErrorRate: 1, ErrorCode: 502}}}))
	code, _, body := get(t, client, tagURL(svc, "stable"))
	assert.Equal(t, http.StatusBadGateway, code)
	assert.Contains(t, body, "injected error")
}

func TestBehaviorValidation(t *testing.T) {
	t.Parallel()
	srv, _ := newFake(t)
	testcases := []struct {
		name    string
		b       Behavior
		mention string
	}{
		{"fail: error rate above 1", Behavior{ErrorRate: 1.5}, `"errorRate"`},
		{"fail: error code not 5xx", Behavior{ErrorRate: 0.1, ErrorCode: 404}, `"errorCode"`},
		{"fail: negative latency", Behavior{Latency: -time.Second}, `"latency"`},
		{"fail: percentiles out of order", Behavior{LatencyPercentiles: []LatencyPercentile{{Percentile: 99, Latency: time.Second}, {Percentile: 50, Latency: time.Millisecond}}}, `"latencyPercentiles"`},
		{"fail: backend not http", Behavior{Backend: "ftp://x"}, `"backend"`},
		{"fail: backend and docker", Behavior{Backend: "http://127.0.0.1:1", Docker: true}, `"docker"`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			err := srv.SetBehaviors(Behaviors{Images: map[string]Behavior{"img": tc.b}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.mention)
			assert.Contains(t, err.Error(), `images["img"]`)
		})
	}
	_, err := NewServer(WithBehaviors(Behaviors{Revisions: map[string]Behavior{"": {}}}))
	assert.ErrorContains(t, err, "WithBehaviors")
}

func TestParseBehaviorsRoundTrip(t *testing.T) {
	t.Parallel()
	in := `{"images":{"app:v2":{"fail":true,"errorRate":0.2,"errorCode":503,"latency":"50ms","jitter":"10ms","latencyPercentiles":{"50":"20ms","99":"200ms"}}},"revisions":{"svc-v1":{"backend":"http://127.0.0.1:9000"}}}`
	bs, err := ParseBehaviors([]byte(in))
	require.NoError(t, err)
	assert.Equal(t, Behavior{Fail: true, ErrorRate: 0.2, ErrorCode: 503, Latency: 50 * time.Millisecond, Jitter: 10 * time.Millisecond,
		LatencyPercentiles: []LatencyPercentile{{Percentile: 50, Latency: 20 * time.Millisecond}, {Percentile: 99, Latency: 200 * time.Millisecond}}}, bs.Images["app:v2"])
	out, err := json.Marshal(bs)
	require.NoError(t, err)
	assert.JSONEq(t, in, string(out))

	_, err = ParseBehaviors([]byte(`{"images":{"x":{"errorRat":0.2}}}`))
	assert.ErrorContains(t, err, "errorRat")
	_, err = ParseBehaviors([]byte(`{"images":{"x":{"latency":"fast"}}}`))
	assert.ErrorContains(t, err, `"latency"`)
}

func TestFailingImagesAreBehaviors(t *testing.T) {
	t.Parallel()
	srv, _ := newFake(t, WithFailingImage("img:bad"))
	srv.AddFailingImage("img:worse")
	assert.Equal(t, []string{"img:bad", "img:worse"}, srv.FailingImages())
	assert.True(t, srv.Behaviors().Images["img:bad"].Fail)
}

func TestProxyBackend(t *testing.T) {
	t.Parallel()
	seen := make(chan *http.Request, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Clone(r.Context())
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(backend.Close)
	srv, c := newFake(t, WithBehaviors(Behaviors{Images: map[string]Behavior{imageV1: {Backend: backend.URL}}}))
	srv.SetNow(testEpoch)
	svc := canary(t, c)
	client := srv.TrafficClient()

	code, rev, _ := get(t, client, tagURL(svc, "stable")+"/hello?x=1")
	assert.Equal(t, http.StatusTeapot, code)
	assert.Equal(t, "svc-v1", rev)
	r := <-seen
	assert.Equal(t, "/hello", r.URL.Path)
	assert.Equal(t, "x=1", r.URL.RawQuery)
	assert.Equal(t, tagURL(svc, "stable")[len("https://"):], r.Host)
	assert.Equal(t, "127.0.0.1", r.Header.Get("X-Forwarded-For"))
	assert.Equal(t, "https", r.Header.Get("X-Forwarded-Proto"))
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{32}/[0-9]+;o=1$`), r.Header.Get("X-Cloud-Trace-Context"))
	assert.Equal(t, "svc", r.Header.Get("X-Fakerun-K-Service"))
	assert.Equal(t, "svc-v1", r.Header.Get("X-Fakerun-K-Revision"))
	assert.Equal(t, "svc", r.Header.Get("X-Fakerun-K-Configuration"))

	backend.Close()
	code, _, body := get(t, client, tagURL(svc, "stable"))
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "did not answer")
	assert.Equal(t, map[string][]int64{"418": {1}, "503": {1}}, countByCode(t, srv))
}

func TestLoadGenerator(t *testing.T) {
	t.Parallel()
	srv, c, base := newAdminFake(t)
	srv.SetNow(testEpoch)
	svc := canary(t, c)

	_, err := srv.StartLoad(Load{URL: "https://example.com/", Rate: 10, Duration: time.Second})
	assert.ErrorContains(t, err, `"url"`)
	code, body := adminDo(t, http.MethodPost, base+"/load", `{"url":"`+svc.GetUri()+`","rate":0,"duration":"1s"}`)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body["error"], `"rate"`)

	code, body = adminDo(t, http.MethodPost, base+"/load", `{"url":"`+tagURL(svc, "canary")+`","rate":100,"duration":"200ms"}`)
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	require.Eventually(t, func() bool { return srv.Loads()[0].Done }, 10*time.Second, 10*time.Millisecond)
	st := srv.Loads()[0]
	assert.Equal(t, 20, st.Sent)
	assert.Equal(t, map[int]int{200: 20}, st.Codes)
	assert.Equal(t, map[string][]int64{"200": {20}}, countByCode(t, srv))

	code, body = adminDo(t, http.MethodGet, base+"/load", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Len(t, body["loads"], 1)
}

func TestAdminBehaviors(t *testing.T) {
	t.Parallel()
	srv, _, base := newAdminFake(t)
	code, body := adminDo(t, http.MethodPut, base+"/behaviors", `{"images":{"app:v2":{"errorRate":0.2,"errorCode":503,"latency":"50ms"}}}`)
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Equal(t, Behavior{ErrorRate: 0.2, ErrorCode: 503, Latency: 50 * time.Millisecond}, srv.Behaviors().Images["app:v2"])

	code, body = adminDo(t, http.MethodPut, base+"/behaviors", `{"images":{"app:v2":{"errorRate":2}}}`)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body["error"], `"errorRate"`)
	code, _ = adminDo(t, http.MethodPut, base+"/behaviors", `{}`)
	assert.Equal(t, http.StatusBadRequest, code)

	code, body = adminDo(t, http.MethodGet, base+"/behaviors", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body["images"], "app:v2")
	code, _ = adminDo(t, http.MethodDelete, base+"/behaviors", "")
	assert.Equal(t, http.StatusNoContent, code)
	assert.Empty(t, srv.Behaviors().Images)
}

func TestRevisionBehaviorDecidesReadiness(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t, WithFailingImage(imageV2), WithBehaviors(Behaviors{Revisions: map[string]Behavior{"svc-v2": {}, "svc-v3": {Fail: true}}}))
	svc := canary(t, c) // svc-v2 uses the failing image but has a behaviour of its own
	assert.Equal(t, "svc-v2", tagURLRevision(t, srv, svc, "canary"))

	svc.Template = &runpb.RevisionTemplate{Revision: "svc-v3", Containers: []*runpb.Container{{Image: imageV1}}}
	svc.Traffic = []*runpb.TrafficTarget{latestTarget(100, "")}
	_, err := update(t, c, svc)
	assert.ErrorContains(t, err, "Revision 'svc-v3' is not ready")
}

// tagURLRevision returns the revision that answers a tag URL.
func tagURLRevision(t *testing.T, srv *Server, svc *runpb.Service, tag string) string {
	t.Helper()
	code, rev, _ := get(t, srv.TrafficClient(), tagURL(svc, tag))
	require.Equal(t, http.StatusOK, code)
	return rev
}
