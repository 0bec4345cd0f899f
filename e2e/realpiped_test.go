package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/e2e/controlplane"
	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/pipedv1"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

var _ = Describe("The real piped [piped]", Label(realPipedLabel, "fakerun-only"), func() {
	It("deploys a first revision by quick sync on a SYNC command, to two deploy targets", func(ctx SpecContext) {
		rp := newRealPiped(ctx, realPipedInput{Apps: []string{"quicksync"}, DeployTargets: []string{LocalDeployTarget, "second"}})

		By("syncing the application from the console")
		rp.sync(ctx, "quicksync", model.SyncStrategy_QUICK_SYNC)
		d := rp.waitDeployment(ctx, "quicksync", 0)
		rp.expectSuccess(ctx, d)
		Expect(stageStatuses(d)).To(Equal([]string{"CLOUDRUN_SYNC SUCCESS", "CLOUDRUN_ROLLBACK NOT_STARTED_YET"}))

		By("checking what the control plane received and what fakerun serves in both regions")
		for _, r := range []string{region, secondRegion} {
			svc := rp.service("quicksync", r)
			rev := ShortName(svc.GetLatestReadyRevision())
			Expect(LiveTraffic(svc)).To(Equal(Routes(Route(rev, 100, ""))), "in %s", r)
			Expect(strings.Join(rp.logs(ctx, d, plannedStage(d, "CLOUDRUN_SYNC")), "\n")).To(ContainSubstring(rev))
		}
		wctx, cancel := context.WithTimeout(ctx, IntervalEventually)
		defer cancel()
		_, err := rp.CP.WaitApplication(wctx, rp.Apps["quicksync"], func(app *model.Application) bool {
			return app.MostRecentlySuccessfulDeployment.GetDeploymentId() == d.Id
		})
		Expect(err).NotTo(HaveOccurred(), "piped reports the deployment as the application's most recent successful one")
		Expect(d.Versions).To(ContainElement(HaveField("Version", "v1")))
	})

	It("runs examples/canary, WAIT included, to 100% on a commit", func(ctx SpecContext) {
		rp := newRealPiped(ctx, realPipedInput{Apps: []string{"canary"}, Files: canaryAtV1(), OnCommit: true})

		By("letting piped deploy the new application's first commit: a quick sync")
		d := rp.waitDeployment(ctx, "canary", 0)
		rp.expectSuccess(ctx, d)
		Expect(d.Trigger.SyncStrategy).To(Equal(model.SyncStrategy_AUTO))
		v1 := ShortName(rp.service("canary", region).GetLatestReadyRevision())

		By("committing v2")
		c := rp.commit(ctx, "canary", "Deploy v2", WithImage("canary", ImageV2))
		d = rp.waitDeployment(ctx, "canary", 1)
		rp.expectSuccess(ctx, d)
		Expect(stageStatuses(d)).To(Equal([]string{
			"CLOUDRUN_SYNC SUCCESS", "CLOUDRUN_PROMOTE SUCCESS", "WAIT SUCCESS", "CLOUDRUN_PROMOTE SUCCESS",
			"CLOUDRUN_PROMOTE SUCCESS", "CLOUDRUN_CANARY_CLEANUP SUCCESS", "CLOUDRUN_ROLLBACK NOT_STARTED_YET",
		}))
		Expect(rp.logs(ctx, d, plannedStage(d, "WAIT"))).To(ContainElement("Waiting for 10s..."))
		svc := rp.service("canary", region)
		v2 := ShortName(svc.GetLatestReadyRevision())
		Expect(v2).NotTo(Equal(v1))
		Expect(LiveTraffic(svc)).To(Equal(Routes(Route(v2, 100, ""), Route(v2, 0, PreviewTag(c)))))
	})

	It("refuses to plan a pipeline whose stage has no plugin, with piped's message", func(ctx SpecContext) {
		rp := newRealPiped(ctx, realPipedInput{Apps: []string{"canary"}, WithoutWaitPlugin: true})

		By("syncing examples/canary with its pipeline on a piped without the wait plugin")
		rp.sync(ctx, "canary", model.SyncStrategy_PIPELINE)
		d := rp.waitDeployment(ctx, "canary", 0)
		Expect(d.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), rp.report(ctx, d))
		Expect(d.StatusReason).To(Equal("Unable to plan the deployment (no plugin found for the stage WAIT)"))
		Expect(d.Stages).To(BeEmpty())
		Expect(rp.Fakerun.Server().State().Services).To(BeEmpty())
	})

	It("rolls back a bad canary that fails its analysis, restoring the exact traffic, template and tags", func(ctx SpecContext) {
		rp := newAnalysisPiped(ctx)
		v1, before, beforeSvc := rp.deployAnalysisV1(ctx, 2*time.Minute)

		By("committing the canary of an image answering 20% 503")
		rp.commit(ctx, AnalysisExample, "Deploy a bad canary", AnalysisFiles(imageErrors))
		d := rp.waitDeployment(ctx, AnalysisExample, 1)
		Expect(d.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), rp.report(ctx, d))
		Expect(stageStatuses(d)).To(Equal([]string{
			"CLOUDRUN_SYNC SUCCESS", "CLOUDRUN_PROMOTE SUCCESS", "CLOUDRUN_ANALYSIS FAILURE", "CLOUDRUN_PROMOTE NOT_STARTED_YET",
			"CLOUDRUN_PROMOTE NOT_STARTED_YET", "CLOUDRUN_CANARY_CLEANUP NOT_STARTED_YET", "CLOUDRUN_ROLLBACK SUCCESS",
		}), rp.report(ctx, d))
		Expect(strings.Join(rp.logs(ctx, d, plannedStage(d, "CLOUDRUN_ANALYSIS")), "\n")).To(MatchRegexp(`failed the analysis at check 1/3 .*errorRate`))
		Expect(d.StatusReason).To(Equal("Failed while executing stage "+plannedStage(d, "CLOUDRUN_ANALYSIS").Id), "piped names the stage by its ID")

		By("checking that piped's automatic rollback restored the service exactly")
		svc := rp.service(AnalysisExample, region)
		Expect(Traffic(svc.GetTraffic())).To(Equal(before))
		Expect(LiveTraffic(svc)).To(Equal(Routes(Route(v1, 100, ""))))
		Expect(protoText(svc.GetTemplate())).To(Equal(protoText(beforeSvc.GetTemplate())))
		Expect(svc.GetLabels()).To(Equal(beforeSvc.GetLabels()))
	})

	It("passes the canary-analysis pipeline of a healthy revision to 100%", func(ctx SpecContext) {
		rp := newAnalysisPiped(ctx)
		rp.deployAnalysisV1(ctx, 2*time.Minute)

		By("committing the canary of v2, with its analysis at 10%")
		c := rp.commit(ctx, AnalysisExample, "Deploy v2", AnalysisFiles(ImageV2))
		d := rp.waitDeployment(ctx, AnalysisExample, 1)
		rp.expectSuccess(ctx, d)
		Expect(strings.Join(rp.logs(ctx, d, plannedStage(d, "CLOUDRUN_ANALYSIS")), "\n")).To(ContainSubstring("passed the analysis: 3 checks, 3 passed, 0 failed, 0 inconclusive"))
		svc := rp.service(AnalysisExample, region)
		v2 := ShortName(svc.GetLatestReadyRevision())
		Expect(LiveTraffic(svc)).To(Equal(Routes(Route(v2, 100, ""), Route(v2, 0, PreviewTag(c)))))
	})

	// PipeCD's scheduler at the pinned version reads the status of the ExecuteStage response that the cancel
	// itself aborted (pkg/app/pipedv1/controller/scheduler.go, executeStage: res.Status with res nil), so a
	// CANCEL_DEPLOYMENT during a plugin's stage kills piped; restarted, it resumes the stage and meets the
	// still unhandled command again. This spec pins that down: when pipecd is bumped past a fix, it fails,
	// and it is to become "cancels a deployment during its WAIT and rolls it back".
	It("dies of a nil pointer when a deployment is cancelled during its WAIT (pinned pipedv1)", func(ctx SpecContext) {
		slowWait := strings.Replace(readExample("canary", "app.pipecd.yaml"), "duration: 10s", "duration: 10m", 1)
		rp := newRealPiped(ctx, realPipedInput{Apps: []string{"canary"}, Files: map[string]string{"canary/app.pipecd.yaml": slowWait}})

		By("running the canary pipeline with a WAIT of 10 minutes")
		rp.sync(ctx, "canary", model.SyncStrategy_PIPELINE)
		wctx, cancel := context.WithTimeout(ctx, realPipedDeployment)
		defer cancel()
		d, err := rp.CP.WaitDeployment(wctx, rp.Apps["canary"], 0, controlplane.StageStatus("WAIT", model.StageStatus_STAGE_RUNNING))
		Expect(err).NotTo(HaveOccurred())

		By("cancelling it from the console: piped panics")
		_, err = rp.CP.CancelDeployment(ctx, d.Id)
		Expect(err).NotTo(HaveOccurred())
		Eventually(rp.Piped.Exited()).WithTimeout(realPipedDeployment).Should(BeClosed())
		Expect(rp.Piped.Output()).To(ContainSubstring("invalid memory address or nil pointer dereference"))
		Expect(rp.Piped.Output()).To(MatchRegexp(`controller\.\(\*scheduler\)\.executeStage`))
		d, err = rp.CP.GetDeployment(ctx, d.Id)
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_RUNNING), rp.report(ctx, d))
	})

	It("reports live state and drift: an out-of-band image change shows OUT_OF_SYNC with the plugin's reason", func(ctx SpecContext) {
		rp := newRealPiped(ctx, realPipedInput{Apps: []string{"canary"}})
		rp.sync(ctx, "canary", model.SyncStrategy_QUICK_SYNC)
		rp.expectSuccess(ctx, rp.waitDeployment(ctx, "canary", 0))
		v2 := ShortName(rp.service("canary", region).GetLatestReadyRevision())

		By("changing the image out of band, as with gcloud")
		client, err := run.NewServicesClient(ctx, rp.Fakerun.ClientOptions()...)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(client.Close)
		svc := rp.service("canary", region)
		svc.Template.Containers[0].Image = ImageV1
		svc.Template.Revision = ""
		op, err := client.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
		Expect(err).NotTo(HaveOccurred())
		_, err = op.Wait(ctx)
		Expect(err).NotTo(HaveOccurred())

		By("waiting for piped's live state reporter (once a minute) to tell the control plane")
		wctx, cancel := context.WithTimeout(ctx, realPipedLiveState)
		defer cancel()
		app, err := rp.CP.WaitApplication(wctx, rp.Apps["canary"], func(a *model.Application) bool {
			return a.SyncState.GetStatus() == model.ApplicationSyncStatus_OUT_OF_SYNC
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(app.SyncState.ShortReason).To(Equal("Service canary differs from git: template.containers[0].image"), app.SyncState.Reason)
		Expect(app.SyncState.Reason).To(ContainSubstring(ImageV1))
		Expect(app.SyncState.Reason).To(ContainSubstring(ImageV2))
		ls, err := rp.CP.LiveState(ctx, rp.Apps["canary"])
		Expect(err).NotTo(HaveOccurred())
		var names []string
		for _, r := range ls.GetApplicationLiveState().GetResources() {
			names = append(names, r.GetName())
		}
		Expect(names).To(ContainElements("canary", v2))
	})

	// pipedv1's plugin client at the pinned version leaves its PlanPreviewServiceClient nil
	// (pkg/plugin/api/v1alpha1/client.go, NewClient), so the first BUILD_PLAN_PREVIEW naming an application kills
	// piped in builder.buildApp; before that, the plan preview asks the plugins' DetermineStrategy with a
	// deployment without ID, which the SDK's request validation refuses. This spec pins that down: when pipecd
	// is bumped past a fix, it fails, and it is to become "answers a plan preview naming the traffic change"
	// (the plugin's own plan preview is covered by planpreview_test.go on the stand-in).
	It("dies of a nil pointer when asked for a plan preview (pinned pipedv1)", func(ctx SpecContext) {
		// Without a deployment, the plan preview names the application as a first deployment, asking no plugin:
		// piped deploys the application's first commit.
		rp := newRealPiped(ctx, realPipedInput{Apps: []string{"canary"}, Files: canaryAtV1(), OnCommit: true})
		rp.expectSuccess(ctx, rp.waitDeployment(ctx, "canary", 0))

		By("asking for the plan preview of a pull request changing the image, as pipectl plan-preview does")
		head, err := rp.Repo.CommitOnBranch(ctx, "v2", "Deploy v2", map[string]string{"canary/service.yaml": Manifest("canary", ImageV2)})
		Expect(err).NotTo(HaveOccurred())
		id, err := rp.CP.BuildPlanPreview(ctx, controlplane.PlanPreview{PipedID: rp.PipedID, RepositoryID: pipedv1.DefaultRepoID,
			HeadBranch: "v2", HeadCommit: head, BaseBranch: pipedv1.Branch, Timeout: time.Minute})
		Expect(err).NotTo(HaveOccurred())
		Eventually(rp.Piped.Exited()).WithTimeout(realPipedDeployment).Should(BeClosed())
		Expect(rp.Piped.Output()).To(ContainSubstring("invalid memory address or nil pointer dereference"))
		Expect(rp.Piped.Output()).To(ContainSubstring("v1alpha1.(*client).GetPlanPreview"))
		Expect(rp.Piped.Output()).To(ContainSubstring("invalid Deployment.Id: value length must be at least 1 runes"))
		cmd, err := rp.CP.GetCommand(ctx, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(cmd.IsHandled()).To(BeFalse())
	})

	// pipedv1 at the pinned version keeps a commit's AUTO strategy in the deployment it plans as a quick sync
	// (pipecd#6274), so its scheduler looks for the quick-sync stage's configuration in spec.pipeline: an
	// application with a pipeline gets stage 0's `with`, and one without (examples/quicksync) fails before
	// any plugin runs a stage. Such an application deploys by a SYNC command only. This spec pins that down:
	// when pipecd is bumped past a fix, it fails, and it is to become "deploys examples/quicksync on a commit".
	It("fails a commit's deployment of an application without a pipeline before the plugin runs a stage (pinned pipedv1)", func(ctx SpecContext) {
		rp := newRealPiped(ctx, realPipedInput{Apps: []string{"quicksync"}, OnCommit: true})

		By("letting piped deploy examples/quicksync's first commit")
		d := rp.waitDeployment(ctx, "quicksync", 0)
		Expect(d.Trigger.SyncStrategy).To(Equal(model.SyncStrategy_AUTO))
		Expect(d.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), rp.report(ctx, d))
		Expect(stageStatuses(d)).To(Equal([]string{"CLOUDRUN_SYNC FAILURE", "CLOUDRUN_ROLLBACK FAILURE"}), rp.report(ctx, d))
		Expect(d.StatusReason).To(Equal("Failed while executing stage " + plannedStage(d, "CLOUDRUN_SYNC").Id))
		Expect(rp.Piped.Output()).To(MatchRegexp(`Unable to find the stage configuration.*"stage-name": "CLOUDRUN_SYNC"`))
		Expect(rp.Fakerun.Server().State().Services).To(BeEmpty(), "no stage ran")
	})

	It("deploys a job and runs it", func(ctx SpecContext) {
		rp := newRealPiped(ctx, realPipedInput{Apps: []string{"job"}})
		rp.sync(ctx, "job", model.SyncStrategy_PIPELINE)
		d := rp.waitDeployment(ctx, "job", 0)
		rp.expectSuccess(ctx, d)
		Expect(stageStatuses(d)).To(Equal([]string{"CLOUDRUN_JOB_SYNC SUCCESS", "CLOUDRUN_JOB_RUN SUCCESS", "CLOUDRUN_ROLLBACK NOT_STARTED_YET"}))
		st := rp.Fakerun.Server().State()
		Expect(st.Jobs).To(HaveLen(1))
		Expect(st.Executions[st.Jobs[0].GetName()]).To(HaveLen(1))
		Expect(st.Executions[st.Jobs[0].GetName()][0].GetSucceededCount()).To(BeEquivalentTo(1))
	})

	It("deploys every example application with examples/piped-config.yaml as shipped, in one piped", func(ctx SpecContext) {
		// The analyses of canary-analysis and canary-verified last 10 minutes and read points 3 minutes old, and
		// the plugin waits for them in real time: their committed app.pipecd.yaml has the analysis scaled down
		// to 3 checks of 1 s read at once (AnalysisFiles, verifiedFiles; fakerun's points are per second and
		// visible at once). Everything else is as shipped, WAIT a tenth of its duration by the wait plugin's
		// timeScale.
		v1Files := map[string]string{"canary/service.yaml": Manifest("canary", ImageV1), "knative-v0/service.yaml": Manifest("knative-v0", ImageV1)}
		for f, c := range AnalysisFiles(ImageV1) {
			v1Files[AnalysisExample+"/"+f] = c
		}
		for f, c := range verifiedFiles(ImageV1, migrateImage) {
			v1Files[verifiedExample+"/"+f] = c
		}
		Expect(shippedExamples).To(ConsistOf(ExampleApps()), "every example application of examples/")
		rp := newRealPiped(ctx, realPipedInput{
			Apps:           shippedExamples,
			ShippedConfig:  true,
			Files:          v1Files,
			FakerunOptions: analysisBehaviors(),
		})

		By("syncing every application at once: a first deployment each")
		first := map[string]model.SyncStrategy{}
		for _, app := range shippedExamples {
			first[app] = model.SyncStrategy_QUICK_SYNC
		}
		first["job"] = model.SyncStrategy_PIPELINE
		rp.syncAll(ctx, first)
		for _, app := range shippedExamples {
			rp.expectSuccess(ctx, rp.waitDeployment(ctx, app, 0))
		}
		Expect(LiveTraffic(rp.shippedService("quicksync"))).To(Equal(Routes(Route(ShortName(rp.shippedService("quicksync").GetLatestReadyRevision()), 100, ""))))
		st := rp.Fakerun.Server().State()
		Expect(st.Jobs).To(ConsistOf(HaveField("Name", HaveSuffix("/jobs/job"))), "the job; canary-verified's migration runs only in its pipeline")
		Expect(st.Executions[st.Jobs[0].GetName()]).To(ConsistOf(HaveField("SucceededCount", BeEquivalentTo(1))))
		v1 := map[string]string{}
		for _, app := range []string{"canary", "knative-v0", AnalysisExample, verifiedExample} {
			svc := rp.shippedService(app)
			v1[app] = ShortName(svc.GetLatestReadyRevision())
			if app == AnalysisExample || app == verifiedExample {
				// The analyses judge the requests the new revision answers at 10%: 300 a second to the service.
				_, err := rp.Fakerun.Server().StartLoad(fakerun.Load{URL: svc.GetUri(), Rate: 300, Duration: realPipedDeployment})
				Expect(err).NotTo(HaveOccurred())
			}
		}
		v1[poolApp] = ShortName(rp.shippedPool().GetLatestReadyRevision())
		Expect(rp.Fakerun.Server().Instances(rp.shippedPool().GetName())).To(Equal(map[string]int32{v1[poolApp]: 10}))

		By("committing v2 of every pipeline application and running their pipelines, WAIT by the wait plugin")
		v2Files := map[string]string{
			"canary/service.yaml": Manifest("canary", ImageV2), "knative-v0/service.yaml": Manifest("knative-v0", ImageV2),
			poolApp + "/worker-pool.yaml": poolFiles(ImageV2)["worker-pool.yaml"],
		}
		for f, c := range AnalysisFiles(ImageV2) {
			v2Files[AnalysisExample+"/"+f] = c
		}
		for f, c := range verifiedFiles(ImageV2, migrateImage) {
			v2Files[verifiedExample+"/"+f] = c
		}
		c, err := rp.Repo.Commit(ctx, "Deploy v2", v2Files)
		Expect(err).NotTo(HaveOccurred())
		want := map[string][]string{
			"canary": {
				"CLOUDRUN_SYNC SUCCESS", "CLOUDRUN_PROMOTE SUCCESS", "WAIT SUCCESS", "CLOUDRUN_PROMOTE SUCCESS",
				"CLOUDRUN_PROMOTE SUCCESS", "CLOUDRUN_CANARY_CLEANUP SUCCESS", "CLOUDRUN_ROLLBACK NOT_STARTED_YET",
			},
			"knative-v0": {
				"CLOUDRUN_PROMOTE SUCCESS", "WAIT SUCCESS", "CLOUDRUN_PROMOTE SUCCESS", "WAIT SUCCESS",
				"CLOUDRUN_PROMOTE SUCCESS", "CLOUDRUN_ROLLBACK NOT_STARTED_YET",
			},
			AnalysisExample: {
				"CLOUDRUN_SYNC SUCCESS", "CLOUDRUN_PROMOTE SUCCESS", "CLOUDRUN_ANALYSIS SUCCESS", "CLOUDRUN_PROMOTE SUCCESS",
				"CLOUDRUN_PROMOTE SUCCESS", "CLOUDRUN_CANARY_CLEANUP SUCCESS", "CLOUDRUN_ROLLBACK NOT_STARTED_YET",
			},
			verifiedExample: {
				"CLOUDRUN_JOB_HOOK SUCCESS", "CLOUDRUN_SYNC SUCCESS", "CLOUDRUN_VERIFY SUCCESS", "CLOUDRUN_PROMOTE SUCCESS",
				"CLOUDRUN_ANALYSIS SUCCESS", "CLOUDRUN_PROMOTE SUCCESS", "CLOUDRUN_ROLLBACK NOT_STARTED_YET",
			},
			poolApp: {
				"CLOUDRUN_SYNC SUCCESS", "CLOUDRUN_PROMOTE SUCCESS", "CLOUDRUN_PROMOTE SUCCESS", "CLOUDRUN_PROMOTE SUCCESS",
				"CLOUDRUN_CANARY_CLEANUP SUCCESS", "CLOUDRUN_ROLLBACK NOT_STARTED_YET",
			},
		}
		second := map[string]model.SyncStrategy{}
		for app := range want {
			second[app] = model.SyncStrategy_AUTO
		}
		rp.syncAll(ctx, second)
		for app, stages := range want {
			d := rp.waitDeployment(ctx, app, 1)
			rp.expectSuccess(ctx, d)
			Expect(stageStatuses(d)).To(Equal(stages), app)
			if app == poolApp {
				wp := rp.shippedPool()
				v2 := ShortName(wp.GetLatestReadyRevision())
				Expect(v2).NotTo(Equal(v1[app]))
				Expect(wp.GetTemplate().GetContainers()[0].GetImage()).To(Equal(ImageV2))
				Expect(splitEntries(wp.GetInstanceSplits())).To(Equal([]string{v2 + ":100"}))
				Expect(rp.Fakerun.Server().Instances(wp.GetName())).To(Equal(map[string]int32{v2: 10}))
				continue
			}
			svc := rp.shippedService(app)
			v2 := ShortName(svc.GetLatestReadyRevision())
			Expect(v2).NotTo(Equal(v1[app]), app)
			Expect(svc.GetTemplate().GetContainers()[0].GetImage()).To(Equal(ImageV2), app)
			traffic := Routes(Route(v2, 100, ""))
			if previewTagged(app) {
				// CLOUDRUN_SYNC's tag: true gives the commit's preview tag, which stays (on 0%).
				traffic = Routes(Route(v2, 0, PreviewTag(c)), Route(v2, 100, ""))
			}
			Expect(LiveTraffic(svc)).To(Equal(traffic), app)
		}
		verified := rp.waitDeployment(ctx, verifiedExample, 1)
		Expect(strings.Join(rp.logs(ctx, verified, plannedStage(verified, "CLOUDRUN_VERIFY")), "\n")).To(ContainSubstring("20 of 20 requests answered as expected"))
		for _, app := range []string{AnalysisExample, verifiedExample} {
			d := rp.waitDeployment(ctx, app, 1)
			Expect(strings.Join(rp.logs(ctx, d, plannedStage(d, "CLOUDRUN_ANALYSIS")), "\n")).To(ContainSubstring("passed the analysis: 3 checks, 3 passed"), app)
		}
		migrations := rp.Fakerun.Server().State().Executions["projects/demo-project/locations/asia-northeast1/jobs/canary-verified-migrate"]
		Expect(migrations).To(ConsistOf(HaveField("SucceededCount", BeEquivalentTo(1))), "canary-verified's migration ran once")
	})
})

