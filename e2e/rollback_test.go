package e2e

import (
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
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

// expectTrafficAfterEveryStage checks the exact traffic block after each stage of the canary of v2 (deployed
// as commit) over the tagged v1: what the stage gives when it succeeded (CanaryTraffic, v1's stable tag
// kept), the block of the stage before when it failed or was cancelled (it changed nothing), and the
// pre-deploy block after CLOUDRUN_ROLLBACK. What Cloud Run serves matches the block after every stage.
func expectTrafficAfterEveryStage(rec *Recorder, v1, commit string, before []string) {
	GinkgoHelper()
	By("checking the exact traffic after every stage")
	snaps := rec.Snapshots()
	Expect(snaps).NotTo(BeEmpty())
	want, v2 := before, ""
	for i, s := range snaps {
		Expect(s.Service).NotTo(BeNil(), "the service exists after stage %d %s", i, s.Stage.Name)
		switch {
		case s.Stage.Rollback:
			want = before
		case s.Stage.Status == model.StageStatus_STAGE_SUCCESS:
			if s.Stage.Index == stageSync {
				v2 = ShortName(s.Service.GetLatestCreatedRevision())
			}
			want = CanaryTraffic(v1, v2, PreviewTag(commit), Route(v1, 0, "stable"))[s.Stage.Index]
		}
		Expect(Traffic(s.Service.GetTraffic())).To(Equal(want), "traffic after stage %d %s", i, s.Stage.Name)
		Expect(LiveTraffic(s.Service)).To(Equal(want), "live traffic after stage %d %s", i, s.Stage.Name)
	}
}

// unavailableReadAt returns hooks that make the first GetService of stage index answer UNAVAILABLE, so that
// a spec cancelling on that call finds the plugin inside the stage, about to retry the read.
func unavailableReadAt(e *Environment, index int) piped.Hooks {
	return piped.Hooks{
		OnStageStart: func(_ *piped.Run, s piped.StageRecord) {
			if s.Index == index && !s.Rollback {
				e.Fakerun.InjectFault("GetService", fakerun.Fault{Code: codes.Unavailable, Message: "injected: unavailable", Times: 1})
			}
		},
		OnStageEnd: func(_ *piped.Run, s piped.StageRecord) {
			if s.Index == index && !s.Rollback {
				e.Fakerun.ClearFaults()
			}
		},
	}
}

// writesAfter returns the traffic block of every UpdateService fakerun answered after the call seq.
func writesAfter(srv *fakerun.Server, seq uint64) [][]string {
	var out [][]string
	for _, c := range srv.Calls() {
		if req, ok := c.Request.(*runpb.UpdateServiceRequest); ok && c.Seq > seq {
			out = append(out, Traffic(req.GetService().GetTraffic()))
		}
	}
	return out
}

// readsAfter counts the GetRevision calls for revision that fakerun answered after the call seq.
func readsAfter(srv *fakerun.Server, seq uint64, revision string) int {
	n := 0
	for _, c := range srv.Calls() {
		if req, ok := c.Request.(*runpb.GetRevisionRequest); ok && c.Seq > seq && req.GetName() == revision {
			n++
		}
	}
	return n
}

// cancelRun is a Trigger action that cancels the deployment.
func cancelRun(r *piped.Run) error {
	r.Cancel()
	return nil
}

var _ = Describe("Automatic rollback [rollback]", Label("rollback", "fakerun-only"), func() {
	DescribeTable("restores the pre-deploy traffic after an API error",
		func(ctx SpecContext, index int, name string) {
			e := newEnv()
			v1, before := prepareTaggedV1(ctx, e)

			By("running the canary of v2, every Cloud Run call failing once during stage " + name)
			rec := e.Recorder("canary")
			c := Commit()
			res := e.Deploy(ctx, DeployInput{App: "canary", Commit: c, Hooks: rec.Hooks(failAt(e, index))})
			failed := res.Executed()[len(res.Executed())-2]
			Expect(failed.Name).To(Equal(name))
			Expect(failed.Index).To(Equal(index))
			Expect(failed.Status).To(Equal(model.StageStatus_STAGE_FAILURE), "%s", res.Report())
			Expect(failed.LogText()).To(ContainSubstring("permission denied"))

			expectRolledBack(ctx, e, res, model.DeploymentStatus_DEPLOYMENT_FAILURE, before)
			expectTrafficAfterEveryStage(rec, v1, c, before)
		},
		Entry("at CLOUDRUN_SYNC", stageSync, "CLOUDRUN_SYNC"),
		Entry("at CLOUDRUN_PROMOTE 10%", stagePromote10, "CLOUDRUN_PROMOTE"),
		Entry("at CLOUDRUN_PROMOTE 50%", stagePromote50, "CLOUDRUN_PROMOTE"),
		Entry("at CLOUDRUN_PROMOTE 100%", stagePromote100, "CLOUDRUN_PROMOTE"),
		Entry("at CLOUDRUN_CANARY_CLEANUP", stageCleanup, "CLOUDRUN_CANARY_CLEANUP"),
	)

	DescribeTable("restores the pre-deploy traffic after a cancellation that the plugin acts on inside the stage",
		func(ctx SpecContext, index int) {
			e := newEnv()
			v1, before := prepareTaggedV1(ctx, e)

			By("running the canary of v2 and cancelling it once the plugin, inside the stage, waits to retry its read of the service")
			rec := e.Recorder("canary")
			cancel := AfterCall(ctx, e.Fakerun, index, "GetService", cancelRun)
			c := Commit()
			res := e.Deploy(ctx, DeployInput{App: "canary", Commit: c, Hooks: cancel.Hooks(rec.Hooks(unavailableReadAt(e, index)))})
			read := cancel.Wait()
			Expect(read.Code).To(Equal(codes.Unavailable), "the cancellation came on the stage's first read")
			cancelled := res.Executed()[len(res.Executed())-2]
			Expect(cancelled.Index).To(Equal(index))
			Expect(cancelled.Status).To(Equal(model.StageStatus_STAGE_CANCELLED), "%s", res.Report())

			By("checking that the plugin stopped at the cancellation: past its retry delay, the only write is the rollback's")
			// piped ends the stage at once and runs the rollback; a plugin that ignored the cancellation would
			// read again after its retry delay and then write the stage's traffic.
			Consistently(func() [][]string { return writesAfter(e.Fakerun, read.Seq) }).WithTimeout(IntervalPluginRetry).
				ShouldNot(ContainElement(Not(Equal(before))), "a write after the cancellation that is not the rollback's\n%s", res.Report())

			expectRolledBack(ctx, e, res, model.DeploymentStatus_DEPLOYMENT_CANCELLED, before)
			expectTrafficAfterEveryStage(rec, v1, c, before)
		},
		Entry("during CLOUDRUN_SYNC", stageSync),
		Entry("during CLOUDRUN_PROMOTE 10%", stagePromote10),
		Entry("during CLOUDRUN_PROMOTE 50%", stagePromote50),
		Entry("during CLOUDRUN_PROMOTE 100%", stagePromote100),
	)

	It("restores the pre-deploy traffic after a cancellation during WAIT", func(ctx SpecContext) {
		e := newEnv()
		v1, before := prepareTaggedV1(ctx, e)

		By("running the canary of v2 and cancelling it as piped's WAIT starts")
		rec := e.Recorder("canary")
		c := Commit()
		res := e.Deploy(ctx, DeployInput{App: "canary", Commit: c, Hooks: rec.Hooks(piped.Hooks{
			OnStageStart: func(r *piped.Run, s piped.StageRecord) {
				if s.Index == stageWait && !s.Rollback {
					r.Cancel()
				}
			},
		})})
		cancelled := res.Executed()[len(res.Executed())-2]
		Expect(cancelled.Name).To(Equal("WAIT"))
		Expect(cancelled.Status).To(Equal(model.StageStatus_STAGE_CANCELLED), "%s", res.Report())

		expectRolledBack(ctx, e, res, model.DeploymentStatus_DEPLOYMENT_CANCELLED, before)
		expectTrafficAfterEveryStage(rec, v1, c, before)
	})

	It("restores the pre-deploy traffic after a cancellation while CLOUDRUN_SYNC waits for readiness", func(ctx SpecContext) {
		e := newEnv()
		_, before := prepareTaggedV1(ctx, e)

		By("running the canary of v2, whose revision takes 5s to become ready, and cancelling it once SYNC polls the revision")
		e.Fakerun.SetReadinessDelay(5 * time.Second)
		cancel := AfterCall(ctx, e.Fakerun, stageSync, "GetRevision", cancelRun)
		res := e.Deploy(ctx, DeployInput{App: "canary", Hooks: cancel.Hooks(piped.Hooks{})})
		poll := cancel.Wait()
		sync := res.Executed()[0]
		Expect(sync.Status).To(Equal(model.StageStatus_STAGE_CANCELLED), "%s", res.Report())

		By("checking that the plugin stopped polling the new revision when cancelled")
		// piped ends the stage at once; a plugin that kept waiting would read the revision again every second.
		polled := poll.Request.(*runpb.GetRevisionRequest).GetName()
		Consistently(func() int { return readsAfter(e.Fakerun, poll.Seq, polled) }).WithTimeout(IntervalPluginRetry).
			Should(BeZero(), "reads of %s after the cancellation", polled)

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
