package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

var _ = Describe("Quick sync [quicksync]", Label("quicksync", "fakerun-only"), func() {
	It("creates the service on the first deployment and routes all traffic to each new revision", func(ctx SpecContext) {
		e := newEnv()
		rec := e.Recorder("quicksync")

		By("deploying v1 for the first time")
		res := e.Deploy(ctx, DeployInput{App: "quicksync", Hooks: rec.Hooks(piped.Hooks{})})
		ExpectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_QUICK_SYNC))
		Expect(StageNames(res.Executed())).To(Equal([]string{"CLOUDRUN_SYNC"}))

		By("checking the service exists with all the traffic on v1's revision")
		snaps := rec.Snapshots()
		Expect(snaps).To(HaveLen(1))
		Expect(snaps[0].Service).NotTo(BeNil(), "the service exists after CLOUDRUN_SYNC")
		Expect(snaps[0].Revisions).To(HaveLen(1))
		v1 := ShortName(snaps[0].Revisions[0].GetName())
		Expect(Traffic(snaps[0].Service.GetTraffic())).To(Equal(Routes(Route(v1, 100, ""))))
		Expect(LiveTraffic(snaps[0].Service)).To(Equal(Routes(Route(v1, 100, ""))))
		Expect(snaps[0].Revisions[0].GetContainers()[0].GetImage()).To(HaveSuffix("hello:v1"))

		By("deploying v2 over it")
		res = e.Deploy(ctx, DeployInput{App: "quicksync", Files: WithImage("quicksync", ImageV2), Hooks: rec.Hooks(piped.Hooks{})})
		ExpectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_QUICK_SYNC))
		Expect(StageNames(res.Executed())).To(Equal([]string{"CLOUDRUN_SYNC"}))

		By("checking all the traffic moved to v2's new revision")
		snaps = rec.Snapshots()
		Expect(snaps).To(HaveLen(2))
		after := snaps[1]
		Expect(after.Revisions).To(HaveLen(2))
		v2 := ShortName(after.Revisions[0].GetName())
		Expect(v2).NotTo(Equal(v1))
		Expect(after.Revisions[0].GetContainers()[0].GetImage()).To(HaveSuffix("hello:v2"))
		Expect(Traffic(after.Service.GetTraffic())).To(Equal(Routes(Route(v2, 100, ""))))
		Expect(LiveTraffic(after.Service)).To(Equal(Routes(Route(v2, 100, ""))))
	})
})
