package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/e2e/controlplane"
	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/pipedv1"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// Intervals of the specs on the real piped. Its loops tick at fixed periods (controller 10 s, deployment
// store 10 s, command store 5 s, live state 1 min), so a deployment takes tens of seconds.
const (
	// realPipedDeployment bounds one deployment from trigger to completion.
	realPipedDeployment = 3 * time.Minute
	// realPipedLiveState bounds the wait for a live state report: piped flushes one a minute.
	realPipedLiveState = 3 * time.Minute
)

// realPiped is one spec's world on the real piped: an in-memory control plane, a fakerun, a git repository of
// the examples, and pipedv1 with the Cloud Run plugin (and the wait plugin) by file:// URL.
type realPiped struct {
	CP      *controlplane.ControlPlane
	Fakerun *target.Fakerun
	Repo    *pipedv1.Repo
	Piped   *pipedv1.Piped
	PipedID string
	// Apps maps an example's name to its application ID.
	Apps map[string]string
}

// realPipedInput configures newRealPiped.
type realPipedInput struct {
	// Apps are the examples registered as applications (each deployed to DeployTargets).
	Apps []string
	// DeployTargets are the plugin's deploy targets the applications use (default: "local").
	DeployTargets []string
	// Files are extra files committed with the examples (path → content), e.g. a changed app.pipecd.yaml.
	Files map[string]string
	// OnCommit makes piped's trigger look for new commits every second, so that piped deploys each
	// application's first commit as soon as it starts, and every later commit; otherwise it looks once an hour,
	// and only SYNC commands deploy.
	OnCommit bool
	// WithoutWaitPlugin leaves the wait plugin out of piped.yaml.
	WithoutWaitPlugin bool
	// ShippedConfig starts piped from examples/piped-config.yaml as shipped, substituting only what a test
	// must (see pipedv1.Config.Template): the control plane, key and repository, the plugins' file:// URLs and
	// ports in their slots, the "local" deploy target's endpoint (the spec's fakerun) and the wait plugin's
	// timeScale. The applications deploy to "local", in the shipped project and region (shippedService).
	ShippedConfig bool
	// FakerunOptions configure the spec's fakerun.
	FakerunOptions []fakerun.Option
}

