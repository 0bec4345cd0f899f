package deployment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// poolRecord is what CLOUDRUN_SYNC remembers about a worker pool on one deploy target, for PROMOTE, ROLLBACK
// and CLEANUP, as syncRecord does for a service: written once per deployment and target, before the first
// change, and never overwritten but for Revision when Cloud Run refuses the name.
type poolRecord struct {
	// Pool is the full resource name of the worker pool.
	Pool string `json:"pool"`
	// Revision is the short name of the revision this deployment deploys.
	Revision string `json:"revision"`
	// Created is true when this deployment created the pool, or found it without a ready revision: there
	// is no earlier instance split to restore.
	Created bool `json:"created,omitempty"`
	// Split is the pool's instance split before the deployment, LATEST pinned to the revision it meant.
	Split []trafficEntry `json:"split,omitempty"`
	// CommitLabel is the value of the commit label this deployment gives the pool.
	CommitLabel string `json:"commitLabel,omitempty"`
	// Before is the pool before the deployment (protojson, without its split): ROLLBACK writes back its
	// template, labels, annotations and scaling.
	Before json.RawMessage `json:"before,omitempty"`
}

// poolRecordKey is the deployment plugin metadata key of the pool record of one deploy target.
func poolRecordKey(target string) string {
	return "cloudrun.workerpool." + target
}

func loadPoolRecord(ctx context.Context, store metadataStore, target string) (*poolRecord, bool, error) {
	return loadRecord[poolRecord](ctx, store, target, poolRecordKey(target))
}

// encodePool is the JSON form of pool kept in a poolRecord, without its split.
func encodePool(pool *runpb.WorkerPool) (json.RawMessage, error) {
	kept := proto.Clone(pool).(*runpb.WorkerPool)
	kept.InstanceSplits, kept.InstanceSplitStatuses = nil, nil
	b, err := protojson.Marshal(kept)
	if err != nil {
		return nil, fmt.Errorf("failed to encode worker pool %s for the deployment metadata: %w", naming.ShortName(pool.GetName()), err)
	}
	return b, nil
}

// before returns the pool recorded before the deployment.
func (r *poolRecord) before() (*runpb.WorkerPool, error) {
	pool := &runpb.WorkerPool{}
	if err := protojson.Unmarshal(r.Before, pool); err != nil {
		return nil, fmt.Errorf("the worker pool recorded before the deployment in the deployment metadata is not valid (%w); it was written by another plugin version", err)
	}
	return pool, nil
}

// poolJob is what CLOUDRUN_SYNC deploys to worker pools, the same on every deploy target.
type poolJob struct {
	src   *app.Source
	d     sdk.Deployment
	opts  config.SyncStageOptions
	quick bool
}

// syncPools deploys the new revision of a worker pool on every deploy target. The options are the
// service's: without skipTrafficShift (and always in a quick sync) the new revision ends with 100% of
// the instances; with it, at 0% for CLOUDRUN_PROMOTE to move. tag is refused: a pool has no URL.
func (p *Plugin) syncPools(ctx context.Context, lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[config.RawApplicationSpec], dts []*sdk.DeployTarget[config.RawDeployTargetConfig], src *app.Source, opts config.SyncStageOptions, quick bool) sdk.StageStatus {
	if opts.Tag && !quick {
		lp.Errorf("Invalid options of stage %s: option \"tag\" gives the new revision a preview URL, but a worker pool's revisions have no URL (input.workerPoolManifestFile %s); remove it", StageCloudRunSync, src.Spec.Input.WorkerPoolManifestFile)
		return sdk.StageStatusFailure
	}
	store := p.metadata(input.Client)
	lp.Infof("Deploying commit %s, image %s", naming.ShortCommit(src.Commit), strings.Join(src.Images(), ", "))
	var running *app.Source
	if input.Request.RunningDeploymentSource.ApplicationConfig != nil {
		running, _ = app.Load(input.Request.RunningDeploymentSource)
	}
	job := poolJob{src: src, d: input.Request.Deployment, opts: opts, quick: quick}
	return target.ForEach(ctx, p.registry, lp, dts, func(ctx context.Context, t *target.Target) error {
		if notice := src.Renamed(running, t.Config.Region); notice != "" {
			t.Log.Info(notice)
		}
		return p.syncPoolTarget(ctx, t, store, job)
	})
}

