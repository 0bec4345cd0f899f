package fakerun

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// newAdminFake starts a server with the admin API mounted and returns it
// with gRPC clients and the admin API's base URL.
func newAdminFake(t *testing.T, opts ...Option) (*Server, clients, string) {
	t.Helper()
	srv, c := newFake(t, opts...)
	srv.Handle(AdminPrefix, srv.AdminHandler())
	return srv, c, "http://" + srv.Addr() + "/_fakerun"
}

// adminDo sends a request with a JSON body (none when body is empty) and
// returns the status code and the decoded JSON response.
func adminDo(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := map[string]any{}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	}
	return resp.StatusCode, out
}

func TestAdminHealthzStateReset(t *testing.T) {
	t.Parallel()
	_, c, base := newAdminFake(t)

	code, body := adminDo(t, http.MethodGet, base+"/healthz", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok", body["status"])

	mustCreateService(t, c, "svc", "img:1")
	code, body = adminDo(t, http.MethodGet, base+"/state", "")
	require.Equal(t, http.StatusOK, code)
	services := body["services"].([]any)
	require.Len(t, services, 1)
	assert.Equal(t, testSvc, services[0].(map[string]any)["name"])
	assert.Len(t, body["revisions"].(map[string]any)[testSvc], 1)
	assert.NotEmpty(t, body["operations"])

	code, _ = adminDo(t, http.MethodPost, base+"/reset", "")
	assert.Equal(t, http.StatusOK, code)
	_, body = adminDo(t, http.MethodGet, base+"/state", "")
	assert.Empty(t, body["services"])
	_, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: testSvc})
	assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)
}

func TestAdminFaults(t *testing.T) {
	t.Parallel()
	_, c, base := newAdminFake(t)
	mustCreateService(t, c, "svc", "img:1")
	get := func() error {
		_, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: testSvc})
		return err
	}

	code, body := adminDo(t, http.MethodPost, base+"/faults", `{"method":"GetService","code":"permission_denied","message":"nope","times":2}`)
	require.Equal(t, http.StatusCreated, code, "%v", body)
	code, body = adminDo(t, http.MethodPost, base+"/faults", `{"method":"UpdateService","code":"14","delay":"10ms"}`)
	require.Equal(t, http.StatusCreated, code, "%v", body)
	assert.Equal(t, []any{
		map[string]any{"method": "GetService", "code": "PERMISSION_DENIED", "message": "nope", "times": 2.0},
		map[string]any{"method": "UpdateService", "code": "UNAVAILABLE", "delay": "10ms"},
	}, body["faults"])

	err := get()
	assert.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
	assert.ErrorContains(t, err, "nope")
	_, body = adminDo(t, http.MethodGet, base+"/faults", "")
	assert.Equal(t, 1.0, body["faults"].([]any)[0].(map[string]any)["times"], "one call left")
	assert.Equal(t, codes.PermissionDenied, status.Code(get()))
	require.NoError(t, get())

	code, _ = adminDo(t, http.MethodDelete, base+"/faults", "")
	assert.Equal(t, http.StatusNoContent, code)
	_, body = adminDo(t, http.MethodGet, base+"/faults", "")
	assert.Empty(t, body["faults"])
	_, err = update(t, c, &runpb.Service{Name: testSvc, Labels: map[string]string{"a": "b"}}, "labels")
	require.NoError(t, err)
}

func TestAdminCalls(t *testing.T) {
	t.Parallel()
	_, c, base := newAdminFake(t)
	mustCreateService(t, c, "svc", "img:1")
	_, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: testSvc + "x"})
	require.Error(t, err)

	code, body := adminDo(t, http.MethodGet, base+"/calls?method=GetService", "")
	require.Equal(t, http.StatusOK, code)
	calls := body["calls"].([]any)
	require.Len(t, calls, 1)
	call := calls[0].(map[string]any)
	assert.Equal(t, "GetService", call["method"])
	assert.Equal(t, "NOT_FOUND", call["code"])
	assert.Equal(t, map[string]any{"name": testSvc + "x"}, call["request"])
	_, err = time.Parse(time.RFC3339Nano, call["time"].(string))
	require.NoError(t, err)

	_, body = adminDo(t, http.MethodGet, base+"/calls", "")
	assert.Len(t, body["calls"], 2, "CreateService and GetService")

	code, _ = adminDo(t, http.MethodDelete, base+"/calls", "")
	assert.Equal(t, http.StatusNoContent, code)
	_, body = adminDo(t, http.MethodGet, base+"/calls", "")
	assert.Empty(t, body["calls"])
}

