package provider

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestDecodePromAnswer(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 300)
	testcases := []struct {
		name     string
		code     int
		body     string
		want     []PromSample
		wantCode codes.Code
		wantMsg  string
	}{
		{name: "success: a vector", code: 200, body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"revision_name":"web-1"},"value":[1,"0.25"]}]}}`,
			want: []PromSample{{Labels: map[string]string{"revision_name": "web-1"}, Value: 0.25}}},
		{name: "success: an empty vector", code: 200, body: `{"status":"success","data":{"resultType":"vector","result":[]}}`, want: []PromSample{}},
		{name: "fail: Prometheus's error", code: 400, body: `{"status":"error","errorType":"bad_data","error":"parse error at char 3"}`,
			wantCode: codes.InvalidArgument, wantMsg: "parse error at char 3"},
		{name: "fail: an error without a message", code: 503, body: `{"status":"error"}`, wantCode: codes.Unavailable, wantMsg: `HTTP 503: {"status":"error"}`},
		{name: "fail: not JSON, cut at 200 bytes", code: 502, body: long, wantCode: codes.Unavailable, wantMsg: "HTTP 502: " + long[:200]},
		{name: "fail: a success that is not Prometheus's shape", code: 200, body: `{"status":"success","data":5}`,
			wantCode: codes.Internal, wantMsg: "the answer is not Prometheus's JSON"},
		{name: "fail: a matrix", code: 200, body: `{"status":"success","data":{"resultType":"matrix","result":[]}}`,
			wantCode: codes.InvalidArgument, wantMsg: "the query gives a matrix, allowed a query that gives a scalar or an instant vector"},
		{name: "fail: a scalar that is not a number", code: 200, body: `{"status":"success","data":{"resultType":"scalar","result":[1,5]}}`,
			wantCode: codes.Internal, wantMsg: "the value 5 is not a number"},
		{name: "fail: a vector value that is not a number", code: 200, body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"high"]}]}}`,
			wantCode: codes.Internal, wantMsg: "the value high is not a number"},
		{name: "fail: a scalar of the wrong shape", code: 200, body: `{"status":"success","data":{"resultType":"scalar","result":{}}}`,
			wantCode: codes.Internal, wantMsg: "the scalar answer cannot be read"},
		{name: "fail: a vector of the wrong shape", code: 200, body: `{"status":"success","data":{"resultType":"vector","result":{}}}`,
			wantCode: codes.Internal, wantMsg: "the vector answer cannot be read"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodePromAnswer(&http.Response{StatusCode: tc.code, Body: io.NopCloser(strings.NewReader(tc.body))})
			if tc.wantMsg == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.wantCode, status.Code(err))
			assert.Contains(t, status.Convert(err).Message(), tc.wantMsg)
			if strings.HasPrefix(tc.wantMsg, "HTTP") {
				assert.Equal(t, tc.wantMsg, status.Convert(err).Message(), "the body is cut, not more")
			}
		})
	}
}
