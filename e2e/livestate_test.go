package e2e

import (
	"sync"

	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/livestate"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

var _ = Describe("Live state [livestate]", Label("livestate", "fakerun-only"), func() {
	It("reports the service and its serving revisions with health and traffic during and after a canary, SYNCED while the canary split is live", func(ctx SpecContext) {
		e := newEnv()
		By("running v1 by quick sync")
		v1 := e.DeployCanaryV1(ctx)

		v2App := DeployInput{App: "canary", Commit: Commit()}
		target := v2App.Source()
		c := v2App.Commit
		var (
			mu      sync.Mutex
			during  *livestate.GetLivestateResponse
			duringE error
		)
		hooks := piped.Hooks{OnStageEnd: func(_ *piped.Run, s piped.StageRecord) {
			// The first CLOUDRUN_PROMOTE has just sent 10% to the new revision.
			mu.Lock()
			defer mu.Unlock()
			if s.Name == "CLOUDRUN_PROMOTE" && during == nil && duringE == nil {
				during, duringE = e.Piped.Livestate(ctx, target)
			}
		}}
		By("running the canary of v2, reading the live state after the first CLOUDRUN_PROMOTE")
		v2App.Hooks = hooks
		ExpectSuccess(e.Deploy(ctx, v2App))
		v2 := ShortName(e.Service(ctx, "canary").GetLatestReadyRevision())
		Expect(v2).NotTo(Equal(v1))

		By("checking the live state during the canary: SYNCED, v1 serving 90% and v2 10% with its preview tag")
		mu.Lock()
		defer mu.Unlock()
		Expect(duringE).NotTo(HaveOccurred())
		Expect(during.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED), during.GetSyncState().GetReason())
		Expect(during.GetSyncState().GetShortReason()).To(ContainSubstring("in progress"))
		Expect(during.GetSyncState().GetShortReason()).To(ContainSubstring("serves 10% of the traffic"))
		res := resourcesByName(during)
		Expect(res).To(HaveKey("canary"))
		Expect(res["canary"].GetResourceType()).To(Equal("Service"))
		Expect(res["canary"].GetHealthStatus()).To(Equal(model.ResourceState_HEALTHY))
		Expect(res["canary"].GetHealthDescription()).To(ContainSubstring(v1 + " 90%"))
		Expect(res["canary"].GetHealthDescription()).To(ContainSubstring(v2 + " 10%"))
		Expect(res).To(HaveKey(v1))
		Expect(res).To(HaveKey(v2))
		Expect(res[v1].GetHealthDescription()).To(HavePrefix("90% of the traffic"))
		Expect(res[v2].GetHealthDescription()).To(HavePrefix("10% of the traffic"))
		Expect(res[v2].GetHealthDescription()).To(ContainSubstring("tag preview-" + c[:7]))
		for _, name := range []string{v1, v2} {
			Expect(res[name].GetResourceType()).To(Equal("Revision"))
			Expect(res[name].GetHealthStatus()).To(Equal(model.ResourceState_HEALTHY), name)
			Expect(res[name].GetParentIds()).To(Equal([]string{e.ServiceName("canary")}))
			Expect(res[name].GetDeployTarget()).To(Equal("local"))
		}
		Expect(res[v2].GetResourceMetadata()).To(HaveKeyWithValue("image", ImageV2))

		By("reading the live state after the canary")
		after := e.Livestate(ctx, target)
		Expect(after.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED))
		Expect(after.GetSyncState().GetShortReason()).To(Equal("Service canary runs git's revision " + v2 + " with all the traffic"))
		res = resourcesByName(after)
		Expect(res).To(HaveKey(v2))
		Expect(res).NotTo(HaveKey(v1), "v1 no longer serves")
		Expect(res["canary"].GetHealthDescription()).To(ContainSubstring(v2 + " 100%"))
	})

	It("reports the service as reconciling while the new revision starts, and OUT_OF_SYNC on the image after the rollback", func(ctx SpecContext) {
		e := newEnv()
		By("running v1 by quick sync")
		v1 := e.DeployCanaryV1(ctx)
		e.Fakerun.SetManualReadiness(true)

		By("starting the canary of v2, whose revision does not become ready on its own")
		v2App := DeployInput{App: "canary", Commit: Commit()}
		target := v2App.Source()
		r := e.Start(ctx, v2App)
		Eventually(func() []string { return RevisionNames(e.Revisions(ctx, "canary")) }).Should(HaveLen(2))
		v2 := RevisionNames(e.Revisions(ctx, "canary"))[0]
		Eventually(func() string {
			return resourcesByName(e.Livestate(ctx, target))["canary"].GetHealthDescription()
		}).Should(HavePrefix("Reconciling"))
		Expect(resourcesByName(e.Livestate(ctx, target))["canary"].GetHealthStatus()).To(Equal(model.ResourceState_UNKNOWN))

		By("failing the revision: CLOUDRUN_SYNC fails and the rollback restores v1")
		Expect(e.Fakerun.SetRevisionReady(v2, false)).To(Succeed())
		res := e.Wait(r)
		Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), "%s", res.Report())

		By("checking the live state says OUT_OF_SYNC on the image, v1 serving everything")
		// The rollback restored v1's template and commit label with the traffic: git's head is not what runs.
		Expect(e.Service(ctx, "canary").GetTemplate().GetContainers()[0].GetImage()).To(Equal(ImageV1))
		ls := e.Livestate(ctx, target)
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_OUT_OF_SYNC), ls.GetSyncState().GetReason())
		Expect(ls.GetSyncState().GetShortReason()).To(Equal("Service canary differs from git: template.containers[0].image"), ls.GetSyncState().GetReason())
		Expect(ls.GetSyncState().GetReason()).To(ContainSubstring(ImageV2))
		Expect(ls.GetSyncState().GetReason()).To(ContainSubstring(ImageV1))
		res2 := resourcesByName(ls)
		Expect(res2).NotTo(HaveKey(v2), "the failed revision serves nothing")
		Expect(res2).To(HaveKey(v1))
		Expect(res2[v1].GetHealthStatus()).To(Equal(model.ResourceState_HEALTHY))
		Expect(res2[v1].GetHealthDescription()).To(HavePrefix("100% of the traffic"))
	})

	It("says OUT_OF_SYNC once the traffic of a finished deployment is moved by hand", func(ctx SpecContext) {
		e := newEnv()
		By("running v1, then v2, by quick sync")
		v1 := e.DeployCanaryV1(ctx)
		v2App := DeployInput{App: "canary", Files: WithImage("canary", ImageV2), SyncStrategy: model.SyncStrategy_QUICK_SYNC}
		ExpectSuccess(e.Deploy(ctx, v2App))
		v2 := ShortName(e.Service(ctx, "canary").GetLatestReadyRevision())

		By("moving all the traffic back to v1 by hand")
		e.SetTraffic(ctx, "canary", RevisionTarget(v1, 100, ""), RevisionTarget(v2, 0, ""))

		By("checking the live state at a later commit says the traffic was changed outside PipeCD")
		v2App.Commit = Commit()
		res := e.Livestate(ctx, v2App.Source())
		Expect(res.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_OUT_OF_SYNC))
		Expect(res.GetSyncState().GetShortReason()).To(ContainSubstring("was changed outside PipeCD"))
	})

	DescribeTable("says OUT_OF_SYNC naming the field changed out of band",
		func(ctx SpecContext, change func(*runpb.Service), field, value string) {
			e := newEnv()
			By("running v1 by quick sync: SYNCED")
			e.DeployCanaryV1(ctx)
			src := DeployInput{App: "canary", Commit: Commit(), Files: WithImage("canary", ImageV1)}.Source()
			Expect(e.Livestate(ctx, src).GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED))

			By("changing the service out of band")
			e.UpdateService(ctx, "canary", change)

			By("checking the live state says OUT_OF_SYNC, naming the field and its new value")
			res := e.Livestate(ctx, src)
			Expect(res.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_OUT_OF_SYNC), res.GetSyncState().GetReason())
			Expect(res.GetSyncState().GetShortReason()).To(HavePrefix("Service canary differs from git: "))
			Expect(res.GetSyncState().GetShortReason()).To(ContainSubstring(field))
			Expect(res.GetSyncState().GetReason()).To(ContainSubstring(value))
		},
		Entry("success: the image", func(s *runpb.Service) {
			s.Template.Revision = ""
			s.Template.Containers[0].Image = ImageV3
		}, "image", ImageV3),
		Entry("success: an environment variable", func(s *runpb.Service) {
			s.Template.Revision = ""
			s.Template.Containers[0].Env[0].Values = &runpb.EnvVar_Value{Value: "changed by hand"}
		}, "env", "changed by hand"),
		Entry("success: a service label", func(s *runpb.Service) {
			s.Labels["team"] = "hand-edited"
		}, "labels", "hand-edited"),
	)
})
