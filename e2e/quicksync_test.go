package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

var _ = Describe("Quick sync [quicksync]", Label("quicksync", "fakerun-only"), func() {
	It("creates the service on the first deployment and routes all traffic to each new revision", func(ctx SpecContext) {
		e := newEnv()
		rec := e.recorder("quicksync")

		By("deploying v1 for the first time")
		res := e.deploy(ctx, piped.Deployment{AppDir: appDir("quicksync"), Commit: commit(), Hooks: rec.hooks(piped.Hooks{})})
		expectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_QUICK_SYNC))
		Expect(stageNames(res.Executed())).To(Equal([]string{"CLOUDRUN_SYNC"}))

		snaps := rec.snapshots()
		Expect(snaps).To(HaveLen(1))
		Expect(snaps[0].service).NotTo(BeNil(), "the service exists after CLOUDRUN_SYNC")
		Expect(snaps[0].revisions).To(HaveLen(1))
		v1 := shortName(snaps[0].revisions[0].GetName())
		Expect(traffic(snaps[0].service.GetTraffic())).To(Equal(entries(entry(v1, 100, ""))))
		Expect(liveTraffic(snaps[0].service)).To(Equal(entries(entry(v1, 100, ""))))
		Expect(snaps[0].revisions[0].GetContainers()[0].GetImage()).To(HaveSuffix("hello:v1"))

		By("deploying v2 over it")
		res = e.deploy(ctx, piped.Deployment{
			AppDir: appDir("quicksync"), Commit: commit(), Files: withImage("quicksync", "us-docker.pkg.dev/cloudrun/container/hello:v2"),
			Hooks: rec.hooks(piped.Hooks{}),
		})
		expectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_QUICK_SYNC))
		Expect(stageNames(res.Executed())).To(Equal([]string{"CLOUDRUN_SYNC"}))

		snaps = rec.snapshots()
		Expect(snaps).To(HaveLen(2))
		after := snaps[1]
		Expect(after.revisions).To(HaveLen(2))
		v2 := shortName(after.revisions[0].GetName())
		Expect(v2).NotTo(Equal(v1))
		Expect(after.revisions[0].GetContainers()[0].GetImage()).To(HaveSuffix("hello:v2"))
		Expect(traffic(after.service.GetTraffic())).To(Equal(entries(entry(v2, 100, ""))))
		Expect(liveTraffic(after.service)).To(Equal(entries(entry(v2, 100, ""))))
	})
})
