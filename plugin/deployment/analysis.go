package deployment

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/analysis"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/stagetime"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
)

// executeAnalysis judges the revision this deployment created on Cloud Monitoring, on every deploy target
// concurrently: one check per interval of the duration, each over its own window and read once the
// ingestion delay has passed. A failure beyond the failure limit on one target fails the stage at once
// (and stops the others), so that piped's automatic rollback runs CLOUDRUN_ROLLBACK.
func (p *Plugin) executeAnalysis(ctx context.Context, lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[config.RawApplicationSpec], dts []*sdk.DeployTarget[config.RawDeployTargetConfig]) sdk.StageStatus {
	opts, err := config.DecodeAnalysisStageOptions(input.Request.StageConfig)
	if err != nil {
		logInvalidOptions(lp, input, err)
		return sdk.StageStatusFailure
	}
	store := p.metadata(input.Client)
	display := &verdictDisplay{store: store, verdicts: map[string]string{}}
	start := time.Now()
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	return target.ForEach(ctx, p.registry, lp, dts, func(ctx context.Context, t *target.Target) error {
		err := p.analyseTarget(ctx, t, store, opts, start, display)
		if err != nil {
			stop(target.Stopped{Reason: fmt.Sprintf("the analysis of deploy target %s failed", t.Name)})
		}
		return err
	})
}

func (p *Plugin) analyseTarget(ctx context.Context, t *target.Target, store metadataStore, opts config.AnalysisStageOptions, start time.Time, display *verdictDisplay) error {
	rec, found, err := loadSyncRecord(ctx, store, t.Name)
	if err != nil {
		return err
	}
	if pool, isPool, err := loadPoolRecord(ctx, store, t.Name); err != nil || isPool {
		if err != nil {
			return err
		}
		if err := poolThresholds(opts); err != nil {
			return fmt.Errorf("invalid options of %s: %w", StageCloudRunAnalysis, err)
		}
		rec, found = &syncRecord{Service: pool.Pool, Revision: pool.Revision, Created: pool.Created, Traffic: pool.Split}, true
	}
	if !found {
		return fmt.Errorf("%s did not run for deploy target %s in this deployment, so there is no new revision to analyse: put %s after %s (and %s)",
			StageCloudRunSync, t.Name, StageCloudRunAnalysis, StageCloudRunSync, StageCloudRunPromote)
	}
	subject := analysis.Subject{
		Project: t.Config.Project, Location: t.Config.Region, Service: naming.ShortName(rec.Service),
		New: rec.Revision, Baseline: baselineRevisions(rec),
	}
	logAnalysisPlan(t, opts, subject)
	var tally analysis.Tally
	var inconclusions analysis.Inconclusions
	checks := opts.Checks()
	first := start.Add(opts.InitialDelay)
	for n := 1; n <= checks; n++ {
		from := first.Add(time.Duration(n-1) * opts.Interval)
		to := from.Add(opts.Interval)
		if err := stagetime.Sleep(ctx, time.Until(to.Add(opts.IngestionDelay))); err != nil {
			return fmt.Errorf("the analysis stopped before check %d/%d: %w", n, checks, err)
		}
		w, err := readWindow(ctx, t, opts, subject, from, to)
		if ctx.Err() != nil {
			return fmt.Errorf("the analysis stopped at check %d/%d: %w", n, checks, context.Cause(ctx))
		}
		if err != nil && !passingError(err) {
			return fmt.Errorf("check %d/%d cannot read Cloud Monitoring: %w", n, checks, err)
		}
		if err != nil {
			tally.AddError()
			if tally.ErroredBeyond(opts.ConsecutiveErrorLimit) {
				return fmt.Errorf("check %d/%d cannot read Cloud Monitoring, %d checks in a row (consecutiveErrorLimit %d): %w",
					n, checks, tally.ConsecutiveErrors, opts.ConsecutiveErrorLimit, err)
			}
			t.Log.Infof("Check %d/%d cannot read Cloud Monitoring (%d in a row, %d tolerated by consecutiveErrorLimit); it is skipped: %v",
				n, checks, tally.ConsecutiveErrors, opts.ConsecutiveErrorLimit, err)
			display.set(ctx, t, fmt.Sprintf("check %d/%d ERROR", n, checks))
			continue
		}
		c := analysis.Judge(opts, n, w)
		tally.Add(c.Verdict)
		inconclusions.Add(c)
		t.Log.Info(analysis.Render(opts, subject, c))
		if dry := c.Failures(true); dry != "" {
			t.Log.Infof("Dry-run thresholds failed at check %d/%d (not failing the stage): %s", n, checks, dry)
		}
		display.set(ctx, t, fmt.Sprintf("check %d/%d %s", n, checks, c.Verdict))
		if tally.FailedBeyond(opts.FailureLimit) {
			return fmt.Errorf("revision %s failed the analysis at check %d/%d (%s; failureLimit %d): %s",
				subject.New, n, checks, tally, opts.FailureLimit, c.Failures(false))
		}
	}
	// A failure beyond the limit has returned above: the outcome is Pass or Inconclusive.
	outcome := tally.Outcome(opts)
	switch {
	case !tally.Judged() && !opts.PassInconclusive:
		return fmt.Errorf("the analysis of revision %s is inconclusive (%s): no check could read Cloud Monitoring; to pass an inconclusive analysis, set onInconclusive: pass", subject.New, tally)
	case !tally.Judged():
		t.Log.Successf("The analysis of revision %s is inconclusive (%s): no check could read Cloud Monitoring; it passes because onInconclusive is pass", subject.New, tally)
	case outcome == analysis.Inconclusive && !opts.PassInconclusive:
		return fmt.Errorf("the analysis of revision %s is inconclusive (%s): %s; to pass an inconclusive analysis, set onInconclusive: pass",
			subject.New, tally, inconclusiveReasons(ctx, t, rec.Service, subject.New, inconclusions.Reasons(opts)))
	case outcome == analysis.Inconclusive:
		t.Log.Successf("The analysis of revision %s is inconclusive (%s): %s; it passes because onInconclusive is pass",
			subject.New, tally, inconclusiveReasons(ctx, t, rec.Service, subject.New, inconclusions.Reasons(opts)))
	default:
		t.Log.Successf("Revision %s passed the analysis: %d checks, %s", subject.New, checks, tally)
		if tally.Inconclusive > 0 {
			t.Log.Infof("%d inconclusive checks are within inconclusiveLimit %d: %s", tally.Inconclusive, opts.InconclusiveLimit,
				inconclusiveReasons(ctx, t, rec.Service, subject.New, inconclusions.Reasons(opts)))
		}
	}
	display.set(ctx, t, fmt.Sprintf("%s (%s)", outcome, tally))
	return nil
}

