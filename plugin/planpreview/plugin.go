// Package planpreview implements the plugin's plan preview (sdk.PlanPreviewPlugin): for every deploy target,
// what a deployment of the target commit would change, and whether Cloud Run is likely to accept it.
//
// For a job (see job.go) the summary says whether the job is new or what of it changes, the details diff it
// likewise, and the pre-flight check is a validate_only request of the change.
//
// Each result has a one-line summary (new revision with its image, no new revision, or a traffic change),
// and details: a unified diff of the running service against the target manifest, followed by pre-flight
// checks. The running service is the running commit's manifest when piped sends one, and otherwise the live
// service (piped sends only the target commit). The checks are a validate_only request of the change to
// Cloud Run, the name of the new revision (length, and whether it already exists), the length of the
// preview tag, and the headroom under Cloud Run's limit of 1,000 revisions per service.
package planpreview

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/diff"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/syncplan"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

var _ sdk.PlanPreviewPlugin[config.PluginConfig, config.RawDeployTargetConfig, config.RawApplicationSpec] = (*Plugin)(nil)

// Plugin previews deployments of Cloud Run applications. Create it with NewPlugin.
type Plugin struct {
	registry *provider.Registry
}

// NewPlugin returns the plan preview plugin; it takes the Cloud Run client of each deploy target from registry,
// which the other plugins of the process share.
func NewPlugin(registry *provider.Registry) *Plugin {
	return &Plugin{registry: registry}
}

// GetPlanPreview returns one result per deploy target. A target whose config cannot be loaded or whose
// service cannot be read gets a result that says so; an invalid target commit is an error.
func (p *Plugin) GetPlanPreview(ctx context.Context, _ *config.PluginConfig, dts []*sdk.DeployTarget[config.RawDeployTargetConfig], input *sdk.GetPlanPreviewInput[config.RawApplicationSpec]) (*sdk.GetPlanPreviewResponse, error) {
	if len(dts) == 0 {
		return nil, errors.New("the application has no deploy target of the Cloud Run plugin: add one of the deploy targets of the cloudrun plugin in piped.yaml to the application")
	}
	req := input.Request
	want, err := app.Load(req.TargetDeploymentSource)
	if err != nil {
		return nil, fmt.Errorf("target commit %s: %w", naming.ShortCommit(req.TargetDeploymentSource.CommitHash), err)
	}
	var running *app.Source
	if req.RunningDeploymentSource.ApplicationConfig != nil {
		if running, err = app.Load(req.RunningDeploymentSource); err != nil {
			return nil, fmt.Errorf("running commit %s: %w", naming.ShortCommit(req.RunningDeploymentSource.CommitHash), err)
		}
	}
	resp := &sdk.GetPlanPreviewResponse{}
	for _, dt := range dts {
		pv := &preview{plugin: p, target: dt.Name, want: want, running: running, deployment: sdk.Deployment{PipedID: req.PipedID, ApplicationID: req.ApplicationID}}
		resp.Results = append(resp.Results, pv.run(ctx, dt))
	}
	return resp, nil
}

// preview is the plan preview of one deploy target.
type preview struct {
	plugin        *Plugin
	target        string
	want, running *app.Source
	// deployment is the deployment the preview stands for: the piped and application that label the service.
	deployment      sdk.Deployment
	findings        []finding
	summary, detail strings.Builder
}