// newRealPiped starts the spec's world; it stops when the spec ends, dumping piped's output, the control
// plane's calls and fakerun's state when the spec failed.
func newRealPiped(ctx context.Context, in realPipedInput) *realPiped {
	GinkgoHelper()
	if realMode {
		Skip("the real piped runs against fakerun")
	}
	if len(in.DeployTargets) == 0 {
		in.DeployTargets = []string{LocalDeployTarget}
	}
	Expect(pipedBinary).NotTo(BeEmpty(), "pipedv1 is built in the suite's setup when specs labelled piped run")

	fr, err := target.NewFakerun(in.FakerunOptions...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(fr.Close)
	cp, err := controlplane.Start(context.Background(), controlplane.Options{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(cp.Close)
	p, err := cp.AddPiped(ctx, "e2e")
	Expect(err).NotTo(HaveOccurred())

	sources := map[string]string{}
	for _, app := range in.Apps {
		sources[app] = AppDir(app)
	}
	dir := GinkgoT().TempDir()
	repo, err := pipedv1.NewRepo(ctx, dir+"/repo", sources)
	Expect(err).NotTo(HaveOccurred())
	if len(in.Files) > 0 {
		_, err = repo.Commit(ctx, "Configure the applications", in.Files)
		Expect(err).NotTo(HaveOccurred())
	}
	rp := &realPiped{CP: cp, Fakerun: fr, Repo: repo, PipedID: p.ID, Apps: map[string]string{}}
	gitRepo := &model.ApplicationGitRepository{Id: pipedv1.DefaultRepoID, Remote: repo.Remote(), Branch: pipedv1.Branch}
	for _, app := range in.Apps {
		rp.Apps[app], err = cp.AddApplication(ctx, controlplane.Application{
			Name: app, PipedID: p.ID, Repo: gitRepo, Path: app,
			DeployTargets: map[string][]string{cloudRunPlugin: in.DeployTargets},
		})
		Expect(err).NotTo(HaveOccurred())
	}

	dts := []piped.DeployTarget{
		{Name: LocalDeployTarget, Config: fr.DeployTargetConfig(region)},
		{Name: "second", Config: fr.DeployTargetConfig(secondRegion)},
	}
	var template []byte
	if in.ShippedConfig {
		template, err = os.ReadFile(filepath.Join(filepath.Dir(AppDir("quicksync")), "piped-config.yaml"))
		Expect(err).NotTo(HaveOccurred())
		dts = []piped.DeployTarget{{Name: LocalDeployTarget, Config: map[string]any{"endpoint": fr.Server().Addr()}}}
	}
	plugins := []pipedv1.Plugin{{Name: cloudRunPlugin, URL: pipedv1.FileURL(pluginBinary), DeployTargets: dts}}
	if !in.WithoutWaitPlugin {
		// Every WAIT lasts a tenth of its duration.
		plugins = append(plugins, pipedv1.Plugin{Name: "wait", URL: pipedv1.FileURL(waitPluginBinary), Config: map[string]any{"timeScale": 0.1}})
	}
	syncInterval := time.Hour
	if in.OnCommit {
		syncInterval = time.Second
	}
	pipedDir := dir + "/piped"
	Expect(mkdir(pipedDir)).To(Succeed())
	rp.Piped, err = pipedv1.Start(ctx, pipedDir, pipedv1.Config{
		Binary:       pipedBinary,
		ControlPlane: cp.Addr(),
		ProjectID:    p.ProjectID,
		PipedID:      p.ID,
		PipedKey:     p.Key,
		Repo:         repo,
		SyncInterval: syncInterval,
		Plugins:      plugins,
		Template:     template,
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		Expect(rp.Piped.Stop(IntervalPluginGrace)).To(Succeed())
		if CurrentSpecReport().Failed() {
			rp.dump()
			return
		}
		By("checking that the control plane answered every RPC piped called")
		for _, c := range cp.Calls() {
			Expect(c.Codes).NotTo(HaveKey(codes.Unimplemented.String()), "piped called %s, which the control plane does not model", c.Method)
			Expect(c.Codes).NotTo(HaveKey(codes.Internal.String()), "the control plane failed %s", c.Method)
		}
	})
	return rp
}

// cloudRunPlugin is the Cloud Run plugin's name in piped.yaml (the key under an app's spec.plugins).
const cloudRunPlugin = "cloudrun"

// dump prints what a failed spec needs: piped's output, the control plane's deployments and calls, fakerun's
// state.
func (rp *realPiped) dump() {
	ctx := context.Background()
	GinkgoWriter.Printf("=== piped output\n%s\n", rp.Piped.Output())
	for name, id := range rp.Apps {
		ds, _ := rp.CP.ListDeployments(ctx, id)
		for _, d := range ds {
			GinkgoWriter.Printf("=== deployment of %s\n%s\n", name, rp.report(ctx, d))
		}
	}
	GinkgoWriter.Printf("=== control plane calls\n%v\n", rp.CP.Calls())
	for _, d := range FakerunDumps(rp.Fakerun.Server()) {
		GinkgoWriter.Printf("=== %s\n%s\n", d.Name, d.Content)
	}
}

// report renders a deployment as the PipeCD console shows it: its status, then each stage with its status and
// log lines.
func (rp *realPiped) report(ctx context.Context, d *model.Deployment) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (%s): %s\n", d.Status, d.Summary, d.Trigger.GetSyncStrategy(), d.StatusReason)
	for _, s := range d.Stages {
		fmt.Fprintf(&b, "  %s %s %s\n", s.Name, s.Status, s.StatusReason)
		for _, l := range rp.logs(ctx, d, s) {
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	return b.String()
}

// logs are the stage's log lines as the control plane received them.
func (rp *realPiped) logs(ctx context.Context, d *model.Deployment, s *model.PipelineStage) []string {
	blocks, _, err := rp.CP.StageLogs(ctx, d.Id, s.Id)
	if err != nil {
		return []string{"(no logs: " + err.Error() + ")"}
	}
	lines := make([]string, 0, len(blocks))
	for _, bl := range blocks {
		lines = append(lines, bl.Log)
	}
	return lines
}

// waitDeployment waits for the app's deployment number n to complete and returns it.
func (rp *realPiped) waitDeployment(ctx context.Context, app string, n int) *model.Deployment {
	GinkgoHelper()
	wctx, cancel := context.WithTimeout(ctx, realPipedDeployment)
	defer cancel()
	d, err := rp.CP.WaitDeployment(wctx, rp.Apps[app], n, controlplane.Completed)
	Expect(err).NotTo(HaveOccurred(), "deployment %d of %s did not complete", n, app)
	return d
}

// sync deploys the app's head commit by a SYNC command with strategy, as the console's SYNC button, and
// waits for the command to be handled.
func (rp *realPiped) sync(ctx context.Context, app string, strategy model.SyncStrategy) {
	GinkgoHelper()
	rp.syncAll(ctx, map[string]model.SyncStrategy{app: strategy})
}

// syncAll sends a SYNC command with its strategy for each app at once, then waits for piped to handle them
// (its trigger handles the commands it has seen every 10 s: one after the other, each would wait for a turn).
func (rp *realPiped) syncAll(ctx context.Context, strategies map[string]model.SyncStrategy) {
	GinkgoHelper()
	ids := make([]string, 0, len(strategies))
	for app, strategy := range strategies {
		id, err := rp.CP.Sync(ctx, rp.Apps[app], strategy)
		Expect(err).NotTo(HaveOccurred())
		ids = append(ids, id)
	}
	wctx, cancel := context.WithTimeout(ctx, realPipedDeployment)
	defer cancel()
	for _, id := range ids {
		cmd, err := rp.CP.WaitCommandHandled(wctx, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(cmd.Status).To(Equal(model.CommandStatus_COMMAND_SUCCEEDED))
	}
}

// commit commits files (paths relative to the app's directory) to the app and returns the commit hash.
func (rp *realPiped) commit(ctx context.Context, app, message string, files map[string]string) string {
	GinkgoHelper()
	prefixed := make(map[string]string, len(files))
	for p, c := range files {
		prefixed[app+"/"+p] = c
	}
	hash, err := rp.Repo.Commit(ctx, message, prefixed)
	Expect(err).NotTo(HaveOccurred())
	return hash
}

// plannedStage returns the deployment's first stage named name.
func plannedStage(d *model.Deployment, name string) *model.PipelineStage {
	GinkgoHelper()
	for _, s := range d.Stages {
		if s.Name == name {
			return s
		}
	}
	Fail("no stage " + name + " in " + strings.Join(stageStatuses(d), ", "))
	return nil
}

// service reads the app's service from fakerun's state.
func (rp *realPiped) service(name, region string) *runpb.Service {
	GinkgoHelper()
	svc, err := rp.Fakerun.Server().Service(fmt.Sprintf("projects/%s/locations/%s/services/%s", rp.Fakerun.Project(), region, name))
	Expect(err).NotTo(HaveOccurred())
	return svc
}

// shippedService returns the service name as deployed to the "local" deploy target of
// examples/piped-config.yaml (its project and region).
func (rp *realPiped) shippedService(name string) *runpb.Service {
	GinkgoHelper()
	svc, err := rp.Fakerun.Server().Service("projects/demo-project/locations/asia-northeast1/services/" + name)
	Expect(err).NotTo(HaveOccurred())
	return svc
}

// shippedPool returns examples/worker-pool's worker pool as deployed to the "local" deploy target of
// examples/piped-config.yaml.
func (rp *realPiped) shippedPool() *runpb.WorkerPool {
	GinkgoHelper()
	wp, err := rp.Fakerun.Server().WorkerPool("projects/demo-project/locations/asia-northeast1/workerPools/" + poolApp)
	Expect(err).NotTo(HaveOccurred())
	return wp
}

// stageStatuses are a deployment's stages as "NAME STATUS", in the order piped planned them.
func stageStatuses(d *model.Deployment) []string {
	out := make([]string, 0, len(d.Stages))
	for _, s := range d.Stages {
		out = append(out, s.Name+" "+strings.TrimPrefix(s.Status.String(), "STAGE_"))
	}
	return out
}

// expectDeploymentSucceeded fails with the deployment's report unless it succeeded.
func (rp *realPiped) expectSuccess(ctx context.Context, d *model.Deployment) {
	GinkgoHelper()
	Expect(d.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_SUCCESS), rp.report(ctx, d))
}