// passingError reports whether a Cloud Monitoring error may pass by itself (unavailable, rate limited,
// internal), so that it counts towards consecutiveErrorLimit. Any other error (permission denied, a bad
// filter or query, a wrong project) fails the stage at once: asking again cannot mend it.
func passingError(err error) bool {
	return errors.Is(err, provider.ErrTransient) || errors.Is(err, provider.ErrInternal)
}

// baselineRevisions are the revisions that served traffic before the deployment, other than the new one.
func baselineRevisions(rec *syncRecord) []string {
	var out []string
	if rec.Created {
		return nil
	}
	for _, e := range rec.Traffic {
		if e.Percent > 0 && e.Revision != "" && e.Revision != rec.Revision && !slices.Contains(out, e.Revision) {
			out = append(out, e.Revision)
		}
	}
	return out
}

func logAnalysisPlan(t *target.Target, opts config.AnalysisStageOptions, s analysis.Subject) {
	baseline := "no baseline (no other revision served before this deployment): thresholds relative to the baseline are not judged"
	if len(s.Baseline) > 0 {
		baseline = "baseline " + strings.Join(s.Baseline, ", ")
	}
	t.Log.Infof("Analysing revision %s of service %s in %s against %s: %d checks of %s, each read %s after its window (ingestionDelay); %d failed checks tolerated, at least %d requests per check",
		s.New, s.Service, s.Location, baseline, opts.Checks(), opts.Interval, opts.IngestionDelay, opts.FailureLimit, opts.MinRequests)
	if opts.InitialDelay > 0 {
		t.Log.Infof("The first window starts after initialDelay %s", opts.InitialDelay)
	}
	if t.Config.Endpoint == "" && opts.Interval < time.Minute {
		t.Log.Infof("Cloud Run writes its metrics once a minute: checks shorter than 1m may find no point and be inconclusive")
	}
}

// readWindow reads the time series of one check: one call per metric type, for every revision at once.
func readWindow(ctx context.Context, t *target.Target, opts config.AnalysisStageOptions, s analysis.Subject, from, to time.Time) (analysis.Window, error) {
	counts, latencies := analysis.Queries(opts)
	samples := analysis.Samples{}
	if counts {
		series, err := t.Client.ListTimeSeries(ctx, s.Project, s.Filter(analysis.RequestCount), from, to)
		if err != nil {
			return analysis.Window{}, err
		}
		samples.AddRequestCounts(series)
	}
	if latencies {
		series, err := t.Client.ListTimeSeries(ctx, s.Project, s.Filter(analysis.RequestLatencies), from, to)
		if err != nil {
			return analysis.Window{}, err
		}
		samples.AddLatencies(series, counts)
	}
	custom := make([]analysis.CustomValue, len(opts.Metrics))
	for i, m := range opts.Metrics {
		if m.PromQL != nil {
			samples, err := t.Client.QueryPromQL(ctx, s.Project, s.PromQLQuery(m.PromQL, to.Sub(from)), to)
			if err != nil {
				return analysis.Window{}, err
			}
			if len(samples) > 0 {
				custom[i] = analysis.CustomValue{Value: samples[0].Value, Points: len(samples)}
			}
			continue
		}
		if m.Custom == nil {
			continue
		}
		series, err := t.Client.ListTimeSeries(ctx, s.Project, m.Custom.Filter, from, to)
		if err != nil {
			return analysis.Window{}, err
		}
		custom[i] = analysis.Reduce(series, m.Custom.Reduce)
	}
	return analysis.NewWindow(s, from, to, samples, custom), nil
}

// verdictDisplay keeps the latest verdict of every deploy target in the stage metadata the PipeCD UI shows.
type verdictDisplay struct {
	store    metadataStore
	mu       sync.Mutex
	verdicts map[string]string
}

func (d *verdictDisplay) set(ctx context.Context, t *target.Target, verdict string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.verdicts[t.Name] = verdict
	parts := make([]string, 0, len(d.verdicts))
	for _, name := range slices.Sorted(maps.Keys(d.verdicts)) {
		parts = append(parts, name+": "+d.verdicts[name])
	}
	text := "Analysis: " + verdict
	if len(parts) > 1 {
		text = "Analysis: " + strings.Join(parts, "; ")
	}
	// A cancelled stage (by piped, or by the analysis itself when another target failed) is not news here.
	if err := d.store.PutStageMetadata(ctx, sdk.MetadataKeyStageDisplay, text); err != nil && ctx.Err() == nil {
		t.Log.Infof("Could not show the verdict in the PipeCD UI: %v", err)
	}
}
