package install

import (
	"context"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/e2e/controlplane"
	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/pipedv1"
	"github.com/pipecd-cloudrun/cloudrun/e2e/release"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
)

// pipedBinary is pipedv1 as this process built it (pipedv1.Build), removed after the suite.
var pipedBinary string

var _ = Describe("The real piped installing the release [install] [piped]", Label("install", "piped"), func() {
	It("installs the plugin from the release's oci:// artifact and deploys by quick sync through it", func(ctx SpecContext) {
		var err error
		pipedBinary, err = pipedv1.Build()
		Expect(err).NotTo(HaveOccurred())
		url := serve(ctx, "oci") // piped inherits SSL_CERT_FILE, trusting the registry
		fr, err := target.NewFakerun()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(fr.Close)
		cp, err := controlplane.Start(context.Background(), controlplane.Options{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(cp.Close)
		p, err := cp.AddPiped(ctx, "e2e")
		Expect(err).NotTo(HaveOccurred())
		root, err := piped.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		dir := GinkgoT().TempDir()
		repo, err := pipedv1.NewRepo(ctx, filepath.Join(dir, "repo"), map[string]string{"quicksync": filepath.Join(root, "examples", "quicksync")})
		Expect(err).NotTo(HaveOccurred())
		appID, err := cp.AddApplication(ctx, controlplane.Application{
			Name: "quicksync", PipedID: p.ID, Path: "quicksync",
			Repo:          &model.ApplicationGitRepository{Id: pipedv1.DefaultRepoID, Remote: repo.Remote(), Branch: pipedv1.Branch},
			DeployTargets: map[string][]string{"cloudrun": {"local"}},
		})
		Expect(err).NotTo(HaveOccurred())

		By("starting pipedv1 with the plugin at " + url)
		pd, err := pipedv1.Start(ctx, dir, pipedv1.Config{
			Binary: pipedBinary, ControlPlane: cp.Addr(), ProjectID: p.ProjectID, PipedID: p.ID, PipedKey: p.Key, Repo: repo,
			Plugins: []pipedv1.Plugin{{Name: "cloudrun", URL: url, DeployTargets: []piped.DeployTarget{{Name: "local", Config: fr.DeployTargetConfig(region)}}}},
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			Expect(pd.Stop(IntervalPluginGrace)).To(Succeed())
			if CurrentSpecReport().Failed() {
				GinkgoWriter.Printf("\n===== piped output =====\n%s\n", pd.Output())
				return
			}
			for _, c := range cp.Calls() {
				Expect(c.Codes).NotTo(HaveKey(codes.Unimplemented.String()), "piped called %s, which the control plane does not model", c.Method)
			}
		})

		By("syncing the application from the console")
		id, err := cp.Sync(ctx, appID, model.SyncStrategy_QUICK_SYNC)
		Expect(err).NotTo(HaveOccurred())
		wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		cmd, err := cp.WaitCommandHandled(wctx, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(cmd.Status).To(Equal(model.CommandStatus_COMMAND_SUCCEEDED))
		d, err := cp.WaitDeployment(wctx, appID, 0, controlplane.Completed)
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_SUCCESS), "%s: %s", d.Status, d.StatusReason)
		Expect(pd.Output()).To(ContainSubstring(`"plugin-version": "%s"`, version), "piped runs the release's plugin")
		Expect(release.FileSHA256(filepath.Join(dir, "home", ".piped", "plugins", "cloudrun"))).To(Equal(checksums()[filepath.Base(hostBinary())]),
			"piped installed the release's binary for this platform")

		By("checking what fakerun serves")
		svc, err := fr.Server().Service("projects/" + fr.Project() + "/locations/" + region + "/services/quicksync")
		Expect(err).NotTo(HaveOccurred())
		Expect(svc.GetTemplate().GetContainers()[0].GetImage()).To(Equal("us-docker.pkg.dev/cloudrun/container/hello:v1"))
		Expect(LiveTraffic(svc)).To(Equal(Routes(Route(ShortName(svc.GetLatestReadyRevision()), 100, ""))))
	})
})
