package deployment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/stagetime"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// executeRollback puts every deploy target back as it was before CLOUDRUN_SYNC changed it (for a job, as
// before CLOUDRUN_JOB_SYNC changed it: see rollbackJob): the service
// recorded then (revision template with its revision name, labels such as the commit label, annotations
// and other settings) and its traffic block, in one update. With the stage option `revision`, 100% of
// the traffic goes to that revision instead of the recorded block; the service is restored all the same.
//
//   - A target that SYNC did not change in this deployment (for example because the deployment failed
//     earlier) is left alone: rollback is then a no-op.
//   - On a first deployment (SYNC created the service) there is no earlier traffic: the service is left as
//     it is and never deleted, since deleting it could take down whatever already uses it.
//   - Tagged entries that someone else added while the deployment ran are kept as 0% tag-only entries.
//   - When the live template is no longer the one this deployment applied (someone deployed meanwhile),
//     or the record predates this behaviour, only the traffic is restored.
//
// Re-sending the old template under its existing revision name creates no revision. Revisions are not
// deleted: the new revision stays, without traffic, until a cleanup removes it.
func (p *Plugin) executeRollback(ctx context.Context, lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[config.RawApplicationSpec], dts []*sdk.DeployTarget[config.RawDeployTargetConfig]) sdk.StageStatus {
	store := p.metadata(input.Client)
	opts, err := rollbackOptions(ctx, store, input)
	if err != nil {
		// A rollback is never talked out of restoring: planning rejects bad options, and should one get
		// through, the recorded state is restored instead of failing with the service half-way.
		logInvalidOptions(lp, input, err)
		lp.Infof("Ignoring the options of %s: restoring the service as it was before the deployment", StageCloudRunRollback)
		opts = config.RollbackStageOptions{}
	}
	return target.ForEach(ctx, p.registry, lp, dts, func(ctx context.Context, t *target.Target) error {
		return p.rollbackTarget(ctx, t, store, opts)
	})
}

// rollbackOptions decodes the stage config only for a pipeline that lists CLOUDRUN_ROLLBACK: otherwise the
// rollback stage borrowed the index of another stage, and piped sends that stage's `with` (or, in a quick
// sync, nothing that belongs to it).
func rollbackOptions(ctx context.Context, store metadataStore, input *sdk.ExecuteStageInput[config.RawApplicationSpec]) (config.RollbackStageOptions, error) {
	own, err := usesStageConfig(ctx, store, input)
	if err != nil || !own {
		return config.RollbackStageOptions{}, err
	}
	return config.DecodeRollbackStageOptions(input.Request.StageConfig)
}

