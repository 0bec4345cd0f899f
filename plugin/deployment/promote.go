package deployment

import (
	"context"
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// executePromote routes `percent` of the traffic owned by the deployment to the new revision on every
// deploy target; the rest stays with the revisions that served before, in their original proportions.
// On a first deployment the service was created with 100% to the new revision, so there is nothing to do.
func (p *Plugin) executePromote(ctx context.Context, lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[ApplicationSpec], dts []*sdk.DeployTarget[DeployTargetConfig]) sdk.StageStatus {
	opts, err := config.DecodePromoteStageOptions(input.Request.StageConfig)
	if err != nil {
		lp.Errorf("Invalid stage options: %v", err)
		return sdk.StageStatusFailure
	}
	store := p.metadata(input.Client)
	return p.forEachTarget(ctx, lp, dts, func(ctx context.Context, t *target) error {
		return p.promoteTarget(ctx, t, store, opts.Percent.Int())
	})
}

func (p *Plugin) promoteTarget(ctx context.Context, t *target, store metadataStore, percent int) error {
	rec, found, err := loadSyncRecord(ctx, store, t.name)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("no new revision to promote: run %s before %s in the pipeline", StageCloudRunSync, StageCloudRunPromote)
	}
	id := provider.ShortName(rec.Service)
	if rec.Created {
		t.lp.Successf("Service %s was created by this deployment with 100%% of the traffic on revision %s: nothing to promote", id, rec.Revision)
		return nil
	}
	baseline := fromEntries(rec.Traffic)
	if traffic.PercentOf(baseline, rec.Revision) == traffic.Sum(baseline) {
		t.lp.Successf("Revision %s already received all the traffic before this deployment (its template did not change): nothing to promote", rec.Revision)
		return nil
	}
	var before, after []*runpb.TrafficTarget
	err = p.writeService(ctx, t, rec.Service, nil, func(live *runpb.Service) error {
		cur, err := pinned(live)
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
		_, err = t.client.UpdateTraffic(ctx, rec.Service, live.GetEtag(), next)
		return err
	})
	if err != nil {
		return err
	}
	t.lp.Infof("Traffic of service %s:\n%s", id, traffic.Render(before, after))
	t.lp.Successf("Revision %s of service %s now receives %d%% of the deployment's traffic", rec.Revision, id, percent)
	return nil
}
