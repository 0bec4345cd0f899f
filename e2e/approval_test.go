package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// withApproval replaces the canary example's WAIT stage by a WAIT_APPROVAL stage.
func withApproval() map[string]string {
	GinkgoHelper()
	return CanaryConfig("      - name: WAIT\n        with:\n          duration: 10s\n",
		"      - name: WAIT_APPROVAL\n        with:\n          approvers: [alice]\n")
}

var _ = Describe("Manual approval [approval]", Label("approval", "fakerun-only"), func() {
	It("holds the canary at 10% until approved, then completes it", func(ctx SpecContext) {
		e := newEnv()
		By("running v1 by quick sync")
		v1 := e.DeployCanaryV1(ctx)

		By("running the canary of v2 with a WAIT_APPROVAL stage, approved by alice once it holds at 10%")
		rec := e.Recorder("canary")
		c := Commit()
		var waiting []string // the traffic while WAIT_APPROVAL waits
		var approveErr error
		res := e.Deploy(ctx, DeployInput{App: "canary", Commit: c, Files: withApproval(), Hooks: rec.Hooks(piped.Hooks{
			OnStageStart: func(r *piped.Run, s piped.StageRecord) {
				if s.Name != "WAIT_APPROVAL" {
					return
				}
				svc, err := e.Fakerun.Service(e.ServiceName("canary"))
				if err == nil {
					waiting = Traffic(svc.GetTraffic())
				}
				approveErr = r.Approve("alice")
			},
		})})

		By("checking the canary waited at 10%, the approval is logged and the pipeline completed")
		ExpectSuccess(res)
		Expect(approveErr).NotTo(HaveOccurred())
		v2 := DeployedRevision(res)
		Expect(waiting).To(Equal(CanaryTraffic(v1, v2, PreviewTag(c))[stagePromote10]), "the canary waits at 10%")
		approval := res.Executed()[2]
		Expect(approval.Name).To(Equal("WAIT_APPROVAL"))
		Expect(approval.LogText()).To(ContainSubstring("Got an approval from alice"))
		Expect(rec.Snapshots()).To(HaveLen(6))
	})

	It("rolls back when the approval is rejected", func(ctx SpecContext) {
		e := newEnv()
		_, before := prepareTaggedV1(ctx, e)

		By("running the canary of v2 with a WAIT_APPROVAL stage, rejected by bob")
		res := e.Deploy(ctx, DeployInput{App: "canary", Files: withApproval(), Hooks: piped.Hooks{
			OnStageStart: func(r *piped.Run, s piped.StageRecord) {
				defer GinkgoRecover()
				if s.Name == "WAIT_APPROVAL" {
					Expect(r.Reject("bob")).To(Succeed())
				}
			},
		}})
		rejected := res.Executed()[2]
		Expect(rejected.Name).To(Equal("WAIT_APPROVAL"))
		Expect(rejected.Status).To(Equal(model.StageStatus_STAGE_FAILURE))
		Expect(rejected.LogText()).To(ContainSubstring("Rejected by bob"))

		expectRolledBack(ctx, e, res, model.DeploymentStatus_DEPLOYMENT_FAILURE, before)
	})
})
