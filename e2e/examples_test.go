package e2e

import (
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	pluginmanifest "github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
)

// exampleApps lists the directories under examples/ that hold an app.pipecd.yaml.
func exampleApps() []string {
	root, err := piped.RepoRoot()
	if err != nil {
		return nil
	}
	matches, _ := filepath.Glob(filepath.Join(root, "examples", "*", "app.pipecd.yaml"))
	var apps []string
	for _, m := range matches {
		apps = append(apps, filepath.Base(filepath.Dir(m)))
	}
	return apps
}

// serviceID reads the service name of an example's manifest the way the plugin does (a Cloud Run v2 Service or
// a Knative Service).
func serviceID(app string) string {
	GinkgoHelper()
	m, err := pluginmanifest.Load(appDir(app), "service.yaml")
	Expect(err).NotTo(HaveOccurred())
	Expect(m.ServiceID()).NotTo(BeEmpty(), "examples/%s/service.yaml names no service", app)
	return m.ServiceID()
}

var _ = Describe("Examples [examples]", Label("examples", "fakerun-only"), func() {
	apps := exampleApps()
	It("finds the examples", func() {
		Expect(apps).NotTo(BeEmpty())
	})
	for _, app := range apps {
		It("deploys examples/"+app+" for the first time and then updates it", func(ctx SpecContext) {
			e := newEnv()
			expectSuccess(e.deploy(ctx, piped.Deployment{AppDir: appDir(app), Commit: commit()}))
			expectSuccess(e.deploy(ctx, piped.Deployment{AppDir: appDir(app), Commit: commit(), Files: withImage(app, imageV3)}))
			svc := e.service(serviceID(app))
			latest := shortName(svc.GetLatestReadyRevision())
			Expect(traffic(svc.GetTraffic())).To(ContainElement(entry(latest, 100, "")))
			Expect(e.srv.Revisions(e.serviceName(serviceID(app)))[0].GetContainers()[0].GetImage()).To(Equal(imageV3))
		})
	}
})
