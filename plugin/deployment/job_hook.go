package deployment

import (
	"context"
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
)

// executeJobHook runs CLOUDRUN_JOB_HOOK: on every deploy target, run a Cloud Run job as a step of the
// pipeline, as CLOUDRUN_JOB_RUN does (overrides, progress, failed tasks, cancellation), and fail when its
// execution fails. The job is an existing one (`job`), or the application's job manifest
// (`jobManifestFile`), created or updated first. Placeholders in args and env values become the revision
// CLOUDRUN_SYNC deployed and its URLs. The hook never changes the service.
func (p *Plugin) executeJobHook(ctx context.Context, lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[config.RawApplicationSpec], dts []*sdk.DeployTarget[config.RawDeployTargetConfig]) sdk.StageStatus {
	opts, err := config.DecodeJobHookStageOptions(input.Request.StageConfig)
	if err != nil {
		logInvalidOptions(lp, input, err)
		return sdk.StageStatusFailure
	}
	store := p.metadata(input.Client)
	src := input.Request.TargetDeploymentSource
	return target.ForEach(ctx, p.registry, lp, dts, func(ctx context.Context, t *target.Target) error {
		run, err := hookRunOptions(ctx, t, store, opts)
		if err != nil {
			return err
		}
		job := naming.JobName(t.Config.Project, t.Config.Region, opts.Job)
		if opts.JobManifestFile != "" {
			want, err := app.HookJob(src.ApplicationDirectory, opts.JobManifestFile, src.CommitHash, t.Config, input.Request.Deployment)
			if err != nil {
				return err
			}
			if err := p.applyJob(ctx, t, want, config.DefaultSyncTimeout, func(*runpb.Job) error { return nil }); err != nil {
				return err
			}
			job = want.GetName()
		}
		return p.runJob(ctx, t, job, run)
	})
}

// hookRunOptions are the execution's overrides, with the placeholders replaced by what CLOUDRUN_SYNC
// deployed on the deploy target.
func hookRunOptions(ctx context.Context, t *target.Target, store metadataStore, opts config.JobHookStageOptions) (config.JobRunStageOptions, error) {
	if !opts.Uses("") {
		return opts.Run, nil
	}
	rec, found, err := loadSyncRecord(ctx, store, t.Name)
	if err != nil {
		return config.JobRunStageOptions{}, err
	}
	if !found {
		return config.JobRunStageOptions{}, fmt.Errorf("the args or env of %s name a placeholder (%s, %s, %s), but %s did not run for deploy target %s before it in this deployment: put the hook after %s, or remove the placeholder",
			StageCloudRunJobHook, config.PlaceholderRevision, config.PlaceholderTagURL, config.PlaceholderServiceURL, StageCloudRunSync, t.Name, StageCloudRunSync)
	}
	svc, err := t.Client.GetService(ctx, rec.Service)
	if err != nil {
		return config.JobRunStageOptions{}, err
	}
	tagURL := previewURL(svc, rec.PreviewTag)
	if tagURL == "" && opts.Uses(config.PlaceholderTagURL) {
		return config.JobRunStageOptions{}, fmt.Errorf("the args or env of %s name %s, but revision %s has no tag URL: set `tag: true` in the options of %s",
			StageCloudRunJobHook, config.PlaceholderTagURL, rec.Revision, StageCloudRunSync)
	}
	return opts.Expand(rec.Revision, tagURL, svc.GetUri()), nil
}
