package config

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDecodeVerifyStageOptions(t *testing.T) {
	t.Parallel()
	testDecode(t, DecodeVerifyStageOptions, []decodeCase[VerifyStageOptions]{
		{
			name: "success: defaults",
			raw:  ``,
			want: VerifyStageOptions{Requests: 10, Path: "/", Method: "GET", Timeout: 10 * time.Second, Expect: VerifyExpectations{Status: []string{"2xx"}}},
		},
		{
			name: "success: every field",
			raw: `{"requests": 3, "path": "/api?q=1", "method": "POST", "headers": {"X-Smoke": "1"}, "body": "{}", "timeout": "2s",
			  "expect": {"status": [200, "3XX"], "body": {"contains": "ok", "regex": "^\\{", "json": [{"path": "status", "equals": "ok"}, {"path": "items.#", "equals": 2}]},
			  "latency": {"p99": "500ms"}}}`,
			want: VerifyStageOptions{Requests: 3, Path: "/api?q=1", Method: "POST", Headers: map[string]string{"X-Smoke": "1"}, Body: "{}", Timeout: 2 * time.Second,
				Expect: VerifyExpectations{Status: []string{"200", "3xx"}, BodyContains: "ok", BodyRegex: regexp.MustCompile(`^\{`),
					JSON:       []JSONExpectation{{Path: "status", Equals: json.RawMessage(`"ok"`)}, {Path: "items.#", Equals: json.RawMessage(`2`)}},
					LatencyP99: ptr(500 * time.Millisecond)}},
		},
		{
			name: "success: rate and duration, one status, one JSON check",
			raw:  `{"rate": 5, "duration": "3s", "expect": {"status": "204", "body": {"json": {"path": "a.b", "equals": true}}}}`,
			want: VerifyStageOptions{Rate: 5, Duration: 3 * time.Second, Path: "/", Method: "GET", Timeout: 10 * time.Second,
				Expect: VerifyExpectations{Status: []string{"204"}, JSON: []JSONExpectation{{Path: "a.b", Equals: json.RawMessage(`true`)}}}},
		},
		{name: "success: one request", raw: `{"requests": 1}`, want: VerifyStageOptions{Requests: 1, Path: "/", Method: "GET", Timeout: 10 * time.Second, Expect: VerifyExpectations{Status: []string{"2xx"}}}},
		{name: "success: the most requests", raw: `{"requests": 10000}`, want: VerifyStageOptions{Requests: 10000, Path: "/", Method: "GET", Timeout: 10 * time.Second, Expect: VerifyExpectations{Status: []string{"2xx"}}}},
		{
			name: "success: exactly the most requests at a rate",
			raw:  `{"rate": 100, "duration": "100s"}`,
			want: VerifyStageOptions{Rate: 100, Duration: 100 * time.Second, Path: "/", Method: "GET", Timeout: 10 * time.Second, Expect: VerifyExpectations{Status: []string{"2xx"}}},
		},
		{name: "fail: requests above the most", raw: `{"requests": 10001}`, wantErr: `CLOUDRUN_VERIFY: field "requests": 10001 is out of range, allowed an integer from 1 to 10000`},
		{name: "fail: unknown field", raw: `{"count": 3}`, wantErr: `CLOUDRUN_VERIFY: unknown field "count", allowed fields: body, duration, expect, headers, method, path, rate, requests, timeout`},
		{name: "fail: requests zero", raw: `{"requests": 0}`, wantErr: `CLOUDRUN_VERIFY: field "requests": 0 is out of range, allowed an integer from 1 to 10000`},
		{name: "fail: requests and rate", raw: `{"requests": 3, "rate": 1, "duration": "1s"}`, wantErr: `field "rate": is set with requests, allowed either requests (one after the other) or rate and duration`},
		{name: "fail: rate without duration", raw: `{"rate": 2}`, wantErr: `field "duration": is required with rate`},
		{name: "fail: duration without rate", raw: `{"duration": "5s"}`, wantErr: `field "rate": 0 is out of range`},
		{name: "fail: too many requests", raw: `{"rate": 100, "duration": "2m"}`, wantErr: `field "rate": 100 a second for 2m0s is more than 10000 requests`},
		{name: "fail: path", raw: `{"path": "healthz"}`, wantErr: `field "path": "healthz" does not start with "/"`},
		{name: "fail: method", raw: `{"method": "FETCH"}`, wantErr: `field "method": "FETCH" is not allowed, allowed GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS`},
		{name: "fail: status", raw: `{"expect": {"status": ["2xx", 600]}}`, wantErr: `field "expect.status": 600 is not allowed, allowed a status such as 200 or a class such as "2xx", or a list of them`},
		{name: "fail: regex", raw: `{"expect": {"body": {"regex": "("}}}`, wantErr: `field "expect.body.regex": "(" is not a regular expression`},
		{name: "fail: json without equals", raw: `{"expect": {"body": {"json": {"path": "a"}}}}`, wantErr: `field "expect.body.json.equals": is required`},
		{name: "fail: json unknown field", raw: `{"expect": {"body": {"json": [{"path": "a", "is": 1}]}}}`, wantErr: `unknown field "expect.body.json[0].is", allowed fields: equals, path`},
		{name: "fail: latency", raw: `{"expect": {"latency": {"p99": 500}}}`, wantErr: `field "expect.latency.p99": 500 is not a duration`},
		{name: "fail: no status", raw: `{"expect": {"status": []}}`, wantErr: `field "expect.status": is empty, allowed a status such as 200`},
		{name: "fail: json without path", raw: `{"expect": {"body": {"json": [{"equals": 1}]}}}`, wantErr: `field "expect.body.json[0].path": is required, allowed a GJSON path`},
		{name: "fail: json path not a string", raw: `{"expect": {"body": {"json": {"path": 3, "equals": 1}}}}`, wantErr: `field "expect.body.json.path": 3 is not a string`},
		{name: "fail: requests as string", raw: `{"requests": "3"}`, wantErr: `field "requests": "3" is not an integer, allowed an integer from 1 to 10000`},
		{name: "fail: header name", raw: `{"headers": {"X Smoke": "1"}}`, wantErr: `field "headers": "X Smoke" is not a header name`},
	})
}

func TestVerifyStageOptions_Total(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 7, VerifyStageOptions{Requests: 7}.Total())
	assert.Equal(t, 15, VerifyStageOptions{Rate: 5, Duration: 3 * time.Second}.Total())
	assert.Equal(t, 1, VerifyStageOptions{Rate: 0.1, Duration: time.Second}.Total(), "at least one request")
}
