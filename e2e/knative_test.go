package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

var _ = Describe("Knative v0 application [livestate]", Label("livestate", "examples", "fakerun-only"), func() {
	It("runs examples/knative-v0 through its v0 canary pipeline and reports it SYNCED", func(ctx SpecContext) {
		e := newEnv()
		id := serviceID("knative-v0")
		Expect(id).To(Equal("knative-v0"))

		By("deploying v1 for the first time (quick sync)")
		res := e.deploy(ctx, piped.Deployment{AppDir: appDir("knative-v0"), Commit: commit(), Files: withImage("knative-v0", imageV1)})
		expectSuccess(res)
		v1 := shortName(e.service(id).GetLatestReadyRevision())

		By("running the v0 pipeline for v2: CLOUDRUN_PROMOTE deploys the new revision as no CLOUDRUN_SYNC runs")
		rec := e.recorder(id)
		c := commit()
		res = e.deploy(ctx, piped.Deployment{AppDir: appDir("knative-v0"), Commit: c, Files: withImage("knative-v0", imageV2), Hooks: rec.hooks(piped.Hooks{})})
		expectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_PIPELINE))
		Expect(stageNames(res.Executed())).To(Equal([]string{"CLOUDRUN_PROMOTE", "WAIT", "CLOUDRUN_PROMOTE", "WAIT", "CLOUDRUN_PROMOTE"}))
		svc := e.service(id)
		v2 := shortName(svc.GetLatestReadyRevision())
		Expect(v2).NotTo(Equal(v1))
		Expect(svc.GetTemplate().GetContainers()[0].GetImage()).To(Equal(imageV2))

		snaps := rec.snapshots()
		Expect(snaps).To(HaveLen(5))
		percents := []int{10, 10, 50, 50, 100}
		for i, s := range snaps {
			Expect(liveTraffic(s.service)).To(ContainElement(HavePrefix(entry(v2, percents[i], ""))), "after stage %d %s", i, s.stage.Name)
			if percents[i] < 100 {
				Expect(liveTraffic(s.service)).To(ContainElement(HavePrefix(entry(v1, 100-percents[i], ""))), "after stage %d %s", i, s.stage.Name)
			}
		}

		By("reading its live state at the deployed commit")
		ls := e.livestateOf(ctx, piped.Source{AppDir: appDir("knative-v0"), Commit: c, Files: withImage("knative-v0", imageV2)})
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED), ls.GetSyncState().GetReason())
		Expect(resourcesByName(ls)).To(HaveKey(v2))
	})
})
