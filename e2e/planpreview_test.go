package e2e

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
)

var _ = Describe("Plan preview [planpreview]", Label("planpreview", "fakerun-only"), func() {
	It("announces a new revision with the new image, a config-only change without one, and no change", func(ctx SpecContext) {
		e := newEnv()
		By("running v1 by quick sync")
		v1 := e.DeployCanaryV1(ctx)
		before := e.Revisions(ctx, "canary")

		By("previewing an image change")
		r := e.PlanPreview(ctx, DeployInput{App: "canary", Files: WithImage("canary", ImageV2)}.Source())
		Expect(r.GetDeployTarget()).To(Equal("local"))
		Expect(r.GetNoChange()).To(BeFalse())
		Expect(r.GetSummary()).To(HavePrefix("New revision "))
		Expect(r.GetSummary()).To(ContainSubstring("with image " + ImageV2 + " (was " + ImageV1 + ")"))
		Expect(string(r.GetDetails())).To(ContainSubstring("-    image: " + ImageV1))
		Expect(string(r.GetDetails())).To(ContainSubstring("+    image: " + ImageV2))
		Expect(r.GetDiffLanguage()).To(Equal("diff"))

		By("previewing a change of a service label only")
		files := WithImage("canary", ImageV1)
		files["service.yaml"] = strings.Replace(files["service.yaml"], "team: payments", "team: checkout", 1)
		r = e.PlanPreview(ctx, DeployInput{App: "canary", Files: files}.Source())
		Expect(r.GetNoChange()).To(BeFalse())
		Expect(r.GetSummary()).To(HavePrefix("No new revision; service settings change: labels"), r.GetSummary())
		Expect(string(r.GetDetails())).To(ContainSubstring("checkout"))

		By("previewing the running commit's manifest")
		r = e.PlanPreview(ctx, DeployInput{App: "canary", Files: WithImage("canary", ImageV1)}.Source())
		Expect(r.GetNoChange()).To(BeTrue(), r.GetSummary())
		Expect(r.GetSummary()).To(ContainSubstring("no change, service canary already runs revision " + v1))

		By("checking the previews created no revision")
		Expect(e.Revisions(ctx, "canary")).To(HaveLen(len(before)), "a preview changes nothing")
	})

	It("announces a new service before the first deployment", func(ctx SpecContext) {
		e := newEnv()
		By("previewing the canary example before it was ever deployed")
		r := e.PlanPreview(ctx, DeployInput{App: "canary", Files: WithImage("canary", ImageV1)}.Source())
		Expect(r.GetNoChange()).To(BeFalse())
		Expect(r.GetSummary()).To(HavePrefix("New service canary with revision "))
		Expect(r.GetSummary()).To(ContainSubstring("image " + ImageV1))

		By("checking the preview created no service")
		_, err := e.GetService(ctx, "canary")
		Expect(err).To(HaveOccurred(), "a preview creates nothing")
	})
})
