package deployment

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/stagetime"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// ownerKind names what owns the revisions under name: "worker pool" for projects/…/workerPools/…, else
// "service".
func ownerKind(name string) string {
	if strings.Contains(name, "/workerPools/") {
		return "worker pool"
	}
	return "service"
}

// rollbackPool restores a worker pool as CLOUDRUN_SYNC recorded it: its template, labels, annotations and
// scaling, and its instance split exactly (or 100% to the stage option revision), in one update that
// creates no revision. A pool this deployment created is left as it is.
func (p *Plugin) rollbackPool(ctx context.Context, t *target.Target, rec *poolRecord, opts config.RollbackStageOptions) error {
	id := naming.ShortName(rec.Pool)
	revision := opts.Revision
	var unusable error
	if revision != "" {
		if err := checkRollbackRevision(ctx, t, rec.Pool, revision); errors.Is(err, errRevisionUnusable) {
			unusable, revision = err, ""
		} else if err != nil {
			return err
		}
	}
	if rec.Created && revision == "" {
		if unusable != nil {
			return unusable
		}
		t.Log.Successf("Worker pool %s was created by this deployment (first deployment), so there is no earlier instance split to restore. "+
			"It is left as it is; delete it yourself if it must go (gcloud beta run worker-pools delete %s --region %s)", id, id, t.Config.Region)
		return nil
	}
	next := fromEntries(rec.Split)
	if revision != "" {
		next = []*runpb.TrafficTarget{traffic.Revision(revision, 100, "")}
	}
	splits, err := traffic.ToSplits(next)
	if err != nil {
		return err
	}
	var pre *runpb.WorkerPool
	if !rec.Created {
		if pre, err = rec.before(); err != nil {
			return err
		}
	}
	var before []*runpb.TrafficTarget
	var restored bool
	err = p.retryRestore(ctx, t, "worker pool "+id, func() error {
		return writeResource(ctx, p, t, "worker pool", rec.Pool, nil, t.Client.GetWorkerPool, func(live *runpb.WorkerPool) error {
			before = traffic.FromSplits(live.GetInstanceSplits())
			restored = pre != nil && live.GetTemplate().GetRevision() == rec.Revision && live.GetLabels()[provider.LabelCommitHash] == rec.CommitLabel
			if !restored {
				if traffic.Equal(before, next) {
					return nil
				}
				_, err := t.Client.UpdateInstanceSplit(ctx, rec.Pool, live.GetEtag(), splits)
				return err
			}
			pool := proto.Clone(pre).(*runpb.WorkerPool)
			pool.Name, pool.Etag, pool.InstanceSplits = rec.Pool, live.GetEtag(), splits
			got, err := t.Client.ReplaceWorkerPool(ctx, pool)
			if err != nil {
				return err
			}
			return p.waitPoolSettled(ctx, t, rec.Pool, got)
		})
	})
	if errors.Is(err, provider.ErrNotFound) {
		return fmt.Errorf("worker pool %s no longer exists, so it cannot be restored: %w", id, err)
	}
	if err != nil {
		return fmt.Errorf("%w. To finish the rollback, deploy the commit that ran before this deployment again once Cloud Run recovers, or restore the instance split by hand: %s",
			err, updateSplitCommand(id, t.Config.Region, next))
	}
	if restored {
		t.Log.Infof("Restored the worker pool as it was before the deployment: revision template %s and labels, annotations and scaling", pre.GetTemplate().GetRevision())
	}
	t.Log.Infof("Instance split of worker pool %s:\n%s", id, traffic.RenderSplit(before, next))
	if unusable != nil {
		return fmt.Errorf("%w. The worker pool was restored as it was before the deployment instead: fix the option and run the rollback again to give the instances to another revision", unusable)
	}
	if revision != "" {
		t.Log.Successf("Rolled back worker pool %s: 100%% of the instances to revision %s", id, revision)
	} else {
		t.Log.Successf("Rolled back worker pool %s: the instance split is as it was before the deployment", id)
	}
	return nil
}

// waitPoolSettled waits until Cloud Run has rolled out the update that reported got, as waitSettled does
// for a service.
func (p *Plugin) waitPoolSettled(ctx context.Context, t *target.Target, name string, got *runpb.WorkerPool) error {
	for got == nil || got.GetReconciling() {
		if err := stagetime.Sleep(ctx, p.pollInterval); err != nil {
			return fmt.Errorf("stopped waiting for worker pool %s to apply the rollback: %w", naming.ShortName(name), err)
		}
		var err error
		if got, err = t.Client.GetWorkerPool(ctx, name); err != nil {
			return err
		}
	}
	if c := got.GetTerminalCondition(); c.GetState() == runpb.Condition_CONDITION_FAILED {
		return fmt.Errorf("worker pool %s did not apply the rollback: %s", naming.ShortName(name), c.GetMessage())
	}
	return nil
}

// updateSplitCommand is the gcloud command that writes the instance split want.
func updateSplitCommand(id, region string, want []*runpb.TrafficTarget) string {
	var to []string
	for _, e := range want {
		if e.GetPercent() > 0 {
			to = append(to, fmt.Sprintf("%s=%d", e.GetRevision(), e.GetPercent()))
		}
	}
	return fmt.Sprintf("gcloud beta run worker-pools update-instance-split %s --region %s --to-revisions %s", id, region, strings.Join(to, ","))
}
