package livestate

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/diff"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// Resource types of a job application.
const (
	ResourceTypeJob       = "Job"
	ResourceTypeExecution = "Execution"
)

// executionsShown is how many of the latest executions of a job are reported.
const executionsShown = 5

// jobState returns the resources and the sync state of a job application on one deploy target.
func (p *Plugin) jobState(ctx context.Context, dtName string, cfg config.DeployTargetConfig, src *app.Source) ([]sdk.ResourceState, targetSync) {
	client, git, live, failed := readLive(ctx, p, dtName, cfg, "job", src.Job.File, src.Job.Job, (*provider.Client).GetJob)
	if failed != nil {
		return nil, *failed
	}
	execs, err := client.ListExecutions(ctx, live.GetName(), executionsShown)
	if err != nil {
		return nil, unknownSync(dtName, err)
	}
	resources := []sdk.ResourceState{jobResource(dtName, live)}
	for _, e := range execs {
		resources = append(resources, executionResource(dtName, live.GetName(), e))
	}
	return resources, jobSync(dtName, src.Commit, git, live)
}

func jobResource(target string, job *runpb.Job) sdk.ResourceState {
	health, desc := conditionsHealth(job.GetTerminalCondition(), job.GetConditions())
	tmpl := job.GetTemplate()
	desc += fmt.Sprintf("; image %s, %d task(s), %d execution(s)", strings.Join(manifest.JobImages(job), ", "), tmpl.GetTaskCount(), job.GetExecutionCount())
	meta := map[string]string{
		"generation":         strconv.FormatInt(job.GetGeneration(), 10),
		"observedGeneration": strconv.FormatInt(job.GetObservedGeneration(), 10),
		"commit":             job.GetLabels()[provider.LabelCommitHash],
		"taskCount":          strconv.Itoa(int(tmpl.GetTaskCount())),
		"executionCount":     strconv.Itoa(int(job.GetExecutionCount())),
		"latestExecution":    job.GetLatestCreatedExecution().GetName(),
	}
	return sdk.ResourceState{
		ID: job.GetName(), Name: naming.ShortName(job.GetName()), ResourceType: ResourceTypeJob,
		ResourceMetadata: withoutEmpty(meta), HealthStatus: health, HealthDescription: desc,
		DeployTarget: target, CreatedAt: job.GetCreateTime().AsTime(),
	}
}

// executionResource reports an execution: healthy while it runs or after it succeeded, unhealthy when it
// failed, unknown when it was cancelled.
func executionResource(target, job string, e *runpb.Execution) sdk.ResourceState {
	health, state := sdk.ResourceHealthStateHealthy, "running"
	for _, c := range e.GetConditions() {
		if c.GetType() != "Completed" {
			continue
		}
		switch {
		case c.GetState() == runpb.Condition_CONDITION_SUCCEEDED:
			state = "succeeded"
		case c.GetState() == runpb.Condition_CONDITION_FAILED && c.GetExecutionReason() == runpb.Condition_CANCELLED:
			health, state = sdk.ResourceHealthStateUnknown, "cancelled"
		case c.GetState() == runpb.Condition_CONDITION_FAILED:
			health, state = sdk.ResourceHealthStateUnhealthy, "failed: "+c.GetMessage()
		}
	}
	desc := fmt.Sprintf("%s; tasks: %d running, %d succeeded, %d failed, %d cancelled of %d", state,
		e.GetRunningCount(), e.GetSucceededCount(), e.GetFailedCount(), e.GetCancelledCount(), e.GetTaskCount())
	meta := map[string]string{
		"taskCount":      strconv.Itoa(int(e.GetTaskCount())),
		"runningCount":   strconv.Itoa(int(e.GetRunningCount())),
		"succeededCount": strconv.Itoa(int(e.GetSucceededCount())),
		"failedCount":    strconv.Itoa(int(e.GetFailedCount())),
		"cancelledCount": strconv.Itoa(int(e.GetCancelledCount())),
		"logUri":         e.GetLogUri(),
	}
	return sdk.ResourceState{
		ID: e.GetName(), ParentIDs: []string{job}, Name: naming.ShortName(e.GetName()), ResourceType: ResourceTypeExecution,
		ResourceMetadata: withoutEmpty(meta), HealthStatus: health, HealthDescription: desc,
		DeployTarget: target, CreatedAt: e.GetCreateTime().AsTime(),
	}
}

// jobSync compares the job in git (commit) with the live one: in sync when every field git sets has the
// same value live (see diff.CompareJob).
func jobSync(target, commit string, git, live *runpb.Job) targetSync {
	id := naming.ShortName(live.GetName())
	c := diff.CompareJob(git, live)
	if c.InSync() {
		return targetSync{
			status: sdk.ApplicationSyncStateSynced,
			short:  fmt.Sprintf("Job %s runs git's template", id),
			reason: fmt.Sprintf("Deploy target %s: job %s matches git (commit %s)\n", target, id, naming.ShortCommit(commit)),
		}
	}
	return outOfSync("job", target, id, commit, c)
}
