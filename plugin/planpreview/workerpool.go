package planpreview

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/diff"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
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
	client, err := target.Connect(ctx, pv.plugin.registry, pv.target, cfg)
	if err != nil {
		return cannot(err)
	}
	live, err := client.GetWorkerPool(ctx, want.GetName())
	if errors.Is(err, provider.ErrNotFound) {
		live = nil
	} else if err != nil {
		return cannot(err)
	}

	var cmp *diff.Comparison[*runpb.WorkerPool]
	before, after := "live worker pool "+id, "target commit "+naming.ShortCommit(pv.want.Commit)
	switch {
	case pv.running != nil && pv.running.Pool != nil:
		running, err := pv.running.DesiredPool(cfg, pv.deployment)
		if err != nil {
			return cannot(fmt.Errorf("running commit %s: %w", naming.ShortCommit(pv.running.Commit), err))
		}
		cmp = diff.ComparePoolManifests(running.Pool, want)
		before = "running commit " + naming.ShortCommit(pv.running.Commit)
	case live != nil:
		cmp = diff.ComparePool(want, live)
	}

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
	switch {
	case cmp == nil:
		pv.detail.WriteString(diff.UnifiedDiff("(no worker pool)", after, "", diff.ManifestYAML(diff.PoolView(want))))
	case cmp.InSync():
		fmt.Fprintf(&pv.detail, "The manifest of the %s is the same as the %s.\n", after, before)
	default:
		pv.detail.WriteString(diff.UnifiedDiff(before, after, diff.ManifestYAML(cmp.Have), diff.ManifestYAML(cmp.Want)))
	}

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
	pv.detail.WriteString("\nPre-flight checks:\n")
	summary := pv.summary.String()
	if err := client.ValidateWorkerPool(ctx, check, live == nil); err != nil {
		fmt.Fprintf(&pv.detail, "  %s\n", finding{level: levelError, text: "Cloud Run refuses the worker pool (validate_only): " + err.Error()})
		summary += " (pre-flight: 1 warning(s) or error(s))"
	} else {
		fmt.Fprintf(&pv.detail, "  %s\n", finding{level: levelOK, text: "Cloud Run accepts the worker pool (validate_only)"})
	}
	return sdk.PlanPreviewResult{DeployTarget: pv.target, Summary: summary, NoChange: noChange, Details: []byte(pv.detail.String()), DiffLanguage: "diff"}
}