// syncPoolTarget runs CLOUDRUN_SYNC for a worker pool on one deploy target.
func (p *Plugin) syncPoolTarget(ctx context.Context, t *target.Target, store metadataStore, job poolJob) error {
	want, err := job.src.DesiredPool(t.Config, job.d)
	if err != nil {
		return err
	}
	live, err := t.Client.GetWorkerPool(ctx, want.Pool.GetName())
	switch {
	case errors.Is(err, provider.ErrNotFound):
		return p.deployFreshPool(ctx, t, store, job, want, nil)
	case err != nil:
		return err
	case live.GetLatestReadyRevision() == "":
		return p.deployFreshPool(ctx, t, store, job, want, live)
	}
	return p.deployPoolUpdate(ctx, t, store, job, want, live)
}

// deployFreshPool deploys to a worker pool that runs nothing: 100% of the instances to the new revision.
// live is nil when the pool does not exist yet (first deployment).
func (p *Plugin) deployFreshPool(ctx context.Context, t *target.Target, store metadataStore, job poolJob, want *app.DesiredPool, live *runpb.WorkerPool) error {
	name := want.Pool.GetName()
	rec, err := saveRecordOnce(ctx, store, t.Name, poolRecordKey(t.Name), &poolRecord{Pool: name, Revision: want.Revision, Created: true})
	if err != nil {
		return err
	}
	if live == nil {
		t.Log.Infof("Worker pool %s does not exist yet: creating it with revision %s (first deployment, 100%% of the instances)", want.ID, rec.Revision)
		pool := proto.Clone(want.Pool).(*runpb.WorkerPool)
		pool.Template.Revision = rec.Revision
		pool.InstanceSplits = []*runpb.InstanceSplit{{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: rec.Revision, Percent: 100}}
		_, err = t.Client.CreateWorkerPool(ctx, pool)
		if err = p.checkApplied(ctx, t, name, rec.Revision, err); err != nil && !errors.Is(err, provider.ErrAlreadyExists) {
			return err
		}
	} else {
		t.Log.Infof("Worker pool %s has no ready revision, so it runs nothing: deploying revision %s with 100%% of the instances", want.ID, rec.Revision)
		if _, err := p.applyPoolTemplate(ctx, t, store, want, live, rec, func(_ []*runpb.TrafficTarget, revision string) ([]*runpb.TrafficTarget, error) {
			return []*runpb.TrafficTarget{traffic.Revision(revision, 100, "")}, nil
		}); err != nil {
			return err
		}
	}
	if err := p.waitReady(ctx, t, naming.FullRevisionName(name, rec.Revision), job.opts.Timeout.Duration()); err != nil {
		return err
	}
	after, err := t.Client.GetWorkerPool(ctx, name)
	if err != nil {
		return err
	}
	t.Log.Infof("Instance split of worker pool %s:\n%s", want.ID, traffic.SplitTable(traffic.FromSplits(after.GetInstanceSplits())))
	t.Log.Successf("Created worker pool %s with revision %s", want.ID, rec.Revision)
	return nil
}

// deployPoolUpdate deploys to a running worker pool: it records the pool as it was (once), applies the new
// template with the split pinned and the new revision at 0%, waits until the revision is ready and then,
// unless skipTrafficShift, gives it 100% of the instances. A revision that fails leaves the split as it was.
func (p *Plugin) deployPoolUpdate(ctx context.Context, t *target.Target, store metadataStore, job poolJob, want *app.DesiredPool, live *runpb.WorkerPool) error {
	name := want.Pool.GetName()
	before, err := traffic.LivePool(live)
	if err != nil {
		return err
	}
	pre, err := encodePool(live)
	if err != nil {
		return err
	}
	rec, err := saveRecordOnce(ctx, store, t.Name, poolRecordKey(t.Name), &poolRecord{
		Pool: name, Revision: want.Revision, Split: toEntries(before),
		CommitLabel: want.Pool.GetLabels()[provider.LabelCommitHash], Before: pre,
	})
	if err != nil {
		return err
	}
	revision := rec.Revision
	t.Log.Infof("Worker pool %s, new revision %s", want.ID, revision)
	if live.GetTemplate().GetRevision() == revision && live.GetLabels()[provider.LabelCommitHash] == rec.CommitLabel {
		t.Log.Infof("The worker pool already runs this template (an earlier run of this stage applied it); not applying it again")
	} else {
		revision, err = p.applyPoolTemplate(ctx, t, store, want, live, rec, func(cur []*runpb.TrafficTarget, revision string) ([]*runpb.TrafficTarget, error) {
			return traffic.KeepExisting(cur, revision, "")
		})
		if err != nil {
			return fmt.Errorf("failed to apply the new template; the instance split is unchanged: %w", err)
		}
		t.Log.Infof("Applied the new template with the instance split pinned; revision %s gets no instances until it is ready", revision)
	}
	if err := p.waitReady(ctx, t, naming.FullRevisionName(name, revision), job.opts.Timeout.Duration()); err != nil {
		return err
	}
	var after *runpb.WorkerPool
	err = writeResource(ctx, p, t, "worker pool", name, nil, t.Client.GetWorkerPool, func(live *runpb.WorkerPool) error {
		after = live
		if job.opts.SkipTrafficShift && !job.quick {
			return nil
		}
		cur, err := traffic.LivePool(live)
		if err != nil {
			return err
		}
		next, err := traffic.RouteAll(cur, revision, "")
		if err != nil {
			return err
		}
		return p.writeSplit(ctx, t, live, cur, next, &after)
	})
	if err != nil {
		return fmt.Errorf("revision %s is ready but giving it the instances failed: %w", revision, err)
	}
	t.Log.Infof("Instance split of worker pool %s:\n%s", want.ID, traffic.RenderSplit(fromEntries(rec.Split), traffic.FromSplits(after.GetInstanceSplits())))
	t.Log.Successf("Deployed revision %s of worker pool %s", revision, want.ID)
	if job.opts.Prune {
		if err := p.cleanupPool(ctx, t, rec, config.DefaultCleanupStageOptions()); err != nil {
			return fmt.Errorf("the deployment succeeded but pruning old revisions failed: %w", err)
		}
	}
	return nil
}

