package deployment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// executeCleanup deletes old revisions on every deploy target. Kept are: revisions that serve traffic or
// carry a tag, the latest created and latest ready revisions, the revisions the rollback would route to,
// the revision of this deployment (keepLatest), revisions not created by PipeCD, and the keepCount newest
// of the rest. The others are deleted, oldest first; each deletion and each survivor is logged with its reason.
func (p *Plugin) executeCleanup(ctx context.Context, lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[config.RawApplicationSpec], dts []*sdk.DeployTarget[config.RawDeployTargetConfig]) sdk.StageStatus {
	opts, err := config.DecodeCleanupStageOptions(input.Request.StageConfig)
	if err != nil {
		logInvalidOptions(lp, input, err)
		return sdk.StageStatusFailure
	}
	store := p.metadata(input.Client)
	return target.ForEach(ctx, p.registry, lp, dts, func(ctx context.Context, t *target.Target) error {
		return p.cleanupTarget(ctx, t, store, opts)
	})
}

func (p *Plugin) cleanupTarget(ctx context.Context, t *target.Target, store metadataStore, opts config.CleanupStageOptions) error {
	if pool, found, err := loadPoolRecord(ctx, store, t.Name); err != nil || found {
		if err != nil {
			return err
		}
		return p.cleanupPool(ctx, t, pool, opts)
	}
	rec, found, err := loadSyncRecord(ctx, store, t.Name)
	if err != nil {
		return err
	}
	if !found {
		t.Log.Successf("%s did not run for deploy target %s in this deployment: no revision to clean up", StageCloudRunSync, t.Name)
		return nil
	}
	id := naming.ShortName(rec.Service)
	svc, err := t.Client.GetService(ctx, rec.Service)
	if err != nil {
		return err
	}
	revs, err := t.Client.ListRevisions(ctx, rec.Service)
	if err != nil {
		return err
	}
	keep, remove := planCleanup(svc, revs, rec, opts)
	return applyCleanup(ctx, t, "service", id, keep, remove, opts.KeepCount, serviceCleanupWords)
}

// applyCleanup logs the kept revisions and deletes the removed ones of the workload kind ("service",
// "worker pool") id. A revision Cloud Run refuses to delete (FAILED_PRECONDITION) is kept.
func applyCleanup(ctx context.Context, t *target.Target, kind, id string, keep []keptRevision, remove []*runpb.Revision, keepCount int, words cleanupWords) error {
	for _, k := range keep {
		t.Log.Infof("Keeping revision %s: %s", k.name, k.reason)
	}
	deleted := 0
	for _, rev := range remove {
		t.Log.Infof("Deleting revision %s: older than the %d newest and %s", naming.ShortName(rev.GetName()), keepCount, words.idle)
		err := t.Client.DeleteRevision(ctx, rev.GetName(), rev.GetEtag())
		var perr *provider.Error
		if errors.As(err, &perr) && perr.Code == codes.FailedPrecondition {
			t.Log.Infof("Cloud Run refused to delete revision %s, so it is kept: %s", naming.ShortName(rev.GetName()), perr.Message)
			continue
		}
		if err != nil {
			return err
		}
		deleted++
	}
	t.Log.Successf("Cleaned up %s %s: deleted %d revision(s), kept %d", kind, id, deleted, len(keep)+len(remove)-deleted)
	return nil
}

type keptRevision struct {
	name   string
	reason string
}

// cleanupWords say what a workload's revisions share in the reasons of planCleanupOf.
type cleanupWords struct {
	// share says a revision's percentage: "serves %d%% of the traffic", "has %d%% of the instances".
	share string
	// named says why a revision the traffic block names at 0% without a tag is kept: Cloud Run refuses to
	// delete it ("actively serving").
	named string
	// rollback is why the rollback's revisions are kept.
	rollback string
	// idle says why a deleted revision is not needed: "serves no traffic", "has no instances".
	idle string
}

