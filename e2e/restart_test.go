package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

var _ = Describe("Plugin restart [restart]", Label("restart", "fakerun-only"), func() {
	It("re-runs the stage the killed plugin was executing without creating a duplicate revision", func(ctx SpecContext) {
		e := newEnv()
		By("running v1 by quick sync")
		v1 := e.DeployCanaryV1(ctx)
		e.Fakerun.SetReadinessDelay(3 * time.Second)

		By("killing the plugin with SIGKILL once CLOUDRUN_SYNC polls the new revision")
		kill := AfterCall(ctx, e.Fakerun, 0, "GetRevision", func(*piped.Run) error {
			e.Piped.KillPlugin()
			return nil
		})
		c := Commit()
		run := e.Start(ctx, DeployInput{App: "canary", Commit: c, Hooks: kill.Hooks(piped.Hooks{})})
		res, err := run.Wait()
		Expect(err).NotTo(HaveOccurred())
		kill.Wait()
		Expect(res.Terminated).To(BeTrue(), "%s", res.Report())
		Expect(res.Stages[0].Status).To(Equal(model.StageStatus_STAGE_RUNNING), "the interrupted stage keeps its status")
		revs := RevisionNames(e.Revisions(ctx, "canary"))
		Expect(revs).To(HaveLen(2), "v1 and the new revision")

		By("restarting the plugin and resuming the deployment")
		e.Fakerun.SetReadinessDelay(0)
		Expect(e.Piped.RestartPlugin(ctx)).To(Succeed())
		Expect(run.Resume(ctx)).To(Succeed())
		res = e.Wait(run)
		ExpectSuccess(res)

		By("checking CLOUDRUN_SYNC ran again without creating another revision")
		Expect(res.Stages[0].Name).To(Equal("CLOUDRUN_SYNC"))
		Expect(res.Stages[0].Executions).To(Equal(2), "CLOUDRUN_SYNC ran again")
		Expect(RevisionNames(e.Revisions(ctx, "canary"))).To(ConsistOf(revs), "no duplicate revision")
		svc := e.Service(ctx, "canary")
		v2 := ShortName(svc.GetLatestReadyRevision())
		Expect(v2).NotTo(Equal(v1))
		Expect(svc.GetTemplate().GetContainers()[0].GetImage()).To(Equal(ImageV2))
		Expect(Traffic(svc.GetTraffic())).To(Equal(CanaryTraffic(v1, v2, PreviewTag(c))[stageCleanup]), "the resumed pipeline ran to its end")
	})
})
