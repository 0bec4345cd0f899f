package planpreview

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/diff"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
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
	client, live, err := readLive(ctx, pv, cfg, want.GetName(), (*provider.Client).GetJob)
	if err != nil {
		return cannot(err)
	}

	var running func() (*runpb.Job, error)
	if pv.running != nil && pv.running.Job != nil {
		running = func() (*runpb.Job, error) { return pv.running.DesiredJob(cfg, pv.deployment) }
	}
	cmp, before, err := compare(pv, want, live, "live job "+id, running, diff.CompareJobManifests, diff.CompareJob)
	if err != nil {
		return cannot(err)
	}
	after := "target commit " + naming.ShortCommit(pv.want.Commit)

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
	writeChange(pv, cmp, "(no job)", before, after, diff.JobView(want))
	if last := live.GetLatestCreatedExecution(); last != nil {
		fmt.Fprintf(&pv.detail, "\nLast execution: %s, %s\n", last.GetName(), strings.ToLower(strings.TrimPrefix(last.GetCompletionStatus().String(), "EXECUTION_")))
	}

	check := want
	if live != nil {
		check.Etag = live.GetEtag()
	}
	pv.validated("job", client.ValidateJob(ctx, check, live == nil))
	return pv.result(noChange)
}
