package e2e

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	pluginmanifest "github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
)

// serviceID reads the service name of an example's manifest the way the plugin does (a Cloud Run v2 Service or
// a Knative Service).
func serviceID(app string) string {
	GinkgoHelper()
	m, err := pluginmanifest.Load(AppDir(app), "service.yaml")
	Expect(err).NotTo(HaveOccurred())
	Expect(m.ServiceID()).NotTo(BeEmpty(), "examples/%s/service.yaml names no service", app)
	return m.ServiceID()
}

var _ = Describe("Examples [examples]", Label("examples", "fakerun-only"), func() {
	apps := ExampleApps()
	It("finds the examples", func() {
		Expect(apps).NotTo(BeEmpty())
	})
	for _, app := range apps {
		if app == AnalysisExample || app == verifiedExample {
			continue // its analysis needs traffic and lasts minutes: analysis_test.go (verify_test.go) deploys it, scaled down
		}
		if app == "job" {
			continue // a job, deployed and run by jobs_test.go
		}
		if app == "worker-pool" {
			continue // a worker pool, deployed by workerpools_test.go
		}
		It("deploys examples/"+app+" for the first time and then updates it", func(ctx SpecContext) {
			e := newEnv()
			By("deploying examples/" + app + " as it is")
			ExpectSuccess(e.Deploy(ctx, DeployInput{App: app}))

			By("deploying it again with the image " + ImageV3)
			c := Commit()
			res := e.Deploy(ctx, DeployInput{App: app, Commit: c, Files: WithImage(app, ImageV3)})
			ExpectSuccess(res)

			By("checking the revision the deployment created runs " + ImageV3 + " with all the traffic")
			created := DeployedRevision(res)
			want := Routes(Route(created, 100, ""))
			if previewTagged(app) {
				want = Routes(Route(created, 100, ""), Route(created, 0, PreviewTag(c)))
			}
			Expect(Traffic(e.Service(ctx, serviceID(app)).GetTraffic())).To(Equal(want))
			Expect(e.Revision(ctx, serviceID(app), created).GetContainers()[0].GetImage()).To(Equal(ImageV3))
		})
	}
})

// previewTagged tells whether the CLOUDRUN_SYNC of the example app gives the new revision a preview tag.
func previewTagged(app string) bool {
	GinkgoHelper()
	raw, err := os.ReadFile(filepath.Join(AppDir(app), "app.pipecd.yaml"))
	Expect(err).NotTo(HaveOccurred())
	return strings.Contains(string(raw), "tag: true")
}
