package deployment

import (
	"context"
	"fmt"
	"sync"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// executePromote routes `percent` of the traffic owned by the deployment to the new revision on every
// deploy target; the rest stays with the revisions that served before, in their original proportions.
// On a first deployment the service was created with 100% to the new revision, so there is nothing to do.
//
// A PipeCD v0 pipeline has no CLOUDRUN_SYNC: its first CLOUDRUN_PROMOTE deployed the new revision. So when
// no CLOUDRUN_SYNC ran on a target in this deployment, PROMOTE first runs a canary SYNC there (see
// deployForPromote), then promotes. That first PROMOTE costs the calls of both stages.
func (p *Plugin) executePromote(ctx context.Context, lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[config.RawApplicationSpec], dts []*sdk.DeployTarget[config.RawDeployTargetConfig]) sdk.StageStatus {
	opts, err := config.DecodePromoteStageOptions(input.Request.StageConfig)
	if err != nil {
		logInvalidOptions(lp, input, err)
		return sdk.StageStatusFailure
	}
	store := p.metadata(input.Client)
	load := sync.OnceValues(func() (*app.Source, error) { return app.Load(input.Request.TargetDeploymentSource) })
	return target.ForEach(ctx, p.registry, lp, dts, func(ctx context.Context, t *target.Target) error {
		pool, found, err := p.deployPoolForPromote(ctx, t, store, input, load)
		if err != nil || found {
			if err != nil {
				return err
			}
			return p.promotePool(ctx, t, pool, opts.Percent.Int())
		}
		rec, err := p.deployForPromote(ctx, t, store, input, load)
		if err != nil {
			return err
		}
		return p.promoteTarget(ctx, t, rec, opts.Percent.Int())
	})
}

// deployForPromote returns the record of the CLOUDRUN_SYNC of this deployment on t. Without one, it first
// does exactly what CLOUDRUN_SYNC {skipTrafficShift: true} does: deploy the new revision at 0%, record the
// traffic before the deployment for ROLLBACK, and wait up to config.DefaultSyncTimeout for the revision
// to become ready.
func (p *Plugin) deployForPromote(ctx context.Context, t *target.Target, store metadataStore, input *sdk.ExecuteStageInput[config.RawApplicationSpec], load func() (*app.Source, error)) (*syncRecord, error) {
	rec, found, err := loadSyncRecord(ctx, store, t.Name)
	if err != nil || found {
		return rec, err
	}
	src, err := load()
	if err != nil {
		return nil, fmt.Errorf("invalid application configuration: %w", err)
	}
	if src.Job != nil {
		return nil, fmt.Errorf("%s routes traffic of a service, but this application is a job (input.jobManifestFile %s): use %s and %s",
			StageCloudRunPromote, src.Spec.Input.JobManifestFile, StageCloudRunJobSync, StageCloudRunJobRun)
	}
	t.Log.Infof("No %s ran in this deployment (a PipeCD v0 pipeline): deploying the new revision without traffic first, as %s with skipTrafficShift does", StageCloudRunSync, StageCloudRunSync)
	opts := config.DefaultSyncStageOptions()
	opts.SkipTrafficShift = true
	if _, err := p.syncTarget(ctx, t, store, syncJob{src: src, d: input.Request.Deployment, runningCommit: input.Request.RunningDeploymentSource.CommitHash, opts: opts}); err != nil {
		return nil, err
	}
	rec, found, err = loadSyncRecord(ctx, store, t.Name)
	if err == nil && !found {
		err = fmt.Errorf("deploying the new revision left no record in the deployment metadata of deploy target %s", t.Name)
	}
	return rec, err
}

// deployPoolForPromote returns the pool record of this deployment on t; found is false when the
// application is not a worker pool. Without a record, it first deploys the new revision at 0%, as
// deployForPromote does for a service.
func (p *Plugin) deployPoolForPromote(ctx context.Context, t *target.Target, store metadataStore, input *sdk.ExecuteStageInput[config.RawApplicationSpec], load func() (*app.Source, error)) (*poolRecord, bool, error) {
	if rec, found, err := loadPoolRecord(ctx, store, t.Name); err != nil || found {
		return rec, found, err
	}
	if _, found, err := loadSyncRecord(ctx, store, t.Name); err != nil || found {
		return nil, false, err
	}
	src, err := load()
	if err != nil || src.Pool == nil {
		return nil, false, nil // deployForPromote reports it
	}
	t.Log.Infof("No %s ran in this deployment: deploying the new revision without instances first, as %s with skipTrafficShift does", StageCloudRunSync, StageCloudRunSync)
	opts := config.DefaultSyncStageOptions()
	opts.SkipTrafficShift = true
	if err := p.syncPoolTarget(ctx, t, store, poolJob{src: src, d: input.Request.Deployment, opts: opts}); err != nil {
		return nil, false, err
	}
	rec, found, err := loadPoolRecord(ctx, store, t.Name)
	if err == nil && !found {
		err = fmt.Errorf("deploying the new revision left no record in the deployment metadata of deploy target %s", t.Name)
	}
	return rec, found, err
}

func (p *Plugin) promoteTarget(ctx context.Context, t *target.Target, rec *syncRecord, percent int) error {
	id := naming.ShortName(rec.Service)
	if rec.Created {
		t.Log.Successf("Service %s was created by this deployment with 100%% of the traffic on revision %s: nothing to promote", id, rec.Revision)
		return nil
	}
	baseline := fromEntries(rec.Traffic)
	if traffic.PercentOf(baseline, rec.Revision) == traffic.Sum(baseline) {
		t.Log.Successf("Revision %s already received all the traffic before this deployment (its template did not change): nothing to promote", rec.Revision)
		return nil
	}
	var before, after []*runpb.TrafficTarget
	err := p.writeService(ctx, t, rec.Service, nil, func(live *runpb.Service) error {
		cur, err := traffic.Live(live)
		if err != nil {
			return err
		}
		next, err := traffic.Promote(cur, baseline, rec.Revision, percent)
		if err != nil {
			return fmt.Errorf("cannot promote revision %s to %d%%: %w", rec.Revision, percent, err)
		}
		before, after = cur, next
		if traffic.Equal(cur, next) {
			return nil
		}
		_, err = t.Client.UpdateTraffic(ctx, rec.Service, live.GetEtag(), next)
		return err
	})
	if err != nil {
		return err
	}
	t.Log.Infof("Traffic of service %s:\n%s", id, traffic.Render(before, after))
	t.Log.Successf("Revision %s of service %s now receives %d%% of the deployment's traffic", rec.Revision, id, percent)
	return nil
}
