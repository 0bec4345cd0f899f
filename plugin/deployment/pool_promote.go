package deployment

import (
	"context"
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// promotePool gives the new revision percent of the instances the deployment owns, as promoteTarget does
// with a service's traffic (traffic.Promote on the instance split); the rest stays with the revisions
// that ran before, in their original proportions.
func (p *Plugin) promotePool(ctx context.Context, t *target.Target, rec *poolRecord, percent int) error {
	id := naming.ShortName(rec.Pool)
	if rec.Created {
		t.Log.Successf("Worker pool %s was created by this deployment with 100%% of the instances on revision %s: nothing to promote", id, rec.Revision)
		return nil
	}
	baseline := fromEntries(rec.Split)
	if traffic.PercentOf(baseline, rec.Revision) == traffic.Sum(baseline) {
		t.Log.Successf("Revision %s already had all the instances before this deployment (its template did not change): nothing to promote", rec.Revision)
		return nil
	}
	var before []*runpb.TrafficTarget
	var after *runpb.WorkerPool
	err := writeResource(ctx, p, t, "worker pool", rec.Pool, nil, t.Client.GetWorkerPool, func(live *runpb.WorkerPool) error {
		cur, err := traffic.LivePool(live)
		if err != nil {
			return err
		}
		next, err := traffic.Promote(cur, baseline, rec.Revision, percent)
		if err != nil {
			return fmt.Errorf("cannot promote revision %s to %d%% of the instances: %w", rec.Revision, percent, err)
		}
		before = cur
		return p.writeSplit(ctx, t, live, cur, next, &after)
	})
	if err != nil {
		return err
	}
	t.Log.Infof("Instance split of worker pool %s:\n%s", id, traffic.RenderSplit(before, traffic.FromSplits(after.GetInstanceSplits())))
	t.Log.Successf("Revision %s of worker pool %s now has %d%% of the deployment's instances", rec.Revision, id, percent)
	return nil
}

// cleanupPool deletes old revisions of the worker pool with the protections of a service's cleanup
// (planCleanup): revisions with a share of the instances, the latest created and ready ones, those the
// rollback would give instances to, this deployment's (keepLatest), those not created by PipeCD, and the
// keepCount newest of the rest are kept.
func (p *Plugin) cleanupPool(ctx context.Context, t *target.Target, rec *poolRecord, opts config.CleanupStageOptions) error {
	id := naming.ShortName(rec.Pool)
	pool, err := t.Client.GetWorkerPool(ctx, rec.Pool)
	if err != nil {
		return err
	}
	revs, err := t.Client.ListRevisions(ctx, rec.Pool)
	if err != nil {
		return err
	}
	keep, remove := planCleanupOf(poolAsService(pool), revs, &syncRecord{Revision: rec.Revision, Traffic: rec.Split}, opts, poolCleanupWords)
	return applyCleanup(ctx, t, "worker pool", id, keep, remove, opts.KeepCount, poolCleanupWords)
}

// poolAsService is the worker pool as planCleanup reads a service: its split as traffic, its applied split
// as traffic statuses, its latest revisions.
func poolAsService(pool *runpb.WorkerPool) *runpb.Service {
	svc := &runpb.Service{
		Name:                  pool.GetName(),
		Traffic:               traffic.FromSplits(pool.GetInstanceSplits()),
		LatestReadyRevision:   pool.GetLatestReadyRevision(),
		LatestCreatedRevision: pool.GetLatestCreatedRevision(),
	}
	for _, st := range pool.GetInstanceSplitStatuses() {
		typ := runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
		if st.GetType() == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST {
			typ = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
		}
		svc.TrafficStatuses = append(svc.TrafficStatuses, &runpb.TrafficTargetStatus{Type: typ, Revision: st.GetRevision(), Percent: st.GetPercent()})
	}
	return svc
}
