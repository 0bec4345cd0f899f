package e2e

import (
	"context"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/grpc/codes"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// Images whose revisions answer badly on fakerun's data plane (see newAnalysisEnv).
const (
	imageErrors = "us-docker.pkg.dev/cloudrun/container/hello:errors" // 20% 503
	imageSlow   = "us-docker.pkg.dev/cloudrun/container/hello:slow"   // 150ms more per answer
)

// withoutAnalysis removes the CLOUDRUN_ANALYSIS stage from the app.pipecd.yaml of files.
func withoutAnalysis(files map[string]string) map[string]string {
	GinkgoHelper()
	cfg := files["app.pipecd.yaml"]
	start := strings.Index(cfg, "      - name: CLOUDRUN_ANALYSIS\n")
	end := strings.Index(cfg, "      - name: CLOUDRUN_PROMOTE\n        with:\n          percent: 50")
	Expect(start).To(BeNumerically(">", 0))
	Expect(end).To(BeNumerically(">", start))
	files["app.pipecd.yaml"] = cfg[:start] + cfg[end:]
	return files
}

// newAnalysisEnv starts fakerun, with the bad images' behaviours and opts, and a plugin whose deploy targets
// are "local" and "second" (another region of the same project).
func newAnalysisEnv(opts ...fakerun.Option) *Environment {
	GinkgoHelper()
	if realMode {
		Skip("needs fakerun's data plane and load generator: label fakerun-only")
	}
	behaviors := fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		imageErrors: {ErrorRate: 0.2, ErrorCode: http.StatusServiceUnavailable},
		imageSlow:   {Latency: 150 * time.Millisecond},
	}})
	fr, err := target.NewFakerun(append([]fakerun.Option{behaviors}, opts...)...)
	Expect(err).NotTo(HaveOccurred())
	return NewEnvironment(context.Background(), EnvironmentInput{
		Target:          fr,
		PluginBinary:    pluginBinary,
		ArtifactsFolder: artifactsFolder,
		DeployTargets: []piped.DeployTarget{
			{Name: LocalDeployTarget, Config: fr.DeployTargetConfig(region)},
			{Name: "second", Config: fr.DeployTargetConfig(secondRegion)},
		},
	})
}

// secondRegion is the region of the deploy target "second".
const secondRegion = "us-central1"

// deployAnalysisV1 quick-syncs v1 of examples/canary-analysis on targets (default "local"), starts load on
// the service URL of each for d, and returns v1's revision and the traffic before the next deployment.
func deployAnalysisV1(ctx context.Context, e *Environment, d time.Duration, targets ...string) (v1 string, before []string) {
	GinkgoHelper()
	By("quick-syncing v1 and sending it 300 requests a second")
	ExpectSuccess(e.Deploy(ctx, DeployInput{App: AnalysisExample, Commit: Commit(), Files: AnalysisFiles(ImageV1),
		DeployTargets: targets, SyncStrategy: model.SyncStrategy_QUICK_SYNC}))
	regions := []string{region}
	if len(targets) > 1 {
		regions = append(regions, secondRegion)
	}
	for _, r := range regions {
		svc, err := e.Fakerun.Service(naming.ServiceName(e.Target.Project(), r, AnalysisExample))
		Expect(err).NotTo(HaveOccurred())
		if r == region {
			v1 = ShortName(svc.GetLatestReadyRevision())
			before = Traffic(svc.GetTraffic())
		}
		if d > 0 {
			_, err = e.Fakerun.StartLoad(fakerun.Load{URL: svc.GetUri(), Rate: 300, Duration: d})
			Expect(err).NotTo(HaveOccurred())
		}
	}
	Expect(before).To(Equal(Routes(Route(v1, 100, ""))))
	return v1, before
}

// analysisStage returns the CLOUDRUN_ANALYSIS stage of res.
func analysisStage(res *piped.Result) piped.StageRecord {
	GinkgoHelper()
	for _, s := range res.Executed() {
		if s.Name == "CLOUDRUN_ANALYSIS" {
			return s
		}
	}
	Fail("no CLOUDRUN_ANALYSIS stage ran:\n" + res.Report())
	return piped.StageRecord{}
}

