package e2e

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
)

var _ = Describe("Nothing half-moved [reliability]", Label("reliability", "fakerun-only"), func() {
	DescribeTable("a bad option in a later stage fails the deployment at planning, before anything is written",
		func(ctx SpecContext, files func() map[string]string, wantInError []string) {
			e := newEnv()
			v1 := e.DeployCanaryV1(ctx)
			revisions := RevisionNames(e.Revisions(ctx, "canary"))

			By("deploying v2 with the bad option")
			in := DeployInput{App: "canary", Commit: Commit(), Files: files()}
			in.Files["service.yaml"] = Manifest("canary", ImageV2)
			_, err := e.Piped.Deploy(ctx, in.Deployment())
			Expect(err).To(HaveOccurred(), "piped fails the deployment while planning")
			for _, w := range wantInError {
				Expect(err.Error()).To(ContainSubstring(w))
			}

			By("checking that no revision was created and the traffic did not move")
			Expect(RevisionNames(e.Revisions(ctx, "canary"))).To(Equal(revisions))
			Expect(Traffic(e.Service(ctx, "canary").GetTraffic())).To(Equal(Routes(Route(v1, 100, ""))))
			expectPluginAlive(e)
		},
		Entry("the third CLOUDRUN_PROMOTE has percent 1000", func() map[string]string {
			return CanaryConfig("percent: 100\n", "percent: 1000\n")
		}, []string{"spec.pipeline.stages[4], CLOUDRUN_PROMOTE #3 of 3", `field "percent": 1000 is out of range, allowed 0-100`}),
		Entry("CLOUDRUN_ROLLBACK has revision: 5", func() map[string]string {
			files := CanaryConfig("      - name: CLOUDRUN_CANARY_CLEANUP\n", "      - name: CLOUDRUN_ROLLBACK\n        with:\n          revision: 5\n      - name: CLOUDRUN_CANARY_CLEANUP\n")
			Expect(strings.Count(files["app.pipecd.yaml"], "CLOUDRUN_ROLLBACK")).To(Equal(1))
			return files
		}, []string{"spec.pipeline.stages[5], CLOUDRUN_ROLLBACK", `field "revision": 5 is not a string`}),
	)
})
