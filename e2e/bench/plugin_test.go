package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipe-cd/pipecd/pkg/model"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/plugin/stagetime"
)

// readinessDelay is how long fakerun takes to make a new revision ready in the measurements of the plugin.
const readinessDelay = time.Second

// ownTarget is how much time a stage may take beyond its Cloud Run calls and its waits.
const ownTarget = 20 * time.Millisecond

// stageTiming is one "stage timing" line of the plugin's log (see package stagetime).
type stageTiming struct {
	Stage      string  `json:"stage"`
	Deployment string  `json:"deployment"`
	TotalMS    float64 `json:"total_ms"`
	RPCMS      float64 `json:"rpc_ms"`
	RPCs       int     `json:"rpcs"`
	WaitMS     float64 `json:"wait_ms"`
	OwnMS      float64 `json:"own_ms"`
}

// stageTimings returns the stage timing lines in the plugin's output, in order. The plugin's log writes each
// entry as its message, a tab, and its fields as one JSON object.
func stageTimings(t *testing.T, output string) []stageTiming {
	t.Helper()
	var out []stageTiming
	for line := range strings.Lines(output) {
		_, fields, ok := strings.Cut(line, stagetime.Message+"\t{")
		if !ok {
			continue
		}
		var st stageTiming
		require.NoError(t, json.Unmarshal([]byte("{"+fields), &st), "stage timing line %q", line)
		out = append(out, st)
	}
	return out
}

