package deployment

import (
	"context"
	"fmt"
	"strings"
	"time"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
	"github.com/pipecd-cloudrun/cloudrun/plugin/verify"
)

// maxFailuresListed bounds the failed requests named in the stage's error.
const maxFailuresListed = 5

// executeVerify runs CLOUDRUN_VERIFY: on every deploy target, send the stage's requests to the tag URL of
// the revision this deployment created (CLOUDRUN_SYNC {tag: true}), and fail when an answer is not as
// expected. It changes nothing on Cloud Run, so a failure leaves the service as SYNC left it, at 0%.
func (p *Plugin) executeVerify(ctx context.Context, lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[config.RawApplicationSpec], dts []*sdk.DeployTarget[config.RawDeployTargetConfig]) sdk.StageStatus {
	opts, err := config.DecodeVerifyStageOptions(input.Request.StageConfig)
	if err != nil {
		logInvalidOptions(lp, input, err)
		return sdk.StageStatusFailure
	}
	store := p.metadata(input.Client)
	return target.ForEach(ctx, p.registry, lp, dts, func(ctx context.Context, t *target.Target) error {
		return verifyTarget(ctx, t, store, opts)
	})
}

func verifyTarget(ctx context.Context, t *target.Target, store metadataStore, opts config.VerifyStageOptions) error {
	rec, found, err := loadSyncRecord(ctx, store, t.Name)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%s did not run for deploy target %s in this deployment, so there is no new revision to verify: put %s after %s {tag: true}",
			StageCloudRunSync, t.Name, StageCloudRunVerify, StageCloudRunSync)
	}
	if rec.PreviewTag == "" {
		return fmt.Errorf("revision %s has no tag URL to verify: set `tag: true` in the options of %s", rec.Revision, StageCloudRunSync)
	}
	svc, err := t.Client.GetService(ctx, rec.Service)
	if err != nil {
		return err
	}
	url := previewURL(svc, rec.PreviewTag)
	if url == "" {
		return fmt.Errorf("service %s has no URL for tag %s of revision %s (the tag was removed since %s ran?): run the deployment again",
			naming.ShortName(rec.Service), rec.PreviewTag, rec.Revision, StageCloudRunSync)
	}
	client, err := t.Client.Invoker(ctx, url)
	if err != nil {
		return err
	}
	how := fmt.Sprintf("%d requests one after the other", opts.Requests)
	if opts.Rate > 0 {
		how = fmt.Sprintf("%g requests a second for %s (%d requests)", opts.Rate, opts.Duration, opts.Total())
	}
	t.Log.Infof("Verifying revision %s at its tag URL: %s %s%s, %s; expecting status %s%s",
		rec.Revision, opts.Method, strings.TrimSuffix(url, "/"), opts.Path, how, strings.Join(opts.Expect.Status, " or "), describeExpectations(opts.Expect))
	started := time.Now()
	report, err := verify.Run(ctx, client, url, opts)
	if err != nil {
		return fmt.Errorf("the verification of revision %s stopped: %w", rec.Revision, err)
	}
	failed := report.Failed()
	t.Log.Infof("%d of %d requests answered as expected in %s; p99 latency %s",
		len(report.Answers)-len(failed), len(report.Answers), time.Since(started).Round(time.Millisecond), report.P99.Round(time.Millisecond))
	if report.Passed() {
		t.Log.Successf("Revision %s passed the verification; no traffic was moved", rec.Revision)
		return nil
	}
	var lines []string
	for i, a := range failed {
		if i == maxFailuresListed {
			lines = append(lines, fmt.Sprintf("and %d more", len(failed)-maxFailuresListed))
			break
		}
		lines = append(lines, fmt.Sprintf("request %d/%d %s %s: %s", a.Number, len(report.Answers), report.Method, report.URL, strings.Join(a.Problems, "; ")))
	}
	if report.LatencyProblem != "" {
		lines = append(lines, report.LatencyProblem)
	}
	summary := fmt.Sprintf("%d of %d requests", len(failed), len(report.Answers))
	if len(failed) == 0 {
		summary = "the latency"
	}
	when := "before any traffic moved to it"
	if rec.Created {
		when = "on the service this deployment created"
	}
	return fmt.Errorf("revision %s failed the verification at its tag URL (%s not as expected), %s:\n  - %s",
		rec.Revision, summary, when, strings.Join(lines, "\n  - "))
}

// describeExpectations lists the body and latency checks, for the stage log.
func describeExpectations(e config.VerifyExpectations) string {
	var parts []string
	if e.BodyContains != "" {
		parts = append(parts, fmt.Sprintf("a body containing %q", e.BodyContains))
	}
	if e.BodyRegex != nil {
		parts = append(parts, fmt.Sprintf("a body matching %q", e.BodyRegex))
	}
	for _, j := range e.JSON {
		parts = append(parts, fmt.Sprintf("%s at %q", j.Equals, j.Path))
	}
	if e.LatencyP99 != nil {
		parts = append(parts, "p99 latency <= "+e.LatencyP99.String())
	}
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}
