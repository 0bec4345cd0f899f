package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

var _ = Describe("Foreign traffic [canary]", Label("canary", "foreign", "fakerun-only"), func() {
	It("keeps foreign tags and an out-of-band traffic change made during the canary", func(ctx SpecContext) {
		e := newEnv()
		By("running v0, then v1, and tagging them out of band")
		ExpectSuccess(e.Deploy(ctx, DeployInput{App: "canary", Files: WithImage("canary", "us-docker.pkg.dev/cloudrun/container/hello:v0")}))
		v0 := ShortName(e.Service(ctx, "canary").GetLatestReadyRevision())
		ExpectSuccess(e.Deploy(ctx, DeployInput{App: "canary", Files: WithImage("canary", ImageV1), SyncStrategy: model.SyncStrategy_QUICK_SYNC}))
		v1 := ShortName(e.Service(ctx, "canary").GetLatestReadyRevision())
		e.SetTraffic(ctx, "canary", RevisionTarget(v1, 100, ""), RevisionTarget(v1, 0, "stable"), RevisionTarget(v0, 0, "legacy"))

		By("running the canary for v2, moving 5% to v0 by hand while it waits")
		rec := e.Recorder("canary")
		c := Commit()
		tag := "preview-" + c[:7]
		res := e.Deploy(ctx, DeployInput{App: "canary", Commit: c, Hooks: rec.Hooks(piped.Hooks{
			OnStageStart: func(_ *piped.Run, s piped.StageRecord) {
				defer GinkgoRecover()
				if s.Name != "WAIT" {
					return
				}
				svc := e.Service(ctx, "canary")
				v2 := ShortName(svc.GetLatestCreatedRevision())
				e.SetTraffic(ctx, "canary",
					RevisionTarget(v1, 85, ""), RevisionTarget(v2, 10, ""), RevisionTarget(v2, 0, tag),
					RevisionTarget(v1, 0, "stable"), RevisionTarget(v0, 5, "legacy"))
			},
		})})
		ExpectSuccess(res)

		By("checking the exact traffic after every stage: the foreign tags and the 5% on v0 survive, the deployment shares the rest")
		snaps := rec.Snapshots()
		Expect(snaps).To(HaveLen(6))
		v2 := ShortName(snaps[0].Service.GetLatestCreatedRevision())
		want := CanaryTraffic(v1, v2, tag, Route(v1, 0, "stable"), Route(v0, 0, "legacy"))
		// From WAIT on, v0 holds 5% set by hand, outside the deployment: PROMOTE shares the other 95% (50% of
		// it is 47.5, the tie going to the new revision first), and 100% of it is 95%.
		kept := []string{Route(v2, 0, tag), Route(v1, 0, "stable"), Route(v0, 5, "legacy")}
		want[stageWait] = Routes(append([]string{Route(v1, 85, ""), Route(v2, 10, "")}, kept...)...)
		want[stagePromote50] = Routes(append([]string{Route(v1, 47, ""), Route(v2, 48, "")}, kept...)...)
		want[stagePromote100] = Routes(append([]string{Route(v2, 95, "")}, kept...)...)
		want[stageCleanup] = want[stagePromote100]
		for i, s := range snaps {
			Expect(Traffic(s.Service.GetTraffic())).To(Equal(want[s.Stage.Index]), "traffic after stage %d %s", i, s.Stage.Name)
			Expect(LiveTraffic(s.Service)).To(Equal(want[s.Stage.Index]), "live traffic after stage %d %s", i, s.Stage.Name)
		}
		Expect(RevisionNames(snaps[len(snaps)-1].Revisions)).To(ContainElements(v0, v1, v2), "cleanup never deletes revisions with traffic or tags")
		Expect(res.Stages[len(res.Stages)-1].Status).To(Equal(model.StageStatus_STAGE_NOT_STARTED_YET), "no rollback")
	})
})
