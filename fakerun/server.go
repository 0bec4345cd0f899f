package fakerun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection"
)

// Server is a running fake. It serves gRPC (requests with content-type
// application/grpc, over HTTP/2 cleartext) and REST/JSON (everything else)
// on one loopback port. Its methods are safe for concurrent use.
type Server struct {
	impl      *server
	grpc      *grpc.Server
	http      *http.Server
	mux       *http.ServeMux
	listener  net.Listener
	closeOnce sync.Once
	closeErr  error
	served    chan struct{}
}

// NewServer starts a fake listening on 127.0.0.1 (a free port unless
// WithAddress says otherwise).
func NewServer(opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		if err := opt(cfg); err != nil {
			return nil, err
		}
	}
	impl := newServerImpl(cfg)
	gs := grpc.NewServer(grpc.UnaryInterceptor(impl.intercept))
	runpb.RegisterServicesServer(gs, impl)
	runpb.RegisterRevisionsServer(gs, impl)
	longrunningpb.RegisterOperationsServer(gs, impl)
	reflection.Register(gs)

	rest, err := newRESTHandler(gs)
	if err != nil {
		return nil, fmt.Errorf("fakerun: building the REST transcoder: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", rest)

	l, err := net.Listen("tcp", cfg.address)
	if err != nil {
		return nil, fmt.Errorf("fakerun: listening on %s: %w", cfg.address, err)
	}
	s := &Server{impl: impl, grpc: gs, mux: mux, listener: l, served: make(chan struct{})}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.http = &http.Server{Handler: http.HandlerFunc(s.route), Protocols: protocols, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.http.Serve(l) // returns http.ErrServerClosed on Close
	}()
	return s, nil
}

// route sends gRPC requests to the gRPC server and the rest to the mux.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		s.grpc.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Handle registers an extra HTTP handler on the server's port, e.g. an admin
// API under "/_fakerun/". Patterns follow net/http.ServeMux; "/" is taken by
// the REST API, and gRPC requests never reach these handlers.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string {
	return s.listener.Addr().String()
}

// Close stops the server, dropping open connections.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := s.http.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			s.closeErr = err
		}
		_ = s.http.Close()
		<-s.served
	})
	return s.closeErr
}

// ClientOptions returns options for the gRPC clients of
// cloud.google.com/go/run/apiv2 (run.NewServicesClient, run.NewRevisionsClient):
// plaintext, no authentication.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.Addr()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithTelemetryDisabled(),
	}
}

// RESTClientOptions returns options for the REST clients
// (run.NewServicesRESTClient, run.NewRevisionsRESTClient).
func (s *Server) RESTClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint("http://" + s.Addr()),
		option.WithoutAuthentication(),
		option.WithTelemetryDisabled(),
	}
}
