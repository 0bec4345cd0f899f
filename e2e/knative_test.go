package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

var _ = Describe("Knative v0 application [livestate]", Label("livestate", "examples", "fakerun-only"), func() {
	It("runs examples/knative-v0 through its v0 canary pipeline and reports it SYNCED", func(ctx SpecContext) {
		e := newEnv()
		id := serviceID("knative-v0")
		Expect(id).To(Equal("knative-v0"))

		By("deploying v1 for the first time (quick sync)")
		res := e.Deploy(ctx, DeployInput{App: "knative-v0", Files: WithImage("knative-v0", ImageV1)})
		ExpectSuccess(res)
		v1 := ShortName(e.Service(ctx, id).GetLatestReadyRevision())

		By("running the v0 pipeline for v2: CLOUDRUN_PROMOTE deploys the new revision as no CLOUDRUN_SYNC runs")
		rec := e.Recorder(id)
		v2App := DeployInput{App: "knative-v0", Commit: Commit(), Files: WithImage("knative-v0", ImageV2), Hooks: rec.Hooks(piped.Hooks{})}
		res = e.Deploy(ctx, v2App)
		ExpectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_PIPELINE))
		Expect(StageNames(res.Executed())).To(Equal([]string{"CLOUDRUN_PROMOTE", "WAIT", "CLOUDRUN_PROMOTE", "WAIT", "CLOUDRUN_PROMOTE"}))
		svc := e.Service(ctx, id)
		v2 := ShortName(svc.GetLatestReadyRevision())
		Expect(v2).NotTo(Equal(v1))
		Expect(svc.GetTemplate().GetContainers()[0].GetImage()).To(Equal(ImageV2))

		By("checking the split after every stage: 10%, 50%, then 100% on v2")
		snaps := rec.Snapshots()
		Expect(snaps).To(HaveLen(5))
		percents := []int{10, 10, 50, 50, 100}
		for i, s := range snaps {
			want := Routes(Route(v2, percents[i], ""), Route(v1, 100-percents[i], ""))
			if percents[i] == 100 {
				want = Routes(Route(v2, 100, ""))
			}
			Expect(LiveTraffic(s.Service)).To(Equal(want), "after stage %d %s", i, s.Stage.Name)
		}

		By("reading its live state at the deployed commit")
		ls := e.Livestate(ctx, v2App.Source())
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED), ls.GetSyncState().GetReason())
		Expect(resourcesByName(ls)).To(HaveKey(v2))
	})
})
