package control

import (
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc"
)

// Register serves the Admin API v2 (Services, Revisions, Jobs, Executions, Tasks) and Operations on gs;
// tasks runs the tasks of docker-mode executions.
func (s *Server) Register(gs *grpc.Server, tasks *TaskRunner) {
	runpb.RegisterServicesServer(gs, s)
	runpb.RegisterRevisionsServer(gs, s)
	jobs := &jobsServer{Server: s, tasks: tasks}
	runpb.RegisterJobsServer(gs, jobs)
	runpb.RegisterExecutionsServer(gs, jobs)
	runpb.RegisterTasksServer(gs, jobs)
	longrunningpb.RegisterOperationsServer(gs, s)
}
