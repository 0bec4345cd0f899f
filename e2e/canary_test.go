package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

var _ = Describe("Canary [canary]", Label("canary", "fakerun-only"), func() {
	It("shifts traffic 0% → 10% → 50% → 100% and cleans up, with the preview tag on the new revision", func(ctx SpecContext) {
		e := newEnv()
		By("running v1 by quick sync")
		v1 := e.DeployCanaryV1(ctx)

		By("running the canary pipeline for v2")
		rec := e.Recorder("canary")
		c := Commit()
		res := e.Deploy(ctx, DeployInput{App: "canary", Commit: c, Hooks: rec.Hooks(piped.Hooks{})})
		ExpectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_PIPELINE))
		Expect(StageNames(res.Executed())).To(Equal([]string{
			"CLOUDRUN_SYNC", "CLOUDRUN_PROMOTE", "WAIT", "CLOUDRUN_PROMOTE", "CLOUDRUN_PROMOTE", "CLOUDRUN_CANARY_CLEANUP",
		}))

		By("checking the traffic and the revisions after every stage")
		snaps := rec.Snapshots()
		Expect(snaps).To(HaveLen(6))
		sync := snaps[0]
		Expect(sync.Revisions).To(HaveLen(2))
		v2 := ShortName(sync.Revisions[0].GetName())
		Expect(v2).NotTo(Equal(v1))
		Expect(sync.Revisions[0].GetContainers()[0].GetImage()).To(Equal(ImageV2))
		expected := CanaryTraffic(v1, v2, PreviewTag(c))
		for i, s := range snaps {
			Expect(s.Stage.Status).To(Equal(model.StageStatus_STAGE_SUCCESS), "stage %d %s", i, s.Stage.Name)
			Expect(Traffic(s.Service.GetTraffic())).To(Equal(expected[i]), "traffic after stage %d %s", i, s.Stage.Name)
			Expect(LiveTraffic(s.Service)).To(Equal(expected[i]), "live traffic after stage %d %s", i, s.Stage.Name)
			Expect(RevisionNames(s.Revisions)).To(ConsistOf(v2, v1), "revisions after stage %d %s", i, s.Stage.Name)
		}
	})

	It("deletes old revisions beyond keepCount at CLOUDRUN_CANARY_CLEANUP, never the serving or rollback ones", func(ctx SpecContext) {
		e := newEnv()
		By("quick-syncing four versions (as the web console's sync button does)")
		var revs []string
		for _, v := range []string{"v1", "v2", "v3", "v4"} {
			ExpectSuccess(e.Deploy(ctx, DeployInput{
				App: "canary", SyncStrategy: model.SyncStrategy_QUICK_SYNC,
				Files: WithImage("canary", "us-docker.pkg.dev/cloudrun/container/hello:"+v),
			}))
			revs = append(revs, ShortName(e.Service(ctx, "canary").GetLatestReadyRevision()))
		}
		Expect(e.Revisions(ctx, "canary")).To(HaveLen(4))

		By("running the canary of v5, whose cleanup keeps 2 revisions besides the serving and rollback ones")
		c := Commit()
		ExpectSuccess(e.Deploy(ctx, DeployInput{App: "canary", Commit: c, Files: WithImage("canary", "us-docker.pkg.dev/cloudrun/container/hello:v5")}))

		By("checking that only v1's revision was deleted")
		svc := e.Service(ctx, "canary")
		v5 := ShortName(svc.GetLatestReadyRevision())
		Expect(RevisionNames(e.Revisions(ctx, "canary"))).To(ConsistOf(v5, revs[3], revs[2], revs[1]),
			"v5 serves, v4 is the rollback target, v3 and v2 are the 2 newest others; v1 is deleted")
		Expect(Traffic(svc.GetTraffic())).To(Equal(Routes(Route(v5, 100, ""), Route(v5, 0, PreviewTag(c)))))
	})
})
