package e2e

import (
	"context"
	"sync"

	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/livestate"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// livestateOf asks the plugin for the live state of the canary example at the given source, as piped's
// livestate reporter does for the head commit.
func (e *env) livestateOf(ctx context.Context, src piped.Source) *livestate.GetLivestateResponse {
	GinkgoHelper()
	res, err := e.pd.Livestate(ctx, src)
	Expect(err).NotTo(HaveOccurred())
	return res
}

// resourcesByName indexes a live state's resources by name.
func resourcesByName(res *livestate.GetLivestateResponse) map[string]*model.ResourceState {
	out := map[string]*model.ResourceState{}
	for _, r := range res.GetApplicationLiveState().GetResources() {
		out[r.GetName()] = r
	}
	return out
}

// updateService changes a service out of band, as someone with gcloud would, and waits for the rollout.
func (e *env) updateService(ctx context.Context, id string, change func(*runpb.Service)) {
	GinkgoHelper()
	client := e.servicesClient(ctx)
	svc, err := client.GetService(ctx, &runpb.GetServiceRequest{Name: e.serviceName(id)})
	Expect(err).NotTo(HaveOccurred())
	change(svc)
	op, err := client.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
	Expect(err).NotTo(HaveOccurred())
	_, err = op.Wait(ctx)
	Expect(err).NotTo(HaveOccurred())
}

var _ = Describe("Live state [livestate]", Label("livestate", "fakerun-only"), func() {
	It("reports the service and its serving revisions with health and traffic during and after a canary, SYNCED while the canary split is live", func(ctx SpecContext) {
		e := newEnv()
		v1 := deployCanaryV1(ctx, e)

		c := commit()
		target := piped.Source{AppDir: appDir("canary"), Commit: c}
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
				during, duringE = e.pd.Livestate(ctx, target)
			}
		}}
		By("running the canary of v2, reading the live state after the first CLOUDRUN_PROMOTE")
		expectSuccess(e.deploy(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: c, Hooks: hooks}))
		v2 := shortName(e.service("canary").GetLatestReadyRevision())
		Expect(v2).NotTo(Equal(v1))

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
			Expect(res[name].GetParentIds()).To(Equal([]string{e.serviceName("canary")}))
			Expect(res[name].GetDeployTarget()).To(Equal("local"))
		}
		Expect(res[v2].GetResourceMetadata()).To(HaveKeyWithValue("image", imageV2))

		By("reading the live state after the canary")
		after := e.livestateOf(ctx, target)
		Expect(after.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED))
		Expect(after.GetSyncState().GetShortReason()).To(Equal("Service canary runs git's revision " + v2 + " with all the traffic"))
		res = resourcesByName(after)
		Expect(res).To(HaveKey(v2))
		Expect(res).NotTo(HaveKey(v1), "v1 no longer serves")
		Expect(res["canary"].GetHealthDescription()).To(ContainSubstring(v2 + " 100%"))
	})

	It("reports the service as reconciling while the new revision starts, and OUT_OF_SYNC on the image after the rollback", func(ctx SpecContext) {
		e := newEnv()
		v1 := deployCanaryV1(ctx, e)
		e.srv.SetManualReadiness(true)

		By("starting the canary of v2, whose revision does not become ready on its own")
		c := commit()
		target := piped.Source{AppDir: appDir("canary"), Commit: c}
		r, err := e.pd.Start(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: c})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() []string { return revisionNames(e.srv.Revisions(e.serviceName("canary"))) }).Should(HaveLen(2))
		v2 := revisionNames(e.srv.Revisions(e.serviceName("canary")))[0]
		Eventually(func() string {
			return resourcesByName(e.livestateOf(ctx, target))["canary"].GetHealthDescription()
		}).Should(HavePrefix("Reconciling"))
		Expect(resourcesByName(e.livestateOf(ctx, target))["canary"].GetHealthStatus()).To(Equal(model.ResourceState_UNKNOWN))

		By("failing the revision: CLOUDRUN_SYNC fails and the rollback restores v1")
		Expect(e.srv.SetRevisionReady(v2, false)).To(Succeed())
		res, err := r.Wait()
		Expect(err).NotTo(HaveOccurred())
		e.keep(res)
		Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), res.Report())
		// The rollback restored v1's template and commit label with the traffic: git's head is not what runs.
		Expect(e.service("canary").GetTemplate().GetContainers()[0].GetImage()).To(Equal(imageV1))
		ls := e.livestateOf(ctx, target)
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_OUT_OF_SYNC), ls.GetSyncState().GetReason())
		Expect(ls.GetSyncState().GetShortReason()).To(Equal("Service canary differs from git: template.containers[0].image"), ls.GetSyncState().GetReason())
		Expect(ls.GetSyncState().GetReason()).To(ContainSubstring(imageV2))
		Expect(ls.GetSyncState().GetReason()).To(ContainSubstring(imageV1))
		res2 := resourcesByName(ls)
		Expect(res2).NotTo(HaveKey(v2), "the failed revision serves nothing")
		Expect(res2).To(HaveKey(v1))
		Expect(res2[v1].GetHealthStatus()).To(Equal(model.ResourceState_HEALTHY))
		Expect(res2[v1].GetHealthDescription()).To(HavePrefix("100% of the traffic"))
	})

	It("says OUT_OF_SYNC once the traffic of a finished deployment is moved by hand", func(ctx SpecContext) {
		e := newEnv()
		v1 := deployCanaryV1(ctx, e)
		c := commit()
		expectSuccess(e.deploy(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: c, Files: withImage("canary", imageV2), SyncStrategy: model.SyncStrategy_QUICK_SYNC}))
		v2 := shortName(e.service("canary").GetLatestReadyRevision())
		e.setTraffic(ctx, "canary", revisionTarget(v1, 100, ""), revisionTarget(v2, 0, ""))
		res := e.livestateOf(ctx, piped.Source{AppDir: appDir("canary"), Commit: commit(), Files: withImage("canary", imageV2)})
		Expect(res.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_OUT_OF_SYNC))
		Expect(res.GetSyncState().GetShortReason()).To(ContainSubstring("was changed outside PipeCD"))
	})

	DescribeTable("says OUT_OF_SYNC naming the field changed out of band",
		func(ctx SpecContext, change func(*runpb.Service), field, value string) {
			e := newEnv()
			deployCanaryV1(ctx, e)
			src := piped.Source{AppDir: appDir("canary"), Commit: commit(), Files: withImage("canary", imageV1)}
			Expect(e.livestateOf(ctx, src).GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED))

			e.updateService(ctx, "canary", change)
			res := e.livestateOf(ctx, src)
			Expect(res.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_OUT_OF_SYNC), res.GetSyncState().GetReason())
			Expect(res.GetSyncState().GetShortReason()).To(HavePrefix("Service canary differs from git: "))
			Expect(res.GetSyncState().GetShortReason()).To(ContainSubstring(field))
			Expect(res.GetSyncState().GetReason()).To(ContainSubstring(value))
		},
		Entry("success: the image", func(s *runpb.Service) {
			s.Template.Revision = ""
			s.Template.Containers[0].Image = imageV3
		}, "image", imageV3),
		Entry("success: an environment variable", func(s *runpb.Service) {
			s.Template.Revision = ""
			s.Template.Containers[0].Env[0].Values = &runpb.EnvVar_Value{Value: "changed by hand"}
		}, "env", "changed by hand"),
		Entry("success: a service label", func(s *runpb.Service) {
			s.Labels["team"] = "hand-edited"
		}, "labels", "hand-edited"),
	)
})
