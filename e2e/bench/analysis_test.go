package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/pipe-cd/pipecd/pkg/model"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// TestAnalysisRPCsAndOverhead measures CLOUDRUN_ANALYSIS of examples/canary-analysis (4 thresholds: 2 on the
// error rate, 2 on latencies) scaled to 5 checks of 1s read at once: Cloud Monitoring calls per check, and
// how long the stage takes beyond its configured duration.
func TestAnalysisRPCsAndOverhead(t *testing.T) {
	const (
		checks     = 5
		thresholds = 4
		duration   = checks * time.Second
	)
	b := newBench(t)
	app := framework.AppDir(framework.AnalysisExample)
	b.deploy(piped.Deployment{AppDir: app, Files: framework.AnalysisFiles(framework.ImageV1), SyncStrategy: model.SyncStrategy_QUICK_SYNC})
	services := b.srv.State().Services
	require.Len(t, services, 1)
	_, err := b.srv.StartLoad(fakerun.Load{URL: services[0].GetUri(), Rate: 300, Duration: time.Minute})
	require.NoError(t, err)

	rec := b.stageCalls()
	res := b.deploy(piped.Deployment{AppDir: app, Files: framework.AnalysisFiles(framework.ImageV2, "duration: 3s", "duration: 5s"), Hooks: rec.Hooks(piped.Hooks{})})
	require.Equal(t, model.DeploymentStatus_DEPLOYMENT_SUCCESS, res.Status, "%s", res.Report())
	var analysis framework.Snapshot
	for _, s := range rec.Snapshots() {
		if s.Stage.Name == "CLOUDRUN_ANALYSIS" {
			analysis = s
		}
	}
	require.NotEmpty(t, analysis.Calls, "%s", res.Report())
	var queries int
	var last time.Time
	for _, c := range analysis.Calls {
		if c.Method == "ListTimeSeries" {
			queries++
			last = c.Time
		}
	}
	perCheck := float64(queries) / checks
	fmt.Printf("\nCLOUDRUN_ANALYSIS, %d checks of 1s, %d thresholds, one deploy target:\n", checks, thresholds)
	fmt.Printf("  Cloud Monitoring RPCs: %d, %.1f per check, %.2f per threshold and check (target <= 1)\n",
		queries, perCheck, perCheck/thresholds)
	fmt.Printf("  stage start to last Monitoring call: %s, %s beyond the %s duration (target <= 1s)\n",
		last.Sub(analysis.Stage.Started).Round(time.Millisecond), (last.Sub(analysis.Stage.Started) - duration).Round(time.Millisecond), duration)
	fmt.Printf("  whole stage as piped sees it: %s (%s beyond the duration, the SDK's log flush included)\n",
		analysis.Stage.Latency().Round(time.Millisecond), (analysis.Stage.Latency() - duration).Round(time.Millisecond))
}
