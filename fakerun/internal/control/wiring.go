package control

import (
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc"
)

// JobsAPI is the Admin API v2 of jobs and what runs them: Jobs, Executions and Tasks.
type JobsAPI interface {
	runpb.JobsServer
	runpb.ExecutionsServer
	runpb.TasksServer
}

// Register serves the Admin API v2 (Services, Revisions, Jobs, Executions, Tasks, WorkerPools) and Operations on gs;
// tasks runs the tasks of docker-mode executions. It returns the jobs and worker pools APIs it registered,
// for the rooms that are views of them (the v1 API); s itself is the Services and Revisions API.
func (s *Server) Register(gs *grpc.Server, tasks *TaskRunner) (JobsAPI, runpb.WorkerPoolsServer) {
	runpb.RegisterServicesServer(gs, s)
	runpb.RegisterRevisionsServer(gs, s)
	jobs := &jobsServer{Server: s, tasks: tasks}
	runpb.RegisterJobsServer(gs, jobs)
	runpb.RegisterExecutionsServer(gs, jobs)
	runpb.RegisterTasksServer(gs, jobs)
	pools := &workerPoolsServer{srv: s}
	runpb.RegisterWorkerPoolsServer(gs, pools)
	longrunningpb.RegisterOperationsServer(gs, s)
	return jobs, pools
}
