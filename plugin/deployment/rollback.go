package deployment

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// executeRollback puts the traffic of every deploy target back to the block CLOUDRUN_SYNC recorded before
// it changed anything, or routes 100% to the stage option `revision` when it is set.
//
//   - A target that SYNC did not change in this deployment (for example because the deployment failed
//     earlier) is left alone: rollback is then a no-op.
//   - On a first deployment (SYNC created the service) there is no earlier traffic: the service is left as
//     it is and never deleted, since deleting it could take down whatever already uses it.
//   - Tagged entries that someone else added while the deployment ran are kept as 0% tag-only entries.
//
// Revisions are not deleted: the new revision stays, without traffic, until a cleanup removes it.
func (p *Plugin) executeRollback(ctx context.Context, lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[ApplicationSpec], dts []*sdk.DeployTarget[DeployTargetConfig]) sdk.StageStatus {
	store := p.metadata(input.Client)
	opts, err := rollbackOptions(ctx, store, input)
	if err != nil {
		lp.Errorf("Invalid stage options: %v", err)
		return sdk.StageStatusFailure
	}
	return p.forEachTarget(ctx, lp, dts, func(ctx context.Context, t *target) error {
		return p.rollbackTarget(ctx, t, store, opts)
	})
}

// rollbackOptions decodes the stage config only for a pipeline that lists CLOUDRUN_ROLLBACK: otherwise the
// rollback stage borrowed the index of another stage, and piped sends that stage's `with` (or, in a quick
// sync, nothing that belongs to it).
func rollbackOptions(ctx context.Context, store metadataStore, input *sdk.ExecuteStageInput[ApplicationSpec]) (config.RollbackStageOptions, error) {
	own, err := usesStageConfig(ctx, store, input)
	if err != nil || !own {
		return config.RollbackStageOptions{}, err
	}
	return config.DecodeRollbackStageOptions(input.Request.StageConfig)
}

func (p *Plugin) rollbackTarget(ctx context.Context, t *target, store metadataStore, opts config.RollbackStageOptions) error {
	rec, found, err := loadSyncRecord(ctx, store, t.name)
	if err != nil {
		return err
	}
	if !found {
		t.lp.Successf("%s did not change deploy target %s in this deployment: nothing to roll back", StageCloudRunSync, t.name)
		return nil
	}
	id := provider.ShortName(rec.Service)
	if rec.Created && opts.Revision == "" {
		t.lp.Successf("Service %s was created by this deployment (first deployment), so there is no earlier traffic to restore. "+
			"It is left as it is; delete it yourself if it must go (gcloud run services delete %s --region %s)", id, id, t.cfg.Region)
		return nil
	}

	var before, after []*runpb.TrafficTarget
	err = p.writeService(ctx, t, rec.Service, nil, func(live *runpb.Service) error {
		next, err := rollbackTraffic(live, rec, opts.Revision)
		if err != nil {
			return err
		}
		before, after = live.GetTraffic(), next
		if traffic.Equal(live.GetTraffic(), next) {
			return nil
		}
		_, err = t.client.UpdateTraffic(ctx, rec.Service, live.GetEtag(), next)
		return err
	})
	if errors.Is(err, provider.ErrNotFound) {
		return fmt.Errorf("service %s no longer exists, so its traffic cannot be restored: %w", id, err)
	}
	if err != nil {
		return err
	}
	t.lp.Infof("Traffic of service %s:\n%s", id, traffic.Render(before, after))
	if opts.Revision != "" {
		t.lp.Successf("Rolled back service %s: 100%% of the traffic to revision %s", id, opts.Revision)
	} else {
		t.lp.Successf("Rolled back service %s: the traffic is as it was before the deployment", id)
	}
	return nil
}

// rollbackTraffic is the traffic ROLLBACK writes: the recorded block (or 100% to revision), plus the
// tagged entries of live that are neither in it nor the deployment's preview tag, as 0% tag-only entries.
func rollbackTraffic(live *runpb.Service, rec *syncRecord, revision string) ([]*runpb.TrafficTarget, error) {
	var next []*runpb.TrafficTarget
	if revision != "" {
		next = []*runpb.TrafficTarget{traffic.Revision(revision, 100, "")}
	} else {
		next = fromEntries(rec.Traffic)
	}
	if len(next) == 0 {
		return nil, fmt.Errorf("the traffic recorded before the deployment is empty; set the stage option \"revision\" to the revision that should get 100%%")
	}
	tags := map[string]bool{rec.PreviewTag: true}
	for _, t := range next {
		tags[t.GetTag()] = true
	}
	for _, t := range live.GetTraffic() {
		if t.GetTag() == "" || tags[t.GetTag()] {
			continue
		}
		tags[t.GetTag()] = true
		kept := traffic.Clone([]*runpb.TrafficTarget{t})[0]
		kept.Percent = 0
		next = append(next, kept)
	}
	return slices.Clip(next), nil
}
