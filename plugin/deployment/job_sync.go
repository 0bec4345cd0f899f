package deployment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/stagetime"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
)

// jobRecord is what CLOUDRUN_JOB_SYNC remembers about one deploy target, for CLOUDRUN_ROLLBACK. Like the
// syncRecord of a service it is written once per deployment and target, before the first change, so a
// re-run keeps the job as it was before the deployment.
type jobRecord struct {
	// Job is the full resource name of the job.
	Job string `json:"job"`
	// Created is true when this deployment created the job (first deployment).
	Created bool `json:"created,omitempty"`
	// CommitLabel is the value of the commit label this deployment gives the job.
	CommitLabel string `json:"commitLabel"`
	// Before is the job before the deployment (protojson); ROLLBACK writes it back.
	Before json.RawMessage `json:"before,omitempty"`
}

func jobRecordKey(target string) string {
	return "cloudrun.jobSync." + target
}

// before returns the job recorded before the deployment.
func (r *jobRecord) before() (*runpb.Job, error) {
	job := &runpb.Job{}
	if err := protojson.Unmarshal(r.Before, job); err != nil {
		return nil, fmt.Errorf("the job recorded before the deployment in the deployment metadata is not valid (%w); it was written by another plugin version", err)
	}
	return job, nil
}

// executeJobSync runs CLOUDRUN_JOB_SYNC: on every deploy target, create the job or update its template.
func (p *Plugin) executeJobSync(ctx context.Context, lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[config.RawApplicationSpec], dts []*sdk.DeployTarget[config.RawDeployTargetConfig]) sdk.StageStatus {
	src, ok := loadJobApp(lp, input)
	if !ok {
		return sdk.StageStatusFailure
	}
	opts, err := config.DecodeJobSyncStageOptions(input.Request.StageConfig)
	if err != nil {
		logInvalidOptions(lp, input, err)
		return sdk.StageStatusFailure
	}
	return p.syncJobs(ctx, lp, input, dts, src, opts)
}

// quickSyncJob runs the CLOUDRUN_SYNC stage of a quick sync of a job application: what CLOUDRUN_JOB_SYNC
// does, within spec.quickSync.timeout. A pipeline's CLOUDRUN_SYNC is for services only.
func (p *Plugin) quickSyncJob(ctx context.Context, lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[config.RawApplicationSpec], dts []*sdk.DeployTarget[config.RawDeployTargetConfig], src *app.Source) sdk.StageStatus {
	own, err := usesStageConfig(ctx, p.metadata(input.Client), input)
	if err != nil {
		lp.Errorf("%v", err)
		return sdk.StageStatusFailure
	}
	if own {
		lp.Errorf("%s deploys a service, but this application is a job (input.jobManifestFile %s): use %s and %s in spec.pipeline.stages",
			StageCloudRunSync, src.Spec.Input.JobManifestFile, StageCloudRunJobSync, StageCloudRunJobRun)
		return sdk.StageStatusFailure
	}
	return p.syncJobs(ctx, lp, input, dts, src, config.JobSyncStageOptions{Timeout: src.Spec.QuickSync.Timeout})
}

// loadJobApp loads the application of the stage, which must be a job; otherwise it logs why not.
func loadJobApp(lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[config.RawApplicationSpec]) (*app.Source, bool) {
	src, err := app.Load(input.Request.TargetDeploymentSource)
	if err != nil {
		lp.Errorf("Invalid application configuration: %v", err)
		return nil, false
	}
	if src.Pool != nil {
		lp.Errorf("%s deploys a job, but this application is a worker pool (input.workerPoolManifestFile %s): use %s, %s and %s for a worker pool",
			input.Request.StageName, src.Spec.Input.WorkerPoolManifestFile, StageCloudRunSync, StageCloudRunPromote, StageCloudRunRollback)
		return nil, false
	}
	if src.Job == nil {
		lp.Errorf("%s deploys a job, but this application is a service (input.serviceManifestFile %s): name a job manifest in input.jobManifestFile, or use %s for a service",
			input.Request.StageName, src.Spec.Input.ServiceManifestFile, StageCloudRunSync)
		return nil, false
	}
	return src, true
}

func (p *Plugin) syncJobs(ctx context.Context, lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[config.RawApplicationSpec], dts []*sdk.DeployTarget[config.RawDeployTargetConfig], src *app.Source, opts config.JobSyncStageOptions) sdk.StageStatus {
	store := p.metadata(input.Client)
	lp.Infof("Deploying job at commit %s, image %s", naming.ShortCommit(src.Commit), strings.Join(src.Images(), ", "))
	return target.ForEach(ctx, p.registry, lp, dts, func(ctx context.Context, t *target.Target) error {
		want, err := src.DesiredJob(t.Config, input.Request.Deployment)
		if err != nil {
			return err
		}
		return p.syncJob(ctx, t, store, want, opts.Timeout.Duration())
	})
}

