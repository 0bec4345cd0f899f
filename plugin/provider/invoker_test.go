package provider

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInvoker_InsecureEndpointServesTheServiceURLs(t *testing.T) {
	t.Parallel()
	c, srv := newTestClient(t)
	svc, err := c.CreateService(t.Context(), testService("v1"))
	require.NoError(t, err)
	svc, err = c.GetService(t.Context(), svc.GetName())
	require.NoError(t, err)

	client, err := c.Invoker(t.Context(), svc.GetUri())
	require.NoError(t, err)
	resp, err := client.Get(svc.GetUri() + "/healthz")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "image: gcr.io/p/web:v1")
	assert.Equal(t, "web-v1", resp.Header.Get("X-Fakerun-Revision"))

	resp, err = client.Get("http://" + srv.Addr() + "/")
	if err == nil {
		_ = resp.Body.Close()
	}
	require.ErrorContains(t, err, "is not a Cloud Run URL (*.run.app)", "only the services' URLs are sent to the endpoint")
}

func TestQueryPromQL(t *testing.T) {
	t.Parallel()
	c, srv := newTestClient(t)
	svc, err := c.CreateService(t.Context(), testService("v1"))
	require.NoError(t, err)
	svc, err = c.GetService(t.Context(), svc.GetName())
	require.NoError(t, err)
	for range 3 {
		resp, err := srv.TrafficClient().Get(svc.GetUri())
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}

	got, err := c.QueryPromQL(t.Context(), "p", `sum by (revision_name) (run_googleapis_com:request_count{service_name="web"})`, time.Now().Add(time.Second))
	require.NoError(t, err)
	assert.Equal(t, []PromSample{{Labels: map[string]string{"revision_name": "web-v1"}, Value: 3}}, got)

	got, err = c.QueryPromQL(t.Context(), "p", `1 + 1`, time.Now())
	require.NoError(t, err)
	assert.Equal(t, []PromSample{{Labels: map[string]string{}, Value: 2}}, got, "a scalar")

	_, err = c.QueryPromQL(t.Context(), "p", `label_replace(up, "a", "b", "c", "d")`, time.Now())
	require.Error(t, err)
	assert.Equal(t, `failed to evaluate the PromQL query of projects/p: invalid argument: function "label_replace" is not supported by fakerun's PromQL`+
		` (supported: selectors with label matchers, rate, increase, histogram_quantile, vector, sum/min/max/avg/count with by or without, + - * / and or between scalars and vectors, parentheses and unary minus)`+
		` (fix the promql query of the CLOUDRUN_ANALYSIS stage options according to the message)`, err.Error())
}

// fakerun's invoker check refuses a request without a token to a private service: the insecure invoker
// sends a placeholder, and keeps a token of the caller's own.
func TestInvoker_InsecureEndpointSendsAPlaceholderToken(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t)
	svc, err := c.CreateService(t.Context(), testService("v1"))
	require.NoError(t, err)
	svc, err = c.GetService(t.Context(), svc.GetName())
	require.NoError(t, err)
	client, err := c.Invoker(t.Context(), svc.GetUri())
	require.NoError(t, err)

	for _, token := range []string{"", "Bearer mine"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, svc.GetUri()+"/", nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, http.StatusOK, resp.StatusCode, "token %q", token)
	}

	anonymous, err := http.NewRequestWithContext(t.Context(), http.MethodGet, svc.GetUri()+"/", nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: client.Transport.(placeholderToken).base}).Do(anonymous)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "without the placeholder fakerun refuses the request")
}
