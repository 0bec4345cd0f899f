package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

var _ = Describe("Plugin restart [restart]", Label("restart", "fakerun-only"), func() {
	It("re-runs the stage the killed plugin was executing without creating a duplicate revision", func(ctx SpecContext) {
		e := newEnv()
		v1 := deployCanaryV1(ctx, e)
		e.srv.SetReadinessDelay(3 * time.Second)

		By("killing the plugin with SIGKILL while CLOUDRUN_SYNC waits for the new revision")
		killed := make(chan struct{})
		run, err := e.pd.Start(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: commit(), Hooks: piped.Hooks{
			OnStageStart: func(r *piped.Run, s piped.StageRecord) {
				if s.Name == "CLOUDRUN_SYNC" && s.Executions == 1 {
					go func() {
						defer close(killed)
						waitForCall(e, "UpdateService", 10*time.Second)
						time.Sleep(300 * time.Millisecond)
						e.pd.KillPlugin()
					}()
				}
			},
		}})
		Expect(err).NotTo(HaveOccurred())
		res, err := run.Wait()
		Expect(err).NotTo(HaveOccurred())
		<-killed
		Expect(res.Terminated).To(BeTrue(), res.Report())
		Expect(res.Stages[0].Status).To(Equal(model.StageStatus_STAGE_RUNNING), "the interrupted stage keeps its status")
		revs := revisionNames(e.srv.Revisions(e.serviceName("canary")))
		Expect(revs).To(HaveLen(2), "v1 and the new revision")

		By("restarting the plugin and resuming the deployment")
		e.srv.SetReadinessDelay(0)
		Expect(e.pd.RestartPlugin(ctx)).To(Succeed())
		Expect(run.Resume(ctx)).To(Succeed())
		res, err = run.Wait()
		Expect(err).NotTo(HaveOccurred())
		e.keep(res)
		expectSuccess(res)
		Expect(res.Stages[0].Name).To(Equal("CLOUDRUN_SYNC"))
		Expect(res.Stages[0].Executions).To(Equal(2), "CLOUDRUN_SYNC ran again")
		Expect(revisionNames(e.srv.Revisions(e.serviceName("canary")))).To(ConsistOf(revs), "no duplicate revision")
		svc := e.service("canary")
		Expect(traffic(svc.GetTraffic())).To(ContainElement(entry(shortName(svc.GetLatestReadyRevision()), 100, "")))
		Expect(shortName(svc.GetLatestReadyRevision())).NotTo(Equal(v1))
	})
})

// waitForCall waits until fakerun receives a call to method, or timeout.
func waitForCall(e *env, method string, timeout time.Duration) {
	from := len(e.srv.Calls())
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		calls := e.srv.Calls()
		for _, c := range calls[min(from, len(calls)):] {
			if c.Method == method {
				return
			}
		}
	}
}
