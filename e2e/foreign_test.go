package e2e

import (
	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

var _ = Describe("Foreign traffic [canary]", Label("canary", "foreign", "fakerun-only"), func() {
	It("keeps foreign tags and an out-of-band traffic change made during the canary", func(ctx SpecContext) {
		e := newEnv()
		By("running v0, then v1, and tagging them out of band")
		expectSuccess(e.deploy(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: commit(), Files: withImage("canary", "us-docker.pkg.dev/cloudrun/container/hello:v0")}))
		v0 := shortName(e.service("canary").GetLatestReadyRevision())
		expectSuccess(e.deploy(ctx, piped.Deployment{
			AppDir: appDir("canary"), Commit: commit(), Files: withImage("canary", imageV1), SyncStrategy: model.SyncStrategy_QUICK_SYNC,
		}))
		v1 := shortName(e.service("canary").GetLatestReadyRevision())
		e.setTraffic(ctx, "canary", revisionTarget(v1, 100, ""), revisionTarget(v1, 0, "stable"), revisionTarget(v0, 0, "legacy"))

		By("running the canary for v2, moving 5% to v0 by hand while it waits")
		rec := e.recorder("canary")
		c := commit()
		tag := "preview-" + c[:7]
		res := e.deploy(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: c, Hooks: rec.hooks(piped.Hooks{
			OnStageStart: func(_ *piped.Run, s piped.StageRecord) {
				defer GinkgoRecover()
				if s.Name != "WAIT" {
					return
				}
				svc := e.service("canary")
				v2 := shortName(svc.GetLatestCreatedRevision())
				e.setTraffic(ctx, "canary",
					revisionTarget(v1, 85, ""), revisionTarget(v2, 10, ""), revisionTarget(v2, 0, tag),
					revisionTarget(v1, 0, "stable"), revisionTarget(v0, 5, "legacy"))
			},
		})})
		expectSuccess(res)

		snaps := rec.snapshots()
		Expect(snaps).To(HaveLen(6))
		v2 := shortName(snaps[0].service.GetLatestCreatedRevision())
		for i, s := range snaps {
			got := traffic(s.service.GetTraffic())
			Expect(got).To(ContainElement(entry(v1, 0, "stable")), "the foreign tag on v1 survives stage %d %s", i, s.stage.Name)
			Expect(got).To(ContainElement(entry(v2, 0, tag)), "the preview tag stays after stage %d %s", i, s.stage.Name)
			if s.stage.Index < stageWait {
				Expect(got).To(ContainElement(entry(v0, 0, "legacy")), "the foreign tag on v0 survives stage %d %s", i, s.stage.Name)
				continue
			}
			Expect(got).To(ContainElement(entry(v0, 5, "legacy")), "the out-of-band 5%% on v0 survives stage %d %s", i, s.stage.Name)
			Expect(sum(s.service)).To(Equal(100))
		}
		final := traffic(snaps[len(snaps)-1].service.GetTraffic())
		Expect(final).To(Equal(entries(entry(v2, 95, ""), entry(v2, 0, tag), entry(v1, 0, "stable"), entry(v0, 5, "legacy"))))
		Expect(revisionNames(snaps[len(snaps)-1].revisions)).To(ContainElements(v0, v1, v2), "cleanup never deletes revisions with traffic or tags")
		Expect(res.Stages[len(res.Stages)-1].Status).To(Equal(model.StageStatus_STAGE_NOT_STARTED_YET), "no rollback")
	})
})

// sum returns the total percent of a service's traffic.
func sum(svc *runpb.Service) int {
	total := 0
	for _, t := range svc.GetTraffic() {
		total += int(t.GetPercent())
	}
	return total
}