// shippedExamples are every example application, deployed by the spec on examples/piped-config.yaml as shipped.
var shippedExamples = []string{"quicksync", "job", "canary", "knative-v0", AnalysisExample, verifiedExample, poolApp}

// canaryAtV1 is examples/canary at v1 (it ships at v2), as realPipedInput.Files.
func canaryAtV1() map[string]string {
	GinkgoHelper()
	return map[string]string{"canary/service.yaml": Manifest("canary", ImageV1)}
}

// analysisBehaviors are fakerun's behaviours of the analysis specs' bad images.
func analysisBehaviors() []fakerun.Option {
	return []fakerun.Option{fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		imageErrors: {ErrorRate: 0.2, ErrorCode: http.StatusServiceUnavailable},
	}})}
}

// newAnalysisPiped starts a real piped with examples/canary-analysis at v1, its analysis scaled down, deployed
// on every commit (the spec is not about the trigger: a commit starts a deployment sooner than a SYNC command,
// see e2e/README.md).
func newAnalysisPiped(ctx context.Context) *realPiped {
	GinkgoHelper()
	files := map[string]string{}
	for f, c := range AnalysisFiles(ImageV1) {
		files[AnalysisExample+"/"+f] = c
	}
	return newRealPiped(ctx, realPipedInput{Apps: []string{AnalysisExample}, Files: files, OnCommit: true, FakerunOptions: analysisBehaviors()})
}

