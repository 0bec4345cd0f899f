package fakerun

import (
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
			name: "success: get with $alt", method: http.MethodGet,
			path:       "/v2/" + testSvc + "?%24alt=json%3Benum-encoding%3Dint",
			wantStatus: http.StatusOK, wantBody: `"name":"` + testSvc + `"`,
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
			name: "fail: IAM is unimplemented", method: http.MethodGet, path: "/v2/" + testSvc + ":getIamPolicy",
			wantStatus: http.StatusNotImplemented, wantBody: `"status":"UNIMPLEMENTED"`,
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
			assert.Contains(t, strings.ReplaceAll(string(body), " ", ""), strings.ReplaceAll(tc.wantBody, " ", ""))
			assert.True(t, json.Valid(body), string(body))
		})
	}

	svc, err := srv.Service(testSvc)
	require.NoError(t, err)
	assert.Equal(t, "b", svc.GetLabels()["a"])
	assert.Equal(t, "live", svc.GetTrafficStatuses()[0].GetTag())
	out, err := protojson.Marshal(svc)
	require.NoError(t, err)
	var back runpb.Service
	require.NoError(t, protojson.Unmarshal(out, &back))
}
