package fakerun

import (
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

func TestServerTransports(t *testing.T) {
	t.Parallel()
	srv, _ := newFake(t)
	host, _, err := net.SplitHostPort(srv.Addr())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)

	// Extra HTTP handlers share the port.
	srv.Handle("/_fakerun/healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	resp, err := http.Get("http://" + srv.Addr() + "/_fakerun/healthz")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, "ok", string(body))

	// gRPC reflection lists the three services.
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	stream, err := rpb.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
	require.NoError(t, err)
	require.NoError(t, stream.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}))
	got, err := stream.Recv()
	require.NoError(t, err)
	var names []string
	for _, s := range got.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	assert.Subset(t, names, []string{"google.cloud.run.v2.Services", "google.cloud.run.v2.Revisions", "google.longrunning.Operations"})
}

func TestServerClose(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	srv, err := NewServer(WithAddress(addr))
	require.NoError(t, err)
	assert.Equal(t, addr, srv.Addr())
	_, err = NewServer(WithAddress(addr))
	assert.Error(t, err, "the address is taken")
	require.NoError(t, srv.Close())
	require.NoError(t, srv.Close(), "Close is idempotent")
	resp, err := http.Get("http://" + addr + "/")
	if err == nil {
		_ = resp.Body.Close()
	}
	assert.Error(t, err)
}

func TestServerHealth(t *testing.T) {
	t.Parallel()
	srv, _ := newFake(t)
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()

	resp, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())
	assert.Empty(t, srv.Calls(), "health checks stay out of the call log")
}
