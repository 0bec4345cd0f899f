package control

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Documented limits and defaults of job templates
// (google.cloud.run.v2.ExecutionTemplate and TaskTemplate).
const (
	defaultTaskCount  = 1
	maxTaskCount      = 10000
	defaultMaxRetries = 3
	maxMaxRetries     = 10
	defaultTimeout    = 600 * time.Second
	maxTaskTimeout    = 168 * time.Hour
)

// jobsServer answers google.cloud.run.v2.Jobs, Executions and Tasks on the
// server's state.
type jobsServer struct {
	*Server
	tasks *TaskRunner // runs the tasks of docker-mode executions
	runpb.UnimplementedJobsServer
	runpb.UnimplementedExecutionsServer
	runpb.UnimplementedTasksServer
}

// jobStore holds jobs and their executions; guarded by server.mu.
type jobStore struct {
	jobs       map[string]*job       // by full name
	byLocation map[string][]*job     // oldest first
	executions map[string]*execution // by full name
	pending    []*jobOperation       // operations not done yet
}

func newJobStore() *jobStore {
	return &jobStore{jobs: map[string]*job{}, byLocation: map[string][]*job{}, executions: map[string]*execution{}}
}

// job is one Cloud Run job. stored is copy-on-write, like service.svc; the
// execution fields are rendered on read.
type job struct {
	name     string
	location string
	project  string
	id       string
	stored   *runpb.Job
	// executions, oldest first (deleted ones removed).
	executions []*execution
	// runs counts the executions created; latest is the newest one.
	runs   int32
	latest *execution
}

// jobOperation is a pending operation of a job: a reconcile of a generation
// (create, update) or a run of an execution.
type jobOperation struct {
	op         *operation
	job        *job
	generation int64      // reconcile: the generation it publishes
	readyAt    time.Time  // reconcile: when it finishes
	failImage  string     // reconcile: fails at readyAt because of this image
	execution  *execution // run: done when the execution completes
}

