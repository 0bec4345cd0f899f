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
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
)

// runJob previews the deployment of a job on the deploy target cfg: what CLOUDRUN_JOB_SYNC would change,
// against the running commit when piped sends it, else against the live job, and a validate_only request of
// the change.
func (pv *preview) runJob(ctx context.Context, cfg config.DeployTargetConfig, cannot func(error) sdk.PlanPreviewResult) sdk.PlanPreviewResult {
	want, err := pv.want.DesiredJob(cfg, pv.deployment)
	if err != nil {
		return cannot(err)
	}
	id := naming.ShortName(want.GetName())
	client, err := target.Connect(ctx, pv.plugin.registry, pv.target, cfg)
	if err != nil {
		return cannot(err)
	}
	live, err := client.GetJob(ctx, want.GetName())
	if errors.Is(err, provider.ErrNotFound) {
		live = nil
	} else if err != nil {
		return cannot(err)
	}

	var cmp *diff.Comparison[*runpb.Job]
	before, after := "live job "+id, "target commit "+naming.ShortCommit(pv.want.Commit)
	switch {
	case pv.running != nil && pv.running.Job != nil:
		running, err := pv.running.DesiredJob(cfg, pv.deployment)
		if err != nil {
			return cannot(fmt.Errorf("running commit %s: %w", naming.ShortCommit(pv.running.Commit), err))
		}
		cmp = diff.CompareJobManifests(running, want)
		before = "running commit " + naming.ShortCommit(pv.running.Commit)
	case live != nil:
		cmp = diff.CompareJob(want, live)
	}

	images := strings.Join(pv.want.Images(), ", ")
	noChange := false
	switch {
	case live == nil:
		fmt.Fprintf(&pv.summary, "New job %s with image %s", id, images)
	case cmp.InSync():
		fmt.Fprintf(&pv.summary, "No change: job %s already runs this template (image %s)", id, images)
		noChange = true
	default:
		fmt.Fprintf(&pv.summary, "Job %s changes: %s", id, strings.Join(cmp.Paths(), ", "))
		if was := strings.Join(manifest.JobImages(cmp.Have), ", "); was != images {
			fmt.Fprintf(&pv.summary, " (image %s, was %s)", images, was)
		}
	}

	fmt.Fprintf(&pv.detail, "Deploy target %s: job %s in project %s, region %s\n%s\n\n", pv.target, id, cfg.Project, cfg.Region, pv.summary.String())
	switch {
	case cmp == nil:
		pv.detail.WriteString(diff.UnifiedDiff("(no job)", after, "", diff.ManifestYAML(diff.JobView(want))))
	case cmp.InSync():
		fmt.Fprintf(&pv.detail, "The manifest of the %s is the same as the %s.\n", after, before)
	default:
		pv.detail.WriteString(diff.UnifiedDiff(before, after, diff.ManifestYAML(cmp.Have), diff.ManifestYAML(cmp.Want)))
	}
	if last := live.GetLatestCreatedExecution(); last != nil {
		fmt.Fprintf(&pv.detail, "\nLast execution: %s, %s\n", last.GetName(), strings.ToLower(strings.TrimPrefix(last.GetCompletionStatus().String(), "EXECUTION_")))
	}

	pv.detail.WriteString("\nPre-flight checks:\n")
	check := want
	if live != nil {
		check.Etag = live.GetEtag()
	}
	summary := pv.summary.String()
	if err := client.ValidateJob(ctx, check, live == nil); err != nil {
		fmt.Fprintf(&pv.detail, "  %s\n", finding{level: levelError, text: "Cloud Run refuses the job (validate_only): " + err.Error()})
		summary += " (pre-flight: 1 warning(s) or error(s))"
	} else {
		fmt.Fprintf(&pv.detail, "  %s\n", finding{level: levelOK, text: "Cloud Run accepts the job (validate_only)"})
	}
	return sdk.PlanPreviewResult{DeployTarget: pv.target, Summary: summary, NoChange: noChange, Details: []byte(pv.detail.String()), DiffLanguage: "diff"}
}
