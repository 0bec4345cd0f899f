package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pipe-cd/pipecd/pkg/model"

	"github.com/pipecd-cloudrun/cloudrun/e2e/cloudrun"
	"github.com/pipecd-cloudrun/cloudrun/e2e/controlplane"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/pipedv1"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
)

// pipedReal and pipedStandIn are the values of -piped.
const (
	pipedReal    = "real"
	pipedStandIn = "stand-in"
)

// realDemo is the demo on the real piped: pipedv1 built from the pinned module, with the plugin and the wait
// plugin by file:// URL, against the in-memory control plane; it prints each stage as piped reports it to
// the control plane, the stage's log lines as the control plane received them, and the traffic after it.
type realDemo struct {
	p           *printer
	cp          *controlplane.ControlPlane
	appID       string
	reader      *cloudrun.Reader
	serviceName string
}

func runReal(ctx context.Context, f flags, p *printer, app appFiles, addr string, reader *cloudrun.Reader) error {
	p.step("Building the plugin, the wait plugin and pipedv1 (the pinned pipecd module)")
	t := time.Now()
	bins := map[string]string{}
	for name, build := range map[string]func() (string, error){
		"plugin": piped.BuildPlugin, "wait": piped.BuildWaitPlugin, "piped": pipedv1.Build,
	} {
		bin, err := build()
		if err != nil {
			return err
		}
		bins[name] = bin
	}
	for env, name := range map[string]string{piped.PluginBinaryEnv: "plugin", piped.WaitPluginBinaryEnv: "wait", pipedv1.BinaryEnv: "piped"} {
		if os.Getenv(env) == "" {
			defer func() { _ = os.RemoveAll(filepath.Dir(bins[name])) }()
		}
	}
	p.done("built in %s", since(t))

	cp, err := controlplane.Start(ctx, controlplane.Options{})
	if err != nil {
		return err
	}
	defer cp.Close()
	pd, err := cp.AddPiped(ctx, "demo")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "cloudrun-demo")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	appPath := filepath.Base(f.app)
	repo, err := pipedv1.NewRepo(ctx, filepath.Join(dir, "repo"), map[string]string{appPath: f.app})
	if err != nil {
		return err
	}
	if _, err := repo.Commit(ctx, "Deploy "+f.previousImage, map[string]string{appPath + "/" + app.manifestFile: app.v1}); err != nil {
		return err
	}
	d := &realDemo{p: p, cp: cp, reader: reader, serviceName: app.serviceName}
	d.appID, err = cp.AddApplication(ctx, controlplane.Application{
		Name: app.serviceID, PipedID: pd.ID, Path: appPath,
		Repo:          &model.ApplicationGitRepository{Id: pipedv1.DefaultRepoID, Remote: repo.Remote(), Branch: pipedv1.Branch},
		DeployTargets: map[string][]string{"cloudrun": {"local"}},
	})
	if err != nil {
		return err
	}
	endpoint := target.NewEndpoint(addr, f.project, f.region)
	pipedDir := filepath.Join(dir, "piped")
	if err := os.MkdirAll(pipedDir, 0o755); err != nil {
		return err
	}
	run, err := pipedv1.Start(ctx, pipedDir, pipedv1.Config{
		Binary: bins["piped"], ControlPlane: cp.Addr(), ProjectID: pd.ProjectID, PipedID: pd.ID, PipedKey: pd.Key,
		Repo: repo, SyncInterval: time.Hour,
		Plugins: []pipedv1.Plugin{
			{Name: "cloudrun", URL: pipedv1.FileURL(bins["plugin"]), DeployTargets: []piped.DeployTarget{
				{Name: "local", Config: endpoint.DeployTargetConfig(f.region)},
			}},
			{Name: "wait", URL: pipedv1.FileURL(bins["wait"]), Config: map[string]any{"timeScale": f.timeScale}},
		},
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := run.Stop(10 * time.Second); err != nil {
			p.line("stopping piped: %v", err)
		}
	}()
	p.step("pipedv1 started (%s), control plane on %s", run.ConfigFile, cp.Addr())

	p.header("Deployment 1/2: %s at %s (the version running before the canary)", app.serviceID, f.previousImage)
	first, err := d.deploy(ctx, 0, model.SyncStrategy_QUICK_SYNC)
	if err != nil {
		return err
	}
	if first.Status != model.DeploymentStatus_DEPLOYMENT_SUCCESS {
		return fmt.Errorf("the first deployment ended %s: %s\n%s", first.Status, first.StatusReason, run.Output())
	}

	files, err := prepareCanary(ctx, p, f, reader, app.serviceName, addr, app.image)
	if err != nil {
		return err
	}
	files[app.manifestFile] = app.manifest
	prefixed := map[string]string{}
	for name, content := range files {
		prefixed[appPath+"/"+name] = content
	}
	if _, err := repo.Commit(ctx, "Deploy "+app.image, prefixed); err != nil {
		return err
	}
	p.header("Deployment 2/2: %s at %s (canary pipeline, scenario %s)", app.serviceID, app.image, f.scenario)
	second, err := d.deploy(ctx, 1, model.SyncStrategy_AUTO)
	if err != nil {
		return err
	}

	p.header("Summary")
	for i, dep := range []*model.Deployment{first, second} {
		p.line("Deployment %d: %s, %s — %s", i+1, dep.Trigger.GetSyncStrategy(), shortDeploymentStatus(dep.Status), dep.StatusReason)
		for _, s := range dep.Stages {
			if s.Status != model.StageStatus_STAGE_NOT_STARTED_YET {
				p.line("  %-26s %-9s done %3ds after the plan", s.Name, shortStatus(s.Status), s.CompletedAt-dep.CreatedAt)
			}
		}
	}
	if err := printService(ctx, p, reader, app.serviceName); err != nil {
		return err
	}
	if f.scenario == scenarioBadCanary {
		return expectPipedRolledBack(p, second)
	}
	if second.Status != model.DeploymentStatus_DEPLOYMENT_SUCCESS {
		return fmt.Errorf("the canary deployment ended %s: %s", second.Status, second.StatusReason)
	}
	return nil
}

