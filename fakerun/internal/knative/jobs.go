package knative

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/googleapi"
	runv1 "google.golang.org/api/run/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The jobs of the v1 API (https://cloud.google.com/run/docs/reference/rest/v1/namespaces.jobs), served
// at {region}-run.googleapis.com/apis/run.googleapis.com/v1/namespaces/{project}/: jobs, executions and
// tasks, views of v2's.

const (
	jobsAPIVersion = "run.googleapis.com/v1"
	labelJob       = "run.googleapis.com/job"
	labelExecution = "run.googleapis.com/execution"
	labelJobUID    = "run.googleapis.com/jobUid"
	labelTaskIndex = "run.googleapis.com/taskIndex"
	// labelRunningState is the task state gcloud reads (api_lib/run/task.py).
	labelRunningState = "run.googleapis.com/runningState"
)

func (h *Handler) serveJobs(ctx context.Context, r *http.Request, region, ns, kind, name string) (any, error) {
	if h.b.Jobs == nil {
		return nil, notFoundPath(r.URL.Path)
	}
	parent := fmt.Sprintf("projects/%s/locations/%s", ns, region)
	id, verb, _ := cutVerb(name)
	switch {
	case kind == "jobs" && name == "" && r.Method == http.MethodGet:
		return h.listJobs(ctx, parent)
	case kind == "jobs" && name == "" && r.Method == http.MethodPost:
		return h.createJob(ctx, r, parent, ns)
	case kind == "jobs" && verb == "run" && r.Method == http.MethodPost:
		return h.runJob(ctx, r, parent+"/jobs/"+id)
	case kind == "jobs" && verb == "" && r.Method == http.MethodGet:
		return h.getJob(ctx, parent+"/jobs/"+id)
	case kind == "jobs" && verb == "" && r.Method == http.MethodPut:
		return h.replaceJob(ctx, r, parent+"/jobs/"+id, id, ns)
	case kind == "jobs" && verb == "" && r.Method == http.MethodDelete:
		job, err := h.b.Jobs.GetJob(ctx, &runpb.GetJobRequest{Name: parent + "/jobs/" + id})
		if err != nil {
			return nil, err
		}
		if _, err := h.b.Jobs.DeleteJob(ctx, &runpb.DeleteJobRequest{Name: job.GetName()}); err != nil {
			return nil, err
		}
		return &runv1.Status{Status: "Success", Details: &runv1.StatusDetails{Name: id, Kind: "jobs", Uid: job.GetUid()}}, nil
	case kind == "executions" && name == "" && r.Method == http.MethodGet:
		return h.listExecutions(ctx, parent, r.URL.Query().Get("labelSelector"))
	case kind == "executions" && (verb == "" || verb == "cancel"):
		return h.serveExecution(ctx, r, parent, id, verb)
	case kind == "tasks" && name == "" && r.Method == http.MethodGet:
		return h.listTasks(ctx, parent, r.URL.Query().Get("labelSelector"))
	case kind == "tasks" && verb == "" && r.Method == http.MethodGet:
		return h.getTask(ctx, parent, id)
	}
	return nil, notFoundPath(r.URL.Path)
}

func cutVerb(name string) (string, string, bool) {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == ':' {
			return name[:i], name[i+1:], true
		}
	}
	return name, "", false
}

func jobMeta(kind, full string, uid string, generation int64, created interface{ AsTime() time.Time }, labels, ann map[string]string) *runv1.ObjectMeta {
	n := parseName(full)
	id := short(full)
	l := maps.Clone(labels)
	if l == nil {
		l = map[string]string{}
	}
	l[labelLocation] = n.region
	a := maps.Clone(ann)
	if a == nil {
		a = map[string]string{}
	}
	return &runv1.ObjectMeta{
		Name: id, Namespace: n.project, Uid: uid, Generation: generation, Labels: l, Annotations: a,
		SelfLink:          fmt.Sprintf("/apis/run.googleapis.com/v1/namespaces/%s/%s/%s", n.project, kind, id),
		CreationTimestamp: timestamp(created, created != nil),
	}
}

