package e2e

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/grpc/codes"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// Stage indexes of examples/canary's pipeline.
const (
	stageSync       = 0
	stagePromote10  = 1
	stageWait       = 2
	stagePromote50  = 3
	stagePromote100 = 4
	stageCleanup    = 5
)

// prepareTaggedV1 runs v1 by quick sync and tags it "stable" out of band; it returns the pre-deploy block.
func prepareTaggedV1(ctx context.Context, e *Environment) (v1 string, before []string) {
	GinkgoHelper()
	By("running v1 by quick sync and tagging it stable out of band")
	v1 = e.DeployCanaryV1(ctx)
	e.SetTraffic(ctx, "canary", RevisionTarget(v1, 100, ""), RevisionTarget(v1, 0, "stable"))
	before = Traffic(e.Service(ctx, "canary").GetTraffic())
	Expect(before).To(Equal(Routes(Route(v1, 100, ""), Route(v1, 0, "stable"))))
	return v1, before
}

// expectRolledBack checks that the deployment ended with status, ran CLOUDRUN_ROLLBACK successfully and that
// the service is v1 again: its template (image and revision name, so no revision was created) and the
// pre-deploy traffic block.
func expectRolledBack(ctx context.Context, e *Environment, res *piped.Result, status model.DeploymentStatus, before []string) {
	GinkgoHelper()
	By("checking that CLOUDRUN_ROLLBACK brought back v1 and the pre-deploy traffic")
	Expect(res.Status).To(Equal(status), "%s", res.Report())
	executed := res.Executed()
	last := executed[len(executed)-1]
	Expect(last.Name).To(Equal("CLOUDRUN_ROLLBACK"), "%s", res.Report())
	Expect(last.Rollback).To(BeTrue())
	Expect(last.Status).To(Equal(model.StageStatus_STAGE_SUCCESS), "%s", res.Report())
	svc := e.Service(ctx, "canary")
	Expect(Traffic(svc.GetTraffic())).To(Equal(before), "the pre-deploy traffic block comes back exactly")
	Expect(LiveTraffic(svc)).To(Equal(before))
	Expect(svc.GetTemplate().GetContainers()[0].GetImage()).To(Equal(ImageV1), "the pre-deploy template comes back")
	Expect(before).To(ContainElement(Route(svc.GetTemplate().GetRevision(), 100, "")), "the template is v1's, under its revision name")
}

// expectConsistentAfterEveryStage checks fakerun's state after each stage: the service exists, its traffic
// sums to 100% and the live traffic matches the spec.
func expectConsistentAfterEveryStage(rec *Recorder) {
	GinkgoHelper()
	By("checking that the service was consistent after every stage")
	snaps := rec.Snapshots()
	Expect(snaps).NotTo(BeEmpty())
	for i, s := range snaps {
		Expect(s.Service).NotTo(BeNil(), "the service exists after stage %d %s", i, s.Stage.Name)
		Expect(TrafficSum(s.Service)).To(Equal(100), "traffic sums to 100%% after stage %d %s", i, s.Stage.Name)
		Expect(LiveTraffic(s.Service)).To(Equal(Traffic(s.Service.GetTraffic())), "live traffic after stage %d %s", i, s.Stage.Name)
	}
}

// failAt returns hooks that make every Cloud Run call fail once with PERMISSION_DENIED while stage index runs.
func failAt(e *Environment, index int) piped.Hooks {
	return piped.Hooks{
		OnStageStart: func(_ *piped.Run, s piped.StageRecord) {
			if s.Index == index && !s.Rollback {
				for _, m := range fakerun.Methods {
					e.Fakerun.InjectFault(m, fakerun.Fault{Code: codes.PermissionDenied, Message: "injected: permission denied", Times: 1})
				}
			}
		},
		OnStageEnd: func(_ *piped.Run, s piped.StageRecord) {
			if s.Index == index && !s.Rollback {
				e.Fakerun.ClearFaults()
			}
		},
	}
}

// cancelOnCall cancels the run once fakerun has received a call to method and the plugin had time to start
// waiting for the rollout.
func cancelOnCall(e *Environment, r *piped.Run, method string) {
	WaitForCall(e.Fakerun, method)
	time.Sleep(IntervalRolloutStarted)
	r.Cancel()
}

