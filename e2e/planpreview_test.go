package e2e

import (
	"context"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/planpreview"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// previewOf asks the plugin for the plan preview of a source, as piped's plan-preview builder does for a pull
// request's merged commit, and returns its only result.
func (e *env) previewOf(ctx context.Context, src piped.Source) *planpreview.PlanPreviewResult {
	GinkgoHelper()
	res, err := e.pd.PlanPreview(ctx, src)
	Expect(err).NotTo(HaveOccurred())
	Expect(res.GetResults()).To(HaveLen(1))
	return res.GetResults()[0]
}

var _ = Describe("Plan preview [planpreview]", Label("planpreview", "fakerun-only"), func() {
	It("announces a new revision with the new image, a config-only change without one, and no change", func(ctx SpecContext) {
		e := newEnv()
		v1 := deployCanaryV1(ctx, e)
		before := e.srv.Revisions(e.serviceName("canary"))

		By("previewing an image change")
		r := e.previewOf(ctx, piped.Source{AppDir: appDir("canary"), Files: withImage("canary", imageV2)})
		Expect(r.GetDeployTarget()).To(Equal("local"))
		Expect(r.GetNoChange()).To(BeFalse())
		Expect(r.GetSummary()).To(HavePrefix("New revision "))
		Expect(r.GetSummary()).To(ContainSubstring("with image " + imageV2 + " (was " + imageV1 + ")"))
		Expect(string(r.GetDetails())).To(ContainSubstring("-    image: " + imageV1))
		Expect(string(r.GetDetails())).To(ContainSubstring("+    image: " + imageV2))
		Expect(r.GetDiffLanguage()).To(Equal("diff"))

		By("previewing a change of a service label only")
		files := withImage("canary", imageV1)
		files["service.yaml"] = strings.Replace(files["service.yaml"], "team: payments", "team: checkout", 1)
		r = e.previewOf(ctx, piped.Source{AppDir: appDir("canary"), Files: files})
		Expect(r.GetNoChange()).To(BeFalse())
		Expect(r.GetSummary()).To(HavePrefix("No new revision; service settings change: labels"), r.GetSummary())
		Expect(string(r.GetDetails())).To(ContainSubstring("checkout"))

		By("previewing the running commit's manifest")
		r = e.previewOf(ctx, piped.Source{AppDir: appDir("canary"), Files: withImage("canary", imageV1)})
		Expect(r.GetNoChange()).To(BeTrue(), r.GetSummary())
		Expect(r.GetSummary()).To(ContainSubstring("no change, service canary already runs revision " + v1))

		Expect(e.srv.Revisions(e.serviceName("canary"))).To(HaveLen(len(before)), "a preview changes nothing")
	})

	It("announces a new service before the first deployment", func(ctx SpecContext) {
		e := newEnv()
		r := e.previewOf(ctx, piped.Source{AppDir: appDir("canary"), Files: withImage("canary", imageV1)})
		Expect(r.GetNoChange()).To(BeFalse())
		Expect(r.GetSummary()).To(HavePrefix("New service canary with revision "))
		Expect(r.GetSummary()).To(ContainSubstring("image " + imageV1))
		_, err := e.srv.Service(e.serviceName("canary"))
		Expect(err).To(HaveOccurred(), "a preview creates nothing")
	})
})
