package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pipe-cd/pipecd/pkg/model"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/e2e/controlplane"
	"github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/pipedv1"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
)

// timing is one deployment as a driver ran it: from the trigger (the SYNC command, the commit, or the stand-in's
// Deploy call) to planned, to its first stage running, to completed, and how late its stage log lines arrived
// after the plugin wrote them.
type timing struct {
	planned, running, done time.Duration
	// lags are, per log line, its arrival minus its creation time (which has a resolution of one second).
	lags []time.Duration
	// firstLog is, per stage, the arrival of its first log line minus the stage's start.
	firstLog []time.Duration
}

func (t timing) row(driver, scenario string) string {
	return fmt.Sprintf("%-10s %-22s %8s %10s %12s %12s %14s", driver, scenario, t.done.Round(100*time.Millisecond),
		t.planned.Round(100*time.Millisecond), (t.running - t.planned).Round(100*time.Millisecond),
		mean(t.lags).Round(100*time.Millisecond), mean(t.firstLog).Round(100*time.Millisecond))
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// TestRealPipedOverhead measures what the real piped (pipedv1 and the in-memory control plane) adds per
// deployment compared with the stand-in, in the same run on the same plugin binary and a fakerun each: a quick
// sync and the canary pipeline of examples/canary (WAIT scaled by framework.WaitScale on both) triggered by a
// SYNC command, and the canary triggered by a commit (syncInterval 1s).
func TestRealPipedOverhead(t *testing.T) {
	b := newBench(t)
	pipedBin, err := pipedv1.Build()
	require.NoError(t, err)
	if os.Getenv(pipedv1.BinaryEnv) == "" {
		t.Cleanup(func() { _ = os.RemoveAll(filepath.Dir(pipedBin)) })
	}
	ctx := t.Context()

	standIn := map[string]timing{}
	for _, sc := range []struct {
		name     string
		app      string
		strategy model.SyncStrategy
		files    map[string]string
	}{
		{"quick sync", "quicksync", model.SyncStrategy_QUICK_SYNC, nil},
		{"canary v1 (quick sync)", "canary", model.SyncStrategy_QUICK_SYNC, framework.WithImage("canary", framework.ImageV1)},
		{"canary", "canary", model.SyncStrategy_PIPELINE, nil},
	} {
		var tm timing
		var mu sync.Mutex
		start := time.Now()
		res := b.deploy(piped.Deployment{AppDir: framework.AppDir(sc.app), SyncStrategy: sc.strategy, Files: sc.files, Hooks: piped.Hooks{
			OnPlanned: func(*piped.Run) { tm.planned = time.Since(start) },
			OnStageStart: func(*piped.Run, piped.StageRecord) {
				if tm.running == 0 {
					tm.running = time.Since(start)
				}
			},
			OnStageEnd: func(_ *piped.Run, s piped.StageRecord) {
				mu.Lock()
				defer mu.Unlock()
				for i, l := range s.Logs {
					tm.lags = append(tm.lags, l.Arrived.Sub(l.Created))
					if i == 0 {
						tm.firstLog = append(tm.firstLog, l.Arrived.Sub(s.Started))
					}
				}
			},
		}})
		tm.done = time.Since(start)
		require.Equal(t, model.DeploymentStatus_DEPLOYMENT_SUCCESS, res.Status, res.Report())
		standIn[sc.name] = tm
	}

	rp := startRealPiped(t, pipedBin)
	real := map[string]timing{}
	real["quick sync"] = rp.measure(t, "quicksync", 0, func() { rp.sync(t, "quicksync", model.SyncStrategy_QUICK_SYNC) })
	rp.measure(t, "canary", 0, func() { rp.sync(t, "canary", model.SyncStrategy_QUICK_SYNC) })
	_, err = rp.repo.Commit(ctx, "Deploy v2", map[string]string{"canary/service.yaml": framework.Manifest("canary", framework.ImageV2)})
	require.NoError(t, err)
	real["canary"] = rp.measure(t, "canary", 1, func() { rp.sync(t, "canary", model.SyncStrategy_PIPELINE) })
	real["canary by commit"] = rp.measure(t, "canary-commit", 1, func() {
		_, err := rp.repo.Commit(ctx, "Deploy v2", prefixed("canary-commit", framework.CanaryNamed("canary-commit", framework.ImageV2)))
		require.NoError(t, err)
	})

	fmt.Printf("\nThe real piped against the stand-in, per deployment (same run, same plugin binary)\n")
	fmt.Printf("%-10s %-22s %8s %10s %12s %12s %14s\n", "driver", "deployment", "wall", "→planned", "planned→run", "log lag", "1st log lag")
	for _, name := range []string{"quick sync", "canary"} {
		fmt.Println(standIn[name].row("stand-in", name))
		fmt.Println(real[name].row("pipedv1", name))
		fmt.Printf("%-10s %-22s %8s\n", "added", name, (real[name].done - standIn[name].done).Round(100*time.Millisecond))
	}
	fmt.Println(real["canary by commit"].row("pipedv1", "canary by commit"))
	for _, name := range []string{"quick sync", "canary"} {
		inform("real piped adds per "+name+" (SYNC command)", fmt.Sprintf("%s (%s against the stand-in's %s)",
			(real[name].done-standIn[name].done).Round(100*time.Millisecond), real[name].done.Round(100*time.Millisecond), standIn[name].done.Round(100*time.Millisecond)))
	}
	inform("real piped SYNC → planned, commit → planned, planned → running", fmt.Sprintf("%s, %s, %s",
		real["canary"].planned.Round(100*time.Millisecond), real["canary by commit"].planned.Round(100*time.Millisecond),
		(real["canary"].running-real["canary"].planned).Round(100*time.Millisecond)))
	inform("stage log lag, stand-in and real piped (mean)", fmt.Sprintf("%s, %s",
		mean(append(standIn["quick sync"].lags, standIn["canary"].lags...)).Round(100*time.Millisecond),
		mean(append(real["quick sync"].lags, real["canary"].lags...)).Round(100*time.Millisecond)))
	fmt.Printf("(log lag: a line's arrival at piped minus its creation time, which has a one-second resolution; 1st log lag:\n" +
		"a stage's first line's arrival minus the stage's start as piped reported it)\n")
}

// realPiped is pipedv1 with the plugin and the wait plugin, on the in-memory control plane and a fakerun,
// with the applications quicksync and canary (SYNC commands only: trigger.onCommit disabled) and
// canary-commit (deployed on every commit).
type realPiped struct {
	cp   *controlplane.ControlPlane
	repo *pipedv1.Repo
	apps map[string]string
}

func startRealPiped(t *testing.T, bin string) *realPiped {
	t.Helper()
	ctx := t.Context()
	fr, err := target.NewFakerun()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, fr.Close()) })
	cp, err := controlplane.Start(context.Background(), controlplane.Options{})
	require.NoError(t, err)
	t.Cleanup(cp.Close)
	p, err := cp.AddPiped(ctx, "bench")
	require.NoError(t, err)
	dir := t.TempDir()
	repo, err := pipedv1.NewRepo(ctx, dir+"/repo", map[string]string{"quicksync": framework.AppDir("quicksync"), "canary": framework.AppDir("canary")})
	require.NoError(t, err)
	files := prefixed("canary-commit", framework.CanaryNamed("canary-commit", framework.ImageV1))
	for _, app := range []string{"quicksync", "canary"} {
		cfg, err := os.ReadFile(filepath.Join(framework.AppDir(app), "app.pipecd.yaml"))
		require.NoError(t, err)
		files[app+"/app.pipecd.yaml"] = string(cfg) + "  trigger:\n    onCommit:\n      disabled: true\n"
	}
	files["canary/service.yaml"] = framework.Manifest("canary", framework.ImageV1)
	_, err = repo.Commit(ctx, "Configure the applications", files)
	require.NoError(t, err)
	rp := &realPiped{cp: cp, repo: repo, apps: map[string]string{}}
	for _, app := range []string{"quicksync", "canary", "canary-commit"} {
		rp.apps[app], err = cp.AddApplication(ctx, controlplane.Application{
			Name: app, PipedID: p.ID, Path: app,
			Repo:          &model.ApplicationGitRepository{Id: pipedv1.DefaultRepoID, Remote: repo.Remote(), Branch: pipedv1.Branch},
			DeployTargets: map[string][]string{"cloudrun": {framework.LocalDeployTarget}},
		})
		require.NoError(t, err)
	}
	pluginBin, err := piped.BuildPlugin()
	require.NoError(t, err)
	waitBin, err := piped.BuildWaitPlugin()
	require.NoError(t, err)
	pipedDir := filepath.Join(dir, "piped")
	require.NoError(t, os.MkdirAll(pipedDir, 0o755))
	pd, err := pipedv1.Start(ctx, pipedDir, pipedv1.Config{
		Binary: bin, ControlPlane: cp.Addr(), ProjectID: p.ProjectID, PipedID: p.ID, PipedKey: p.Key, Repo: repo,
		SyncInterval: time.Second,
		Plugins: []pipedv1.Plugin{
			{Name: "cloudrun", URL: pipedv1.FileURL(pluginBin), DeployTargets: []piped.DeployTarget{
				{Name: framework.LocalDeployTarget, Config: fr.DeployTargetConfig(fr.Region())},
			}},
			{Name: "wait", URL: pipedv1.FileURL(waitBin), Config: map[string]any{"timeScale": framework.WaitScale}},
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pd.Stop(framework.IntervalPluginGrace)) })
	// canary-commit's first commit deploys it at once (a first deployment, planned as a quick sync).
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	d, err := cp.WaitDeployment(wctx, rp.apps["canary-commit"], 0, controlplane.Completed)
	require.NoError(t, err, pd.Output())
	require.Equal(t, model.DeploymentStatus_DEPLOYMENT_SUCCESS, d.Status, d.StatusReason)
	return rp
}

