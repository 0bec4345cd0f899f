package provider

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

const someService = "projects/p/locations/asia-northeast1/services/web"

// silentEndpoint accepts connections and never answers.
func silentEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return ln.Addr().String()
}

func TestClient_EndpointThatNeverAnswersSaysHowLongItWasGiven(t *testing.T) {
	t.Parallel()
	addr := silentEndpoint(t)
	c, err := NewClient(t.Context(), config.DeployTargetConfig{Endpoint: addr, Insecure: true},
		WithCallTimeouts(200*time.Millisecond, 200*time.Millisecond), WithRetry(10*time.Millisecond, 20*time.Millisecond, 3))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	start := time.Now()
	_, err = c.GetService(t.Context(), someService)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrTransient)
	// The time it took, to a tenth of a second (600ms, 1.2s), not to the nanosecond.
	assert.Regexp(t, `the endpoint `+addr+` did not answer within ([1-9]00ms|[0-9]+(\.[0-9])?s) \(3 attempts of at most 200ms each`, err.Error())
	assert.Contains(t, err.Error(), "check endpoint and insecure of the deploy target")
	assert.Less(t, time.Since(start), 2*time.Second)
}

// retries counts the retries a call makes.
func retries(t *testing.T) (*atomic.Int32, func(string)) {
	t.Helper()
	var n atomic.Int32
	return &n, func(string) { n.Add(1) }
}

func TestClient_TLSToAPlaintextEndpointIsAConfigurationErrorNotRetried(t *testing.T) {
	t.Parallel()
	srv, err := fakerun.NewServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	c, err := NewClient(t.Context(), config.DeployTargetConfig{Endpoint: srv.Addr()}, WithClientOptions(option.WithoutAuthentication()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	n, notice := retries(t)
	_, err = c.GetService(WithRetryNotice(t.Context(), notice), someService)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrTransient)
	assert.Contains(t, err.Error(), "the endpoint "+srv.Addr()+" speaks plaintext gRPC, but the deploy target connects with TLS: set insecure: true")
	assert.NotContains(t, err.Error(), "unavailable or rate limiting")
	assert.Zero(t, n.Load(), "not retried")
}

func TestClient_PlaintextToATLSEndpointIsAConfigurationErrorNotRetried(t *testing.T) {
	t.Parallel()
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.EnableHTTP2 = true
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes this test provokes fail
	ts.StartTLS()
	t.Cleanup(ts.Close)
	addr := ts.Listener.Addr().String()
	c, err := NewClient(t.Context(), config.DeployTargetConfig{Endpoint: addr, Insecure: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	n, notice := retries(t)
	_, err = c.GetService(WithRetryNotice(t.Context(), notice), someService)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the endpoint "+addr+" did not answer plaintext gRPC, most likely because it expects TLS: remove insecure: true")
	assert.Zero(t, n.Load(), "not retried")
}
