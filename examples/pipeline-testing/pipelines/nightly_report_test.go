package pipelines

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/pipelinetest"
)

const (
	nightlyReport   = "../apps/nightly-report"
	nightlyReportV1 = "europe-docker.pkg.dev/acme/data/nightly-report:2.0.0"
	nightlyReportV2 = "europe-docker.pkg.dev/acme/data/nightly-report:2.1.0"
)

var _ = Describe("nightly-report's smoke run", Label("pipelinetest"), func() {
	It("rolls back a release whose tasks fail", func(ctx SpecContext) {
		env := start(ctx)
		Expect(deploy(ctx, env, Deployment{AppDir: nightlyReport, Image: nightlyReportV1, QuickSync: true})).To(HaveSucceeded())

		res := deploy(ctx, env, Deployment{AppDir: nightlyReport, Image: nightlyReportV2,
			Behaviors: map[string]Behavior{nightlyReportV2: {Task: TaskBehavior{ExitCode: 3}}}})

		Expect(res).To(HaveFailedAt("CLOUDRUN_JOB_RUN"))
		Expect(res).To(HaveStage("CLOUDRUN_JOB_SYNC", StatusSuccess))
		Expect(res).To(HaveRolledBack())
	})
})
