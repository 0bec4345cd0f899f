package fakerun

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/knative"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/metrics"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// Server is a running fake. One port serves gRPC (connections that speak
// HTTP/2 cleartext) and REST/JSON plus extra handlers (HTTP/1.1
// connections). Its methods are safe for concurrent use.
type Server struct {
	impl       *server
	metrics    *metrics.Store
	monitoring *metrics.Service
	// ingestionDelay is the one given to NewServer, which Reset restores.
	ingestionDelay time.Duration
	serving        *dataPlane
	containers     *containerManager
	loads          *loadGenerator
	// trafficClient sends service and tag URLs to this server.
	trafficClient *http.Client
	grpc          *grpc.Server
	http          *http.Server
	mux           *http.ServeMux
	listener      *splitListener
	closeOnce     sync.Once
	closeErr      error
	wg            sync.WaitGroup
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
	store, err := metrics.NewStore(impl.now, cfg.retention)
	if err != nil {
		return nil, fmt.Errorf("fakerun: %w", err)
	}
	store.SetIngestionDelay(cfg.ingestionDelay)
	containers, err := newContainerManager(impl, os.Getenv("DOCKER_HOST"))
	if err != nil {
		return nil, err
	}
	gs := grpc.NewServer(grpc.UnaryInterceptor(impl.intercept))
	runpb.RegisterServicesServer(gs, impl)
	runpb.RegisterRevisionsServer(gs, impl)
	jobs := &jobsServer{server: impl, containers: containers}
	runpb.RegisterJobsServer(gs, jobs)
	runpb.RegisterExecutionsServer(gs, jobs)
	runpb.RegisterTasksServer(gs, jobs)
	longrunningpb.RegisterOperationsServer(gs, impl)
	monitoring := metrics.NewService(store)
	monitoringpb.RegisterMetricServiceServer(gs, monitoring)
	// The standard health service (always SERVING) for container probes and load tests; it bypasses
	// faults and the call log.
	healthpb.RegisterHealthServer(gs, health.NewServer())
	reflection.Register(gs)

	rest, err := newRESTHandler(gs)
	if err != nil {
		containers.close()
		return nil, fmt.Errorf("fakerun: building the REST transcoder: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", rest)

	l, err := net.Listen("tcp", cfg.address)
	if err != nil {
		containers.close()
		return nil, fmt.Errorf("fakerun: listening on %s: %w", cfg.address, err)
	}
	split := newSplitListener(l)
	s := &Server{impl: impl, metrics: store, monitoring: monitoring, ingestionDelay: cfg.ingestionDelay, containers: containers, grpc: gs, mux: mux, listener: split}
	s.serving = &dataPlane{impl: impl, store: store, containers: containers}
	s.trafficClient = newTrafficClient(s.Addr())
	s.loads = newLoadGenerator(s.trafficClient)
	s.http = &http.Server{Handler: hostRouter{serving: s.serving, v1: knative.NewHandler(knative.Backend{Services: impl, Revisions: impl}), api: mux}, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = gs.Serve(split.h2) // returns when Close stops the server
	}()
	go func() {
		defer s.wg.Done()
		_ = s.http.Serve(split.h1) // returns http.ErrServerClosed on Close
	}()
	return s, nil
}

// Handle registers an extra HTTP handler on the server's port, e.g. an admin
// API under "/_fakerun/". Patterns follow net/http.ServeMux; "/" is taken by
// the REST API. These handlers are served over HTTP/1.1 (plain curl works);
// HTTP/2 cleartext connections belong to gRPC. Like http.ServeMux.Handle, it
// panics on an invalid or already registered pattern.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string {
	return s.listener.l.Addr().String()
}

// Close stops the server, dropping open connections.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.loads.close()
		if err := s.listener.Close(); err != nil {
			s.closeErr = err
		}
		s.grpc.Stop()
		if err := s.http.Close(); err != nil && s.closeErr == nil {
			s.closeErr = err
		}
		s.wg.Wait()
		s.containers.close()
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
