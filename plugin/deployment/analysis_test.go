package deployment

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/analysis"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
)

// analysisOptions are short checks over fakerun's per-second points: 2 checks of 1s, read at once.
const analysisOptions = `{"duration": "2s", "interval": "1s", "ingestionDelay": "0s", "minRequests": 5,
  "metrics": [{"errorRate": {"max": "5%", "maxIncrease": "2%"}}, {"latency": {"percentile": 99, "max": "500ms"}}]}`

// canaryAt10 deploys v1 with all the traffic, then v2 of image at 10%, and sends load to the service
// URL for the given time (none when 0), returning once the load is under way. It returns the new and the
// old revision.
func canaryAt10(t *testing.T, f *fakerun.Server, e *env, image string, load time.Duration) (revNew, revOld string) {
	t.Helper()
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revOld = e.revisionFor()
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())

	e.deploy("2222222bbbb", canaryApp, serviceYAML(image))
	revNew = e.revisionFor()
	status, log = e.run(StageCloudRunSync, canarySync, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	status, log = e.run(StageCloudRunPromote, `{"percent": 10}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	if load > 0 {
		startLoad(t, f, load)
	}
	return revNew, revOld
}

// startLoad sends 300 requests a second to the service for d and waits until the first 100 are sent, so
// that the windows of an analysis started next are full.
func startLoad(t *testing.T, f *fakerun.Server, d time.Duration) {
	t.Helper()
	svc, err := f.Service(serviceName())
	require.NoError(t, err)
	id, err := f.StartLoad(fakerun.Load{URL: svc.GetUri(), Rate: 300, Duration: d})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		for _, l := range f.Loads() {
			if l.ID == id {
				return l.Sent >= 100
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
}

func TestAnalysis_HealthyCanaryPasses(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revNew, revOld := canaryAt10(t, f, e, "gcr.io/p/web:v2", 5*time.Second)

	f.ResetCalls()
	started := time.Now()
	status, log := e.run(StageCloudRunAnalysis, analysisOptions, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.GreaterOrEqual(t, time.Since(started), 2*time.Second, "the analysis watches for its whole duration")
	assert.Contains(t, log.String(), "Check 1/2")
	assert.Contains(t, log.String(), "Check 2/2")
	assert.Regexp(t, revNew+` +new +\d+ +0\.00%`, log.String())
	assert.Regexp(t, revOld+` +baseline +\d+ +0\.00%`, log.String())
	assert.Contains(t, log.String(), "Revision "+revNew+" passed the analysis: 2 checks, 2 passed, 0 failed, 0 inconclusive")
	assert.NotContains(t, log.String(), "inconclusive checks are within inconclusiveLimit", "no inconclusive check to explain")
	assert.NotContains(t, log.String(), "initialDelay 0s", "no initial delay to announce")
	assert.Equal(t, "Analysis: PASS (2 passed, 0 failed, 0 inconclusive)", e.store.stage[sdk.MetadataKeyStageDisplay])
	// One query per metric type and check: request_count and request_latencies.
	assert.Equal(t, map[string]int{"ListTimeSeries": 4}, callCounts(f))
	// Each check reads its own interval, and the two checks cover the duration from the stage start without
	// a gap or an overlap.
	windows := queriedWindows(f)
	require.Len(t, windows, 4)
	assert.Equal(t, windows[0], windows[1], "both metric types of check 1 read one window")
	assert.Equal(t, windows[2], windows[3], "both metric types of check 2 read one window")
	first, second := windows[0], windows[2]
	assert.WithinDuration(t, started, first[0], 500*time.Millisecond, "check 1 starts at the stage start")
	assert.Equal(t, time.Second, first[1].Sub(first[0]), "check 1 covers one interval")
	assert.Equal(t, first[1], second[0], "check 2 starts where check 1 ends")
	assert.Equal(t, time.Second, second[1].Sub(second[0]), "check 2 covers one interval")
}

// queriedWindows returns the [start, end) interval of every ListTimeSeries call, in call order.
func queriedWindows(f *fakerun.Server) [][2]time.Time {
	var out [][2]time.Time
	for _, c := range f.Calls() {
		if req, ok := c.Request.(*monitoringpb.ListTimeSeriesRequest); ok {
			out = append(out, [2]time.Time{req.GetInterval().GetStartTime().AsTime(), req.GetInterval().GetEndTime().AsTime()})
		}
	}
	return out
}

func TestAnalysis_BadCanaryFailsAtTheFirstCheck(t *testing.T) {
	t.Parallel()
	f := newFake(t, fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		"gcr.io/p/web:bad": {ErrorRate: 0.5, ErrorCode: 503},
	}}))
	e := newEnv(t, f)
	revNew, revOld := canaryAt10(t, f, e, "gcr.io/p/web:bad", 5*time.Second)

	status, log := e.run(StageCloudRunAnalysis, analysisOptions, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "Check 1/2")
	assert.NotContains(t, log.String(), "Check 2/2", "the stage fails at the first failed check")
	assert.Regexp(t, `ERROR revision `+revNew+` failed the analysis at check 1/2 \(0 passed, 1 failed, 0 inconclusive; failureLimit 0\): errorRate \d+\.\d\d%, allowed <= 5\.00% \(\d+ of \d+ requests answered 5xx\)`, log.String())
	assert.Equal(t, "Analysis: check 1/2 FAIL", e.store.stage[sdk.MetadataKeyStageDisplay])

	// The rollback that piped runs next restores the traffic from before the deployment.
	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revOld + ":100"}, trafficOf(t, f))
}

func TestAnalysis_TooFewRequestsIsInconclusive(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revNew, revOld := canaryAt10(t, f, e, "gcr.io/p/web:v2", 0)

	opts := `{"duration": "1s", "interval": "1s", "ingestionDelay": "0s", "metrics": [{"errorRate": {"max": "1%"}}]`
	status, log := e.run(StageCloudRunAnalysis, opts+"}", nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "0 requests to the new revision, fewer than minRequests 100")
	assert.Equal(t, "the analysis of revision "+revNew+" is inconclusive (0 passed, 0 failed, 1 inconclusive): the new revision served 0 requests in check 1/1; "+
		"it gets 10% of the traffic now ("+revOld+" 90%, "+revNew+" 10% (tag preview-2222222)): send service web traffic during the analysis; "+
		"to pass an inconclusive analysis, set onInconclusive: pass", log.firstError())

	status, log = e.run(StageCloudRunAnalysis, opts+`, "onInconclusive": "pass"}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "SUCCESS The analysis of revision "+revNew+" is inconclusive (0 passed, 0 failed, 1 inconclusive): the new revision served 0 requests in check 1/1; "+
		"it gets 10% of the traffic now ("+revOld+" 90%, "+revNew+" 10% (tag preview-2222222)): send service web traffic during the analysis; it passes because onInconclusive is pass")
}