func (pv *preview) run(ctx context.Context, dt *sdk.DeployTarget[config.RawDeployTargetConfig]) sdk.PlanPreviewResult {
	cannot := func(err error) sdk.PlanPreviewResult {
		return sdk.PlanPreviewResult{DeployTarget: pv.target, Summary: "Cannot preview: " + firstLine(err.Error()), Details: []byte(err.Error() + "\n"), DiffLanguage: "diff"}
	}
	cfg, err := target.Decode(dt)
	if err != nil {
		return cannot(err)
	}
	if pv.want.Job != nil {
		return pv.runJob(ctx, cfg, cannot)
	}
	if pv.want.Pool != nil {
		return pv.runPool(ctx, cfg, cannot)
	}
	want, err := pv.want.Manifest.Service(cfg.Project, cfg.Region)
	if err != nil {
		return cannot(err)
	}
	client, live, err := readLive(ctx, pv, cfg, want.GetName(), (*provider.Client).GetService)
	if err != nil {
		return cannot(err)
	}
	desired, err := pv.want.Desired(cfg, pv.deployment)
	if err != nil {
		return cannot(err)
	}
	plan, err := syncplan.Decide(syncplan.Input{Live: live, Want: desired})
	if err != nil {
		return cannot(err)
	}
	id, rev := desired.ID, plan.Revision()

	// What changes, against the running commit when known, else against the live service.
	var running func() (*runpb.Service, error)
	if pv.running != nil && pv.running.Manifest != nil {
		running = func() (*runpb.Service, error) { return pv.running.Manifest.Service(cfg.Project, cfg.Region) }
	}
	cmp, before, err := compare(pv, want, live, "live service "+id, running, diff.CompareManifests, diff.Compare)
	if err != nil {
		return cannot(err)
	}
	after := "target commit " + naming.ShortCommit(pv.want.Commit)

	newRevision := live == nil || rev != live.GetTemplate().GetRevision()
	fmt.Fprintf(&pv.detail, "Deploy target %s: service %s in project %s, region %s\n", pv.target, id, cfg.Project, cfg.Region)
	if notice := pv.want.Renamed(pv.running, cfg.Region); notice != "" {
		pv.add(levelWarn, "%s", notice)
	}
	noChange := pv.summarize(id, rev, cmp, live, newRevision, pv.previewAccess(ctx, client, want.GetName(), live))
	fmt.Fprintf(&pv.detail, "%s\n\n", pv.summary.String())
	writeChange(pv, cmp, "(no service)", before, after, diff.View(want))

	if live != nil {
		fmt.Fprintf(&pv.detail, "\nTraffic now: %s\n", traffic.DescribeShares(traffic.Serving(live)))
	}

	pv.preflight(ctx, client, plan, id, live, newRevision)
	return pv.result(noChange)
}

// summarize writes the one-line summary, with the change of public access (access, "" for none), and
// reports whether nothing changes.
func (pv *preview) summarize(id, rev string, cmp *diff.Comparison[*runpb.Service], live *runpb.Service, newRevision bool, access string) bool {
	images := strings.Join(pv.want.Manifest.Images(), ", ")
	if access != "" {
		defer pv.summary.WriteString("; " + access)
	}
	switch {
	case live == nil:
		fmt.Fprintf(&pv.summary, "New service %s with revision %s, image %s", id, rev, images)
		return false
	case newRevision:
		fmt.Fprintf(&pv.summary, "New revision %s with image %s", rev, images)
		switch was := templateImages(cmp.Have); {
		case !cmp.TemplateChanged():
			fmt.Fprintf(&pv.summary, " (same template, replaces the live revision %s)", orLatest(live))
		case was != images:
			fmt.Fprintf(&pv.summary, " (was %s)", was)
		default:
			fmt.Fprintf(&pv.summary, " (same image; changes %s)", strings.Join(templatePaths(cmp), ", "))
		}
		if other := servicePaths(cmp); len(other) > 0 {
			fmt.Fprintf(&pv.summary, "; service settings change: %s", strings.Join(other, ", "))
		}
		return false
	}
	pv.summary.WriteString("No new revision")
	changed := false
	if paths := servicePaths(cmp); len(paths) > 0 {
		fmt.Fprintf(&pv.summary, "; service settings change: %s", strings.Join(paths, ", "))
		changed = true
	}
	if percent := traffic.ShareOf(traffic.Serving(live), rev); percent != 100 {
		fmt.Fprintf(&pv.summary, "; traffic change: revision %s from %d%% to 100%%", rev, percent)
		changed = true
	}
	if !changed && access == "" {
		fmt.Fprintf(&pv.summary, ": no change, service %s already runs revision %s", id, rev)
	}
	return !changed && access == ""
}

// orLatest returns the live template's revision name, or the latest created revision when the template
// names none.
func orLatest(live *runpb.Service) string {
	if rev := live.GetTemplate().GetRevision(); rev != "" {
		return rev
	}
	return naming.ShortName(live.GetLatestCreatedRevision())
}

func templateImages(svc *runpb.Service) string {
	var images []string
	for _, c := range svc.GetTemplate().GetContainers() {
		images = append(images, c.GetImage())
	}
	return strings.Join(images, ", ")
}

func templatePaths(cmp *diff.Comparison[*runpb.Service]) []string {
	var out []string
	for _, p := range cmp.Paths() {
		if strings.HasPrefix(p, "template.") || p == "template" {
			out = append(out, p)
		}
	}
	return out
}

func servicePaths(cmp *diff.Comparison[*runpb.Service]) []string {
	var out []string
	for _, p := range cmp.Paths() {
		if !strings.HasPrefix(p, "template.") && p != "template" {
			out = append(out, p)
		}
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