func TestAdminMetrics(t *testing.T) {
	t.Parallel()
	srv, _, base := newAdminFake(t)
	code, body := adminDo(t, http.MethodPut, base+"/metrics", `{"ingestionDelay":"3m"}`)
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Equal(t, map[string]any{"ingestionDelay": "3m0s"}, body)
	assert.Equal(t, 3*time.Minute, srv.IngestionDelay())
	_, body = adminDo(t, http.MethodGet, base+"/metrics", "")
	assert.Equal(t, map[string]any{"ingestionDelay": "3m0s"}, body)
}

func TestAdminReadiness(t *testing.T) {
	t.Parallel()
	srv, c, base := newAdminFake(t)

	code, body := adminDo(t, http.MethodPut, base+"/readiness", `{"manual":true,"delay":"1h"}`)
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Equal(t, map[string]any{"delay": "1h0m0s", "manual": true}, body)

	op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
		Parent: testParent, ServiceId: "svc", Service: &runpb.Service{Template: template("img:1")},
	})
	require.NoError(t, err)
	require.False(t, op.Done(), "manual readiness keeps the rollout pending")
	revs := srv.Revisions(testSvc)
	require.Len(t, revs, 1)
	short := revs[0].GetName()[strings.LastIndexByte(revs[0].GetName(), '/')+1:]

	code, body = adminDo(t, http.MethodPost, base+"/readiness/revision", `{"revision":"`+short+`","ready":true}`)
	require.Equal(t, http.StatusOK, code, "%v", body)
	svc, err := op.Poll(t.Context())
	require.NoError(t, err)
	require.True(t, op.Done())
	assert.Equal(t, revs[0].GetName(), svc.GetLatestReadyRevision())

	code, body = adminDo(t, http.MethodPost, base+"/readiness/revision", `{"revision":"nosuch-00001-abc","ready":false}`)
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, body["error"], "nosuch-00001-abc")

	code, body = adminDo(t, http.MethodPut, base+"/readiness", `{"manual":false}`)
	require.Equal(t, http.StatusOK, code, "%v", body)
	_, body = adminDo(t, http.MethodGet, base+"/readiness", "")
	assert.Equal(t, map[string]any{"delay": "1h0m0s", "manual": false}, body)
}

func TestAdminFailingImages(t *testing.T) {
	t.Parallel()
	_, c, base := newAdminFake(t)
	mustCreateService(t, c, "svc", "img:1")

	code, body := adminDo(t, http.MethodPost, base+"/failing-images", `{"image":"img:broken"}`)
	require.Equal(t, http.StatusCreated, code, "%v", body)
	_, body = adminDo(t, http.MethodGet, base+"/failing-images", "")
	assert.Equal(t, []any{"img:broken"}, body["images"])

	_, err := update(t, c, &runpb.Service{Name: testSvc, Template: template("img:broken")}, "template")
	assert.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
}

func TestAdminClock(t *testing.T) {
	t.Parallel()
	_, _, base := newAdminFake(t)

	code, body := adminDo(t, http.MethodPut, base+"/clock", `{"now":"2026-01-02T15:04:05Z"}`)
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Equal(t, map[string]any{"now": "2026-01-02T15:04:05Z", "frozen": true}, body)

	code, body = adminDo(t, http.MethodPost, base+"/clock/advance", `{"duration":"90s"}`)
	require.Equal(t, http.StatusOK, code, "%v", body)
	_, body = adminDo(t, http.MethodGet, base+"/clock", "")
	assert.Equal(t, "2026-01-02T15:05:35Z", body["now"])
}

func TestAdminClockInjected(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	_, _, base := newAdminFake(t, WithClock(func() time.Time { return at }))

	code, body := adminDo(t, http.MethodPost, base+"/clock/advance", `{"duration":"1s"}`)
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, body["error"], "WithClock")
	_, body = adminDo(t, http.MethodGet, base+"/clock", "")
	assert.Equal(t, "2026-01-02T00:00:00Z", body["now"])
}