func TestAnalysis_TrafficMovedAwayIsNamedAsTheInconclusiveCause(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revNew, revOld := canaryAt10(t, f, e, "gcr.io/p/web:v2", 0)
	status, log := e.run(StageCloudRunPromote, `{"percent": 0}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	startLoad(t, f, 5*time.Second)

	status, log = e.run(StageCloudRunAnalysis, `{"duration": "1s", "interval": "1s", "ingestionDelay": "0s", "minRequests": 5, "metrics": [{"errorRate": {"max": "1%"}}]}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Equal(t, "the analysis of revision "+revNew+" is inconclusive (0 passed, 0 failed, 1 inconclusive): the new revision served 0 requests in check 1/1; "+
		"it gets 0% of the traffic now ("+revOld+" 100%, "+revNew+" 0% (tag preview-2222222)): the traffic was moved away from it; "+
		"to pass an inconclusive analysis, set onInconclusive: pass", log.firstError())
	assert.NotContains(t, log.String(), "lower minRequests")
}

func TestAnalysis_CustomFilterMatchingNothingIsNamedAsTheInconclusiveCause(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revNew, _ := canaryAt10(t, f, e, "gcr.io/p/web:v2", 5*time.Second)

	status, log := e.run(StageCloudRunAnalysis, `{"duration": "1s", "interval": "1s", "ingestionDelay": "0s", "minRequests": 5,
	  "metrics": [{"errorRate": {"max": "5%"}}, {"custom": {"filter": "metric.type = \"custom.googleapis.com/nothing\"", "max": 0}}]}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Equal(t, "the analysis of revision "+revNew+` is inconclusive (0 passed, 0 failed, 1 inconclusive): the custom filter metric.type = "custom.googleapis.com/nothing" matched no time series in check 1/1: `+
		"check its metric.type and labels, and that something writes the metric; to pass an inconclusive analysis, set onInconclusive: pass", log.firstError())
	assert.NotContains(t, log.String(), "lower minRequests")
}

func TestAnalysis_MonitoringUnavailableIsRetriedThenFails(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	canaryAt10(t, f, e, "gcr.io/p/web:v2", 0)

	f.InjectFault("ListTimeSeries", fakerun.Fault{Code: codes.Unavailable, Times: 1})
	status, log := e.run(StageCloudRunAnalysis, `{"duration": "1s", "interval": "1s", "ingestionDelay": "0s", "minRequests": 0, "metrics": [{"errorRate": {"max": "1%"}}], "onInconclusive": "pass"}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "Cloud Monitoring answered unavailable to list the time series of proj; retrying")

	f.InjectFault("ListTimeSeries", fakerun.Fault{Code: codes.Unavailable})
	status, log = e.run(StageCloudRunAnalysis, `{"duration": "1s", "interval": "1s", "ingestionDelay": "0s", "metrics": [{"errorRate": {"max": "1%"}}]}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "Check 1/1 cannot read Cloud Monitoring (1 in a row, 4 tolerated by consecutiveErrorLimit); it is skipped: failed to list the time series of projects/proj: unavailable")
	assert.Contains(t, log.String(), "is inconclusive (0 passed, 0 failed, 0 inconclusive, 1 without data (Cloud Monitoring errors)): no check could read Cloud Monitoring; to pass an inconclusive analysis, set onInconclusive: pass")
}

func TestAnalysis_MonitoringErrorsWithinTheLimitSkipTheCheck(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revNew, _ := canaryAt10(t, f, e, "gcr.io/p/web:v2", 5*time.Second)

	// The plugin tries a call 4 times in these tests: check 1 cannot read its data, check 2 can.
	f.InjectFault("ListTimeSeries", fakerun.Fault{Code: codes.Unavailable, Times: 4})
	status, log := e.run(StageCloudRunAnalysis, `{"duration": "2s", "interval": "1s", "ingestionDelay": "0s", "minRequests": 5, "metrics": [{"errorRate": {"max": "5%"}}]}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "Check 1/2 cannot read Cloud Monitoring (1 in a row, 4 tolerated by consecutiveErrorLimit); it is skipped")
	assert.Contains(t, log.String(), "Check 2/2 (window")
	assert.Contains(t, log.String(), "Revision "+revNew+" passed the analysis: 2 checks, 1 passed, 0 failed, 0 inconclusive, 1 without data (Cloud Monitoring errors)")
}

func TestAnalysis_MonitoringErrorsBeyondTheLimitFail(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	canaryAt10(t, f, e, "gcr.io/p/web:v2", 0)

	f.InjectFault("ListTimeSeries", fakerun.Fault{Code: codes.Unavailable})
	status, log := e.run(StageCloudRunAnalysis, `{"duration": "3s", "interval": "1s", "ingestionDelay": "0s", "consecutiveErrorLimit": 1, "metrics": [{"errorRate": {"max": "1%"}}]}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "ERROR check 2/3 cannot read Cloud Monitoring, 2 checks in a row (consecutiveErrorLimit 1): failed to list the time series of projects/proj: unavailable")
	assert.NotContains(t, log.String(), "check 3/3")

	// An error that asking again cannot mend fails at once, whatever the limit.
	f.ClearFaults()
	f.InjectFault("ListTimeSeries", fakerun.Fault{Code: codes.PermissionDenied})
	status, log = e.run(StageCloudRunAnalysis, `{"duration": "3s", "interval": "1s", "ingestionDelay": "0s", "consecutiveErrorLimit": 5, "metrics": [{"errorRate": {"max": "1%"}}]}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "ERROR check 1/3 cannot read Cloud Monitoring: failed to list the time series of projects/proj: permission denied")
}

func TestAnalysis_DryRunThresholdNeverFailsTheStage(t *testing.T) {
	t.Parallel()
	f := newFake(t, fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		"gcr.io/p/web:bad": {ErrorRate: 0.5, ErrorCode: 503},
	}}))
	e := newEnv(t, f)
	revNew, _ := canaryAt10(t, f, e, "gcr.io/p/web:bad", 5*time.Second)

	status, log := e.run(StageCloudRunAnalysis, `{"duration": "2s", "interval": "1s", "ingestionDelay": "0s", "minRequests": 5,
	  "metrics": [{"errorRate": {"max": "5%", "dryRun": true}}, {"latency": {"max": "500ms"}}]}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Regexp(t, `errorRate +\d+\.\d\d% +<= 5\.00% +FAIL \(dry run\)`, log.String())
	assert.Regexp(t, `Dry-run thresholds failed at check 1/2 \(not failing the stage\): errorRate \d+\.\d\d%, allowed <= 5\.00%`, log.String())
	assert.Contains(t, log.String(), "Revision "+revNew+" passed the analysis: 2 checks, 2 passed, 0 failed, 0 inconclusive")
}

func TestAnalysis_InconclusiveLimit(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revNew, _ := canaryAt10(t, f, e, "gcr.io/p/web:v2", 0)

	opts := `{"duration": "2s", "interval": "1s", "ingestionDelay": "0s", "metrics": [{"errorRate": {"max": "1%"}}]`
	status, log := e.run(StageCloudRunAnalysis, opts+`, "inconclusiveLimit": 1}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.firstError(), "the analysis of revision "+revNew+" is inconclusive (0 passed, 0 failed, 2 inconclusive): the new revision served 0 requests in checks 1, 2/2")

	status, log = e.run(StageCloudRunAnalysis, opts+`, "inconclusiveLimit": 2}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "Revision "+revNew+" passed the analysis: 2 checks, 0 passed, 0 failed, 2 inconclusive")
	assert.Contains(t, log.String(), "2 inconclusive checks are within inconclusiveLimit 2: the new revision served 0 requests in checks 1, 2/2")
}

func TestAnalysis_InitialDelayPostponesTheFirstWindow(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	canaryAt10(t, f, e, "gcr.io/p/web:v2", 0)

	started := time.Now()
	status, log := e.run(StageCloudRunAnalysis, `{"duration": "1s", "interval": "1s", "ingestionDelay": "0s", "initialDelay": "1s", "minRequests": 0,
	  "onInconclusive": "pass", "metrics": [{"errorRate": {"max": "1%"}}]}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.GreaterOrEqual(t, time.Since(started), 2*time.Second, "initialDelay + duration")
	assert.Contains(t, log.String(), "The first window starts after initialDelay 1s")
	assert.Contains(t, log.String(), "Check 1/1 (window "+started.Add(time.Second).UTC().Format("15:04:05"))
}