// writeSplit sends next as the instance split of live unless it equals cur; after gets the pool written.
func (p *Plugin) writeSplit(ctx context.Context, t *target.Target, live *runpb.WorkerPool, cur, next []*runpb.TrafficTarget, after **runpb.WorkerPool) error {
	if traffic.Equal(cur, next) {
		*after = live
		return nil
	}
	splits, err := traffic.ToSplits(next)
	if err != nil {
		return err
	}
	got, err := t.Client.UpdateInstanceSplit(ctx, live.GetName(), live.GetEtag(), splits)
	if err == nil {
		*after = got
	}
	return err
}

// applyPoolTemplate sends the desired pool with template revision rec.Revision over live, its split
// computed by split from the live pinned split; when Cloud Run refuses the revision name (ALREADY_EXISTS:
// a revision of that name exists or existed) it records and tries the next generation of the name, as a
// service's deployment does. It returns the revision name Cloud Run accepted.
func (p *Plugin) applyPoolTemplate(ctx context.Context, t *target.Target, store metadataStore, want *app.DesiredPool, live *runpb.WorkerPool, rec *poolRecord,
	split func(cur []*runpb.TrafficTarget, revision string) ([]*runpb.TrafficTarget, error),
) (string, error) {
	name, revision := want.Pool.GetName(), rec.Revision
	err := writeResource(ctx, p, t, "worker pool", name, live, t.Client.GetWorkerPool, func(live *runpb.WorkerPool) error {
		for {
			cur := []*runpb.TrafficTarget{}
			if live.GetLatestReadyRevision() != "" {
				var err error
				if cur, err = traffic.LivePool(live); err != nil {
					return err
				}
			}
			next, err := split(cur, revision)
			if err != nil {
				return err
			}
			splits, err := traffic.ToSplits(next)
			if err != nil {
				return err
			}
			pool := proto.Clone(want.Pool).(*runpb.WorkerPool)
			pool.Template.Revision, pool.Etag, pool.InstanceSplits = revision, live.GetEtag(), splits
			_, err = t.Client.ReplaceWorkerPool(ctx, pool)
			err = p.checkApplied(ctx, t, name, revision, err)
			if !errors.Is(err, provider.ErrAlreadyExists) {
				return err
			}
			if revision, err = p.renamePoolRevision(ctx, t, store, want, rec, revision, err); err != nil {
				return err
			}
		}
	})
	return revision, err
}

// renamePoolRevision records and returns the next generation of the revision name after Cloud Run
// refused revision.
func (p *Plugin) renamePoolRevision(ctx context.Context, t *target.Target, store metadataStore, want *app.DesiredPool, rec *poolRecord, revision string, refused error) (string, error) {
	gen := naming.Generation(revision) + 1
	if gen > naming.MaxRevisionGeneration {
		return revision, fmt.Errorf("all %d names of the new revision were refused, the last being %s, because revisions of those names exist or existed: %w; "+
			"change the revision template (for example a label under template.labels of the worker pool manifest) so that a new name is computed",
			naming.MaxRevisionGeneration, revision, refused)
	}
	next, err := naming.RevisionNameAt(want.ID, want.Commit, want.Pool.GetTemplate(), gen)
	if err != nil {
		return revision, err
	}
	rec.Revision = next
	if err := putRecord(ctx, store, t.Name, poolRecordKey(t.Name), rec); err != nil {
		return revision, err
	}
	t.Log.Infof("Cloud Run refused the revision name %s: a revision of that name exists with another template, or existed and was deleted. Naming the new revision %s instead", revision, next)
	return next, nil
}