// expectAnalysisRolledBack checks that the deployment failed at CLOUDRUN_ANALYSIS and that CLOUDRUN_ROLLBACK
// restored the pre-deploy traffic and template of the service in region.
func expectAnalysisRolledBack(ctx context.Context, e *Environment, res *piped.Result, region string, before []string) {
	GinkgoHelper()
	Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), "%s", res.Report())
	Expect(analysisStage(res).Status).To(Equal(model.StageStatus_STAGE_FAILURE), "%s", res.Report())
	Expect(res.StatusReason).To(Equal("Failed while executing stage "+analysisStage(res).ID), "as pipedv1 says it: the stage's ID")
	executed := res.Executed()
	last := executed[len(executed)-1]
	Expect(last.Name).To(Equal("CLOUDRUN_ROLLBACK"), "%s", res.Report())
	Expect(last.Status).To(Equal(model.StageStatus_STAGE_SUCCESS), "%s", res.Report())
	svc, err := e.Fakerun.Service(naming.ServiceName(e.Target.Project(), region, AnalysisExample))
	Expect(err).NotTo(HaveOccurred())
	Expect(Traffic(svc.GetTraffic())).To(Equal(before), "the pre-deploy traffic block comes back exactly")
	Expect(LiveTraffic(svc)).To(Equal(before))
	Expect(svc.GetTemplate().GetContainers()[0].GetImage()).To(Equal(ImageV1), "the pre-deploy template comes back")
}

