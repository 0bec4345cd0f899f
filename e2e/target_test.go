package e2e

import (
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
)

var _ = Describe("On the suite's target [target]", Label("target"), func() {
	It("quick-syncs a service, runs a short canary of a new revision, then reports it SYNCED with nothing to preview", func(ctx SpecContext) {
		e := newTargetEnv()
		id := e.ID("canary")
		app := DeployInput{App: "canary", AppID: id}

		By("deploying v1 for the first time")
		app.Commit, app.Files = Commit(), canaryFiles(id, "hello from v1")
		res := e.Deploy(ctx, app)
		ExpectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_QUICK_SYNC))
		v1 := ShortName(e.Service(ctx, id).GetLatestReadyRevision())

		By("running the canary of v2")
		app.Commit, app.Files = Commit(), canaryFiles(id, "hello from v2")
		res = e.Deploy(ctx, app)
		ExpectSuccess(res)
		Expect(StageNames(res.Executed())).To(Equal([]string{"CLOUDRUN_SYNC", "CLOUDRUN_PROMOTE", "CLOUDRUN_PROMOTE", "CLOUDRUN_CANARY_CLEANUP"}))
		svc := e.Service(ctx, id)
		v2 := ShortName(svc.GetLatestReadyRevision())
		Expect(v2).NotTo(Equal(v1))
		Expect(v2).To(HavePrefix(id + "-" + app.Commit[:7]))
		Expect(LiveTraffic(svc)).To(ConsistOf(Route(v2, 100, ""), Route(v2, 0, "preview-"+app.Commit[:7])))
		Expect(svc.GetTemplate().GetContainers()[0].GetEnv()[0].GetValue()).To(Equal("hello from v2"))

		By("reading the live state and the plan preview of the deployed commit")
		ls := e.Livestate(ctx, app.Source())
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED), ls.GetSyncState().GetReason())
		pv := e.PlanPreview(ctx, app.Source())
		Expect(pv.GetNoChange()).To(BeTrue(), pv.GetSummary())
	})
})

var _ = Describe("Cleanup of real mode [cleanup]", Label("cleanup", "fakerun-only"), func() {
	It("sweeps exactly the services of the run prefix, also those an interrupted spec left behind", func(ctx SpecContext) {
		e := newEnv()
		prefix := "e2e" + target.RandomHex(6) + "-"
		parent := "projects/" + e.Target.Project() + "/locations/" + region

		By("creating services of the run (one by an interrupted deployment) and services of others")
		killed := prefix + "a1b2-canary"
		files := WithImage("canary", ImageV1)
		files["service.yaml"] = strings.Replace(files["service.yaml"], "\nname: canary\n", "\nname: "+killed+"\n", 1)
		r := e.Start(ctx, DeployInput{App: "canary", AppID: killed, Files: files})
		Eventually(func() error { _, err := e.Fakerun.Service(e.ServiceName(killed)); return err }).Should(Succeed())
		e.Piped.KillPlugin() // as when Ctrl-C or a crash ends the spec before its cleanup
		e.Wait(r)

		for _, id := range []string{prefix + "c3d4-fid", prefix + "c3d4-other", "e2e000000-keep", "canary", prefix[:len(prefix)-1]} {
			op, err := e.ServicesClient.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: id, Service: sampleService(id)})
			Expect(err).NotTo(HaveOccurred())
			_, err = op.Wait(ctx)
			Expect(err).NotTo(HaveOccurred())
		}

		By("sweeping the run prefix")
		_, err := target.Sweep(ctx, e.Target, "")
		Expect(err).To(MatchError(ContainSubstring("shorter than")), "an empty prefix would delete everything")
		deleted, err := target.Sweep(ctx, e.Target, prefix)
		Expect(err).NotTo(HaveOccurred())
		Expect(deleted).To(ConsistOf(killed, prefix+"c3d4-fid", prefix+"c3d4-other"))

		By("checking that only the services of others are left, and the swept services took their revisions along")
		var left []string
		for _, svc := range e.Fakerun.State().Services {
			left = append(left, ShortName(svc.GetName()))
		}
		Expect(left).To(ConsistOf("e2e000000-keep", "canary", prefix[:len(prefix)-1]))
		Expect(e.Revisions(ctx, killed)).To(BeEmpty(), "the revisions go with their service")
	})
})