func (s *jobsServer) CreateJob(_ context.Context, req *runpb.CreateJobRequest) (*longrunningpb.Operation, error) {
	project, region, err := rules.ParseConcreteLocation("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if req.GetJob() == nil {
		return nil, rules.InvalidArgument("job", "a job is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	id := req.GetJobId()
	if id == "" {
		id = "job-" + s.randomLettersLocked(8)
	} else if err := rules.ValidateJobID("job_id", id); err != nil {
		return nil, err
	}
	if _, ok := s.jobs.jobs[req.GetParent()+"/jobs/"+id]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Resource '%s' already exists.", id)
	}
	return s.createJobLocked(project, region, id, req.GetJob(), req.GetValidateOnly())
}

// createJobLocked creates a job and starts its reconcile. s.mu is held.
func (s *Server) createJobLocked(project, region, id string, in *runpb.Job, validateOnly bool) (*longrunningpb.Operation, error) {
	if err := rules.ValidateAnnotations("job.annotations", in.GetAnnotations()); err != nil {
		return nil, err
	}
	if err := rules.ValidateAnnotations("job.template.annotations", in.GetTemplate().GetAnnotations()); err != nil {
		return nil, err
	}
	now := s.nowLocked()
	location := rules.LocationName(project, region)
	j := &job{name: location + "/jobs/" + id, location: location, project: project, id: id}
	next := &runpb.Job{}
	rules.ReplaceWritable(next, proto.Clone(in))
	if err := normalizeJob(next); err != nil {
		return nil, err
	}
	next.Name = j.name
	next.Uid = s.newUIDLocked()
	next.Generation = 1
	next.CreateTime = timestamppb.New(now)
	next.UpdateTime = next.CreateTime
	next.Creator, next.LastModifier = creator, creator
	next.Etag = s.newEtagLocked()
	markJobReconciling(next, now)
	if validateOnly {
		return validateOnlyOperation(location, next)
	}
	j.stored = next
	s.jobs.jobs[j.name] = j
	s.jobs.byLocation[location] = append(s.jobs.byLocation[location], j)
	return s.startReconcileLocked(j)
}

// normalizeJob validates a job's writable fields and fills the defaults
// Cloud Run stores for empty ones.
func normalizeJob(j *runpb.Job) error {
	if j.GetCreateExecution() != nil {
		return status.Error(codes.Unimplemented, "fakerun does not model start_execution_token or run_execution_token; run the job with RunJob")
	}
	if err := rules.ValidateLabels("job.labels", j.GetLabels()); err != nil {
		return err
	}
	et := j.GetTemplate()
	if et == nil {
		return rules.InvalidArgument("job.template", "an execution template is required")
	}
	if err := rules.ValidateLabels("job.template.labels", et.GetLabels()); err != nil {
		return err
	}
	if et.GetTaskCount() == 0 {
		et.TaskCount = defaultTaskCount
	}
	if j.GetLaunchStage() == api.LaunchStage_LAUNCH_STAGE_UNSPECIFIED {
		j.LaunchStage = api.LaunchStage_GA
	}
	if err := validateExecutionShape("job.template", et.GetTaskCount(), et.GetParallelism()); err != nil {
		return err
	}
	if et.GetParallelism() > et.GetTaskCount() {
		return rules.InvalidArgument("job.template.parallelism", fmt.Sprintf("must not exceed task_count (%d), got %d", et.GetTaskCount(), et.GetParallelism()))
	}
	tt := et.GetTemplate()
	if tt == nil {
		return rules.InvalidArgument("job.template.template", "a task template is required")
	}
	if tt.GetRetries() == nil {
		tt.Retries = &runpb.TaskTemplate_MaxRetries{MaxRetries: defaultMaxRetries}
	}
	if tt.GetTimeout() == nil {
		tt.Timeout = durationpb.New(defaultTimeout)
	}
	return validateTaskTemplate("job.template.template", tt)
}

// validateExecutionShape checks task_count and parallelism.
func validateExecutionShape(field string, taskCount, parallelism int32) error {
	if taskCount < 1 || taskCount > maxTaskCount {
		return rules.InvalidArgument(field+".task_count", fmt.Sprintf("must be from 1 to %d, got %d", maxTaskCount, taskCount))
	}
	if parallelism < 0 {
		return rules.InvalidArgument(field+".parallelism", fmt.Sprintf("must not be negative (0 runs as many tasks at once as possible), got %d", parallelism))
	}
	return nil
}

// validateTaskTemplate checks containers, retries and timeout.
func validateTaskTemplate(field string, t *runpb.TaskTemplate) error {
	if len(t.GetContainers()) == 0 {
		return rules.InvalidArgument(field+".containers", "at least one container is required")
	}
	for i, c := range t.GetContainers() {
		if c.GetImage() == "" {
			return rules.InvalidArgument(fmt.Sprintf("%s.containers[%d].image", field, i), "a container image is required")
		}
	}
	if r := t.GetMaxRetries(); r < 0 || r > maxMaxRetries {
		return rules.InvalidArgument(field+".max_retries", fmt.Sprintf("must be from 0 to %d, got %d", maxMaxRetries, r))
	}
	if d := t.GetTimeout().AsDuration(); d <= 0 || d > maxTaskTimeout {
		return rules.InvalidArgument(field+".timeout", fmt.Sprintf("must be more than 0s and at most %s, got %s", maxTaskTimeout, d))
	}
	return nil
}

// markJobReconciling sets the conditions of a job whose reconcile started.
func markJobReconciling(j *runpb.Job, now time.Time) {
	j.Reconciling = true
	j.TerminalCondition = condition("Ready", runpb.Condition_CONDITION_RECONCILING, "", now)
}

// startReconcileLocked registers the operation reconciling j's current
// generation: it finishes after the readiness delay, failing when an image
// fails (Behavior.Fail). s.mu is held.
func (s *Server) startReconcileLocked(j *job) (*longrunningpb.Operation, error) {
	op, err := s.newJobOperationLocked(j.location, j.stored)
	if err != nil {
		return nil, err
	}
	jo := &jobOperation{op: op, job: j, generation: j.stored.GetGeneration(), readyAt: op.created.Add(s.readinessDelay)}
	for _, c := range j.stored.GetTemplate().GetTemplate().GetContainers() {
		if s.behaviors.Images[c.GetImage()].Fail {
			jo.failImage = c.GetImage()
			break
		}
	}
	s.jobs.pending = append(s.jobs.pending, jo)
	s.settleJobsLocked()
	return op.op, nil
}

// newJobOperationLocked registers a pending operation whose metadata is
// resource. s.mu is held.
func (s *Server) newJobOperationLocked(location string, resource proto.Message) (*operation, error) {
	meta, err := anypb.New(resource)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	op := &operation{
		op:       &longrunningpb.Operation{Name: location + "/operations/" + s.newUIDLocked(), Metadata: meta},
		location: location,
		created:  s.nowLocked(),
	}
	s.opSeq++
	op.seq = s.opSeq
	s.operations[op.op.GetName()] = op
	return op, nil
}

// settleJobsLocked finishes the job operations whose time has come.
// s.mu is held.
func (s *Server) settleJobsLocked() {
	if len(s.jobs.pending) == 0 {
		return
	}
	now := s.nowLocked()
	s.jobs.pending = slices.DeleteFunc(s.jobs.pending, func(jo *jobOperation) bool {
		if jo.execution != nil {
			return s.settleRunLocked(jo, now)
		}
		return s.settleReconcileLocked(jo, now)
	})
}

// settleReconcileLocked publishes a finished reconcile and reports whether
// its operation is done. s.mu is held.
func (s *Server) settleReconcileLocked(jo *jobOperation, now time.Time) bool {
	if now.Before(jo.readyAt) {
		return false
	}
	j := jo.job
	var st *status.Status
	if jo.failImage != "" {
		st = status.New(codes.FailedPrecondition, fmt.Sprintf("Image '%s' not found.", jo.failImage))
	}
	if j.stored.GetGeneration() == jo.generation && s.jobs.jobs[j.name] == j {
		next := proto.Clone(j.stored).(*runpb.Job)
		next.Reconciling = false
		if st != nil {
			next.TerminalCondition = condition("Ready", runpb.Condition_CONDITION_FAILED, st.Message(), jo.readyAt)
			next.TerminalCondition.Reasons = &runpb.Condition_Reason{Reason: runpb.Condition_CONTAINER_MISSING}
		} else {
			next.ObservedGeneration = jo.generation
			next.TerminalCondition = condition("Ready", runpb.Condition_CONDITION_SUCCEEDED, "", jo.readyAt)
		}
		j.stored = next
	}
	if st != nil {
		s.finishLocked(jo.op, st, nil)
	} else {
		s.finishLocked(jo.op, nil, s.jobProtoLocked(j))
	}
	return true
}

func (s *jobsServer) GetJob(_ context.Context, req *runpb.GetJobRequest) (*runpb.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.jobLocked(req.GetName(), "")
	if err != nil {
		return nil, err
	}
	return s.jobProtoLocked(j), nil
}

// jobLocked returns the named job, with the state settled: an invalid
// name is INVALID_ARGUMENT, an unknown one NOT_FOUND, and an etag other than
// the job's (unless empty) ABORTED. s.mu is held.
func (s *Server) jobLocked(name, etag string) (*job, error) {
	if _, _, _, err := rules.ParseJobName("name", name); err != nil {
		return nil, err
	}
	s.settleLocked()
	j := s.jobs.jobs[name]
	if j == nil {
		return nil, rules.JobNotFound(name)
	}
	if err := rules.CheckEtag(s.cfg.Compat.etagMismatchCode(), "job", etag, j.stored.GetEtag(), j.id); err != nil {
		return nil, err
	}
	return j, nil
}

// jobProtoLocked renders j with its execution count and latest execution.
// s.mu is held.
func (s *Server) jobProtoLocked(j *job) *runpb.Job {
	out := proto.Clone(j.stored).(*runpb.Job)
	out.ExecutionCount = j.runs
	if j.latest != nil {
		out.LatestCreatedExecution = s.executionReferenceLocked(j.latest)
	}
	return out
}

// ListJobs lists a location's jobs, newest first.
func (s *jobsServer) ListJobs(_ context.Context, req *runpb.ListJobsRequest) (*runpb.ListJobsResponse, error) {
	_, _, err := rules.ParseConcreteLocation("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	jobs := s.jobs.byLocation[req.GetParent()]
	start, end, next, err := rules.PageBounds(req.GetPageSize(), req.GetPageToken(), len(jobs))
	if err != nil {
		return nil, err
	}
	resp := &runpb.ListJobsResponse{Jobs: make([]*runpb.Job, 0, end-start), NextPageToken: next}
	for i := start; i < end; i++ {
		resp.Jobs = append(resp.Jobs, s.jobProtoLocked(jobs[len(jobs)-1-i]))
	}
	return resp, nil
}

func (s *jobsServer) UpdateJob(_ context.Context, req *runpb.UpdateJobRequest) (*longrunningpb.Operation, error) {
	if req.GetJob() == nil {
		return nil, rules.InvalidArgument("job", "a job is required")
	}
	project, region, id, err := rules.ParseJobName("job.name", req.GetJob().GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	j := s.jobs.jobs[req.GetJob().GetName()]
	if j == nil {
		if err := missingForUpdate(req.GetAllowMissing(), "job.name", req.GetJob().GetName(), region, id, rules.JobNotFound, rules.ValidateJobID); err != nil {
			return nil, err
		}
		return s.createJobLocked(project, region, id, req.GetJob(), req.GetValidateOnly())
	}
	if err := rules.CheckEtag(s.cfg.Compat.etagMismatchCode(), "job", req.GetJob().GetEtag(), j.stored.GetEtag(), id); err != nil {
		return nil, err
	}
	next := proto.Clone(j.stored).(*runpb.Job)
	rules.ReplaceWritable(next, proto.Clone(req.GetJob()))
	if err := normalizeJob(next); err != nil {
		return nil, err
	}
	if !s.cfg.Compat.BumpGenerationOnNoOpUpdate && rules.SameWritable(next, j.stored) {
		// Nothing to change: no new generation, answer with the job as is.
		return s.doneOperationLocked(j.location, s.jobProtoLocked(j))
	}
	now := s.nowLocked()
	stampUpdate(next, now, s.newEtagLocked(), nil)
	markJobReconciling(next, now)
	if req.GetValidateOnly() {
		return validateOnlyOperation(j.location, next)
	}
	j.stored = next
	return s.startReconcileLocked(j)
}

// DeleteJob deletes a job and its executions; a job with a running
// execution is refused.
func (s *jobsServer) DeleteJob(_ context.Context, req *runpb.DeleteJobRequest) (*longrunningpb.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.jobLocked(req.GetName(), req.GetEtag())
	if err != nil {
		return nil, err
	}
	now := s.nowLocked()
	for _, e := range j.executions {
		if !e.statusAt(now).complete {
			return nil, rules.FailedPrecondition("Job '%s' cannot be deleted because execution '%s' is still running; cancel it or wait for it to finish.", j.id, rules.ShortName(e.name))
		}
	}
	resp := s.jobProtoLocked(j)
	resp.DeleteTime = timestamppb.New(now)
	resp.ExpireTime = timestamppb.New(now.Add(deletedRetention))
	if req.GetValidateOnly() {
		return validateOnlyOperation(j.location, resp)
	}
	delete(s.jobs.jobs, j.name)
	s.iam.Forget(j.name)
	s.jobs.byLocation[j.location] = slices.DeleteFunc(s.jobs.byLocation[j.location], func(x *job) bool { return x == j })
	for _, e := range j.executions {
		delete(s.jobs.executions, e.name)
	}
	j.executions = nil
	return s.doneOperationLocked(j.location, resp)
}

// RunJob starts an execution of the job's template with the request's
// overrides. Its operation carries the Execution and is done when the
// execution completes: with the Execution when it succeeded, with an error
// when it failed or was cancelled (or at once: Compatibility.RunJobDoneAtStart).
func (s *jobsServer) RunJob(_ context.Context, req *runpb.RunJobRequest) (*longrunningpb.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.jobLocked(req.GetName(), req.GetEtag())
	if err != nil {
		return nil, err
	}
	if tc := j.stored.GetTerminalCondition(); tc.GetState() == runpb.Condition_CONDITION_FAILED {
		return nil, rules.FailedPrecondition("Job '%s' is not ready: %s", j.id, tc.GetMessage())
	}
	e, err := s.newExecutionLocked(j, req.GetOverrides())
	if err != nil {
		return nil, err
	}
	if req.GetValidateOnly() {
		return validateOnlyOperation(j.location, s.executionProtoLocked(e))
	}
	j.executions = append(j.executions, e)
	j.runs++
	j.latest = e
	s.jobs.executions[e.name] = e
	op, err := s.newJobOperationLocked(j.location, s.executionProtoLocked(e))
	if err != nil {
		return nil, err
	}
	if e.docker {
		s.tasks.startExecution(e)
	}
	if s.cfg.Compat.RunJobDoneAtStart {
		s.finishLocked(op, nil, s.executionProtoLocked(e))
		return op.op, nil
	}
	s.jobs.pending = append(s.jobs.pending, &jobOperation{op: op, job: j, execution: e})
	s.settleJobsLocked()
	return op.op, nil
}

// jobCopiesLocked renders every job, by name, and its executions, newest
// first, by job name. s.mu is held.
func (s *Server) jobCopiesLocked() ([]*runpb.Job, map[string][]*runpb.Execution) {
	jobs := []*runpb.Job{}
	executions := map[string][]*runpb.Execution{}
	for _, j := range s.jobs.jobs {
		jobs = append(jobs, s.jobProtoLocked(j))
		list := make([]*runpb.Execution, 0, len(j.executions))
		for i := len(j.executions) - 1; i >= 0; i-- {
			list = append(list, proto.Clone(s.executionProtoLocked(j.executions[i])).(*runpb.Execution))
		}
		executions[j.name] = list
	}
	slices.SortFunc(jobs, func(a, b *runpb.Job) int { return strings.Compare(a.GetName(), b.GetName()) })
	return jobs, executions
}
