package e2e

import (
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

var _ = Describe("Nothing half-moved [reliability]", Label("reliability", "fakerun-only"), func() {
	DescribeTable("a bad option in a later stage fails the deployment at planning, before anything is written",
		func(ctx SpecContext, files func() map[string]string, wantInError []string) {
			e := newEnv()
			v1 := e.DeployCanaryV1(ctx)
			revisions := RevisionNames(e.Revisions(ctx, "canary"))

			By("deploying v2 with the bad option")
			in := DeployInput{App: "canary", Commit: Commit(), Files: files()}
			in.Files["service.yaml"] = Manifest("canary", ImageV2)
			_, err := e.Piped.Deploy(ctx, in.Deployment())
			Expect(err).To(HaveOccurred(), "piped fails the deployment while planning")
			for _, w := range wantInError {
				Expect(err.Error()).To(ContainSubstring(w))
			}

			By("checking that no revision was created and the traffic did not move")
			Expect(RevisionNames(e.Revisions(ctx, "canary"))).To(Equal(revisions))
			Expect(Traffic(e.Service(ctx, "canary").GetTraffic())).To(Equal(Routes(Route(v1, 100, ""))))
			expectPluginAlive(e)
		},
		Entry("the third CLOUDRUN_PROMOTE has percent 1000", func() map[string]string {
			return CanaryConfig("percent: 100\n", "percent: 1000\n")
		}, []string{"spec.pipeline.stages[4], CLOUDRUN_PROMOTE #3 of 3", `field "percent": 1000 is out of range, allowed 0-100`}),
		Entry("CLOUDRUN_ROLLBACK has revision: 5", func() map[string]string {
			files := CanaryConfig("      - name: CLOUDRUN_CANARY_CLEANUP\n", "      - name: CLOUDRUN_ROLLBACK\n        with:\n          revision: 5\n      - name: CLOUDRUN_CANARY_CLEANUP\n")
			Expect(strings.Count(files["app.pipecd.yaml"], "CLOUDRUN_ROLLBACK")).To(Equal(1))
			return files
		}, []string{"spec.pipeline.stages[5], CLOUDRUN_ROLLBACK", `field "revision": 5 is not a string`}),
	)

	It("rolls back to the recorded state instead of a CLOUDRUN_ROLLBACK revision that does not exist, and names the ready ones", func(ctx SpecContext) {
		e := newEnv()
		v1, before := prepareTaggedV1(ctx, e)

		By("running the canary of v2, whose CLOUDRUN_ROLLBACK names a missing revision, failing at the first CLOUDRUN_PROMOTE")
		files := CanaryConfig("      - name: CLOUDRUN_CANARY_CLEANUP\n", "      - name: CLOUDRUN_ROLLBACK\n        with:\n          revision: canary-gone\n      - name: CLOUDRUN_CANARY_CLEANUP\n")
		files["service.yaml"] = Manifest("canary", ImageV2)
		res := e.Deploy(ctx, DeployInput{App: "canary", Files: files, Hooks: failAt(e, stagePromote10)})
		Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), "%s", res.Report())
		executed := res.Executed()
		rollback := executed[len(executed)-1]
		Expect(rollback.Name).To(Equal("CLOUDRUN_ROLLBACK"), "%s", res.Report())
		Expect(rollback.Status).To(Equal(model.StageStatus_STAGE_FAILURE), "%s", res.Report())
		Expect(rollback.LogText()).To(ContainSubstring("revision canary-gone does not exist, so it cannot take the traffic; the ready revisions of service canary are: "))
		Expect(rollback.LogText()).To(ContainSubstring(v1))

		By("checking that the pre-deploy state is back and the service is not left failed")
		svc := e.Service(ctx, "canary")
		Expect(Traffic(svc.GetTraffic())).To(Equal(before))
		Expect(svc.GetTemplate().GetContainers()[0].GetImage()).To(Equal(ImageV1))
		Expect(svc.GetTerminalCondition().GetState()).NotTo(Equal(runpb.Condition_CONDITION_FAILED), svc.GetTerminalCondition().GetMessage())
	})

	It("fails CLOUDRUN_SYNC at once when the service is deleted while it waits for readiness", func(ctx SpecContext) {
		e := newEnv()
		e.DeployCanaryV1(ctx)

		By("running the canary of v2, whose revision never becomes ready, and deleting the service once SYNC polls the revision")
		e.Fakerun.SetReadinessDelay(time.Hour)
		deleteService := AfterCall(ctx, e.Fakerun, stageSync, "GetRevision", func(*piped.Run) error {
			op, err := e.ServicesClient.DeleteService(ctx, &runpb.DeleteServiceRequest{Name: e.ServiceName("canary")})
			if err != nil {
				return err
			}
			_, err = op.Wait(ctx)
			return err
		})
		res := e.Deploy(ctx, DeployInput{App: "canary", Files: WithImage("canary", ImageV2), Hooks: deleteService.Hooks(piped.Hooks{})})
		deleteService.Wait()
		sync := res.Executed()[0]
		Expect(sync.Status).To(Equal(model.StageStatus_STAGE_FAILURE), "%s", res.Report())
		Expect(sync.LogText()).To(ContainSubstring("service canary disappeared while waiting for revision canary-"))
		Expect(sync.Latency()).To(BeNumerically("<", 10*time.Second), "not the 10-minute readiness timeout")
		expectPluginAlive(e)
	})

	It("says in the CLOUDRUN_SYNC log that a renamed service leaves the old one serving", func(ctx SpecContext) {
		e := newEnv()
		v1 := e.DeployCanaryV1(ctx)

		By("deploying the application with its service renamed to canary-renamed")
		files := WithImage("canary", ImageV2)
		files["service.yaml"] = strings.Replace(files["service.yaml"], "\nname: canary\n", "\nname: canary-renamed\n", 1)
		res := e.Deploy(ctx, DeployInput{App: "canary", Files: files, SyncStrategy: model.SyncStrategy_QUICK_SYNC})
		ExpectSuccess(res)
		sync := res.Executed()[0]
		Expect(sync.Name).To(Equal("CLOUDRUN_SYNC"))
		Expect(sync.LogText()).To(ContainSubstring("The service is renamed: the running commit "))
		Expect(sync.LogText()).To(ContainSubstring("leaves canary as it is, still serving its traffic; PipeCD no longer manages canary. " +
			"Delete it when nothing uses it any more: gcloud run services delete canary --region " + region))

		By("checking that the old service still serves v1 and the new one exists")
		Expect(Traffic(e.Service(ctx, "canary").GetTraffic())).To(Equal(Routes(Route(v1, 100, ""))))
		Expect(e.Service(ctx, "canary-renamed").GetTemplate().GetContainers()[0].GetImage()).To(Equal(ImageV2))
	})

	It("rejects a service manifest with a key written twice, naming the key and line", func(ctx SpecContext) {
		e := newEnv()
		v1 := e.DeployCanaryV1(ctx)

		By("deploying a manifest whose container has two image keys")
		manifest := Manifest("canary", ImageV2)
		manifest = strings.Replace(manifest, "image: "+ImageV2+"\n", "image: "+ImageV2+"\n      image: "+ImageV3+"\n", 1)
		Expect(manifest).To(ContainSubstring(ImageV3))
		_, err := e.Piped.Deploy(ctx, DeployInput{App: "canary", Commit: Commit(), Files: map[string]string{"service.yaml": manifest}}.Deployment())
		Expect(err).To(HaveOccurred(), "piped fails the deployment while planning")
		Expect(err.Error()).To(ContainSubstring(`manifest service.yaml: duplicate key "image" on line 10, allowed each key once per object`))
		Expect(Traffic(e.Service(ctx, "canary").GetTraffic())).To(Equal(Routes(Route(v1, 100, ""))))
	})
})