// toV1Job is the v1 view of a v2 job.
func toV1Job(j *runpb.Job) *runv1.Job {
	meta := jobMeta("jobs", j.GetName(), j.GetUid(), j.GetGeneration(), j.GetCreateTime(), j.GetLabels(), j.GetAnnotations())
	setIf(meta.Annotations, annCreator, j.GetCreator())
	setIf(meta.Annotations, annLastModifier, j.GetLastModifier())
	setIf(meta.Annotations, annClientName, j.GetClient())
	setIf(meta.Annotations, annClientVersion, j.GetClientVersion())
	meta.ResourceVersion = j.GetEtag()
	out := &runv1.Job{
		ApiVersion: jobsAPIVersion, Kind: "Job", Metadata: meta,
		Spec: &runv1.JobSpec{Template: toV1ExecutionTemplate(j.GetTemplate())},
		Status: &runv1.JobStatus{
			ObservedGeneration: j.GetObservedGeneration(),
			Conditions:         conditions(j.GetTerminalCondition(), j.GetConditions()),
			ExecutionCount:     int64(j.GetExecutionCount()),
		},
	}
	if e := j.GetLatestCreatedExecution(); e != nil {
		out.Status.LatestCreatedExecution = &runv1.ExecutionReference{
			Name:                short(e.GetName()),
			CreationTimestamp:   timestamp(e.GetCreateTime(), e.GetCreateTime() != nil),
			CompletionTimestamp: timestamp(e.GetCompletionTime(), e.GetCompletionTime() != nil),
			CompletionStatus:    e.GetCompletionStatus().String(),
		}
	}
	return out
}

func toV1ExecutionTemplate(t *runpb.ExecutionTemplate) *runv1.ExecutionTemplateSpec {
	labels, ann := splitClientLabels(t.GetLabels(), t.GetAnnotations())
	setIf(ann, annExecEnv, executionEnvironments[t.GetTemplate().GetExecutionEnvironment()])
	return &runv1.ExecutionTemplateSpec{
		Metadata: &runv1.ObjectMeta{Labels: labels, Annotations: ann},
		Spec: &runv1.ExecutionSpec{
			Parallelism: int64(t.GetParallelism()), TaskCount: int64(t.GetTaskCount()),
			Template: &runv1.TaskTemplateSpec{Spec: toV1TaskSpec(t.GetTemplate())},
		},
	}
}

func toV1TaskSpec(t *runpb.TaskTemplate) *runv1.TaskSpec {
	spec := &runv1.TaskSpec{MaxRetries: int64(t.GetMaxRetries()), ServiceAccountName: t.GetServiceAccount()}
	if t.GetTimeout() != nil {
		spec.TimeoutSeconds = t.GetTimeout().GetSeconds()
	}
	for _, c := range t.GetContainers() {
		spec.Containers = append(spec.Containers, toV1Container(c))
	}
	return spec
}

