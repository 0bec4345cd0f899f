// Package verify is CLOUDRUN_VERIFY's requests and judgement: it sends the requests of the stage options
// to a URL through the given HTTP client and says, for every answer, what differed from what was expected.
package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

// maxBody bounds how much of an answer's body is read and judged.
const maxBody = 1 << 20

// Answer is what one request got.
type Answer struct {
	// Number counts from 1.
	Number int
	// Status is 0 when no answer came; Latency is then 0 too.
	Status  int
	Latency time.Duration
	// Problems say what differed from the expectations; none when the answer passed.
	Problems []string
}

// Report is the outcome of all the requests.
type Report struct {
	// URL is what was requested: the tag URL and the path.
	URL     string
	Method  string
	Answers []Answer
	// P99 is the 99th percentile of the latencies of every answer (timeouts and errors excluded).
	P99 time.Duration
	// LatencyProblem says how P99 exceeded its limit; empty when it did not, or none was set.
	LatencyProblem string
}

// Failed are the answers with problems.
func (r *Report) Failed() []Answer {
	var out []Answer
	for _, a := range r.Answers {
		if len(a.Problems) > 0 {
			out = append(out, a)
		}
	}
	return out
}

// Passed reports whether every answer and the latency were as expected.
func (r *Report) Passed() bool { return len(r.Failed()) == 0 && r.LatencyProblem == "" }

// Run sends the requests of opts to base (a tag URL, without path) through client and judges them:
// opts.Requests one after the other, or opts.Rate a second for opts.Duration. It returns early only when
// ctx ends.
func Run(ctx context.Context, client *http.Client, base string, opts config.VerifyStageOptions) (*Report, error) {
	r := &Report{URL: strings.TrimSuffix(base, "/") + opts.Path, Method: opts.Method}
	total := opts.Total()
	r.Answers = make([]Answer, total)
	send := func(i int) { r.Answers[i] = ask(ctx, client, r.URL, i+1, opts) }
	if opts.Rate > 0 {
		every := time.Duration(float64(time.Second) / opts.Rate)
		var wg sync.WaitGroup
		ticker := time.NewTicker(every)
		defer ticker.Stop()
		for i := range total {
			if i > 0 {
				select {
				case <-ticker.C:
				case <-ctx.Done():
				}
			}
			if ctx.Err() != nil {
				break
			}
			wg.Go(func() { send(i) })
		}
		wg.Wait()
	} else {
		for i := range total {
			if ctx.Err() != nil {
				break
			}
			send(i)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	r.judgeLatency(opts.Expect.LatencyP99)
	return r, nil
}

// ask sends request number n and judges its answer.
func ask(ctx context.Context, client *http.Client, url string, n int, opts config.VerifyStageOptions) Answer {
	a := Answer{Number: n}
	rctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var body io.Reader
	if opts.Body != "" {
		body = strings.NewReader(opts.Body)
	}
	req, err := http.NewRequestWithContext(rctx, opts.Method, url, body)
	if err != nil {
		a.Problems = append(a.Problems, err.Error())
		return a
	}
	for k, v := range opts.Headers {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		a.Problems = append(a.Problems, fmt.Sprintf("no answer within %s: %v", opts.Timeout, err))
		return a
	}
	defer func() { _ = resp.Body.Close() }()
	got, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	a.Latency = time.Since(start)
	a.Status = resp.StatusCode
	if err != nil {
		a.Problems = append(a.Problems, fmt.Sprintf("the body could not be read: %v", err))
		return a
	}
	a.Problems = judge(opts.Expect, resp.StatusCode, got)
	if len(a.Problems) > 0 {
		a.Problems[len(a.Problems)-1] += " (body: " + excerpt(got) + ")"
	}
	return a
}

// judge says what of status and body differs from e.
func judge(e config.VerifyExpectations, status int, body []byte) []string {
	var out []string
	if !statusAllowed(e.Status, status) {
		out = append(out, fmt.Sprintf("status %d, expected %s", status, strings.Join(e.Status, " or ")))
	}
	if e.BodyContains != "" && !strings.Contains(string(body), e.BodyContains) {
		out = append(out, fmt.Sprintf("the body does not contain %q", e.BodyContains))
	}
	if e.BodyRegex != nil && !e.BodyRegex.Match(body) {
		out = append(out, fmt.Sprintf("the body does not match %q", e.BodyRegex))
	}
	for _, j := range e.JSON {
		if !gjson.ValidBytes(body) {
			out = append(out, fmt.Sprintf("the body is not JSON, expected %s at %q", j.Equals, j.Path))
			break
		}
		v := gjson.GetBytes(body, j.Path)
		switch {
		case !v.Exists():
			out = append(out, fmt.Sprintf("the JSON body has nothing at %q, expected %s", j.Path, j.Equals))
		case !sameJSON(v.Raw, j.Equals):
			out = append(out, fmt.Sprintf("the JSON body has %s at %q, expected %s", v.Raw, j.Path, j.Equals))
		}
	}
	return out
}

func statusAllowed(allowed []string, status int) bool {
	code := strconv.Itoa(status)
	for _, a := range allowed {
		if a == code || (strings.HasSuffix(a, "xx") && len(code) == 3 && code[0] == a[0]) {
			return true
		}
	}
	return false
}

// sameJSON reports whether two JSON texts hold the same value (numbers compared as numbers).
func sameJSON(a string, b []byte) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// excerpt is the start of a body for a message.
func excerpt(body []byte) string {
	const limit = 120
	s := strings.TrimSpace(string(body))
	if s == "" {
		return "empty"
	}
	r := []rune(s)
	if len(r) > limit {
		return strconv.Quote(string(r[:limit])) + "..."
	}
	return strconv.Quote(s)
}

// judgeLatency computes the 99th percentile of the answers' latencies (nearest rank) and holds it to limit.
func (r *Report) judgeLatency(limit *time.Duration) {
	var lat []time.Duration
	for _, a := range r.Answers {
		if a.Status != 0 {
			lat = append(lat, a.Latency)
		}
	}
	if len(lat) == 0 {
		if limit != nil {
			r.LatencyProblem = "no request was answered, so the latency cannot be judged"
		}
		return
	}
	slices.Sort(lat)
	rank := (99*len(lat) + 99) / 100 // ceil(0.99 n)
	r.P99 = lat[rank-1]
	if limit != nil && r.P99 > *limit {
		r.LatencyProblem = fmt.Sprintf("p99 latency %s over %d answers, expected <= %s", r.P99.Round(time.Millisecond), len(lat), *limit)
	}
}
