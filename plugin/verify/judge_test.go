package verify

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// answered returns answers with status 200 and the given latencies in milliseconds.
func answered(ms ...int) []Answer {
	out := make([]Answer, len(ms))
	for i, m := range ms {
		out[i] = Answer{Number: i + 1, Status: http.StatusOK, Latency: time.Duration(m) * time.Millisecond}
	}
	return out
}

func TestJudgeLatency_NearestRankP99(t *testing.T) {
	t.Parallel()
	limit := 99 * time.Millisecond
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // unsorted: 100ms down to 1ms
	}
	testcases := []struct {
		name        string
		answers     []Answer
		limit       *time.Duration
		wantP99     time.Duration
		wantProblem string
	}{
		{name: "success: the 99th of 100 answers, at the limit", answers: answered(hundred...), limit: &limit, wantP99: 99 * time.Millisecond},
		{name: "fail: the slower of 2 answers", answers: answered(120, 10), limit: &limit, wantP99: 120 * time.Millisecond,
			wantProblem: "p99 latency 120ms over 2 answers, expected <= 99ms"},
		{
			name:    "success: unanswered requests are left out",
			answers: append(answered(20), Answer{Number: 2}, Answer{Number: 3, Latency: 500 * time.Millisecond}),
			limit:   &limit, wantP99: 20 * time.Millisecond,
		},
		{name: "fail: nothing answered", answers: []Answer{{Number: 1}}, limit: &limit,
			wantProblem: "no request was answered, so the latency cannot be judged"},
		{name: "success: nothing answered, no limit", answers: []Answer{{Number: 1}}},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := &Report{Answers: tc.answers}
			r.judgeLatency(tc.limit)
			assert.Equal(t, tc.wantP99, r.P99)
			assert.Equal(t, tc.wantProblem, r.LatencyProblem)
		})
	}
}

func TestExcerpt(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "empty", excerpt([]byte(" \n")))
	exact := strings.Repeat("é", 120)
	assert.Equal(t, `"`+exact+`"`, excerpt([]byte(exact)), "120 characters are shown whole")
	assert.Equal(t, `"`+exact+`"...`, excerpt([]byte(exact+"x")), "longer bodies are cut at 120 characters")
}

func TestRun_SendsTheBodyAndTheMethod(t *testing.T) {
	t.Parallel()
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+string(b)+" "+r.Header.Get("Content-Length"))
	}))
	t.Cleanup(srv.Close)
	r, err := Run(t.Context(), http.DefaultClient, srv.URL, options(t, `{"requests": 1, "method": "POST", "body": "{\"q\": 1}"}`))
	require.NoError(t, err)
	assert.True(t, r.Passed(), "%+v", r.Answers)
	_, err = Run(t.Context(), http.DefaultClient, srv.URL, options(t, `{"requests": 1, "method": "POST"}`))
	require.NoError(t, err)
	assert.Equal(t, []string{`POST {"q": 1} 8`, "POST  0"}, got)
}

// The first request at a rate goes at once; the next ones wait for their tick.
func TestRun_RateSendsTheFirstRequestAtOnce(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	start := time.Now()
	r, err := Run(t.Context(), http.DefaultClient, srv.URL, options(t, `{"rate": 0.2, "duration": "5s"}`))
	require.NoError(t, err)
	require.Len(t, r.Answers, 1)
	assert.Less(t, time.Since(start), 4*time.Second, "one request at 1 every 5s is sent without waiting a tick")
}