func TestAnalysis_CancellationStopsWithinASecond(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	canaryAt10(t, f, e, "gcr.io/p/web:v2", 0)

	// Cancel once the analysis has started, while it waits for its first check.
	ctx, cancel := context.WithCancel(t.Context())
	var cancelled atomic.Int64
	e.onLine = func(line string) {
		if strings.Contains(line, "Analysing revision ") {
			cancelled.Store(time.Now().UnixNano())
			cancel()
		}
	}
	status, log := e.runCtx(ctx, StageCloudRunAnalysis, `{"duration": "1h", "metrics": [{"errorRate": {"max": "1%"}}]}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	require.NotZero(t, cancelled.Load(), "the analysis started")
	assert.Less(t, time.Since(time.Unix(0, cancelled.Load())), time.Second)
	assert.Contains(t, log.String(), "the analysis stopped before check 1/60: context canceled")
}

func TestAnalysis_OneBadRegionFailsTheStage(t *testing.T) {
	t.Parallel()
	good := newFake(t)
	bad := newFake(t, fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		"gcr.io/p/web:v2": {ErrorRate: 0.5},
	}}))
	e := newEnv(t, good, bad)
	canaryAt10(t, good, e, "gcr.io/p/web:v2", 0)
	startLoad(t, good, 5*time.Second)
	startLoad(t, bad, 5*time.Second)

	status, log := e.run(StageCloudRunAnalysis, `{"duration": "3s", "interval": "1s", "ingestionDelay": "0s", "minRequests": 5, "metrics": [{"errorRate": {"max": "5%"}}]}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	// The first error line is the failing target's verdict (at check 1 unless a loaded machine sent too few
	// requests in the first window, which is then inconclusive); the target it stopped says so after it, at info
	// level, and nothing complains about the cancellation the stage caused itself.
	assert.Regexp(t, `^\[dt2\] revision \S+ failed the analysis at check [1-3]/3 \(0 passed, 1 failed, [0-2] inconclusive; failureLimit 0\): errorRate`, log.firstError())
	assert.Regexp(t, `(?s)ERROR \[dt2\] revision .*\nINFO \[dt1\] the analysis stopped (before|at) check \d/3: the analysis of deploy target dt2 failed`, log.String())
	assert.NotContains(t, log.String(), "ERROR [dt1]")
	assert.NotContains(t, log.String(), "Could not show the verdict")
}

func TestAnalysis_WithoutSyncFails(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", canaryApp, serviceYAML("gcr.io/p/web:v1"))

	status, log := e.run(StageCloudRunAnalysis, `{"duration": "1s", "interval": "1s", "metrics": [{"errorRate": {"max": "1%"}}]}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "CLOUDRUN_SYNC did not run for deploy target dt1 in this deployment, so there is no new revision to analyse")

	status, log = e.run(StageCloudRunAnalysis, `{"duration": "1s", "interval": "2s", "metrics": []}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), `Invalid stage options in app.pipecd.yaml spec.pipeline.stages[0]: CLOUDRUN_ANALYSIS: field "interval": 2s is longer than duration 1s`)
}

