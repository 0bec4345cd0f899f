package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pipe-cd/pipecd/pkg/model"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
)

var _ = Describe("The real piped [piped]", Label(realPipedLabel, "fakerun-only"), func() {
	It("deploys a first revision by quick sync on a SYNC command", func(ctx SpecContext) {
		rp := newRealPiped(ctx, realPipedInput{Apps: []string{"quicksync"}})

		By("syncing the application from the console")
		rp.sync(ctx, "quicksync", model.SyncStrategy_QUICK_SYNC)
		d := rp.waitDeployment(ctx, "quicksync", 0)
		rp.expectSuccess(ctx, d)
		Expect(stageStatuses(d)).To(Equal([]string{"CLOUDRUN_SYNC SUCCESS", "CLOUDRUN_ROLLBACK NOT_STARTED_YET"}))

		By("checking the traffic fakerun serves")
		svc := rp.service("quicksync", region)
		Expect(LiveTraffic(svc)).To(HaveLen(1))
	})
})
