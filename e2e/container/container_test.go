package container

import (
	"encoding/json"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

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

var _ = Describe("fakerun in a container [container]", Label("container"), func() {
	It("runs the canary pipeline through the plugin: 0% → 10% → 50% → 100%, then cleanup", func(ctx SpecContext) {
		e := newEnv(ctx)
		By("running v1 by quick sync")
		v1 := e.deployCanaryV1(ctx)

		By("running the canary pipeline for v2")
		rec := e.recorder("canary")
		c := commit()
		res := e.deploy(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: c, Hooks: rec.hooks(piped.Hooks{})})
		expectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_PIPELINE))
		Expect(stageNames(res.Executed())).To(Equal([]string{
			"CLOUDRUN_SYNC", "CLOUDRUN_PROMOTE", "WAIT", "CLOUDRUN_PROMOTE", "CLOUDRUN_PROMOTE", "CLOUDRUN_CANARY_CLEANUP",
		}))

		svc := e.service(ctx, "canary")
		v2 := shortName(svc.GetLatestReadyRevision())
		Expect(v2).NotTo(Equal(v1))
		tag := "preview-" + c[:7]
		expected := [][]string{
			entries(entry(v1, 100, ""), entry(v2, 0, tag)),                   // CLOUDRUN_SYNC (skipTrafficShift, tag)
			entries(entry(v1, 90, ""), entry(v2, 10, ""), entry(v2, 0, tag)), // CLOUDRUN_PROMOTE 10
			entries(entry(v1, 90, ""), entry(v2, 10, ""), entry(v2, 0, tag)), // WAIT
			entries(entry(v1, 50, ""), entry(v2, 50, ""), entry(v2, 0, tag)), // CLOUDRUN_PROMOTE 50
			entries(entry(v2, 100, ""), entry(v2, 0, tag)),                   // CLOUDRUN_PROMOTE 100
			entries(entry(v2, 100, ""), entry(v2, 0, tag)),                   // CLOUDRUN_CANARY_CLEANUP
		}
		snaps := rec.snapshots()
		Expect(snaps).To(HaveLen(len(expected)))
		for i, s := range snaps {
			Expect(s.err).NotTo(HaveOccurred(), "reading the service after stage %d %s", i, s.stage.Name)
			Expect(s.traffic).To(Equal(expected[i]), "traffic after stage %d %s", i, s.stage.Name)
			Expect(s.live).To(Equal(expected[i]), "live traffic after stage %d %s", i, s.stage.Name)
		}
		Expect(e.fake.revisionNames(ctx, e.serviceName("canary"))).To(ConsistOf(v2, v1))
	}, SpecTimeout(3*time.Minute))

	It("finishes a stage that met a paused fakerun once it is unpaused, with the exact split", func(ctx SpecContext) {
		const pausedFor = 2 * time.Second
		e := newEnv(ctx)
		v1 := e.deployCanaryV1(ctx)

		By("pausing fakerun as the first CLOUDRUN_PROMOTE starts, and unpausing it " + pausedFor.String() + " later")
		rec := e.recorder("canary")
		unpaused := make(chan struct{})
		hooks := piped.Hooks{OnStageStart: onFirst("CLOUDRUN_PROMOTE", func(*piped.Run, piped.StageRecord) {
			e.fake.pause(ctx)
			go func() {
				defer GinkgoRecover()
				defer close(unpaused)
				time.Sleep(pausedFor)
				e.fake.unpause(ctx)
			}()
		})}
		res := e.deploy(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: commit(), Hooks: rec.hooks(hooks)})
		Eventually(unpaused).Should(BeClosed())
		expectSuccess(res)

		promote := res.Executed()[1]
		Expect(promote.Name).To(Equal("CLOUDRUN_PROMOTE"))
		Expect(promote.Latency()).To(BeNumerically(">=", pausedFor-200*time.Millisecond), "the stage waited for the paused fake")
		Expect(promote.Executions).To(Equal(1))

		svc := e.service(ctx, "canary")
		v2 := shortName(svc.GetLatestReadyRevision())
		snaps := rec.snapshots()
		Expect(snaps[1].err).NotTo(HaveOccurred())
		Expect(snaps[1].traffic).To(ContainElements(entry(v1, 90, ""), entry(v2, 10, "")), "exactly 10%% moved by the paused stage")
		Expect(snaps[1].live).To(Equal(snaps[1].traffic))
		Expect(traffic(svc.GetTraffic())).To(ContainElement(entry(v2, 100, "")))
		Expect(e.fake.revisionNames(ctx, e.serviceName("canary"))).To(ConsistOf(v2, v1), "no revision was created twice")
	}, SpecTimeout(3*time.Minute))

	It("fails a stage that outlives its timeout while fakerun is paused, then rolls back to the traffic it started from", func(ctx SpecContext) {
		const stageTimeout = 2 * time.Second
		e := newEnv(ctx)
		v1 := e.deployCanaryV1(ctx)
		before := traffic(e.service(ctx, "canary").GetTraffic())

		By("pausing fakerun during a CLOUDRUN_PROMOTE with a " + stageTimeout.String() + " timeout, unpausing it once the stage has ended")
		var pausedAt time.Time
		hooks := piped.Hooks{
			OnStageStart: onFirst("CLOUDRUN_PROMOTE", func(*piped.Run, piped.StageRecord) {
				e.fake.pause(ctx)
				pausedAt = time.Now()
			}),
			OnStageEnd: onFirst("CLOUDRUN_PROMOTE", func(*piped.Run, piped.StageRecord) { e.fake.unpause(ctx) }),
		}
		files := canaryConfig(firstPromote, "      - name: CLOUDRUN_PROMOTE\n        timeout: "+stageTimeout.String()+"\n        with:\n          percent: 10\n")
		res := e.deploy(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: commit(), Files: files, Hooks: hooks})

		Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), res.Report())
		Expect(res.StatusReason).To(Equal("Timed out while executing stage CLOUDRUN_PROMOTE"))
		executed := res.Executed()
		Expect(stageNames(executed)).To(Equal([]string{"CLOUDRUN_SYNC", "CLOUDRUN_PROMOTE", "CLOUDRUN_ROLLBACK"}))
		promote, rollback := executed[1], executed[2]
		Expect(promote.Status).To(Equal(model.StageStatus_STAGE_FAILURE))
		Expect(promote.Finished.Sub(pausedAt)).To(BeNumerically("<", stageTimeout+10*time.Second), "the stage ended soon after its timeout")
		Expect(rollback.Status).To(Equal(model.StageStatus_STAGE_SUCCESS), rollback.LogText())

		By("checking the traffic is exactly as before the deployment, and stays so")
		Consistently(func(g Gomega) {
			svc, err := e.fake.service(ctx, e.serviceName("canary"))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(traffic(svc.GetTraffic())).To(Equal(before))
			g.Expect(liveTraffic(svc)).To(Equal(entries(entry(v1, 100, ""))))
		}).WithContext(ctx).WithTimeout(time.Second).Should(Succeed())
	}, SpecTimeout(3*time.Minute))

	It("fails with a clear error, without hanging, when fakerun restarts during a pipeline and loses the service", func(ctx SpecContext) {
		e := newEnv(ctx)
		e.deployCanaryV1(ctx)

		By("restarting fakerun while the WAIT stage runs")
		hooks := piped.Hooks{OnStageStart: onFirst("WAIT", func(*piped.Run, piped.StageRecord) { e.fake.restart(ctx) })}
		start := time.Now()
		res := e.deploy(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: commit(), Hooks: hooks})
		Expect(time.Since(start)).To(BeNumerically("<", time.Minute), "no stage hung on the restarted fake")

		Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), res.Report())
		executed := res.Executed()
		Expect(stageNames(executed)).To(Equal([]string{"CLOUDRUN_SYNC", "CLOUDRUN_PROMOTE", "WAIT", "CLOUDRUN_PROMOTE", "CLOUDRUN_ROLLBACK"}))
		failed := executed[3]
		Expect(failed.Status).To(Equal(model.StageStatus_STAGE_FAILURE))
		Expect(failed.LogText()).To(ContainSubstring("canary"), "the error names the service")
		Expect(failed.LogText()).To(MatchRegexp(`(?i)not found|does not exist|no longer exists`))
		_, err := e.fake.service(ctx, e.serviceName("canary"))
		Expect(isNotFound(err)).To(BeTrue(), "the restarted fake has no service: %v", err)
	}, SpecTimeout(3*time.Minute))

	It("recreates the service, saying so, when fakerun restarted between deployments", func(ctx SpecContext) {
		e := newEnv(ctx)
		e.deployCanaryV1(ctx)

		By("restarting fakerun, which forgets the service")
		e.fake.restart(ctx)
		_, err := e.fake.service(ctx, e.serviceName("canary"))
		Expect(isNotFound(err)).To(BeTrue(), "the restarted fake has no service: %v", err)

		By("running the canary pipeline for v2: a first deployment as far as Cloud Run can tell")
		start := time.Now()
		res := e.deploy(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: commit()})
		Expect(time.Since(start)).To(BeNumerically("<", time.Minute), "no stage hung on the restarted fake")
		expectSuccess(res)
		executed := res.Executed()
		Expect(stageNames(executed)).To(Equal([]string{
			"CLOUDRUN_SYNC", "CLOUDRUN_PROMOTE", "WAIT", "CLOUDRUN_PROMOTE", "CLOUDRUN_PROMOTE", "CLOUDRUN_CANARY_CLEANUP",
		}))
		Expect(executed[0].LogText()).To(ContainSubstring("Service canary does not exist yet: creating it"))
		for _, promote := range []piped.StageRecord{executed[1], executed[3], executed[4]} {
			Expect(promote.LogText()).To(ContainSubstring("nothing to promote"))
		}

		svc := e.service(ctx, "canary")
		v2 := shortName(svc.GetLatestReadyRevision())
		Expect(e.fake.revisionNames(ctx, e.serviceName("canary"))).To(ConsistOf(v2), "only the new revision exists")
		Expect(traffic(svc.GetTraffic())).To(ContainElement(entry(v2, 100, "")))
		Expect(svc.GetTemplate().GetContainers()[0].GetImage()).To(Equal(imageV2))
	}, SpecTimeout(3*time.Minute))

	It("retries faults injected over the admin API and records them in the call log", func(ctx SpecContext) {
		e := newEnv(ctx)

		By("making the next two CreateService calls fail with UNAVAILABLE")
		e.fake.adminPost(ctx, "faults", `{"method":"CreateService","code":"UNAVAILABLE","times":2,"delay":"50ms"}`)

		By("deploying v1 by quick sync")
		v1 := e.deployCanaryV1(ctx)
		Expect(e.fake.revisionNames(ctx, e.serviceName("canary"))).To(ConsistOf(v1), "one revision despite the retries")

		status, body := e.fake.admin(ctx, "calls?method=CreateService")
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
		_, body = e.fake.admin(ctx, "faults")
		Expect(body).To(MatchJSON(`{"faults":[]}`), "the faults are used up")
	}, SpecTimeout(2*time.Minute))
})