func TestAnalysis_VerdictAfterTheStagesOwnCancellationIsNotAnError(t *testing.T) {
	t.Parallel()
	log := &recordLog{t: t}
	display := &verdictDisplay{store: newMemStore(), verdicts: map[string]string{}}
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(errors.New("the analysis of deploy target dt2 failed"))
	display.set(ctx, &target.Target{Name: "dt1", Log: log}, "check 1/3 PASS")
	assert.Empty(t, log.String())
}

func TestBaselineRevisions(t *testing.T) {
	t.Parallel()
	rec := &syncRecord{Revision: "web-3", Traffic: []trafficEntry{
		{Revision: "web-1", Percent: 60}, {Revision: "web-2", Percent: 40}, {Revision: "web-1", Percent: 0, Tag: "stable"},
		{Revision: "web-0", Percent: 0, Tag: "legacy"}, {Revision: "web-3", Percent: 0, Tag: "preview"},
	}}
	assert.Equal(t, []string{"web-1", "web-2"}, baselineRevisions(rec), "the revisions that served, once each; a 0% tag is no baseline")
	rec.Created = true
	assert.Empty(t, baselineRevisions(rec), "a service this deployment created has no baseline")
}

func TestLogAnalysisPlan(t *testing.T) {
	t.Parallel()
	opts := func(interval time.Duration) config.AnalysisStageOptions {
		return config.AnalysisStageOptions{Duration: 2 * interval, Interval: interval, MinRequests: 5}
	}
	subject := analysis.Subject{Service: "web", Location: "asia-northeast1", New: "web-2"}
	const hint = "Cloud Run writes its metrics once a minute"
	testcases := []struct {
		name     string
		endpoint string
		interval time.Duration
		baseline []string
		want     string
		wantHint bool
	}{
		{name: "success: no baseline, sub-minute checks on Cloud Run", interval: 30 * time.Second,
			want: "against no baseline (no other revision served before this deployment)", wantHint: true},
		{name: "success: a baseline, one-minute checks on Cloud Run", interval: time.Minute, baseline: []string{"web-1"},
			want: "against baseline web-1: 2 checks of 1m0s"},
		{name: "success: sub-minute checks on another endpoint", endpoint: "127.0.0.1:1", interval: time.Second, baseline: []string{"web-1", "web-0"},
			want: "against baseline web-1, web-0: 2 checks of 1s"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := &recordLog{t: t}
			s := subject
			s.Baseline = tc.baseline
			logAnalysisPlan(&target.Target{Config: config.DeployTargetConfig{Endpoint: tc.endpoint}, Log: log}, opts(tc.interval), s)
			assert.Contains(t, log.String(), tc.want)
			assert.Equal(t, tc.wantHint, strings.Contains(log.String(), hint), log.String())
		})
	}
}