var _ = Describe("Automatic rollback [rollback]", Label("rollback", "fakerun-only"), func() {
	DescribeTable("restores the pre-deploy traffic after an API error",
		func(ctx SpecContext, index int, name string) {
			e := newEnv()
			_, before := prepareTaggedV1(ctx, e)

			By("running the canary of v2, every Cloud Run call failing once during stage " + name)
			rec := e.Recorder("canary")
			res := e.Deploy(ctx, DeployInput{App: "canary", Hooks: rec.Hooks(failAt(e, index))})
			failed := res.Executed()[len(res.Executed())-2]
			Expect(failed.Name).To(Equal(name))
			Expect(failed.Index).To(Equal(index))
			Expect(failed.Status).To(Equal(model.StageStatus_STAGE_FAILURE), "%s", res.Report())
			Expect(failed.LogText()).To(ContainSubstring("permission denied"))

			expectRolledBack(ctx, e, res, model.DeploymentStatus_DEPLOYMENT_FAILURE, before)
			expectConsistentAfterEveryStage(rec)
		},
		Entry("at CLOUDRUN_SYNC", stageSync, "CLOUDRUN_SYNC"),
		Entry("at CLOUDRUN_PROMOTE 10%", stagePromote10, "CLOUDRUN_PROMOTE"),
		Entry("at CLOUDRUN_PROMOTE 50%", stagePromote50, "CLOUDRUN_PROMOTE"),
		Entry("at CLOUDRUN_PROMOTE 100%", stagePromote100, "CLOUDRUN_PROMOTE"),
		Entry("at CLOUDRUN_CANARY_CLEANUP", stageCleanup, "CLOUDRUN_CANARY_CLEANUP"),
	)

	DescribeTable("restores the pre-deploy traffic after a cancellation",
		func(ctx SpecContext, index int) {
			e := newEnv()
			_, before := prepareTaggedV1(ctx, e)

			By("running the canary of v2 and cancelling it as the stage starts")
			rec := e.Recorder("canary")
			res := e.Deploy(ctx, DeployInput{App: "canary", Hooks: rec.Hooks(piped.Hooks{
				OnStageStart: func(r *piped.Run, s piped.StageRecord) {
					if s.Index == index && !s.Rollback {
						r.Cancel()
					}
				},
			})})
			cancelled := res.Executed()[len(res.Executed())-2]
			Expect(cancelled.Index).To(Equal(index))
			Expect(cancelled.Status).To(Equal(model.StageStatus_STAGE_CANCELLED), "%s", res.Report())

			expectRolledBack(ctx, e, res, model.DeploymentStatus_DEPLOYMENT_CANCELLED, before)
			expectConsistentAfterEveryStage(rec)
		},
		Entry("during CLOUDRUN_SYNC", stageSync),
		Entry("during CLOUDRUN_PROMOTE 10%", stagePromote10),
		Entry("during WAIT", stageWait),
		Entry("during CLOUDRUN_PROMOTE 50%", stagePromote50),
		Entry("during CLOUDRUN_PROMOTE 100%", stagePromote100),
	)

	It("restores the pre-deploy traffic after a cancellation while CLOUDRUN_SYNC waits for readiness", func(ctx SpecContext) {
		e := newEnv()
		_, before := prepareTaggedV1(ctx, e)

		By("running the canary of v2, whose revision takes 5s to become ready, and cancelling it once SYNC waits")
		e.Fakerun.SetReadinessDelay(5 * time.Second)
		res := e.Deploy(ctx, DeployInput{App: "canary", Hooks: piped.Hooks{
			OnStageStart: func(r *piped.Run, s piped.StageRecord) {
				if s.Index == stageSync && !s.Rollback {
					go cancelOnCall(e, r, "UpdateService")
				}
			},
		}})
		sync := res.Executed()[0]
		Expect(sync.Status).To(Equal(model.StageStatus_STAGE_CANCELLED), "%s", res.Report())
		Expect(sync.Latency()).To(BeNumerically("<", 5*time.Second), "the plugin stops waiting when cancelled")

		expectRolledBack(ctx, e, res, model.DeploymentStatus_DEPLOYMENT_CANCELLED, before)
	})

	It("restores the pre-deploy traffic when the new image never becomes ready", func(ctx SpecContext) {
		e := newEnv(fakerun.WithFailingImage(ImageV3))
		_, before := prepareTaggedV1(ctx, e)

		By("deploying v3, an image that never becomes ready")
		res := e.Deploy(ctx, DeployInput{App: "canary", Files: WithImage("canary", ImageV3)})
		Expect(res.Executed()[0].Name).To(Equal("CLOUDRUN_SYNC"))
		Expect(res.Executed()[0].Status).To(Equal(model.StageStatus_STAGE_FAILURE), "%s", res.Report())

		expectRolledBack(ctx, e, res, model.DeploymentStatus_DEPLOYMENT_FAILURE, before)
	})

	It("restores the pre-deploy traffic when the new revision is not ready within the sync timeout", func(ctx SpecContext) {
		e := newEnv()
		_, before := prepareTaggedV1(ctx, e)

		By("running the canary of v2 with a 2s CLOUDRUN_SYNC timeout, its revision never becoming ready")
		e.Fakerun.SetReadinessDelay(time.Hour)
		res := e.Deploy(ctx, DeployInput{
			App:   "canary",
			Files: CanaryConfig("          tag: true\n", "          tag: true\n          timeout: 2s\n"),
		})
		Expect(res.Executed()[0].Name).To(Equal("CLOUDRUN_SYNC"))
		Expect(res.Executed()[0].Status).To(Equal(model.StageStatus_STAGE_FAILURE), "%s", res.Report())

		expectRolledBack(ctx, e, res, model.DeploymentStatus_DEPLOYMENT_FAILURE, before)
	})
})