// fromV1Job applies a v1 job onto base (the stored job for a replace, empty for a create).
func fromV1Job(in *runv1.Job, base *runpb.Job) (*runpb.Job, error) {
	if in.ApiVersion != "" && in.ApiVersion != jobsAPIVersion {
		return nil, badRequest("apiVersion", "%q is not run.googleapis.com/v1", in.ApiVersion)
	}
	if in.Kind != "" && in.Kind != "Job" {
		return nil, badRequest("kind", "%q is not Job", in.Kind)
	}
	if in.Metadata == nil || in.Metadata.Name == "" {
		return nil, badRequest("metadata.name", "a job needs a name")
	}
	if in.Spec == nil || in.Spec.Template == nil || in.Spec.Template.Spec == nil || in.Spec.Template.Spec.Template == nil || in.Spec.Template.Spec.Template.Spec == nil {
		return nil, badRequest("spec.template.spec.template.spec", "a job needs a task template")
	}
	out := proto.Clone(base).(*runpb.Job)
	out.Labels = maps.Clone(in.Metadata.Labels)
	delete(out.Labels, labelLocation)
	out.Annotations, out.Client, out.ClientVersion = map[string]string{}, "", ""
	for k, v := range in.Metadata.Annotations {
		switch {
		case outputAnnotations[k]:
		case k == annClientName:
			out.Client = v
		case k == annClientVersion:
			out.ClientVersion = v
		case k == annLaunchStage:
		default:
			out.Annotations[k] = v
		}
	}
	et := in.Spec.Template
	tmpl := &runpb.ExecutionTemplate{Labels: map[string]string{}, Annotations: map[string]string{}, Template: &runpb.TaskTemplate{}}
	if base.GetTemplate() != nil {
		tmpl = proto.Clone(base.GetTemplate()).(*runpb.ExecutionTemplate)
		tmpl.Labels, tmpl.Annotations = map[string]string{}, map[string]string{}
	}
	if et.Metadata != nil {
		for k, v := range et.Metadata.Labels {
			if len(k) > len(clientLabelPrefix) && k[:len(clientLabelPrefix)] == clientLabelPrefix {
				tmpl.Annotations[k] = v
			} else {
				tmpl.Labels[k] = v
			}
		}
		for k, v := range et.Metadata.Annotations {
			switch k {
			case annClientName, annClientVersion:
			case annExecEnv:
				for env, name := range executionEnvironments {
					if name == v {
						tmpl.Template.ExecutionEnvironment = env
					}
				}
			default:
				tmpl.Annotations[k] = v
			}
		}
	}
	tmpl.Parallelism, tmpl.TaskCount = int32(et.Spec.Parallelism), int32(et.Spec.TaskCount)
	ts := et.Spec.Template.Spec
	tmpl.Template.Retries = &runpb.TaskTemplate_MaxRetries{MaxRetries: int32(ts.MaxRetries)}
	tmpl.Template.ServiceAccount = ts.ServiceAccountName
	tmpl.Template.Timeout = nil
	if ts.TimeoutSeconds > 0 {
		tmpl.Template.Timeout = durationpb.New(time.Duration(ts.TimeoutSeconds) * time.Second)
	}
	tmpl.Template.Containers = nil
	for i, c := range ts.Containers {
		v2, err := fromV1Container(fmt.Sprintf("spec.template.spec.template.spec.containers[%d]", i), c)
		if err != nil {
			return nil, err
		}
		tmpl.Template.Containers = append(tmpl.Template.Containers, v2)
	}
	out.Template = tmpl
	return out, nil
}