var _ = Describe("Analysis [analysis]", Label("analysis", "fakerun-only"), func() {
	It("passes a healthy canary, which then completes", func(ctx SpecContext) {
		e := newAnalysisEnv()
		deployAnalysisV1(ctx, e, 20*time.Second)

		By("running the canary of v2 with its analysis at 10%")
		res := e.Deploy(ctx, DeployInput{App: AnalysisExample, Files: AnalysisFiles(ImageV2)})
		ExpectSuccess(res)
		Expect(StageNames(res.Executed())).To(Equal([]string{
			"CLOUDRUN_SYNC", "CLOUDRUN_PROMOTE", "CLOUDRUN_ANALYSIS", "CLOUDRUN_PROMOTE", "CLOUDRUN_PROMOTE", "CLOUDRUN_CANARY_CLEANUP",
		}))
		log := analysisStage(res).LogText()
		Expect(log).To(ContainSubstring("Check 3/3"))
		Expect(log).To(MatchRegexp(`latency p99 +[\d.]+ms +<= 800ms +PASS`))
		Expect(log).To(ContainSubstring("passed the analysis: 3 checks, 3 passed, 0 failed, 0 inconclusive"))
	})

	It("catches a canary answering 20% 5xx at 10% and rolls back exactly, which it would not without the analysis", func(ctx SpecContext) {
		e := newAnalysisEnv()
		deployAnalysisV1(ctx, e, 0)

		By("running the bad canary without CLOUDRUN_ANALYSIS: it reaches 100%")
		c := Commit()
		res := e.Deploy(ctx, DeployInput{App: AnalysisExample, Commit: c, Files: withoutAnalysis(AnalysisFiles(imageErrors))})
		ExpectSuccess(res)
		bad := DeployedRevision(res)
		Expect(Traffic(e.Service(ctx, AnalysisExample).GetTraffic())).To(Equal(Routes(Route(bad, 100, ""), Route(bad, 0, PreviewTag(c)))))

		v1, before := deployAnalysisV1(ctx, e, 20*time.Second)
		By("running the bad canary with CLOUDRUN_ANALYSIS: it fails at the first check and is rolled back")
		res = e.Deploy(ctx, DeployInput{App: AnalysisExample, Files: AnalysisFiles(imageErrors)})
		expectAnalysisRolledBack(ctx, e, res, region, before)
		log := analysisStage(res).LogText()
		Expect(log).To(MatchRegexp(`revision \S+ failed the analysis at check 1/3 \(0 passed, 1 failed, 0 inconclusive; failureLimit 0\): errorRate [\d.]+%, allowed <= 1\.00% \(\d+ of \d+ requests answered 5xx\)`))
		Expect(log).To(MatchRegexp(v1 + ` +baseline +\d+ +0\.00%`))
		Expect(StageNames(res.Executed())).NotTo(ContainElement("CLOUDRUN_CANARY_CLEANUP"))
	})

	It("catches a latency regression against the baseline", func(ctx SpecContext) {
		e := newAnalysisEnv()
		_, before := deployAnalysisV1(ctx, e, 20*time.Second)

		By("running a canary 150ms slower than v1: within p99 <= 800ms, beyond p95 <= baseline + 100ms")
		res := e.Deploy(ctx, DeployInput{App: AnalysisExample, Files: AnalysisFiles(imageSlow)})
		expectAnalysisRolledBack(ctx, e, res, region, before)
		log := analysisStage(res).LogText()
		Expect(log).To(MatchRegexp(`latency p99 +[\d.]+ms +<= 800ms +PASS`))
		Expect(log).To(MatchRegexp(`failed the analysis at check 1/3 .*latency p95 increase \+\d{3}ms, allowed <= baseline \+ 100ms`))
	})

	It("fails an inconclusive analysis by default, and passes it with onInconclusive: pass", func(ctx SpecContext) {
		e := newAnalysisEnv()
		_, before := deployAnalysisV1(ctx, e, 0)

		By("running the canary without any traffic")
		res := e.Deploy(ctx, DeployInput{App: AnalysisExample, Files: AnalysisFiles(ImageV2)})
		expectAnalysisRolledBack(ctx, e, res, region, before)
		log := analysisStage(res).LogText()
		Expect(log).To(ContainSubstring("0 requests to the new revision, fewer than minRequests 10"))
		Expect(FirstErrorLine(analysisStage(res))).To(MatchRegexp(`^the analysis of revision \S+ is inconclusive \(0 passed, 0 failed, 3 inconclusive\): ` +
			`the new revision served 0 requests in checks 1, 2, 3/3; it gets 10% of the traffic now \(.*\): send service canary-analysis traffic during the analysis; ` +
			`to pass an inconclusive analysis, set onInconclusive: pass$`))

		By("running it again with onInconclusive: pass")
		res = e.Deploy(ctx, DeployInput{App: AnalysisExample, Files: AnalysisFiles(ImageV2, "minRequests: 10", "minRequests: 10\n          onInconclusive: pass")})
		ExpectSuccess(res)
		Expect(analysisStage(res).LogText()).To(ContainSubstring("it passes because onInconclusive is pass"))
	})

	It("retries Cloud Monitoring while it is unavailable, and fails clearly when access is denied", func(ctx SpecContext) {
		e := newAnalysisEnv()
		deployAnalysisV1(ctx, e, 30*time.Second)

		By("making Cloud Monitoring answer UNAVAILABLE twice")
		e.Fakerun.InjectFault("ListTimeSeries", fakerun.Fault{Code: codes.Unavailable, Times: 2})
		res := e.Deploy(ctx, DeployInput{App: AnalysisExample, Files: AnalysisFiles(ImageV2)})
		ExpectSuccess(res)
		Expect(analysisStage(res).LogText()).To(ContainSubstring("Cloud Monitoring answered unavailable to list the time series of " + e.Target.Project() + "; retrying"))

		By("denying access to Cloud Monitoring")
		_, before := deployAnalysisV1(ctx, e, 0)
		e.Fakerun.InjectFault("ListTimeSeries", fakerun.Fault{Code: codes.PermissionDenied, Message: "Permission monitoring.timeSeries.list denied"})
		res = e.Deploy(ctx, DeployInput{App: AnalysisExample, Files: AnalysisFiles(ImageV3)})
		expectAnalysisRolledBack(ctx, e, res, region, before)
		Expect(analysisStage(res).LogText()).To(ContainSubstring("check 1/3 cannot read Cloud Monitoring: failed to list the time series of projects/" +
			e.Target.Project() + ": permission denied: Permission monitoring.timeSeries.list denied (grant the deploy target's service account roles/monitoring.viewer on the project)"))
	})

	It("fails the stage when the new revision is bad in one of two regions, and rolls both back", func(ctx SpecContext) {
		e := newAnalysisEnv()
		targets := []string{LocalDeployTarget, "second"}
		_, before := deployAnalysisV1(ctx, e, 30*time.Second, targets...)

		By("running the canary in both regions; the revision in " + secondRegion + " answers 50% 503")
		// The revision turns bad before it gets traffic, so that every window of the analysis sees it bad.
		hooks := piped.Hooks{OnStageStart: func(_ *piped.Run, s piped.StageRecord) {
			if s.Name != "CLOUDRUN_PROMOTE" {
				return
			}
			svc, err := e.Fakerun.Service(naming.ServiceName(e.Target.Project(), secondRegion, AnalysisExample))
			Expect(err).NotTo(HaveOccurred())
			Expect(e.Fakerun.SetBehaviors(fakerun.Behaviors{Revisions: map[string]fakerun.Behavior{
				svc.GetLatestCreatedRevision(): {ErrorRate: 0.5, ErrorCode: http.StatusServiceUnavailable},
			}})).To(Succeed())
		}}
		res := e.Deploy(ctx, DeployInput{App: AnalysisExample, Files: AnalysisFiles(ImageV2), DeployTargets: targets, Hooks: hooks})
		expectAnalysisRolledBack(ctx, e, res, region, before)
		expectAnalysisRolledBack(ctx, e, res, secondRegion, before) // revision names do not depend on the region
		log := analysisStage(res).LogText()
		Expect(FirstErrorLine(analysisStage(res))).To(MatchRegexp(`^\[second\] revision \S+ failed the analysis at check 1/3 \(0 passed, 1 failed, 0 inconclusive; failureLimit 0\): errorRate`))
		Expect(log).To(ContainSubstring("[local] the analysis stopped"))
		Expect(log).NotTo(ContainSubstring("Could not show the verdict"))
		for _, l := range analysisStage(res).Logs {
			if strings.HasPrefix(l.Text, "[local] the analysis stopped") {
				Expect(l.Severity).To(Equal(model.LogSeverity_INFO), "a target stopped by another's failure is not a failure of its own")
			}
		}
	})

	It("waits for the ingestion delay before reading a window", func(ctx SpecContext) {
		e := newAnalysisEnv(fakerun.WithIngestionDelay(2 * time.Second))
		_, before := deployAnalysisV1(ctx, e, 40*time.Second)

		By("reading each window at once, while Cloud Monitoring shows points 2s late: nothing to judge")
		res := e.Deploy(ctx, DeployInput{App: AnalysisExample, Files: AnalysisFiles(ImageV2)})
		expectAnalysisRolledBack(ctx, e, res, region, before)
		Expect(analysisStage(res).LogText()).To(ContainSubstring("0 requests to the new revision"))

		By("reading each window 2s after its end: every check sees its traffic")
		res = e.Deploy(ctx, DeployInput{App: AnalysisExample, Files: AnalysisFiles(ImageV2, "ingestionDelay: 0s", "ingestionDelay: 2s")})
		ExpectSuccess(res)
		stage := analysisStage(res)
		Expect(stage.LogText()).To(ContainSubstring("3 checks, 3 passed"))
		Expect(stage.Latency()).To(BeNumerically(">=", 5*time.Second), "3s of analysis plus the 2s ingestion delay")
	})

	It("holds a custom metric to its threshold", func(ctx SpecContext) {
		e := newAnalysisEnv()
		_, before := deployAnalysisV1(ctx, e, 15*time.Second)
		custom := `            - custom:
                filter: 'metric.type = "` + checkoutFailures + `" AND resource.labels.service_name = "canary-analysis"'
                reduce: sum
                max: 0
`
		files := func(image string) map[string]string {
			return AnalysisFiles(image, "      - name: CLOUDRUN_PROMOTE\n        with:\n          percent: 50",
				custom+"      - name: CLOUDRUN_PROMOTE\n        with:\n          percent: 50")
		}

		By("writing 1 checkout failure every 200ms for the new revision while the analysis runs: the custom threshold fails")
		res, written := deployWritingFailures(ctx, e, files(ImageV2), 1)
		expectAnalysisRolledBack(ctx, e, res, region, before)
		Expect(written).To(BeNumerically(">=", 10), "points written through CreateTimeSeries")
		log := analysisStage(res).LogText()
		Expect(log).To(MatchRegexp(`errorRate +[\d.]+% +<= 1\.00% +PASS`))
		Expect(log).To(MatchRegexp(`failed the analysis at check \d/3 .*: custom sum [1-9]\d*, allowed <= 0 \(sum of \d+ points of metric.type`))

		By("writing 0 checkout failures: the custom threshold passes")
		svc, err := e.Fakerun.Service(naming.ServiceName(e.Target.Project(), region, AnalysisExample))
		Expect(err).NotTo(HaveOccurred())
		_, err = e.Fakerun.StartLoad(fakerun.Load{URL: svc.GetUri(), Rate: 300, Duration: 15 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		res, _ = deployWritingFailures(ctx, e, files(ImageV3), 0)
		ExpectSuccess(res)
		Expect(analysisStage(res).LogText()).To(ContainSubstring("3 checks, 3 passed"))
	})
})
