package e2e

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
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

// serviceID reads the service name of an example's service.yaml: a Cloud Run v2 Service (name) or a Knative
// Service (metadata.name).
func serviceID(app string) string {
	GinkgoHelper()
	raw, err := os.ReadFile(filepath.Join(appDir(app), "service.yaml"))
	Expect(err).NotTo(HaveOccurred())
	var m struct {
		Name     string `json:"name"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	Expect(yaml.Unmarshal(raw, &m)).To(Succeed())
	if m.Name == "" {
		m.Name = m.Metadata.Name
	}
	Expect(m.Name).NotTo(BeEmpty(), "examples/%s/service.yaml names no service", app)
	return shortName(m.Name)
}

var _ = Describe("Examples [examples]", Label("examples"), func() {
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