// deploy sends a SYNC command, as the console's SYNC button does, and follows the application's deployment
// number n until it completes: the plan, then each stage as piped reports it.
func (d *realDemo) deploy(ctx context.Context, n int, strategy model.SyncStrategy) (*model.Deployment, error) {
	t := time.Now()
	if _, err := d.cp.Sync(ctx, d.appID, strategy); err != nil {
		return nil, err
	}
	d.p.step("SYNC (%s) sent to the control plane; piped picks it up at its next command poll", strategy)
	seen := map[string]model.StageStatus{}
	planned := false
	for {
		dep, err := d.cp.WaitDeployment(ctx, d.appID, n, func(dep *model.Deployment) bool {
			return dep.Status.IsCompleted() || (!planned && len(dep.Stages) > 0) || changedStage(dep, seen) != nil
		})
		if err != nil {
			return nil, err
		}
		if !planned && len(dep.Stages) > 0 {
			planned = true
			d.p.line("Planned %s after %s: %s", dep.Trigger.GetSyncStrategy(), since(t), dep.Summary)
			for _, s := range dep.Stages {
				if !s.Rollback {
					d.p.line("  • %s", strings.TrimSpace(s.Name+"  "+s.Desc))
				}
			}
		}
		for s := changedStage(dep, seen); s != nil; s = changedStage(dep, seen) {
			d.report(ctx, dep, s, seen[s.Id])
			seen[s.Id] = s.Status
		}
		if dep.Status.IsCompleted() {
			d.p.line("\n%s in %s: %s", shortDeploymentStatus(dep.Status), since(t), dep.StatusReason)
			return dep, nil
		}
	}
}

// changedStage is the first stage (in order) whose status differs from the one last printed, or nil.
func changedStage(dep *model.Deployment, seen map[string]model.StageStatus) *model.PipelineStage {
	stages := slices.Clone(dep.Stages)
	slices.SortStableFunc(stages, func(a, b *model.PipelineStage) int {
		if a.Rollback != b.Rollback {
			if a.Rollback {
				return 1
			}
			return -1
		}
		return int(a.Index - b.Index)
	})
	for _, s := range stages {
		if s.Status != model.StageStatus_STAGE_NOT_STARTED_YET && s.Status != seen[s.Id] {
			return s
		}
	}
	return nil
}

// report prints a stage's new status; a completed stage gets its log lines and the traffic after it.
func (d *realDemo) report(ctx context.Context, dep *model.Deployment, s *model.PipelineStage, was model.StageStatus) {
	if was == model.StageStatus_STAGE_NOT_STARTED_YET {
		kind := ""
		if s.Rollback {
			kind = " (rollback)"
		}
		d.p.line("\n▶ %s%s", s.Name, kind)
	}
	if s.Status == model.StageStatus_STAGE_RUNNING {
		return
	}
	blocks, _, err := d.cp.StageLogs(ctx, dep.Id, s.Id)
	if err != nil {
		d.p.line("      (no logs: %v)", err)
	}
	for _, b := range blocks {
		first, rest, _ := strings.Cut(strings.TrimRight(b.Log, "\n"), "\n")
		d.p.line("      %s %s", severityMark(b.Severity), first)
		if rest != "" {
			d.p.block("        ", rest)
		}
	}
	d.p.line("    %s %s %s", statusMark(s.Status), shortStatus(s.Status), s.StatusReason)
	readCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	svc, err := d.reader.Service(readCtx, d.serviceName)
	if err != nil {
		d.p.line("      traffic: unavailable (%v)", err)
		return
	}
	d.p.block("      ", cloudrun.TrafficTable(svc))
}

// expectPipedRolledBack reports whether piped caught the bad canary: the deployment failed and its
// CLOUDRUN_ROLLBACK succeeded.
func expectPipedRolledBack(p *printer, dep *model.Deployment) error {
	for _, s := range dep.Stages {
		if s.Rollback && s.Name == "CLOUDRUN_ROLLBACK" && s.Status == model.StageStatus_STAGE_SUCCESS &&
			dep.Status == model.DeploymentStatus_DEPLOYMENT_FAILURE {
			p.line("The analysis caught the bad revision and piped's CLOUDRUN_ROLLBACK restored the traffic from before the deployment.")
			return nil
		}
	}
	return fmt.Errorf("the bad canary was not rolled back: the deployment ended %s: %s", dep.Status, dep.StatusReason)
}
