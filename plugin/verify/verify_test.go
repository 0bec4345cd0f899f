package verify

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

func options(t *testing.T, raw string) config.VerifyStageOptions {
	t.Helper()
	opts, err := config.DecodeVerifyStageOptions([]byte(raw))
	require.NoError(t, err)
	return opts
}

// server answers GET /api with a JSON document; every third request (from the third) with 503. It
// records what it was sent.
func server(t *testing.T) (url string, got *[]string) {
	t.Helper()
	var n atomic.Int32
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		seen = append(seen, fmt.Sprintf("%s %s %s", r.Method, r.URL.RequestURI(), r.Header.Get("X-Smoke")))
		if i%3 == 0 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"status": "ok", "version": 2, "items": [{"name": "a"}]}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &seen
}

func TestRun_EveryAnswerIsJudged(t *testing.T) {
	t.Parallel()
	url, seen := server(t)
	opts := options(t, `{"requests": 4, "path": "/api?q=1", "headers": {"X-Smoke": "yes"},
	  "expect": {"status": "2xx", "body": {"contains": "\"status\"", "json": [{"path": "version", "equals": 2.0}, {"path": "items.0.name", "equals": "b"}]}}}`)
	r, err := Run(t.Context(), http.DefaultClient, url+"/", opts)
	require.NoError(t, err)
	assert.Equal(t, []string{"GET /api?q=1 yes", "GET /api?q=1 yes", "GET /api?q=1 yes", "GET /api?q=1 yes"}, *seen, "sent one after the other")
	assert.Equal(t, url+"/api?q=1", r.URL)
	require.Len(t, r.Answers, 4)
	assert.Equal(t, []string{`the JSON body has "a" at "items.0.name", expected "b" (body: "{\"status\": \"ok\", \"version\": 2, \"items\": [{\"name\": \"a\"}]}")`}, r.Answers[0].Problems, "2.0 equals 2")
	assert.Equal(t, []string{
		`status 503, expected 2xx`,
		`the body does not contain "\"status\""`,
		`the body is not JSON, expected 2.0 at "version" (body: "overloaded")`,
	}, r.Answers[2].Problems)
	assert.Len(t, r.Failed(), 4)
	assert.False(t, r.Passed())
}

func TestRun_StatusListsClassesAndRegex(t *testing.T) {
	t.Parallel()
	url, _ := server(t)
	r, err := Run(t.Context(), http.DefaultClient, url, options(t, `{"requests": 3, "expect": {"status": [200, "5xx"], "body": {"regex": "^(\\{|overloaded)"}}}`))
	require.NoError(t, err)
	assert.True(t, r.Passed(), "%+v", r.Answers)

	r, err = Run(t.Context(), http.DefaultClient, url, options(t, `{"requests": 3, "expect": {"status": 200, "body": {"regex": "^\\{"}}}`))
	require.NoError(t, err)
	require.Len(t, r.Failed(), 1)
	assert.Equal(t, 3, r.Failed()[0].Number)
	assert.Equal(t, []string{`status 503, expected 200`, `the body does not match "^\\{" (body: "overloaded")`}, r.Failed()[0].Problems)
}

func TestRun_Latency(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(50 * time.Millisecond)
		}
	}))
	t.Cleanup(srv.Close)
	r, err := Run(t.Context(), http.DefaultClient, srv.URL, options(t, `{"requests": 2, "path": "/slow", "expect": {"latency": {"p99": "10ms"}}}`))
	require.NoError(t, err)
	assert.Empty(t, r.Failed())
	assert.GreaterOrEqual(t, r.P99, 50*time.Millisecond)
	assert.Regexp(t, `^p99 latency \d+ms over 2 answers, expected <= 10ms$`, r.LatencyProblem)
	assert.False(t, r.Passed())

	r, err = Run(t.Context(), http.DefaultClient, srv.URL, options(t, `{"requests": 2, "timeout": "10ms", "path": "/slow"}`))
	require.NoError(t, err)
	require.Len(t, r.Failed(), 2)
	assert.Contains(t, r.Failed()[0].Problems[0], "no answer within 10ms")
}

func TestRun_Rate(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { n.Add(1) }))
	t.Cleanup(srv.Close)
	r, err := Run(t.Context(), http.DefaultClient, srv.URL, options(t, `{"rate": 50, "duration": "200ms"}`))
	require.NoError(t, err)
	assert.Len(t, r.Answers, 10)
	assert.Equal(t, int32(10), n.Load())
	assert.True(t, r.Passed())
}

func TestRun_Cancelled(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Run(ctx, http.DefaultClient, srv.URL, options(t, `{"requests": 3}`))
	require.ErrorContains(t, err, "context canceled")
}
