// Package bench measures the plugin end to end against fakerun and prints the figures. It only runs when
// E2E_BENCH is set:
//
//	E2E_BENCH=1 go -C e2e test -count=1 -v ./bench/
package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipe-cd/pipecd/pkg/model"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

const region = "asia-northeast1"

// pollMethods are the calls a plugin makes while waiting for readiness.
var pollMethods = []string{"GetOperation", "WaitOperation", "GetRevision", "GetService"}

type bench struct {
	t       *testing.T
	srv     *fakerun.Server
	pd      *piped.Piped
	app     string
	project string
}

func newBench(t *testing.T, opts ...fakerun.Option) *bench {
	t.Helper()
	if os.Getenv("E2E_BENCH") == "" {
		t.Skip("set E2E_BENCH=1 to run the measurements")
	}
	srv, err := fakerun.NewServer(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	root, err := piped.RepoRoot()
	require.NoError(t, err)
	b := &bench{t: t, srv: srv, app: filepath.Join(root, "examples", "canary"), project: "bench"}
	pd, err := piped.New(t.Context(), piped.WithTimeScale(0.01), piped.WithGracePeriod(5*time.Second),
		piped.WithDeployTargets(piped.DeployTarget{Name: "local", Config: map[string]any{
			"project": b.project, "region": region, "endpoint": srv.Addr(), "insecure": true,
		}}))
	require.NoError(t, err)
	t.Cleanup(pd.Close)
	b.pd = pd
	return b
}

// files returns the canary example renamed to service name at image.
func (b *bench) files(name, image string) map[string]string {
	cfg, err := os.ReadFile(filepath.Join(b.app, "app.pipecd.yaml"))
	require.NoError(b.t, err)
	svc, err := os.ReadFile(filepath.Join(b.app, "service.yaml"))
	require.NoError(b.t, err)
	manifest := strings.Replace(string(svc), "\nname: canary\n", "\nname: "+name+"\n", 1)
	manifest = strings.Replace(manifest, "hello:v2", "hello:"+image, 1)
	return map[string]string{
		"app.pipecd.yaml": strings.Replace(string(cfg), "\n  name: canary\n", "\n  name: "+name+"\n", 1),
		"service.yaml":    manifest,
	}
}

// stageCalls records the Cloud Run calls made during each stage.
type stageCalls struct {
	srv  *fakerun.Server
	mu   sync.Mutex
	from int
	rows []callRow
}

type callRow struct {
	stage piped.StageRecord
	calls []fakerun.Call
}

func (c *stageCalls) hooks() piped.Hooks {
	return piped.Hooks{
		OnStageStart: func(_ *piped.Run, _ piped.StageRecord) {
			c.mu.Lock()
			c.from = len(c.srv.Calls())
			c.mu.Unlock()
		},
		OnStageEnd: func(_ *piped.Run, s piped.StageRecord) {
			calls := c.srv.Calls()
			c.mu.Lock()
			c.rows = append(c.rows, callRow{stage: s, calls: calls[min(c.from, len(calls)):]})
			c.mu.Unlock()
		},
	}
}

func countBy(calls []fakerun.Call) (polls int, others map[string]int) {
	others = map[string]int{}
	for _, c := range calls {
		if slices.Contains(pollMethods, c.Method) {
			polls++
		}
		others[c.Method]++
	}
	return polls, others
}

func (b *bench) deploy(d piped.Deployment) *piped.Result {
	res, err := b.pd.Deploy(b.t.Context(), d)
	require.NoError(b.t, err)
	return res
}

func printCalls(title string, rows []callRow) {
	fmt.Printf("\n%s\n", title)
	for _, r := range rows {
		_, by := countBy(r.calls)
		var parts []string
		for m, n := range by {
			parts = append(parts, fmt.Sprintf("%s×%d", m, n))
		}
		slices.Sort(parts)
		fmt.Printf("  %-25s %-8s %2d calls: %s\n", r.stage.Name, strings.TrimPrefix(r.stage.Status.String(), "STAGE_"), len(r.calls), strings.Join(parts, " "))
	}
}

func TestRPCsPerStageAndLatency(t *testing.T) {
	b := newBench(t)
	b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", "v1")})
	rec := &stageCalls{srv: b.srv}
	res := b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", "v2"), Hooks: rec.hooks()})
	require.Equal(t, model.DeploymentStatus_DEPLOYMENT_SUCCESS, res.Status, res.Report())
	printCalls("Cloud Run RPCs per stage of the canary pipeline (readiness delay 0):", rec.rows)

	fmt.Printf("\nStage latency of the canary pipeline (plugin time from log timestamps, 1 s resolution):\n")
	for _, s := range res.Executed() {
		fmt.Printf("  %-25s total %7s  plugin ≈%7s  log flush ≈%7s\n", s.Name, s.Latency().Round(time.Millisecond),
			s.PluginTime().Round(time.Millisecond), s.FlushWait().Round(time.Millisecond))
	}

	rec = &stageCalls{srv: b.srv}
	hooks := rec.hooks()
	start := hooks.OnStageStart
	hooks.OnStageStart = func(r *piped.Run, s piped.StageRecord) {
		start(r, s)
		if s.Index == 3 && !s.Rollback {
			r.Cancel()
		}
	}
	res = b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", "v3"), Hooks: hooks})
	require.Equal(t, model.DeploymentStatus_DEPLOYMENT_CANCELLED, res.Status, res.Report())
	printCalls("Cloud Run RPCs per stage of a canary cancelled at the second PROMOTE:", rec.rows)

	for _, v := range []string{"v4", "v5", "v6"} {
		b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", v), SyncStrategy: model.SyncStrategy_QUICK_SYNC})
	}
	rec = &stageCalls{srv: b.srv}
	res = b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", "v7"), Hooks: rec.hooks()})
	require.Equal(t, model.DeploymentStatus_DEPLOYMENT_SUCCESS, res.Status, res.Report())
	printCalls("Cloud Run RPCs per stage of a canary whose cleanup deletes revisions:", rec.rows[len(rec.rows)-1:])
}

func TestReadinessDetectionLag(t *testing.T) {
	const delay = 10 * time.Second
	b := newBench(t)
	b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", "v1")})
	b.srv.SetReadinessDelay(delay)
	rec := &stageCalls{srv: b.srv}
	hooks := rec.hooks()
	end := hooks.OnStageEnd
	hooks.OnStageEnd = func(r *piped.Run, s piped.StageRecord) {
		end(r, s)
		if s.Name == "CLOUDRUN_SYNC" {
			r.Cancel()
		}
	}
	res := b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", "v2"), Hooks: hooks})
	sync := rec.rows[0]
	require.Equal(t, "CLOUDRUN_SYNC", sync.stage.Name, res.Report())
	var created time.Time
	for _, c := range sync.calls {
		if c.Method == "UpdateService" || c.Method == "CreateService" {
			created = c.Time
			break
		}
	}
	require.False(t, created.IsZero(), "SYNC made no UpdateService call")
	ready := created.Add(delay)
	var detected time.Time
	polls := 0
	for _, c := range sync.calls {
		if slices.Contains(pollMethods, c.Method) {
			polls++
			if detected.IsZero() && !c.Time.Before(ready) {
				detected = c.Time
			}
		}
	}
	require.False(t, detected.IsZero(), "no readiness poll after the revision became ready")
	fmt.Printf("\nReadiness detection with a %s readiness delay:\n", delay)
	fmt.Printf("  first poll after the revision became ready: %s late; %d readiness polls during SYNC; SYNC took %s\n",
		detected.Sub(ready).Round(time.Millisecond), polls, sync.stage.Latency().Round(time.Millisecond))
}

func TestPeakRSSDuringTenDeployments(t *testing.T) {
	b := newBench(t)
	var wg sync.WaitGroup
	for _, image := range []string{"v1", "v2"} {
		for i := range 10 {
			name := fmt.Sprintf("svc-%02d", i)
			run, err := b.pd.Start(b.t.Context(), piped.Deployment{AppDir: b.app, AppID: name, Files: b.files(name, image)})
			require.NoError(t, err)
			wg.Go(func() { _, _ = run.Wait() })
		}
		wg.Wait()
	}
	fmt.Printf("\nPlugin peak RSS (VmHWM) after 10 concurrent quick syncs and 10 concurrent canaries: %d kB\n", vmHWM(t, b.pd.PluginPID()))
}

func vmHWM(t *testing.T, pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.Atoi(f[1])
			require.NoError(t, err)
			return kb
		}
	}
	t.Fatal("no VmHWM line")
	return 0
}
