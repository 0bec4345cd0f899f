package fakerun

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
)

// TestRESTWire sends raw HTTP the way run.NewServicesRESTClient does and
// checks the answers' shapes.
func TestRESTWire(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	mustCreateService(t, c, "svc", "img:1")
	base := "http://" + srv.Addr()

	testcases := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantBody   string
	}{
		{
			name: "success: enum numbers with $alt=json;enum-encoding=int", method: http.MethodGet,
			path:       "/v2/" + testSvc + "?%24alt=json%3Benum-encoding%3Dint",
			wantStatus: http.StatusOK, wantBody: `"ingress":1,"launchStage":4,`,
		},
		{
			name: "success: enum names without enum-encoding", method: http.MethodGet, path: "/v2/" + testSvc + "?alt=json",
			wantStatus: http.StatusOK, wantBody: `"ingress":"INGRESS_TRAFFIC_ALL","launchStage":"GA",`,
		},
		{
			name: "success: patch with camelCase updateMask and numeric enums", method: http.MethodPatch,
			path:       "/v2/" + testSvc + "?%24alt=json%3Benum-encoding%3Dint&updateMask=traffic%2Clabels",
			body:       `{"name":"` + testSvc + `","labels":{"a":"b"},"traffic":[{"type":1,"percent":100,"tag":"live"}]}`,
			wantStatus: http.StatusOK, wantBody: `"done":true`,
		},
		{
			name: "fail: missing service is a Google-style 404", method: http.MethodGet,
			path:       "/v2/" + testParent + "/services/nope",
			wantStatus: http.StatusNotFound, wantBody: `{"error":{"code":404,"message":"Resource 'nope' of kind 'SERVICE' in region 'us-central1' in project 'p' does not exist.","status":"NOT_FOUND"}}`,
		},
		{
			name: "fail: bad traffic carries BadRequest details", method: http.MethodPatch,
			path:       "/v2/" + testSvc + "?updateMask=traffic",
			body:       `{"traffic":[{"type":1,"percent":50}]}`,
			wantStatus: http.StatusBadRequest, wantBody: `"status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest"`,
		},
		{
			name: "fail: unknown route", method: http.MethodGet, path: "/v3/whatever",
			wantStatus: http.StatusNotFound, wantBody: `"status":"NOT_FOUND"`,
		},
		{
			name: "ok: a service's IAM policy starts empty", method: http.MethodGet, path: "/v2/" + testSvc + ":getIamPolicy",
			wantStatus: http.StatusOK, wantBody: `{"etag":"ACAB"}`,
		},
		{
			name: "fail: a verb no binding has is Google's JSON 404", method: http.MethodPut, path: "/v2/" + testSvc, body: `{}`,
			wantStatus: http.StatusNotFound, wantBody: `{"error":{"code":404,"message":"The requested URL /v2/` + testSvc + ` was not found on this server.","status":"NOT_FOUND"}}`,
		},
		{
			name: "fail: unknown field in the body", method: http.MethodPatch, path: "/v2/" + testSvc,
			body:       `{"template":{"containers":[{"image":"i","imagePullPolicy":"Always"}]},"colour":"blue"}`,
			wantStatus: http.StatusBadRequest,
			wantBody: `"message":"Invalid JSON payload received. Unknown name \"colour\" at 'service': Cannot find field.\n` +
				`Invalid JSON payload received. Unknown name \"imagePullPolicy\" at 'service.template.containers[0]': Cannot find field.","status":"INVALID_ARGUMENT",` +
				`"details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"service","description":"Invalid JSON payload received. Unknown name \"colour\" at 'service': Cannot find field."}`,
		},
		{
			name: "fail: unknown enum name", method: http.MethodPatch, path: "/v2/" + testSvc + "?updateMask=ingress",
			body:       `{"ingress":"INGRESS_TRAFFIC_EVERYONE"}`,
			wantStatus: http.StatusBadRequest,
			wantBody:   `"message":"Invalid value at 'service.ingress' (type.googleapis.com/google.cloud.run.v2.IngressTraffic), \"INGRESS_TRAFFIC_EVERYONE\"","status":"INVALID_ARGUMENT"`,
		},
		{
			name: "fail: unknown query parameter", method: http.MethodGet, path: "/v2/" + testSvc + "?view=FULL",
			wantStatus: http.StatusBadRequest,
			wantBody:   `"message":"Invalid JSON payload received. Unknown name \"view\": Cannot bind query parameter. Field 'view' could not be found in request message.","status":"INVALID_ARGUMENT"`,
		},
		{
			name: "fail: alt=proto is not served", method: http.MethodGet, path: "/v2/" + testSvc + "?alt=proto",
			wantStatus: http.StatusBadRequest, wantBody: `"status":"INVALID_ARGUMENT"`,
		},
		{
			name: "success: system parameters are accepted", method: http.MethodGet,
			path:       "/v2/" + testSvc + "?key=k&quotaUser=u&%24.xgafv=2&prettyPrint=true",
			wantStatus: http.StatusOK, wantBody: `"name":"` + testSvc + `"`,
		},
		{
			name: "success: snake_case updateMask", method: http.MethodPatch,
			path:       "/v2/" + testSvc + "?update_mask=description",
			body:       `{"description":"hello"}`,
			wantStatus: http.StatusOK, wantBody: `"description":"hello"`,
		},
		{
			name: "success: fields selects a partial response", method: http.MethodGet,
			path:       "/v2/" + testParent + "/services?fields=services(name,trafficStatuses/percent),nextPageToken",
			wantStatus: http.StatusOK, wantBody: `{"services":[{"name":"` + testSvc + `","trafficStatuses":[{"percent":100}]}]}`,
		},
		{
			name: "fail: malformed fields selector", method: http.MethodGet, path: "/v2/" + testSvc + "?fields=name(",
			wantStatus: http.StatusBadRequest, wantBody: `"status":"INVALID_ARGUMENT"`,
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, base+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer func() { _ = resp.Body.Close() }()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tc.wantStatus, resp.StatusCode, string(body))
			assert.Equal(t, "application/json; charset=UTF-8", resp.Header.Get("Content-Type"))
			assert.Empty(t, resp.Header.Get("Allow"))
			var compact bytes.Buffer
			require.NoError(t, json.Compact(&compact, body), string(body))
			assert.Contains(t, compact.String(), tc.wantBody)
		})
	}

	svc, err := srv.Service(testSvc)
	require.NoError(t, err)
	assert.Equal(t, "b", svc.GetLabels()["a"])
	assert.Equal(t, "live", svc.GetTrafficStatuses()[0].GetTag())
	assert.Equal(t, "hello", svc.GetDescription())
	out, err := protojson.Marshal(svc)
	require.NoError(t, err)
	var back runpb.Service
	require.NoError(t, protojson.Unmarshal(out, &back))
}
