package fakerun

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/control"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/dataplane"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/docker"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/faults"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/knative"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/listener"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rest"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/metrics"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/metrics/promql"
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
	control    *control.Server
	cfg        *config // the options given to NewServer, which Reset restores
	faults     *faults.Injector
	calls      *faults.Log
	metrics    *metrics.Store
	monitoring *metrics.Service
	serving    *dataplane.Handler
	containers *docker.Services    // containers of docker-mode revisions
	pools      *docker.Pools       // containers of docker-mode worker pool instances
	tasks      *control.TaskRunner // containers of docker-mode job tasks
	loads      *dataplane.Generator
	// trafficClient sends service and tag URLs to this server.
	trafficClient *http.Client
	grpc          *grpc.Server
	http          *http.Server
	mux           *http.ServeMux
	listener      *listener.Split
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
	ctl := control.New(&cfg.control)
	store, err := metrics.NewStore(ctl.Now, cfg.retention)
	if err != nil {
		return nil, fmt.Errorf("fakerun: %w", err)
	}
	store.SetIngestionDelay(cfg.ingestionDelay)
	engine, err := docker.NewEngine(os.Getenv("DOCKER_HOST"))
	if err != nil {
		return nil, err
	}
	tasks := control.NewTaskRunner(ctl, engine)
	containers := docker.NewServices(engine, ctl)
	pools := docker.NewPools(engine, ctl)
	closeDocker := func() {
		tasks.Close()
		containers.Close()
		pools.Close()
	}
	injector, calls := faults.NewInjector(cfg.faults), faults.NewLog()
	gs := grpc.NewServer(grpc.UnaryInterceptor(faults.Interceptor(injector, calls, ctl.Now)))
	jobs, workerPools := ctl.Register(gs, tasks)
	// The Admin API v1 that gcloud speaks: a view of the v2 API, chosen by Host.
	v1 := knative.NewHandler(knative.Backend{Services: ctl, Revisions: ctl, Jobs: jobs, Executions: jobs, Tasks: jobs, WorkerPools: workerPools})
	monitoring := metrics.NewService(store)
	monitoringpb.RegisterMetricServiceServer(gs, monitoring)
	// The standard health service (always SERVING) for container probes and load tests; it bypasses
	// faults and the call log.
	healthpb.RegisterHealthServer(gs, health.NewServer())
	reflection.Register(gs)

	rest, err := rest.NewHandler(gs)
	if err != nil {
		closeDocker()
		return nil, fmt.Errorf("fakerun: building the REST transcoder: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", rest)
	promql.NewHandler(store, ctl.Now).Register(mux) // Cloud Monitoring's PromQL API

	l, err := net.Listen("tcp", cfg.address)
	if err != nil {
		closeDocker()
		return nil, fmt.Errorf("fakerun: listening on %s: %w", cfg.address, err)
	}
	split := listener.New(l)
	s := &Server{control: ctl, cfg: cfg, faults: injector, calls: calls, metrics: store, monitoring: monitoring, containers: containers, pools: pools, tasks: tasks, grpc: gs, mux: mux, listener: split}
	s.serving = dataplane.New(ctl, store, containers, !cfg.noInvokerCheck)
	s.trafficClient = dataplane.NewTrafficClient(s.Addr())
	s.loads = dataplane.NewGenerator(s.trafficClient)
	s.http = &http.Server{Handler: dataplane.NewHostRouter(s.serving, v1, mux), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = gs.Serve(split.H2()) // returns when Close stops the server
	}()
	go func() {
		defer s.wg.Done()
		_ = s.http.Serve(split.H1()) // returns http.ErrServerClosed on Close
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
	return s.listener.Addr().String()
}

// Close stops the server, dropping open connections.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.loads.Close()
		if err := s.listener.Close(); err != nil {
			s.closeErr = err
		}
		s.grpc.Stop()
		if err := s.http.Close(); err != nil && s.closeErr == nil {
			s.closeErr = err
		}
		s.wg.Wait()
		s.serving.Close()
		s.tasks.Close()
		s.containers.Close()
		s.pools.Close()
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
