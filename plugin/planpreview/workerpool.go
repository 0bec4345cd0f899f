package planpreview

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/diff"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// runPool previews the deployment of a worker pool on the deploy target cfg: what CLOUDRUN_SYNC would
// change, against the running commit when piped sends it, else against the live pool, its instance split
// now, and a validate_only request of the new template with the split pinned (the new revision at 0%).
func (pv *preview) runPool(ctx context.Context, cfg config.DeployTargetConfig, cannot func(error) sdk.PlanPreviewResult) sdk.PlanPreviewResult {
	desired, err := pv.want.DesiredPool(cfg, pv.deployment)
	if err != nil {
		return cannot(err)
	}
	want, id := desired.Pool, desired.ID
	client, live, err := readLive(ctx, pv, cfg, want.GetName(), (*provider.Client).GetWorkerPool)
	if err != nil {
		return cannot(err)
	}

	var running func() (*runpb.WorkerPool, error)
	if pv.running != nil && pv.running.Pool != nil {
		running = func() (*runpb.WorkerPool, error) {
			d, err := pv.running.DesiredPool(cfg, pv.deployment)
			if err != nil {
				return nil, err
			}
			return d.Pool, nil
		}
	}
	cmp, before, err := compare(pv, want, live, "live worker pool "+id, running, diff.ComparePoolManifests, diff.ComparePool)
	if err != nil {
		return cannot(err)
	}
	after := "target commit " + naming.ShortCommit(pv.want.Commit)

	images := strings.Join(pv.want.Images(), ", ")
	noChange := false
	switch {
	case live == nil:
		fmt.Fprintf(&pv.summary, "New worker pool %s with revision %s (image %s), 100%% of the instances", id, desired.Revision, images)
	case cmp.InSync() && live.GetTemplate().GetRevision() == desired.Revision:
		fmt.Fprintf(&pv.summary, "No change: worker pool %s already runs revision %s (image %s)", id, desired.Revision, images)
		noChange = true
	default:
		fmt.Fprintf(&pv.summary, "Worker pool %s: new revision %s (image %s)", id, desired.Revision, images)
		if !cmp.InSync() {
			fmt.Fprintf(&pv.summary, "; changes: %s", strings.Join(cmp.Paths(), ", "))
		}
	}
	fmt.Fprintf(&pv.detail, "Deploy target %s: worker pool %s in project %s, region %s\n%s\n\n", pv.target, id, cfg.Project, cfg.Region, pv.summary.String())
	writeChange(pv, cmp, "(no worker pool)", before, after, diff.PoolView(want))

	check := want
	split := []*runpb.TrafficTarget{traffic.Revision(desired.Revision, 100, "")}
	if live != nil && live.GetLatestReadyRevision() != "" {
		cur, err := traffic.LivePool(live)
		if err != nil {
			return cannot(err)
		}
		fmt.Fprintf(&pv.detail, "\nInstance split now:\n%s", traffic.SplitTable(cur))
		if split, err = traffic.KeepExisting(cur, desired.Revision, ""); err != nil {
			return cannot(err)
		}
		check.Etag = live.GetEtag()
	}
	if check.InstanceSplits, err = traffic.ToSplits(split); err != nil {
		return cannot(err)
	}
	pv.validated("worker pool", client.ValidateWorkerPool(ctx, check, live == nil))
	return pv.result(noChange)
}