var (
	serviceCleanupWords = cleanupWords{share: "serves %d%% of the traffic", named: "named at 0% in the traffic block", rollback: "the rollback of this deployment routes traffic to it", idle: "serves no traffic"}
	poolCleanupWords    = cleanupWords{share: "has %d%% of the instances", named: "named at 0% in the instance split", rollback: "the rollback of this deployment gives it instances", idle: "has no instances"}
)

// planCleanup splits revs into the revisions to keep (with the reason) and those to delete, oldest first.
func planCleanup(svc *runpb.Service, revs []*runpb.Revision, rec *syncRecord, opts config.CleanupStageOptions) ([]keptRevision, []*runpb.Revision) {
	return planCleanupOf(svc, revs, rec, opts, serviceCleanupWords)
}

// planCleanupOf is planCleanup with the reasons in words; a worker pool is read as a service (poolAsService).
func planCleanupOf(svc *runpb.Service, revs []*runpb.Revision, rec *syncRecord, opts config.CleanupStageOptions, words cleanupWords) ([]keptRevision, []*runpb.Revision) {
	protected := map[string][]string{}
	protect := func(rev, reason string) {
		if rev = naming.ShortName(rev); rev != "" && !slices.Contains(protected[rev], reason) {
			protected[rev] = append(protected[rev], reason)
		}
	}
	latestReady := naming.ShortName(svc.GetLatestReadyRevision())
	for i, t := range append(traffic.Clone(svc.GetTraffic()), statusTargets(svc)...) {
		rev := t.GetRevision()
		if traffic.IsLatest(t) {
			rev = latestReady
		}
		switch {
		case t.GetPercent() > 0:
			protect(rev, fmt.Sprintf(words.share, t.GetPercent()))
		case t.GetTag() == "" && i < len(svc.GetTraffic()): // the traffic block's own entry, not a status
			protect(rev, words.named)
		}
		if t.GetTag() != "" {
			protect(rev, fmt.Sprintf("carries the tag %q", t.GetTag()))
		}
	}
	protect(svc.GetLatestCreatedRevision(), "latest created revision")
	protect(latestReady, "latest ready revision")
	for _, e := range rec.Traffic {
		if e.Percent > 0 {
			protect(e.Revision, words.rollback)
		}
	}
	if opts.KeepLatest {
		protect(rec.Revision, "deployed by this deployment")
	}

	sorted := slices.Clone(revs)
	slices.SortStableFunc(sorted, func(a, b *runpb.Revision) int { // newest first
		return b.GetCreateTime().AsTime().Compare(a.GetCreateTime().AsTime())
	})
	var keep []keptRevision
	var remove []*runpb.Revision
	newest := 0
	for _, rev := range sorted {
		name := naming.ShortName(rev.GetName())
		switch {
		case len(protected[name]) > 0:
			keep = append(keep, keptRevision{name, strings.Join(protected[name], ", ")})
		case rev.GetLabels()[provider.LabelManagedBy] != provider.ManagedByPiped:
			keep = append(keep, keptRevision{name, "not created by PipeCD"})
		case newest < opts.KeepCount:
			newest++
			keep = append(keep, keptRevision{name, fmt.Sprintf("one of the %d newest (keepCount)", opts.KeepCount)})
		default:
			remove = append(remove, rev)
		}
	}
	slices.Reverse(remove)
	return keep, remove
}

// statusTargets returns the observed traffic of svc as traffic targets, so that a revision that still
// serves while a change is rolling out is protected too.
func statusTargets(svc *runpb.Service) []*runpb.TrafficTarget {
	out := make([]*runpb.TrafficTarget, 0, len(svc.GetTrafficStatuses()))
	for _, s := range svc.GetTrafficStatuses() {
		out = append(out, &runpb.TrafficTarget{Type: s.GetType(), Revision: s.GetRevision(), Percent: s.GetPercent(), Tag: s.GetTag()})
	}
	return out
}
