package promql

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/metrics"
)

var now = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

// server records, in each of the 60 seconds before now, 10 requests to web-1 (200 in 10ms) and 10 to web-2
// (2 of them 500, all in 100ms), and serves the PromQL API over them.
func server(t *testing.T) string {
	t.Helper()
	st, err := metrics.NewStore(func() time.Time { return now }, 0)
	require.NoError(t, err)
	res := func(rev string) metrics.Resource {
		return metrics.Resource{ProjectID: "p", Location: "us-central1", ServiceName: "web", RevisionName: rev, ConfigurationName: "web"}
	}
	for s := 1; s <= 60; s++ {
		at := now.Add(-time.Duration(s) * time.Second)
		for i := range 10 {
			st.Record(metrics.Request{Resource: res("web-1"), Code: 200, Latency: 10 * time.Millisecond, Time: at})
			code := 200
			if i < 2 {
				code = 500
			}
			st.Record(metrics.Request{Resource: res("web-2"), Code: code, Latency: 100 * time.Millisecond, Time: at})
		}
	}
	mux := http.NewServeMux()
	NewHandler(st, func() time.Time { return now }).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1/projects/p/location/global/prometheus/api/v1/"
}

type answer struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

func get(t *testing.T, base, path string, params url.Values) (int, answer) {
	t.Helper()
	resp, err := http.PostForm(base+path, params)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var a answer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	return resp.StatusCode, a
}

// instant evaluates query at now and returns its elements as "labels => value".
func instant(t *testing.T, base, query string, labels ...string) map[string]float64 {
	t.Helper()
	code, a := get(t, base, "query", url.Values{"query": {query}, "time": {strconv.FormatInt(now.Unix(), 10)}})
	require.Equal(t, http.StatusOK, code, a.Error)
	require.Equal(t, "vector", a.Data.ResultType)
	var result []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	require.NoError(t, json.Unmarshal(a.Data.Result, &result))
	out := map[string]float64{}
	for _, r := range result {
		key := ""
		for _, l := range labels {
			key += l + "=" + r.Metric[l] + " "
		}
		v, err := strconv.ParseFloat(r.Value[1].(string), 64)
		require.NoError(t, err)
		out[key] = v
	}
	return out
}

func TestQuery_SelectorsRatesAndSums(t *testing.T) {
	t.Parallel()
	base := server(t)
	assert.Equal(t, map[string]float64{"revision_name=web-1 response_code=200 ": 600, "revision_name=web-2 response_code=200 ": 480, "revision_name=web-2 response_code=500 ": 120},
		instant(t, base, `run_googleapis_com:request_count{service_name="web"}`, "revision_name", "response_code"), "DELTA points are counters")
	assert.Equal(t, map[string]float64{"revision_name=web-2 ": 60},
		instant(t, base, `increase(run_googleapis_com:request_count{revision_name=~"web-2", response_code_class="5xx"}[30s])`, "revision_name"))
	assert.Equal(t, map[string]float64{"revision_name=web-1 ": 10, "revision_name=web-2 ": 10},
		instant(t, base, `sum by (revision_name) (rate(run_googleapis_com:request_count[1m]))`, "revision_name"))
	assert.Equal(t, map[string]float64{"": 0.2},
		instant(t, base, `sum(rate(run_googleapis_com:request_count{revision_name="web-2",response_code_class="5xx"}[1m])) / sum(rate(run_googleapis_com:request_count{revision_name="web-2"}[1m]))`),
		"arithmetic between two expressions: the error rate")
	assert.Equal(t, map[string]float64{"revision_name=web-1 ": 0, "revision_name=web-2 ": 2},
		instant(t, base, `sum by (revision_name) (rate(run_googleapis_com:request_count[1m])) - sum by (revision_name) (rate(run_googleapis_com:request_count{response_code_class="2xx"}[1m]))`, "revision_name"),
		"vectors matched on their labels")
	assert.Empty(t, instant(t, base, `run_googleapis_com:request_count{service_name="other"}`))
	assert.Equal(t, map[string]float64{"": 0},
		instant(t, base, `sum(rate(run_googleapis_com:request_count{revision_name="web-1",response_code_class="5xx"}[1m])) or vector(0)`),
		"or vector(0) gives 0 where nothing matches")
}

func TestQuery_HistogramQuantile(t *testing.T) {
	t.Parallel()
	base := server(t)
	got := instant(t, base, `histogram_quantile(0.99, sum by (le, revision_name) (rate(run_googleapis_com:request_latencies_bucket{service_name="web"}[1m])))`, "revision_name")
	require.Len(t, got, 2)
	// fakerun's buckets grow by 1.4: a quantile is exact to its bucket.
	assert.InDelta(t, 10, got["revision_name=web-1 "], 4)
	assert.InDelta(t, 100, got["revision_name=web-2 "], 40)
	mean := instant(t, base, `sum(increase(run_googleapis_com:request_latencies_sum{revision_name="web-2"}[1m])) / sum(increase(run_googleapis_com:request_latencies_count{revision_name="web-2"}[1m]))`)
	assert.InDelta(t, 100, mean[""], 1e-6, "_sum and _count give the mean")
}

func TestQueryRange(t *testing.T) {
	t.Parallel()
	base := server(t)
	code, a := get(t, base, "query_range", url.Values{
		"query": {`sum(rate(run_googleapis_com:request_count{revision_name="web-1"}[10s]))`},
		"start": {now.Add(-20 * time.Second).Format(time.RFC3339)}, "end": {now.Format(time.RFC3339)}, "step": {"10s"},
	})
	require.Equal(t, http.StatusOK, code, a.Error)
	assert.Equal(t, "matrix", a.Data.ResultType)
	assert.JSONEq(t, `[{"metric": {}, "values": [[1767347980, "10"], [1767347990, "10"], [1767348000, "10"]]}]`, string(a.Data.Result))
}

func TestQuery_Errors(t *testing.T) {
	t.Parallel()
	base := server(t)
	for query, want := range map[string]string{
		`label_replace(up, "a", "b", "c", "d")`:             `function "label_replace" is not supported by fakerun's PromQL`,
		`topk(3, run_googleapis_com:request_count)`:         `aggregation "topk" is not supported`,
		`run_googleapis_com:request_count > 3`:              `operator ">" is not supported`,
		`run_googleapis_com:request_count unless vector(1)`: `operator "unless" is not supported`,
		`run_googleapis_com:request_count offset 1m`:        `offset and @ modifiers is not supported`,
		`rate(run_googleapis_com:request_count[5m:1m])`:     `subqueries is not supported`,
		`sum(rate(run_googleapis_com:request_count[1m]))(`:  `invalid parameter "query": 1:48: parse error`,
	} {
		code, a := get(t, base, "query", url.Values{"query": {query}})
		assert.Equal(t, http.StatusBadRequest, code, query)
		assert.Equal(t, "error", a.Status, query)
		assert.Equal(t, "bad_data", a.ErrorType, query)
		assert.Contains(t, a.Error, want, query)
	}
	code, a := get(t, base, "query_range", url.Values{"query": {"1"}, "start": {"10"}, "end": {"5"}, "step": {"1"}})
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "end timestamp must not be before start time", a.Error)
}

func TestPromName(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "run_googleapis_com:request_count", promName("run.googleapis.com/request_count"))
	assert.Equal(t, "custom_googleapis_com:opencensus_opencensus_io_http_server_request_count_by_method",
		promName("custom.googleapis.com/opencensus/opencensus.io/http/server/request_count_by_method"))
}
