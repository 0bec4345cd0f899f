package e2e

import (
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
)

var _ = Describe("On the suite's target [target]", Label("target"), func() {
	It("quick-syncs a service, runs a short canary of a new revision, then reports it SYNCED with nothing to preview", func(ctx SpecContext) {
		e := newTargetEnv()
		id := e.id("canary")
		app := piped.Deployment{AppDir: appDir("canary"), AppID: id}

		By("deploying v1 for the first time")
		app.Commit, app.Files = commit(), e.canaryFiles(id, "hello from v1")
		res := e.deploy(ctx, app)
		expectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_QUICK_SYNC))
		v1 := shortName(e.service(ctx, id).GetLatestReadyRevision())

		By("running the canary of v2")
		app.Commit, app.Files = commit(), e.canaryFiles(id, "hello from v2")
		res = e.deploy(ctx, app)
		expectSuccess(res)
		Expect(stageNames(res.Executed())).To(Equal([]string{"CLOUDRUN_SYNC", "CLOUDRUN_PROMOTE", "CLOUDRUN_PROMOTE", "CLOUDRUN_CANARY_CLEANUP"}))
		svc := e.service(ctx, id)
		v2 := shortName(svc.GetLatestReadyRevision())
		Expect(v2).NotTo(Equal(v1))
		Expect(v2).To(HavePrefix(id + "-" + app.Commit[:7]))
		Expect(liveTraffic(svc)).To(ConsistOf(entry(v2, 100, ""), entry(v2, 0, "preview-"+app.Commit[:7])))
		Expect(svc.GetTemplate().GetContainers()[0].GetEnv()[0].GetValue()).To(Equal("hello from v2"))

		By("reading the live state and the plan preview of the deployed commit")
		src := piped.Source{AppDir: app.AppDir, AppID: id, Commit: app.Commit, Files: app.Files}
		ls, err := e.pd.Livestate(ctx, src)
		Expect(err).NotTo(HaveOccurred())
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED), ls.GetSyncState().GetReason())
		pv, err := e.pd.PlanPreview(ctx, src)
		Expect(err).NotTo(HaveOccurred())
		Expect(pv.GetResults()).To(HaveLen(1))
		Expect(pv.GetResults()[0].GetNoChange()).To(BeTrue(), pv.GetResults()[0].GetSummary())
	})
})

var _ = Describe("Cleanup of real mode [cleanup]", Label("cleanup", "fakerun-only"), func() {
	It("sweeps exactly the services of the run prefix, also those an interrupted spec left behind", func(ctx SpecContext) {
		e := newEnv()
		prefix := "e2e" + target.RandomHex(6) + "-"
		parent := "projects/" + e.project + "/locations/" + region

		By("creating services of the run (one by an interrupted deployment) and services of others")
		killed := prefix + "a1b2-canary"
		files := withImage("canary", imageV1)
		files["service.yaml"] = strings.Replace(files["service.yaml"], "\nname: canary\n", "\nname: "+killed+"\n", 1)
		r, err := e.pd.Start(ctx, piped.Deployment{AppDir: appDir("canary"), AppID: killed, Files: files})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() error { _, err := e.srv.Service(e.serviceName(killed)); return err }).Should(Succeed())
		e.pd.KillPlugin() // as when Ctrl-C or a crash ends the spec before its cleanup
		res, err := r.Wait()
		Expect(err).NotTo(HaveOccurred())
		e.keep(res)

		client := e.servicesClient(ctx)
		for _, id := range []string{prefix + "c3d4-fid", prefix + "c3d4-other", "e2e000000-keep", "canary", prefix[:len(prefix)-1]} {
			op, err := client.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: id, Service: sampleService(id)})
			Expect(err).NotTo(HaveOccurred())
			_, err = op.Wait(ctx)
			Expect(err).NotTo(HaveOccurred())
		}

		By("sweeping the run prefix")
		_, err = target.Sweep(ctx, e.fr, "")
		Expect(err).To(MatchError(ContainSubstring("shorter than")), "an empty prefix would delete everything")
		deleted, err := target.Sweep(ctx, e.fr, prefix)
		Expect(err).NotTo(HaveOccurred())
		Expect(deleted).To(ConsistOf(killed, prefix+"c3d4-fid", prefix+"c3d4-other"))

		var left []string
		for _, svc := range e.srv.State().Services {
			left = append(left, shortName(svc.GetName()))
		}
		Expect(left).To(ConsistOf("e2e000000-keep", "canary", prefix[:len(prefix)-1]))
		Expect(e.srv.Revisions(e.serviceName(killed))).To(BeEmpty(), "the revisions go with their service")
	})
})
