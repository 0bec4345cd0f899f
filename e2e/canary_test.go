package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

const (
	imageV1 = "us-docker.pkg.dev/cloudrun/container/hello:v1"
	imageV2 = "us-docker.pkg.dev/cloudrun/container/hello:v2"
	imageV3 = "us-docker.pkg.dev/cloudrun/container/hello:v3"
)

// deployCanaryV1 quick-syncs the canary example at v1 and returns the revision that serves it.
func deployCanaryV1(ctx SpecContext, e *env) string {
	GinkgoHelper()
	res := e.deploy(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: commit(), Files: withImage("canary", imageV1)})
	expectSuccess(res)
	Expect(res.Strategy).To(Equal(model.SyncStrategy_QUICK_SYNC))
	svc := e.service("canary")
	v1 := shortName(svc.GetLatestReadyRevision())
	Expect(traffic(svc.GetTraffic())).To(Equal(entries(entry(v1, 100, ""))))
	return v1
}

var _ = Describe("Canary [canary]", Label("canary", "fakerun-only"), func() {
	It("shifts traffic 0% → 10% → 50% → 100% and cleans up, with the preview tag on the new revision", func(ctx SpecContext) {
		e := newEnv()
		By("running v1 by quick sync")
		v1 := deployCanaryV1(ctx, e)

		By("running the canary pipeline for v2")
		rec := e.recorder("canary")
		c := commit()
		res := e.deploy(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: c, Hooks: rec.hooks(piped.Hooks{})})
		expectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_PIPELINE))
		Expect(stageNames(res.Executed())).To(Equal([]string{
			"CLOUDRUN_SYNC", "CLOUDRUN_PROMOTE", "WAIT", "CLOUDRUN_PROMOTE", "CLOUDRUN_PROMOTE", "CLOUDRUN_CANARY_CLEANUP",
		}))

		snaps := rec.snapshots()
		Expect(snaps).To(HaveLen(6))
		sync := snaps[0]
		Expect(sync.revisions).To(HaveLen(2))
		v2 := shortName(sync.revisions[0].GetName())
		Expect(v2).NotTo(Equal(v1))
		Expect(sync.revisions[0].GetContainers()[0].GetImage()).To(Equal(imageV2))
		tag := "preview-" + c[:7]

		expected := [][]string{
			entries(entry(v1, 100, ""), entry(v2, 0, tag)),                   // CLOUDRUN_SYNC (skipTrafficShift, tag)
			entries(entry(v1, 90, ""), entry(v2, 10, ""), entry(v2, 0, tag)), // CLOUDRUN_PROMOTE 10
			entries(entry(v1, 90, ""), entry(v2, 10, ""), entry(v2, 0, tag)), // WAIT
			entries(entry(v1, 50, ""), entry(v2, 50, ""), entry(v2, 0, tag)), // CLOUDRUN_PROMOTE 50
			entries(entry(v2, 100, ""), entry(v2, 0, tag)),                   // CLOUDRUN_PROMOTE 100
			entries(entry(v2, 100, ""), entry(v2, 0, tag)),                   // CLOUDRUN_CANARY_CLEANUP
		}
		for i, s := range snaps {
			Expect(s.stage.Status).To(Equal(model.StageStatus_STAGE_SUCCESS), "stage %d %s", i, s.stage.Name)
			Expect(traffic(s.service.GetTraffic())).To(Equal(expected[i]), "traffic after stage %d %s", i, s.stage.Name)
			Expect(liveTraffic(s.service)).To(Equal(expected[i]), "live traffic after stage %d %s", i, s.stage.Name)
			Expect(revisionNames(s.revisions)).To(ConsistOf(v2, v1), "revisions after stage %d %s", i, s.stage.Name)
		}
	})

	It("deletes old revisions beyond keepCount at CLOUDRUN_CANARY_CLEANUP, never the serving or rollback ones", func(ctx SpecContext) {
		e := newEnv()
		By("quick-syncing four versions (as the web console's sync button does)")
		var revs []string
		for _, v := range []string{"v1", "v2", "v3", "v4"} {
			expectSuccess(e.deploy(ctx, piped.Deployment{
				AppDir: appDir("canary"), Commit: commit(), SyncStrategy: model.SyncStrategy_QUICK_SYNC,
				Files: withImage("canary", "us-docker.pkg.dev/cloudrun/container/hello:"+v),
			}))
			revs = append(revs, shortName(e.service("canary").GetLatestReadyRevision()))
		}
		Expect(e.srv.Revisions(e.serviceName("canary"))).To(HaveLen(4))

		By("running the canary of v5, whose cleanup keeps 2 revisions besides the serving and rollback ones")
		expectSuccess(e.deploy(ctx, piped.Deployment{
			AppDir: appDir("canary"), Commit: commit(), Files: withImage("canary", "us-docker.pkg.dev/cloudrun/container/hello:v5"),
		}))
		svc := e.service("canary")
		v5 := shortName(svc.GetLatestReadyRevision())
		Expect(revisionNames(e.srv.Revisions(e.serviceName("canary")))).To(ConsistOf(v5, revs[3], revs[2], revs[1]),
			"v5 serves, v4 is the rollback target, v3 and v2 are the 2 newest others; v1 is deleted")
		Expect(traffic(svc.GetTraffic())).To(ContainElement(entry(v5, 100, "")))
	})
})