func (h *Handler) getJob(ctx context.Context, name string) (*runv1.Job, error) {
	j, err := h.b.Jobs.GetJob(ctx, &runpb.GetJobRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return toV1Job(j), nil
}

func (h *Handler) listJobs(ctx context.Context, parent string) (*runv1.ListJobsResponse, error) {
	out := &runv1.ListJobsResponse{ApiVersion: jobsAPIVersion, Kind: "JobsList", Metadata: &runv1.ListMeta{}, Items: []*runv1.Job{}}
	token := ""
	for {
		resp, err := h.b.Jobs.ListJobs(ctx, &runpb.ListJobsRequest{Parent: parent, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, j := range resp.GetJobs() {
			out.Items = append(out.Items, toV1Job(j))
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

func (h *Handler) createJob(ctx context.Context, r *http.Request, parent, ns string) (*runv1.Job, error) {
	in := &runv1.Job{}
	if err := decode(r, in); err != nil {
		return nil, err
	}
	if err := checkNamespace(in.Metadata, ns); err != nil {
		return nil, err
	}
	j, err := fromV1Job(in, &runpb.Job{})
	if err != nil {
		return nil, err
	}
	if _, err := h.b.Jobs.CreateJob(ctx, &runpb.CreateJobRequest{Parent: parent, JobId: in.Metadata.Name, Job: j}); err != nil {
		return nil, err
	}
	return h.getJob(ctx, parent+"/jobs/"+in.Metadata.Name)
}

func (h *Handler) replaceJob(ctx context.Context, r *http.Request, name, id, ns string) (*runv1.Job, error) {
	in := &runv1.Job{}
	if err := decode(r, in); err != nil {
		return nil, err
	}
	if err := checkNamespace(in.Metadata, ns); err != nil {
		return nil, err
	}
	if in.Metadata.Name != "" && in.Metadata.Name != id {
		return nil, badRequest("metadata.name", "%q does not match the job %q of the URL", in.Metadata.Name, id)
	}
	current, err := h.b.Jobs.GetJob(ctx, &runpb.GetJobRequest{Name: name})
	if err != nil {
		return nil, err
	}
	if rv := in.Metadata.ResourceVersion; rv != "" && rv != current.GetEtag() {
		return nil, status.Errorf(codes.Aborted, "Conflict for resource '%s': version '%s' was specified but current version is '%s'.", id, rv, current.GetEtag())
	}
	j, err := fromV1Job(in, current)
	if err != nil {
		return nil, err
	}
	if _, err := h.b.Jobs.UpdateJob(ctx, &runpb.UpdateJobRequest{Job: j}); err != nil {
		return nil, err
	}
	return h.getJob(ctx, name)
}

// runJob is namespaces.jobs.run: v2's RunJob with the overrides, answered with the new execution.
func (h *Handler) runJob(ctx context.Context, r *http.Request, name string) (*runv1.Execution, error) {
	in := &runv1.RunJobRequest{}
	if r.ContentLength != 0 {
		if err := decode(r, in); err != nil {
			return nil, err
		}
	}
	req := &runpb.RunJobRequest{Name: name}
	if o := in.Overrides; o != nil {
		req.Overrides = &runpb.RunJobRequest_Overrides{TaskCount: int32(o.TaskCount)}
		if o.TimeoutSeconds > 0 {
			req.Overrides.Timeout = durationpb.New(time.Duration(o.TimeoutSeconds) * time.Second)
		}
		for _, c := range o.ContainerOverrides {
			co := &runpb.RunJobRequest_Overrides_ContainerOverride{Name: c.Name, Args: c.Args, ClearArgs: c.ClearArgs}
			for _, e := range c.Env {
				co.Env = append(co.Env, &runpb.EnvVar{Name: e.Name, Values: &runpb.EnvVar_Value{Value: e.Value}})
			}
			req.Overrides.ContainerOverrides = append(req.Overrides.ContainerOverrides, co)
		}
	}
	op, err := h.b.Jobs.RunJob(ctx, req)
	if err != nil {
		return nil, err
	}
	exec := &runpb.Execution{}
	if err := op.GetMetadata().UnmarshalTo(exec); err != nil {
		return nil, &googleapi.Error{Code: 500, Message: "the execution of the run: " + err.Error()}
	}
	return h.getExecution(ctx, exec.GetName())
}

// toV1Execution is the v1 view of a v2 execution.
func toV1Execution(e *runpb.Execution) *runv1.Execution {
	meta := jobMeta("executions", e.GetName(), e.GetUid(), e.GetGeneration(), e.GetCreateTime(), e.GetLabels(), e.GetAnnotations())
	job := short(e.GetJob())
	meta.Labels[labelJob] = job
	meta.Labels[labelExecution] = meta.Name
	meta.OwnerReferences = []*runv1.OwnerReference{{ApiVersion: jobsAPIVersion, Kind: "Job", Name: job, Controller: true, BlockOwnerDeletion: true}}
	setIf(meta.Annotations, annCreator, e.GetCreator())
	return &runv1.Execution{
		ApiVersion: jobsAPIVersion, Kind: "Execution", Metadata: meta,
		Spec: &runv1.ExecutionSpec{Parallelism: int64(e.GetParallelism()), TaskCount: int64(e.GetTaskCount()),
			Template: &runv1.TaskTemplateSpec{Spec: toV1TaskSpec(e.GetTemplate())}},
		Status: &runv1.ExecutionStatus{
			ObservedGeneration: e.GetObservedGeneration(),
			Conditions:         conditions(nil, e.GetConditions()),
			StartTime:          timestamp(e.GetStartTime(), e.GetStartTime() != nil),
			CompletionTime:     timestamp(e.GetCompletionTime(), e.GetCompletionTime() != nil),
			RunningCount:       int64(e.GetRunningCount()), SucceededCount: int64(e.GetSucceededCount()),
			FailedCount: int64(e.GetFailedCount()), CancelledCount: int64(e.GetCancelledCount()),
			RetriedCount: int64(e.GetRetriedCount()), LogUri: e.GetLogUri(),
		},
	}
}

func (h *Handler) getExecution(ctx context.Context, name string) (*runv1.Execution, error) {
	e, err := h.b.Executions.GetExecution(ctx, &runpb.GetExecutionRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return toV1Execution(e), nil
}

// executionsOf lists the v2 executions of a job ("-": every job of parent).
func (h *Handler) executionsOf(ctx context.Context, parent, job string) ([]*runpb.Execution, error) {
	var out []*runpb.Execution
	token := ""
	for {
		resp, err := h.b.Executions.ListExecutions(ctx, &runpb.ListExecutionsRequest{Parent: parent + "/jobs/" + job, PageToken: token})
		if err != nil {
			return nil, err
		}
		out = append(out, resp.GetExecutions()...)
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

func (h *Handler) listExecutions(ctx context.Context, parent, labelSelector string) (*runv1.ListExecutionsResponse, error) {
	sel, err := parseSelector(labelSelector)
	if err != nil {
		return nil, err
	}
	job := sel.value(labelJob)
	if job == "" {
		job = "-"
	}
	execs, err := h.executionsOf(ctx, parent, job)
	if err != nil {
		return nil, err
	}
	out := &runv1.ListExecutionsResponse{ApiVersion: jobsAPIVersion, Kind: "ExecutionsList", Metadata: &runv1.ListMeta{}, Items: []*runv1.Execution{}}
	for _, e := range execs {
		if v1 := toV1Execution(e); sel.matches(v1.Metadata.Labels) {
			out.Items = append(out.Items, v1)
		}
	}
	return out, nil
}

// executionName finds the full name of an execution given by its short name.
func (h *Handler) executionName(ctx context.Context, parent, id string) (string, error) {
	execs, err := h.executionsOf(ctx, parent, "-")
	if err != nil {
		return "", err
	}
	for _, e := range execs {
		if short(e.GetName()) == id {
			return e.GetName(), nil
		}
	}
	n := parseName(parent + "/executions/" + id)
	return "", status.Errorf(codes.NotFound, "Resource '%s' of kind 'EXECUTION' in region '%s' in project '%s' does not exist.", id, n.region, n.project)
}

func (h *Handler) serveExecution(ctx context.Context, r *http.Request, parent, id, verb string) (any, error) {
	full, err := h.executionName(ctx, parent, id)
	if err != nil {
		return nil, err
	}
	switch {
	case verb == "" && r.Method == http.MethodGet:
		return h.getExecution(ctx, full)
	case verb == "" && r.Method == http.MethodDelete:
		e, err := h.b.Executions.GetExecution(ctx, &runpb.GetExecutionRequest{Name: full})
		if err != nil {
			return nil, err
		}
		if _, err := h.b.Executions.DeleteExecution(ctx, &runpb.DeleteExecutionRequest{Name: full}); err != nil {
			return nil, err
		}
		return &runv1.Status{Status: "Success", Details: &runv1.StatusDetails{Name: id, Kind: "executions", Uid: e.GetUid()}}, nil
	case verb == "cancel" && r.Method == http.MethodPost:
		if _, err := h.b.Executions.CancelExecution(ctx, &runpb.CancelExecutionRequest{Name: full}); err != nil {
			return nil, err
		}
		return h.getExecution(ctx, full)
	}
	return nil, notFoundPath(r.URL.Path)
}

// toV1Task is the v1 view of a v2 task.
func toV1Task(t *runpb.Task) *runv1.Task {
	meta := jobMeta("tasks", t.GetName(), t.GetUid(), t.GetGeneration(), t.GetCreateTime(), t.GetLabels(), t.GetAnnotations())
	meta.Labels[labelJob] = short(t.GetJob())
	meta.Labels[labelExecution] = short(t.GetExecution())
	meta.Labels[labelTaskIndex] = strconv.Itoa(int(t.GetIndex()))
	setIf(meta.Labels, labelRunningState, runningState(t))
	spec := &runv1.TaskSpec{MaxRetries: int64(t.GetMaxRetries()), ServiceAccountName: t.GetServiceAccount()}
	if t.GetTimeout() != nil {
		spec.TimeoutSeconds = t.GetTimeout().GetSeconds()
	}
	for _, c := range t.GetContainers() {
		spec.Containers = append(spec.Containers, toV1Container(c))
	}
	st := &runv1.TaskStatus{
		Index: int64(t.GetIndex()), Retried: int64(t.GetRetried()), ObservedGeneration: t.GetObservedGeneration(),
		Conditions: conditions(nil, t.GetConditions()), LogUri: t.GetLogUri(),
		StartTime:      timestamp(t.GetStartTime(), t.GetStartTime() != nil),
		CompletionTime: timestamp(t.GetCompletionTime(), t.GetCompletionTime() != nil),
	}
	if a := t.GetLastAttemptResult(); a != nil {
		st.LastAttemptResult = &runv1.TaskAttemptResult{ExitCode: int64(a.GetExitCode())}
		if s := a.GetStatus(); s != nil {
			st.LastAttemptResult.Status = &runv1.GoogleRpcStatus{Code: int64(s.GetCode()), Message: s.GetMessage()}
		}
	}
	return &runv1.Task{ApiVersion: jobsAPIVersion, Kind: "Task", Metadata: meta, Spec: spec, Status: st}
}

// runningState is the run.googleapis.com/runningState label of a task, from its Completed condition,
// which `gcloud run jobs executions tasks list` shows as STATE.
func runningState(t *runpb.Task) string {
	for _, c := range t.GetConditions() {
		if c.GetType() != "Completed" {
			continue
		}
		switch c.GetState() {
		case runpb.Condition_CONDITION_SUCCEEDED:
			return "Succeeded"
		case runpb.Condition_CONDITION_FAILED:
			if c.GetMessage() == "The task was cancelled." {
				return "Cancelled"
			}
			return "Failed"
		case runpb.Condition_CONDITION_RECONCILING:
			return "Running"
		case runpb.Condition_CONDITION_PENDING:
			return "Pending"
		}
	}
	return ""
}

// listTasks lists the tasks of the execution the selector names (run.googleapis.com/execution), or of
// every execution, filtered by the selector.
func (h *Handler) listTasks(ctx context.Context, parent, labelSelector string) (*runv1.ListTasksResponse, error) {
	sel, err := parseSelector(labelSelector)
	if err != nil {
		return nil, err
	}
	var execs []string
	if id := sel.value(labelExecution); id != "" {
		full, err := h.executionName(ctx, parent, id)
		if err != nil {
			return nil, err
		}
		execs = []string{full}
	} else {
		all, err := h.executionsOf(ctx, parent, "-")
		if err != nil {
			return nil, err
		}
		for _, e := range all {
			execs = append(execs, e.GetName())
		}
	}
	out := &runv1.ListTasksResponse{ApiVersion: jobsAPIVersion, Kind: "TasksList", Metadata: &runv1.ListMeta{}, Items: []*runv1.Task{}}
	for _, e := range execs {
		token := ""
		for {
			resp, err := h.b.Tasks.ListTasks(ctx, &runpb.ListTasksRequest{Parent: e, PageToken: token})
			if err != nil {
				return nil, err
			}
			for _, t := range resp.GetTasks() {
				if v1 := toV1Task(t); sel.matches(v1.Metadata.Labels) {
					out.Items = append(out.Items, v1)
				}
			}
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
	}
	return out, nil
}

func (h *Handler) getTask(ctx context.Context, parent, id string) (*runv1.Task, error) {
	all, err := h.listTasks(ctx, parent, "")
	if err != nil {
		return nil, err
	}
	for _, t := range all.Items {
		if t.Metadata.Name == id {
			return t, nil
		}
	}
	n := parseName(parent + "/tasks/" + id)
	return nil, status.Errorf(codes.NotFound, "Resource '%s' of kind 'TASK' in region '%s' in project '%s' does not exist.", id, n.region, n.project)
}