func (rp *realPiped) sync(t *testing.T, app string, strategy model.SyncStrategy) {
	t.Helper()
	_, err := rp.cp.Sync(t.Context(), rp.apps[app], strategy)
	require.NoError(t, err)
}

// measure runs trigger and follows the app's deployment number n on the control plane until it completes,
// noting when it was planned, when its first stage ran and when each log line arrived (polling every 50ms).
func (rp *realPiped) measure(t *testing.T, app string, n int, trigger func()) timing {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var tm timing
	start := time.Now()
	trigger()
	seen := map[string]int{}             // stage ID → log blocks seen
	stageStart := map[string]time.Time{} // stage ID → first seen running
	for {
		ds, err := rp.cp.ListDeployments(ctx, rp.apps[app])
		require.NoError(t, err)
		now := time.Now()
		if len(ds) > n {
			d := ds[n]
			if tm.planned == 0 && d.Status != model.DeploymentStatus_DEPLOYMENT_PENDING {
				tm.planned = now.Sub(start)
			}
			for _, s := range d.Stages {
				if s.Status == model.StageStatus_STAGE_NOT_STARTED_YET {
					continue
				}
				if _, ok := stageStart[s.Id]; !ok {
					stageStart[s.Id] = now
					if tm.running == 0 {
						tm.running = now.Sub(start)
					}
				}
				blocks, _, err := rp.cp.StageLogs(ctx, d.Id, s.Id)
				if err != nil {
					continue // no log yet
				}
				for _, bl := range blocks[seen[s.Id]:] {
					tm.lags = append(tm.lags, now.Sub(time.Unix(bl.CreatedAt, 0)))
				}
				if seen[s.Id] == 0 && len(blocks) > 0 {
					tm.firstLog = append(tm.firstLog, now.Sub(stageStart[s.Id]))
				}
				seen[s.Id] = len(blocks)
			}
			if d.Status.IsCompleted() {
				tm.done = now.Sub(start)
				require.Equal(t, model.DeploymentStatus_DEPLOYMENT_SUCCESS, d.Status, d.StatusReason)
				return tm
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("deployment %d of %s did not complete: %v", n, app, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// prefixed returns an application's files (path → content) at paths under its directory dir.
func prefixed(dir string, files map[string]string) map[string]string {
	out := make(map[string]string, len(files))
	for f, c := range files {
		out[dir+"/"+f] = c
	}
	return out
}