// TestPluginStageTime runs three canaries with stage timing on and reports, per Cloud Run stage, the plugin's
// time inside ExecuteStage split into Cloud Run calls, waits (readiness polls) and the rest, its own.
func TestPluginStageTime(t *testing.T) {
	t.Setenv(stagetime.EnvVar, "1")
	b := newBench(t)
	b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", "v1")})
	b.srv.SetReadinessDelay(readinessDelay)
	deployments := map[string]bool{}
	for _, v := range []string{"v2", "v3", "v4"} {
		res := b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", v)})
		require.Equal(t, model.DeploymentStatus_DEPLOYMENT_SUCCESS, res.Status, "%s", res.Report())
		deployments[res.DeploymentID] = true
	}
	byStage := map[string][]stageTiming{}
	for _, st := range stageTimings(t, b.pd.PluginOutput()) {
		if deployments[st.Deployment] {
			byStage[st.Stage] = append(byStage[st.Stage], st)
		}
	}
	fmt.Printf("\nPlugin time per stage of 3 canaries (readiness delay %s), median of each figure, in ms:\n", readinessDelay)
	fmt.Printf("  %-25s %5s %9s %9s %5s %9s %9s %9s\n", "stage", "runs", "total", "calls", "RPCs", "wait", "own", "own max")
	for _, stage := range []string{"CLOUDRUN_SYNC", "CLOUDRUN_PROMOTE", "CLOUDRUN_CANARY_CLEANUP"} {
		runs := byStage[stage]
		require.NotEmpty(t, runs, "no stage timing of %s in the plugin's output:\n%s", stage, b.pd.PluginOutput())
		med := func(f func(stageTiming) float64) float64 {
			v := make([]float64, len(runs))
			for i, r := range runs {
				v[i] = f(r)
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		own := med(func(s stageTiming) float64 { return s.OwnMS })
		ownMax := slices.MaxFunc(runs, func(a, b stageTiming) int { return int(a.OwnMS*1000 - b.OwnMS*1000) }).OwnMS
		fmt.Printf("  %-25s %5d %9.3f %9.3f %5.0f %9.3f %9.3f %9.3f\n", stage, len(runs), med(func(s stageTiming) float64 { return s.TotalMS }),
			med(func(s stageTiming) float64 { return s.RPCMS }), med(func(s stageTiming) float64 { return float64(s.RPCs) }),
			med(func(s stageTiming) float64 { return s.WaitMS }), own, ownMax)
		beyond := "calls"
		if stage == "CLOUDRUN_SYNC" {
			beyond = "calls and readiness wait"
		}
		check(fmt.Sprintf("plugin %s time beyond its %s (median of %d)", strings.TrimPrefix(stage, "CLOUDRUN_"), beyond, len(runs)),
			fmt.Sprintf("%.3f ms (max %.3f)", own, ownMax), fmt.Sprintf("≤ %d ms", ownTarget.Milliseconds()), own <= float64(ownTarget.Milliseconds()))
	}
}

// TestPluginStartup starts the plugin five times beside a running one and reports the median time from
// starting its process to its first answered RPC.
func TestPluginStartup(t *testing.T) {
	const starts = 5
	const target = 100 * time.Millisecond
	b := newBench(t)
	times := make([]time.Duration, starts)
	for i := range times {
		d, err := b.pd.MeasurePluginStartup(t.Context())
		require.NoError(t, err)
		times[i] = d
	}
	slices.Sort(times)
	med := times[starts/2]
	fmt.Printf("\nPlugin startup to its first answered RPC, %d starts: %v\n", starts, times)
	check("plugin startup to first answered RPC (median of 5)", med.Round(100*time.Microsecond).String(), "≤ "+target.String(), med <= target)
}

// TestFakerunImageSize reports the size of the image `make fakerun-image` builds (fakerun:dev).
func TestFakerunImageSize(t *testing.T) {
	if os.Getenv("E2E_BENCH") == "" {
		t.Skip("set E2E_BENCH=1 to run the measurements")
	}
	const name = "fakerun image size (fakerun:dev)"
	if err := exec.Command("docker", "info").Run(); err != nil {
		missing(name, "-", "no Docker engine")
		t.Skipf("no Docker engine (docker info: %v): the fakerun image size is not measured", err)
	}
	out, err := exec.Command("docker", "image", "inspect", "fakerun:dev", "--format", "{{.Size}}").CombinedOutput()
	if err != nil {
		missing(name, "-", "no image fakerun:dev (make fakerun-image builds it)")
		t.Skipf("docker image inspect fakerun:dev: %v: %s", err, out)
	}
	size, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	require.NoError(t, err)
	fmt.Printf("\nfakerun image fakerun:dev: %d bytes\n", size)
	inform(name, fmt.Sprintf("%.1f MiB", float64(size)/(1<<20)))
}

// Shape of the load: services × deploy targets deployments through one plugin process.
const (
	loadServices = 10
	loadTargets  = 10
)

// TestHundredDeployments runs 100 canaries at once (10 services on each of 10 deploy targets) through one
// plugin process built without the race detector, after timing single canaries: the plugin's peak RSS, its
// goroutines before, during and after, each deployment's time against its single time, and CPU per deployment.
func TestHundredDeployments(t *testing.T) {
	const rssTarget = 64 << 10      // kB
	t.Setenv(stagetime.EnvVar, "1") // to tell the plugin's share of the slowest deployment
	b := newBenchTargets(t, loadTargets)
	type app struct{ id, service, target string }
	var apps []app
	for i := range loadTargets {
		for j := range loadServices {
			apps = append(apps, app{id: fmt.Sprintf("svc-%02d-dt-%02d", j, i), service: fmt.Sprintf("svc-%02d", j), target: b.targets[i]})
		}
	}
	// planning is how long each deployment of the 100 took to plan (piped.Start), by deployment ID.
	planning := map[string]time.Duration{}
	var planningMu sync.Mutex
	deploy := func(a app, image string, strategy model.SyncStrategy) (*piped.Run, time.Time) {
		start := time.Now()
		run, err := b.pd.Start(t.Context(), piped.Deployment{AppDir: b.app, AppID: a.id, Files: b.files(a.service, image),
			DeployTargets: []string{a.target}, SyncStrategy: strategy})
		require.NoError(t, err)
		planningMu.Lock()
		planning[run.ID()] = time.Since(start)
		planningMu.Unlock()
		return run, start
	}
	var results sync.Map // deployment ID → *piped.Result
	wait := func(run *piped.Run, start time.Time) time.Duration {
		res, err := run.Wait()
		require.NoError(t, err)
		require.Equal(t, model.DeploymentStatus_DEPLOYMENT_SUCCESS, res.Status, "%s", res.Report())
		results.Store(res.DeploymentID, res)
		return time.Since(start)
	}

	var wg sync.WaitGroup
	for _, a := range apps {
		run, start := deploy(a, "v1", model.SyncStrategy_QUICK_SYNC)
		wg.Go(func() { wait(run, start) })
	}
	wg.Wait()
	b.srv.SetReadinessDelay(readinessDelay)
	singles := make([]time.Duration, 3)
	for i, a := range apps[:len(singles)] {
		singles[i] = wait(deploy(a, "v2", model.SyncStrategy_PIPELINE))
	}
	single := median(singles)
	time.Sleep(2 * time.Second) // the SDK's log flushes of the last stages end
	idle := b.stats()
	cpuBefore := cpuSeconds(t, b.pd.PluginPID())

	peak := idle
	sampled := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			if st, err := framework.PluginStats(t.Context(), b.pd); err == nil {
				peak.Goroutines, peak.RSS = max(peak.Goroutines, st.Goroutines), max(peak.RSS, st.RSS)
			}
		}
	}()
	times := make([]time.Duration, len(apps))
	ids := make([]string, len(apps))
	for i, a := range apps {
		run, start := deploy(a, "v3", model.SyncStrategy_PIPELINE)
		ids[i] = run.ID()
		wg.Go(func() { times[i] = wait(run, start) })
	}
	wg.Wait()
	close(stop)
	<-sampled
	cpu := cpuSeconds(t, b.pd.PluginPID()) - cpuBefore

	after := b.stats()
	for deadline := time.Now().Add(10 * time.Second); after.Goroutines > idle.Goroutines && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		after = b.stats()
	}
	hwm, err := framework.PeakRSS(b.pd.PluginPID())
	require.NoError(t, err)
	slowest := slices.Max(times)
	slowestID := ids[slices.Index(times, slowest)]
	var inPlugin float64 // ms inside the plugin's ExecuteStage, over the slowest deployment's stages
	for _, st := range stageTimings(t, b.pd.PluginOutput()) {
		if st.Deployment == slowestID {
			inPlugin += st.TotalMS
		}
	}
	res, _ := results.Load(slowestID)
	var stages time.Duration // the stages as the stand-in piped saw them, the SDK's log flush included
	for _, s := range res.(*piped.Result).Executed() {
		stages += s.Latency()
	}
	bound := 2*single + readinessDelay

	fmt.Printf("\n%d canaries at once (%d services × %d deploy targets, readiness delay %s) through one plugin process:\n",
		len(apps), loadServices, loadTargets, readinessDelay)
	fmt.Printf("  single canary (median of %d alone): %s; slowest of the %d: %s; median: %s\n", len(singles), single.Round(time.Millisecond),
		len(apps), slowest.Round(time.Millisecond), median(times).Round(time.Millisecond))
	fmt.Printf("  the slowest: planned in %s; its stages took %s as piped saw them (the SDK holds each stage's reply until its\n"+
		"  log flush, every 5 s), of which %.0f ms inside the plugin's ExecuteStage (the readiness delay included)\n",
		planning[slowestID].Round(time.Millisecond), stages.Round(time.Millisecond), inPlugin)
	fmt.Printf("  idle: %s; peak during: %s; after: %s\n", idle, peak, after)
	fmt.Printf("  peak RSS (VmHWM) over the process's life: %.1f MiB; CPU: %.2f s in all, %.3f s per deployment\n",
		float64(hwm)/1024, cpu, cpu/float64(len(apps)))
	check("plugin peak RSS (VmHWM), 100 concurrent canaries", fmt.Sprintf("%.1f MiB", float64(hwm)/1024), "≤ 64 MiB", hwm <= rssTarget)
	check("plugin goroutines after the 100 canaries", fmt.Sprintf("%d (idle %d, peak %d)", after.Goroutines, idle.Goroutines, peak.Goroutines),
		fmt.Sprintf("≤ idle (%d)", idle.Goroutines), after.Goroutines <= idle.Goroutines)
	check("slowest of 100 concurrent canaries", slowest.Round(time.Millisecond).String(),
		fmt.Sprintf("≤ 2×single (%s) + readiness delay = %s", single.Round(time.Millisecond), bound.Round(time.Millisecond)), slowest <= bound)
	inform("plugin CPU per canary deployment (100 at once)", fmt.Sprintf("%.3f s", cpu/float64(len(apps))))
}

func (b *bench) stats() framework.ProcessStats {
	b.t.Helper()
	st, err := framework.PluginStats(b.t.Context(), b.pd)
	require.NoError(b.t, err)
	return st
}

// cpuSeconds returns the user and system CPU time of process pid (utime + stime of /proc/<pid>/stat, in
// clock ticks of 1/100 s, Linux's USER_HZ).
func cpuSeconds(t *testing.T, pid int) float64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	// The command name, in parentheses, may hold spaces: the fields that follow it are counted from its end.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	utime, err := strconv.ParseInt(fields[11], 10, 64)
	require.NoError(t, err)
	stime, err := strconv.ParseInt(fields[12], 10, 64)
	require.NoError(t, err)
	return float64(utime+stime) / 100
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
