package provider

import (
	"io"
	"net/http"
	"testing"

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

	_, err = client.Get("http://" + srv.Addr() + "/")
	require.ErrorContains(t, err, "is not a Cloud Run URL (*.run.app)", "only the services' URLs are sent to the endpoint")
}