// syncJob creates want or replaces the live job's writable fields with it (etag-guarded), after recording
// the job as it was for CLOUDRUN_ROLLBACK, and waits until Cloud Run has applied it.
func (p *Plugin) syncJob(ctx context.Context, t *target.Target, store metadataStore, want *runpb.Job, timeout time.Duration) error {
	commit := want.GetLabels()[provider.LabelCommitHash]
	return p.applyJob(ctx, t, want, timeout, func(live *runpb.Job) error {
		rec := &jobRecord{Job: want.GetName(), Created: live == nil, CommitLabel: commit}
		if live != nil {
			pre, err := protojson.Marshal(live)
			if err != nil {
				return fmt.Errorf("failed to encode job %s for the deployment metadata: %w", naming.ShortName(want.GetName()), err)
			}
			rec.Before = pre
		}
		_, err := saveRecordOnce(ctx, store, t.Name, jobRecordKey(t.Name), rec)
		return err
	})
}

// applyJob creates want or replaces the live job's writable fields with it (etag-guarded), and waits until
// Cloud Run has applied it. Before the first write, beforeWrite is given the live job (nil when there is
// none).
func (p *Plugin) applyJob(ctx context.Context, t *target.Target, want *runpb.Job, timeout time.Duration, beforeWrite func(live *runpb.Job) error) error {
	name, id := want.GetName(), naming.ShortName(want.GetName())
	live, err := t.Client.GetJob(ctx, name)
	switch {
	case errors.Is(err, provider.ErrNotFound):
		if err := beforeWrite(nil); err != nil {
			return err
		}
		t.Log.Infof("Job %s does not exist yet: creating it", id)
		got, err := t.Client.CreateJob(ctx, want)
		if !errors.Is(err, provider.ErrAlreadyExists) {
			if err != nil {
				return err
			}
			return p.reportJob(ctx, t, got, timeout, "Created")
		}
		t.Log.Infof("Job %s was created meanwhile (an earlier run of this stage, or someone else): updating it instead", id)
	case err != nil:
		return err
	default:
		if err := beforeWrite(live); err != nil {
			return err
		}
	}
	var got *runpb.Job
	err = writeResource(ctx, p, t, "job", name, live, t.Client.GetJob, func(live *runpb.Job) error {
		next := proto.Clone(want).(*runpb.Job)
		next.Etag = live.GetEtag()
		got, err = t.Client.ReplaceJob(ctx, next)
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to update job %s; it is unchanged: %w", id, err)
	}
	return p.reportJob(ctx, t, got, timeout, "Updated")
}

// reportJob waits until Cloud Run has applied the job that a write reported (got) and logs what it runs.
func (p *Plugin) reportJob(ctx context.Context, t *target.Target, got *runpb.Job, timeout time.Duration, verb string) error {
	job, err := p.waitJobSettled(ctx, t, got, timeout)
	if err != nil {
		return err
	}
	tmpl := job.GetTemplate()
	t.Log.Successf("%s job %s: image %s, %d task(s), at most %d retries per task, task timeout %s",
		verb, naming.ShortName(job.GetName()), strings.Join(manifest.JobImages(job), ", "), tmpl.GetTaskCount(),
		tmpl.GetTemplate().GetMaxRetries(), tmpl.GetTemplate().GetTimeout().AsDuration())
	return nil
}

// waitJobSettled polls the job until Cloud Run no longer reconciles it, and fails when its terminal
// condition failed or timeout passes.
func (p *Plugin) waitJobSettled(ctx context.Context, t *target.Target, job *runpb.Job, timeout time.Duration) (*runpb.Job, error) {
	name := job.GetName()
	wctx, cancel := context.WithTimeoutCause(ctx, timeout, errReadinessTimeout)
	defer cancel()
	for job.GetReconciling() {
		if err := stagetime.Sleep(wctx, p.pollInterval); err != nil {
			if errors.Is(err, errReadinessTimeout) {
				return nil, fmt.Errorf("job %s was not applied by Cloud Run within %s; raise the stage option \"timeout\"", naming.ShortName(name), timeout)
			}
			return nil, fmt.Errorf("stopped waiting for job %s: %w", naming.ShortName(name), err)
		}
		var err error
		if job, err = t.Client.GetJob(wctx, name); err != nil {
			return nil, err
		}
	}
	if c := job.GetTerminalCondition(); c.GetState() == runpb.Condition_CONDITION_FAILED {
		return nil, fmt.Errorf("job %s could not be applied by Cloud Run: %s", naming.ShortName(name), c.GetMessage())
	}
	return job, nil
}
