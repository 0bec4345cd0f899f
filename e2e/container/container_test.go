package container

import (
	"encoding/json"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// firstPromote is the canary example's first CLOUDRUN_PROMOTE (10%), as written in its app.pipecd.yaml.
const firstPromote = "      - name: CLOUDRUN_PROMOTE\n        with:\n          percent: 10\n"

// onFirst returns a stage hook that calls f once, for the first stage named name. Hooks run on the
// stand-in's goroutine, so a failed assertion in f is recovered there.
func onFirst(name string, f func(r *piped.Run, s piped.StageRecord)) func(*piped.Run, piped.StageRecord) {
	done := false
	return func(r *piped.Run, s piped.StageRecord) {
		defer GinkgoRecover()
		if s.Name == name && !s.Rollback && !done {
			done = true
			f(r, s)
		}
	}
}

// isNotFound reports a gRPC NOT_FOUND error.
func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }

var _ = Describe("fakerun in a container [container]", Label("container"), func() {
	It("runs the canary pipeline through the plugin: 0% → 10% → 50% → 100%, then cleanup", func(ctx SpecContext) {
		e, _ := newEnv(ctx)
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

		By("checking the traffic after every stage, and that cleanup kept v1 and v2")
		svc := e.Service(ctx, "canary")
		v2 := ShortName(svc.GetLatestReadyRevision())
		Expect(v2).NotTo(Equal(v1))
		expected := CanaryTraffic(v1, v2, PreviewTag(c))
		snaps := rec.Snapshots()
		Expect(snaps).To(HaveLen(len(expected)))
		for i, s := range snaps {
			Expect(s.Err).NotTo(HaveOccurred(), "reading the service after stage %d %s", i, s.Stage.Name)
			Expect(Traffic(s.Service.GetTraffic())).To(Equal(expected[i]), "traffic after stage %d %s", i, s.Stage.Name)
			Expect(LiveTraffic(s.Service)).To(Equal(expected[i]), "live traffic after stage %d %s", i, s.Stage.Name)
		}
		Expect(RevisionNames(e.Revisions(ctx, "canary"))).To(ConsistOf(v2, v1))
	}, SpecTimeout(IntervalContainerSpec))

	It("finishes a stage that met a paused fakerun once it is unpaused, with the exact split", func(ctx SpecContext) {
		const pausedFor = 2 * time.Second
		e, fake := newEnv(ctx)
		v1 := e.DeployCanaryV1(ctx)

		By("pausing fakerun as the first CLOUDRUN_PROMOTE starts, and unpausing it " + pausedFor.String() + " later")
		rec := e.Recorder("canary")
		unpaused := make(chan struct{})
		hooks := piped.Hooks{OnStageStart: onFirst("CLOUDRUN_PROMOTE", func(*piped.Run, piped.StageRecord) {
			fake.pause(ctx)
			go func() {
				defer GinkgoRecover()
				defer close(unpaused)
				time.Sleep(pausedFor)
				fake.unpause(ctx)
			}()
		})}
		c := Commit()
		res := e.Deploy(ctx, DeployInput{App: "canary", Commit: c, Hooks: rec.Hooks(hooks)})
		Eventually(unpaused).Should(BeClosed())
		ExpectSuccess(res)

		By("checking the stage waited for the fake and moved exactly 10%, without creating a revision twice")

		promote := res.Executed()[1]
		Expect(promote.Name).To(Equal("CLOUDRUN_PROMOTE"))
		Expect(promote.Latency()).To(BeNumerically(">=", pausedFor-200*time.Millisecond), "the stage waited for the paused fake")
		Expect(promote.Executions).To(Equal(1))

		svc := e.Service(ctx, "canary")
		v2 := ShortName(svc.GetLatestReadyRevision())
		snaps := rec.Snapshots()
		Expect(snaps[1].Err).NotTo(HaveOccurred())
		expected := CanaryTraffic(v1, v2, PreviewTag(c))
		Expect(Traffic(snaps[1].Service.GetTraffic())).To(Equal(expected[1]), "exactly 10%% moved by the paused stage")
		Expect(LiveTraffic(snaps[1].Service)).To(Equal(expected[1]))
		Expect(Traffic(svc.GetTraffic())).To(Equal(expected[len(expected)-1]))
		Expect(RevisionNames(e.Revisions(ctx, "canary"))).To(ConsistOf(v2, v1), "no revision was created twice")
	}, SpecTimeout(IntervalContainerSpec))

	It("fails a stage that outlives its timeout while fakerun is paused, then rolls back to the traffic it started from", func(ctx SpecContext) {
		const stageTimeout = 2 * time.Second
		e, fake := newEnv(ctx)
		v1 := e.DeployCanaryV1(ctx)
		before := Traffic(e.Service(ctx, "canary").GetTraffic())

		By("pausing fakerun during a CLOUDRUN_PROMOTE with a " + stageTimeout.String() + " timeout, unpausing it once the stage has ended")
		var pausedAt time.Time
		hooks := piped.Hooks{
			OnStageStart: onFirst("CLOUDRUN_PROMOTE", func(*piped.Run, piped.StageRecord) {
				fake.pause(ctx)
				pausedAt = time.Now()
			}),
			OnStageEnd: onFirst("CLOUDRUN_PROMOTE", func(*piped.Run, piped.StageRecord) { fake.unpause(ctx) }),
		}
		files := CanaryConfig(firstPromote, "      - name: CLOUDRUN_PROMOTE\n        timeout: "+stageTimeout.String()+"\n        with:\n          percent: 10\n")
		res := e.Deploy(ctx, DeployInput{App: "canary", Commit: Commit(), Files: files, Hooks: hooks})

		By("checking the stage failed on its timeout and CLOUDRUN_ROLLBACK succeeded")
		Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), "%s", res.Report())
		executed := res.Executed()
		Expect(StageNames(executed)).To(Equal([]string{"CLOUDRUN_SYNC", "CLOUDRUN_PROMOTE", "CLOUDRUN_ROLLBACK"}))
		promote, rollback := executed[1], executed[2]
		Expect(res.StatusReason).To(Equal("Timed out while executing stage " + promote.ID))
		Expect(promote.Status).To(Equal(model.StageStatus_STAGE_FAILURE))
		Expect(promote.Finished.Sub(pausedAt)).To(BeNumerically("<", stageTimeout+10*time.Second), "the stage ended soon after its timeout")
		Expect(rollback.Status).To(Equal(model.StageStatus_STAGE_SUCCESS), rollback.LogText())

		By("checking the traffic is exactly as before the deployment, and stays so")
		Consistently(func(g Gomega) {
			svc, err := e.GetService(ctx, "canary")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(Traffic(svc.GetTraffic())).To(Equal(before))
			g.Expect(LiveTraffic(svc)).To(Equal(Routes(Route(v1, 100, ""))))
		}).WithContext(ctx).WithTimeout(time.Second).Should(Succeed())
	}, SpecTimeout(IntervalContainerSpec))

	It("fails with a clear error, without hanging, when fakerun restarts during a pipeline and loses the service", func(ctx SpecContext) {
		e, fake := newEnv(ctx)
		e.DeployCanaryV1(ctx)

		By("restarting fakerun while the WAIT stage runs")
		hooks := piped.Hooks{OnStageStart: onFirst("WAIT", func(*piped.Run, piped.StageRecord) { fake.restart(ctx) })}
		start := time.Now()
		res := e.Deploy(ctx, DeployInput{App: "canary", Commit: Commit(), Hooks: hooks})
		Expect(time.Since(start)).To(BeNumerically("<", time.Minute), "no stage hung on the restarted fake")

		By("checking the next CLOUDRUN_PROMOTE failed naming the lost service, then the rollback ran")
		Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), "%s", res.Report())
		executed := res.Executed()
		Expect(StageNames(executed)).To(Equal([]string{"CLOUDRUN_SYNC", "CLOUDRUN_PROMOTE", "WAIT", "CLOUDRUN_PROMOTE", "CLOUDRUN_ROLLBACK"}))
		failed := executed[3]
		Expect(failed.Status).To(Equal(model.StageStatus_STAGE_FAILURE))
		Expect(failed.LogText()).To(ContainSubstring("canary"), "the error names the service")
		Expect(failed.LogText()).To(MatchRegexp(`(?i)not found|does not exist|no longer exists`))
		_, err := e.GetService(ctx, "canary")
		Expect(isNotFound(err)).To(BeTrue(), "the restarted fake has no service: %v", err)
	}, SpecTimeout(IntervalContainerSpec))

	It("recreates the service, saying so, when fakerun restarted between deployments", func(ctx SpecContext) {
		e, fake := newEnv(ctx)
		e.DeployCanaryV1(ctx)

		By("restarting fakerun, which forgets the service")
		fake.restart(ctx)
		_, err := e.GetService(ctx, "canary")
		Expect(isNotFound(err)).To(BeTrue(), "the restarted fake has no service: %v", err)

		By("running the canary pipeline for v2: a first deployment as far as Cloud Run can tell")
		start := time.Now()
		c := Commit()
		res := e.Deploy(ctx, DeployInput{App: "canary", Commit: c})
		Expect(time.Since(start)).To(BeNumerically("<", time.Minute), "no stage hung on the restarted fake")
		ExpectSuccess(res)
		executed := res.Executed()
		Expect(StageNames(executed)).To(Equal([]string{
			"CLOUDRUN_SYNC", "CLOUDRUN_PROMOTE", "WAIT", "CLOUDRUN_PROMOTE", "CLOUDRUN_PROMOTE", "CLOUDRUN_CANARY_CLEANUP",
		}))
		Expect(executed[0].LogText()).To(ContainSubstring("Service canary does not exist yet: creating it"))
		for _, promote := range []piped.StageRecord{executed[1], executed[3], executed[4]} {
			Expect(promote.LogText()).To(ContainSubstring("nothing to promote"))
		}

		svc := e.Service(ctx, "canary")
		v2 := ShortName(svc.GetLatestReadyRevision())
		Expect(RevisionNames(e.Revisions(ctx, "canary"))).To(ConsistOf(v2), "only the new revision exists")
		Expect(Traffic(svc.GetTraffic())).To(Equal(Routes(Route(v2, 100, ""), Route(v2, 0, PreviewTag(c)))))
		Expect(svc.GetTemplate().GetContainers()[0].GetImage()).To(Equal(ImageV2))
	}, SpecTimeout(IntervalContainerSpec))

	It("retries faults injected over the admin API and records them in the call log", func(ctx SpecContext) {
		e, fake := newEnv(ctx)

		By("making the next two CreateService calls fail with UNAVAILABLE")
		fake.adminPost(ctx, "faults", `{"method":"CreateService","code":"UNAVAILABLE","times":2,"delay":"50ms"}`)

		By("deploying v1 by quick sync")
		v1 := e.DeployCanaryV1(ctx)
		Expect(RevisionNames(e.Revisions(ctx, "canary"))).To(ConsistOf(v1), "one revision despite the retries")

		By("checking the call log shows the two faults, then the success, and the faults are used up")
		status, body := fake.admin(ctx, "calls?method=CreateService")
		Expect(status).To(Equal(http.StatusOK), body)
		var log struct {
			Calls []struct {
				Code string `json:"code"`
			} `json:"calls"`
		}
		Expect(json.Unmarshal([]byte(body), &log)).To(Succeed())
		var codes []string
		for _, c := range log.Calls {
			codes = append(codes, c.Code)
		}
		Expect(codes).To(Equal([]string{"UNAVAILABLE", "UNAVAILABLE", "OK"}))
		_, body = fake.admin(ctx, "faults")
		Expect(body).To(MatchJSON(`{"faults":[]}`), "the faults are used up")
	}, SpecTimeout(IntervalContainerShortSpec))
})