// deployAnalysisV1 waits for piped to deploy v1 of examples/canary-analysis, its first commit (a quick sync),
// sends it 300 requests a second for load, and returns v1's revision, its traffic block and the service.
func (rp *realPiped) deployAnalysisV1(ctx context.Context, load time.Duration) (string, []string, *runpb.Service) {
	GinkgoHelper()
	By("letting piped deploy v1, and sending it 300 requests a second")
	d := rp.waitDeployment(ctx, AnalysisExample, 0)
	rp.expectSuccess(ctx, d)
	Expect(stageStatuses(d)).To(Equal([]string{"CLOUDRUN_SYNC SUCCESS", "CLOUDRUN_ROLLBACK NOT_STARTED_YET"}), "a first deployment is a quick sync")
	svc := rp.service(AnalysisExample, region)
	v1 := ShortName(svc.GetLatestReadyRevision())
	if load > 0 {
		_, err := rp.Fakerun.Server().StartLoad(fakerun.Load{URL: svc.GetUri(), Rate: 300, Duration: load})
		Expect(err).NotTo(HaveOccurred())
	}
	return v1, Traffic(svc.GetTraffic()), svc
}

// protoText renders m for an exact comparison with a readable difference.
func protoText(m proto.Message) string {
	GinkgoHelper()
	b, err := protojson.MarshalOptions{Multiline: true}.Marshal(m)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

// readExample reads a file of an example application.
func readExample(app, file string) string {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join(AppDir(app), file))
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}
