package control

import (
	"net/http"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/metrics"
	"google.golang.org/grpc"
)

// Register serves the Admin API v2 (Services, Revisions, Jobs, Executions, Tasks) and Operations on gs;
// containers runs the tasks of docker-mode executions.
func (s *Server) Register(gs *grpc.Server, containers *ContainerManager) {
	runpb.RegisterServicesServer(gs, s)
	runpb.RegisterRevisionsServer(gs, s)
	jobs := &jobsServer{Server: s, containers: containers}
	runpb.RegisterJobsServer(gs, jobs)
	runpb.RegisterExecutionsServer(gs, jobs)
	runpb.RegisterTasksServer(gs, jobs)
	longrunningpb.RegisterOperationsServer(gs, s)
}

// NewDataPlane answers requests to service and tag URLs, routed by Host, and records them in store.
func NewDataPlane(s *Server, store *metrics.Store, containers *ContainerManager) http.Handler {
	return &dataPlane{impl: s, store: store, containers: containers}
}

// NewHostRouter sends requests for service and tag URLs to serving and the rest to api.
func NewHostRouter(serving, api http.Handler) http.Handler {
	return hostRouter{serving: serving, api: api}
}
