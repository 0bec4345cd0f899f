package fakerun

import (
	"io"
	"net/http"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The data plane checks invokers as Cloud Run does: a request without a bearer token to a service that is
// neither public nor invokerIamDisabled gets 403 and reaches no revision.
func TestInvokerCheck(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name     string
		opts     []Option
		public   bool // allUsers holds roles/run.invoker
		disabled bool // invokerIamDisabled
		header   string
		value    string
		want     int
	}{
		{name: "fail: no token", want: http.StatusForbidden},
		{name: "fail: basic credentials are no bearer token", header: "Authorization", value: "Basic dXNlcjpwYXNz", want: http.StatusForbidden},
		{name: "fail: an empty bearer token", header: "Authorization", value: "Bearer ", want: http.StatusForbidden},
		{name: "success: any bearer token", header: "Authorization", value: "Bearer eyJhbGciOi", want: http.StatusOK},
		{name: "success: a bearer token in X-Serverless-Authorization", header: "X-Serverless-Authorization", value: "bearer t", want: http.StatusOK},
		{name: "success: a public service", public: true, want: http.StatusOK},
		{name: "success: invoker IAM disabled", disabled: true, want: http.StatusOK},
		{name: "success: the check switched off", opts: []Option{WithoutInvokerCheck()}, want: http.StatusOK},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, c := newFake(t, tc.opts...)
			svc := canary(t, c)
			if tc.disabled {
				svc.InvokerIamDisabled = true
				var err error
				svc, err = update(t, c, svc)
				require.NoError(t, err)
			}
			if tc.public {
				_, err := c.services.SetIamPolicy(t.Context(), &iampb.SetIamPolicyRequest{Resource: testSvc, Policy: &iampb.Policy{
					Bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}},
				}})
				require.NoError(t, err)
			}

			req, err := http.NewRequest(http.MethodGet, "http://"+srv.Addr()+"/hello", nil)
			require.NoError(t, err)
			req.Host = svc.GetUri()[len("https://"):]
			if tc.header != "" {
				req.Header.Set(tc.header, tc.value)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Equal(t, tc.want, resp.StatusCode)
			if tc.want == http.StatusForbidden {
				assert.Contains(t, string(body), "<h1>Error: Forbidden</h1>\n<h2>Your client does not have permission to get URL <code>/hello</code> from this server.</h2>")
				assert.Empty(t, resp.Header.Get(HeaderRevision), "no revision answers")
			} else {
				assert.NotEmpty(t, resp.Header.Get(HeaderRevision))
			}
		})
	}
}

// The traffic client is an authorised invoker: it sends a bearer token unless the request has one.
func TestTrafficClientSendsABearerToken(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	svc := canary(t, c)
	code, rev, _ := get(t, srv.TrafficClient(), svc.GetUri())
	assert.Equal(t, http.StatusOK, code)
	assert.NotEmpty(t, rev)
}