func (p *Plugin) rollbackTarget(ctx context.Context, t *target.Target, store metadataStore, opts config.RollbackStageOptions) error {
	if pool, found, err := loadPoolRecord(ctx, store, t.Name); err != nil || found {
		if err != nil {
			return err
		}
		return p.rollbackPool(ctx, t, pool, opts)
	}
	if job, found, err := loadRecord[jobRecord](ctx, store, t.Name, jobRecordKey(t.Name)); err != nil || found {
		if err != nil {
			return err
		}
		return p.rollbackJob(ctx, t, job, opts)
	}
	rec, found, err := loadSyncRecord(ctx, store, t.Name)
	if err != nil {
		return err
	}
	if !found {
		t.Log.Successf("%s did not change deploy target %s in this deployment: nothing to roll back", StageCloudRunSync, t.Name)
		return nil
	}
	id := naming.ShortName(rec.Service)
	// An unusable `revision` is never sent: the recorded state is restored instead and the stage fails.
	revision := opts.Revision
	var unusable error
	if revision != "" {
		if err := checkRollbackRevision(ctx, t, rec.Service, revision); errors.Is(err, errRevisionUnusable) {
			unusable, revision = err, ""
		} else if err != nil {
			return err
		}
	}
	if rec.Created && revision == "" {
		if unusable != nil {
			return unusable // a first deployment has no recorded state to fall back to: nothing is written
		}
		t.Log.Successf("Service %s was created by this deployment (first deployment), so there is no earlier traffic to restore. "+
			"It is left as it is; delete it yourself if it must go (gcloud run services delete %s --region %s)", id, id, t.Config.Region)
		return nil
	}

	pre, hasPre, err := rec.before()
	if err != nil {
		return err
	}
	var before, after []*runpb.TrafficTarget
	var service serviceRestore
	err = p.retryRestore(ctx, t, "service "+id, func() error {
		return p.writeService(ctx, t, rec.Service, nil, func(live *runpb.Service) error {
			next, err := rollbackTraffic(live, rec, revision)
			if err != nil {
				return err
			}
			before, after = live.GetTraffic(), next
			service = restoreOf(live, rec, pre, hasPre)
			if service != restoreApply {
				if traffic.Equal(live.GetTraffic(), next) {
					return nil
				}
				_, err = t.Client.UpdateTraffic(ctx, rec.Service, live.GetEtag(), next)
				return err
			}
			svc := cloneService(pre)
			svc.Name, svc.Etag, svc.Traffic = rec.Service, live.GetEtag(), next
			got, err := t.Client.ReplaceService(ctx, svc)
			if err != nil {
				return err
			}
			return p.waitSettled(ctx, t, rec.Service, got)
		})
	})
	if errors.Is(err, provider.ErrNotFound) {
		return fmt.Errorf("service %s no longer exists, so it cannot be restored: %w", id, err)
	}
	if err != nil {
		return fmt.Errorf("%w. %s", err, leftAsIs(ctx, t, rec, after))
	}
	switch service {
	case restoreApply:
		t.Log.Infof("Restored the service as it was before the deployment: revision template %s (image %s) and labels, annotations and settings",
			pre.GetTemplate().GetRevision(), strings.Join(images(pre), ", "))
	case restoreForeign:
		t.Log.Infof("The service no longer runs the template this deployment applied (revision %s, commit label %q): someone deployed meanwhile, so its template is kept and only the traffic is restored",
			rec.Revision, rec.CommitLabel)
	case restoreUnrecorded:
		t.Log.Infof("The deployment metadata has no record of the service before the deployment (written by an older plugin version): only the traffic is restored")
	}
	t.Log.Infof("Traffic of service %s:\n%s", id, traffic.Render(before, after))
	if len(pre.GetMultiRegionSettings().GetRegions()) > 0 {
		if restored, err := t.Client.GetService(ctx, rec.Service); err == nil {
			reportRegions(ctx, t, restored)
		}
	}
	if rec.Public != nil {
		names := map[string]string{}
		for region := range rec.Public {
			names[region] = naming.ServiceName(t.Config.Project, region, id)
		}
		if err := p.setPublicIn(ctx, t, names, rec.Public); err != nil {
			return fmt.Errorf("the service and its traffic were restored but its public access was not: %w", err)
		}
	}
	if unusable != nil {
		return fmt.Errorf("%w. The service was restored as it was before the deployment instead: fix the option and run the rollback again to route to another revision", unusable)
	}
	if revision != "" {
		t.Log.Successf("Rolled back service %s: 100%% of the traffic to revision %s", id, revision)
	} else {
		t.Log.Successf("Rolled back service %s: the traffic is as it was before the deployment", id)
	}
	return nil
}

// serviceRestore says what ROLLBACK does with the service besides its traffic.
type serviceRestore int

const (
	// restoreApply writes back the recorded service: the live one is still what this deployment applied.
	restoreApply serviceRestore = iota
	// restoreDone leaves the service: it already runs the recorded template and commit (an earlier
	// rollback restored it, or the deployment failed before applying its template).
	restoreDone
	// restoreForeign leaves the service: someone else deployed after this deployment.
	restoreForeign
	// restoreUnrecorded leaves the service: the record predates the recording of the service.
	restoreUnrecorded
)

// restoreOf decides what to do with live's template, labels and settings, given the record of the
// deployment and pre, the service before it.
func restoreOf(live *runpb.Service, rec *syncRecord, pre *runpb.Service, hasPre bool) serviceRestore {
	rev, commit := live.GetTemplate().GetRevision(), live.GetLabels()[provider.LabelCommitHash]
	switch {
	case !hasPre:
		return restoreUnrecorded
	case rev == pre.GetTemplate().GetRevision() && commit == pre.GetLabels()[provider.LabelCommitHash]:
		return restoreDone
	case rev == rec.Revision && commit == rec.CommitLabel:
		return restoreApply
	}
	return restoreForeign
}

// waitSettled waits until Cloud Run has rolled out the update that reported got: at once when the
// update's operation was done (got is its result), else by reading the service until it no longer
// reconciles.
func (p *Plugin) waitSettled(ctx context.Context, t *target.Target, name string, got *runpb.Service) error {
	for got == nil || got.GetReconciling() {
		if err := stagetime.Sleep(ctx, p.pollInterval); err != nil {
			return fmt.Errorf("stopped waiting for service %s to apply the rollback: %w", naming.ShortName(name), err)
		}
		var err error
		if got, err = t.Client.GetService(ctx, name); err != nil {
			return err
		}
	}
	if c := got.GetTerminalCondition(); c.GetState() == runpb.Condition_CONDITION_FAILED {
		return fmt.Errorf("service %s did not apply the rollback: %s", naming.ShortName(name), c.GetMessage())
	}
	return nil
}

// images lists the container images of svc's template.
func images(svc *runpb.Service) []string {
	var out []string
	for _, c := range svc.GetTemplate().GetContainers() {
		out = append(out, c.GetImage())
	}
	return out
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