func TestAdminBadRequests(t *testing.T) {
	t.Parallel()
	_, _, base := newAdminFake(t)
	testcases := []struct {
		name     string
		method   string
		path     string
		body     string
		wantCode int
		wantErr  []string // substrings of the error message
	}{
		{name: "fail: unknown method", method: http.MethodPost, path: "/faults", body: `{"method":"Deploy","code":"INTERNAL"}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`field "method"`, `"Deploy"`, "UpdateService, DeleteService"}},
		{name: "fail: unknown code", method: http.MethodPost, path: "/faults", body: `{"method":"GetService","code":"BROKEN"}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`field "code"`, `"BROKEN"`, "UNAVAILABLE", "DEADLINE_EXCEEDED"}},
		{name: "fail: code number out of range", method: http.MethodPost, path: "/faults", body: `{"method":"GetService","code":"17"}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`field "code"`, "0-16"}},
		{name: "fail: negative times", method: http.MethodPost, path: "/faults", body: `{"method":"GetService","times":-1}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`field "times"`, ">= 0"}},
		{name: "fail: bad delay", method: http.MethodPost, path: "/faults", body: `{"method":"GetService","delay":"2 seconds"}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`field "delay"`, `"250ms"`}},
		{name: "fail: negative delay", method: http.MethodPost, path: "/faults", body: `{"method":"GetService","delay":"-1s"}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`field "delay"`, "negative"}},
		{name: "fail: wrong type", method: http.MethodPost, path: "/faults", body: `{"method":"GetService","times":"once"}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`field "times"`, "int"}},
		{name: "fail: unknown field", method: http.MethodPost, path: "/faults", body: `{"method":"GetService","count":1}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`"count"`, "allowed fields: method, code, message, times, delay"}},
		{name: "fail: empty body", method: http.MethodPost, path: "/faults",
			wantCode: http.StatusBadRequest, wantErr: []string{"empty"}},
		{name: "fail: two objects", method: http.MethodPost, path: "/failing-images", body: `{"image":"a"}{"image":"b"}`,
			wantCode: http.StatusBadRequest, wantErr: []string{"exactly one"}},
		{name: "fail: no failing image", method: http.MethodPost, path: "/failing-images", body: `{}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`field "image"`}},
		{name: "fail: readiness without fields", method: http.MethodPut, path: "/readiness", body: `{}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`"delay"`, `"manual"`}},
		{name: "fail: readiness bad delay", method: http.MethodPut, path: "/readiness", body: `{"delay":"soon"}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`field "delay"`}},
		{name: "fail: revision readiness without ready", method: http.MethodPost, path: "/readiness/revision", body: `{"revision":"svc-00001-abc"}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`field "ready"`, "true", "false"}},
		{name: "fail: revision readiness without revision", method: http.MethodPost, path: "/readiness/revision", body: `{"ready":true}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`field "revision"`}},
		{name: "fail: metrics without ingestion delay", method: http.MethodPut, path: "/metrics", body: `{}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`"ingestionDelay"`, `"0s"`}},
		{name: "fail: negative ingestion delay", method: http.MethodPut, path: "/metrics", body: `{"ingestionDelay":"-1s"}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`field "ingestionDelay"`, "negative"}},
		{name: "fail: clock not RFC 3339", method: http.MethodPut, path: "/clock", body: `{"now":"yesterday"}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`field "now"`, "RFC 3339"}},
		{name: "fail: advance without duration", method: http.MethodPost, path: "/clock/advance", body: `{}`,
			wantCode: http.StatusBadRequest, wantErr: []string{`field "duration"`}},
		{name: "fail: calls filtered by unknown method", method: http.MethodGet, path: "/calls?method=Nope",
			wantCode: http.StatusBadRequest, wantErr: []string{`"method"`, "GetService"}},
		{name: "fail: unknown endpoint", method: http.MethodGet, path: "/nope",
			wantCode: http.StatusNotFound, wantErr: []string{"/_fakerun/nope"}},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, body := adminDo(t, tc.method, base+tc.path, tc.body)
			assert.Equal(t, tc.wantCode, code, "%v", body)
			for _, want := range tc.wantErr {
				assert.Contains(t, body["error"], want)
			}
		})
	}

	// A known path with the wrong HTTP method is refused, not misrouted.
	code, _ := adminDo(t, http.MethodPut, base+"/healthz", "")
	assert.Equal(t, http.StatusMethodNotAllowed, code)
}
