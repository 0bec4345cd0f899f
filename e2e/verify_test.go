package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// verifiedExample is examples/canary-verified: JOB_HOOK (migration), SYNC with a tag, VERIFY, PROMOTE 10%,
// ANALYSIS (PromQL and error rate), PROMOTE 100%.
const verifiedExample = "canary-verified"

// Images whose revisions or tasks misbehave on fakerun (see newVerifyEnv).
const (
	imageBroken      = "us-docker.pkg.dev/cloudrun/container/hello:broken" // every answer a 500
	migrateImage     = "us-docker.pkg.dev/cloudrun/container/job:v1"
	migrateImageFail = "us-docker.pkg.dev/cloudrun/container/job:broken" // task 0 exits with code 3
)

// verifiedScaled scales the example's analysis down to 3 checks of 1s, read at once, without initial delay.
var verifiedScaled = []string{
	"initialDelay: 1m", "initialDelay: 0s", "duration: 10m", "duration: 3s", "interval: 2m", "interval: 1s",
	"ingestionDelay: 3m", "ingestionDelay: 0s", "minRequests: 50", "minRequests: 10",
}

// verifiedFiles returns examples/canary-verified with the service at image, the migration job at job, its
// analysis scaled down, then the replacements old, new, ... applied to its app.pipecd.yaml.
func verifiedFiles(image, job string, replacements ...string) map[string]string {
	GinkgoHelper()
	read := func(name string) string {
		raw, err := os.ReadFile(filepath.Join(AppDir(verifiedExample), name))
		Expect(err).NotTo(HaveOccurred())
		return string(raw)
	}
	cfg := read("app.pipecd.yaml")
	r := append(append([]string{}, verifiedScaled...), replacements...)
	for i := 0; i+1 < len(r); i += 2 {
		Expect(cfg).To(ContainSubstring(r[i]))
		cfg = strings.Replace(cfg, r[i], r[i+1], 1)
	}
	return map[string]string{
		"app.pipecd.yaml":  cfg,
		"service.yaml":     Manifest(verifiedExample, image),
		"migrate.job.yaml": strings.Replace(read("migrate.job.yaml"), migrateImage, job, 1),
	}
}

// newVerifyEnv starts fakerun with the misbehaving images and a plugin with the deploy target "local".
func newVerifyEnv() *Environment {
	GinkgoHelper()
	if realMode {
		Skip("needs fakerun's data plane, load generator and behaviours: label fakerun-only")
	}
	fr, err := target.NewFakerun(fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		imageBroken:      {ErrorRate: 1, ErrorCode: http.StatusInternalServerError},
		imageErrors:      {ErrorRate: 0.2, ErrorCode: http.StatusServiceUnavailable},
		migrateImageFail: {Task: fakerun.TaskBehavior{ExitCode: 3, FailTasks: []int{0}}},
	}}))
	Expect(err).NotTo(HaveOccurred())
	return NewEnvironment(context.Background(), EnvironmentInput{
		Target:          fr,
		PluginBinary:    pluginBinary,
		ArtifactsFolder: artifactsFolder,
		DeployTargets:   []piped.DeployTarget{{Name: LocalDeployTarget, Config: fr.DeployTargetConfig(region)}},
	})
}

// deployVerifiedV1 quick-syncs v1 of the example, starts 300 requests a second on its service URL for d (none
// when 0), and returns the service as it is then.
func deployVerifiedV1(ctx context.Context, e *Environment, d time.Duration) *runpb.Service {
	GinkgoHelper()
	By("quick-syncing v1")
	ExpectSuccess(e.Deploy(ctx, DeployInput{App: verifiedExample, Files: verifiedFiles(ImageV1, migrateImage), SyncStrategy: model.SyncStrategy_QUICK_SYNC}))
	svc := e.Service(ctx, verifiedExample)
	if d > 0 {
		_, err := e.Fakerun.StartLoad(fakerun.Load{URL: svc.GetUri(), Rate: 300, Duration: d})
		Expect(err).NotTo(HaveOccurred())
	}
	return svc
}

// stage returns the executed stage named name of res (the first one).
func stage(res *piped.Result, name string) piped.StageRecord {
	GinkgoHelper()
	for _, s := range res.Executed() {
		if s.Name == name {
			return s
		}
	}
	Fail("no " + name + " stage ran:\n" + res.Report())
	return piped.StageRecord{}
}

// expectFailedAndRestored checks that the deployment failed at stage failed, that the rollback ran last, and
// that the service is exactly as before: the whole traffic block and the template.
func expectFailedAndRestored(ctx context.Context, e *Environment, res *piped.Result, failed string, before *runpb.Service) {
	GinkgoHelper()
	Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), "%s", res.Report())
	executed := res.Executed()
	Expect(executed).To(ContainElement(SatisfyAll(
		HaveField("Name", failed), HaveField("Status", model.StageStatus_STAGE_FAILURE))), "%s", res.Report())
	Expect(executed[len(executed)-1].Name).To(Equal("CLOUDRUN_ROLLBACK"), "%s", res.Report())
	Expect(executed[len(executed)-1].Status).To(Equal(model.StageStatus_STAGE_SUCCESS), "%s", res.Report())
	after := e.Service(ctx, verifiedExample)
	Expect(after.GetTraffic()).To(HaveLen(len(before.GetTraffic())))
	for i := range before.GetTraffic() {
		Expect(proto.Equal(before.GetTraffic()[i], after.GetTraffic()[i])).To(BeTrue(), "traffic before %v, after %v", before.GetTraffic(), after.GetTraffic())
	}
	Expect(proto.Equal(before.GetTemplate(), after.GetTemplate())).To(BeTrue(), "template before %v, after %v", before.GetTemplate(), after.GetTemplate())
}

var _ = Describe("Verify, hooks and gates [verify]", Label("verify", "fakerun-only"), func() {
	It("deploys examples/canary-verified end to end: migration, tag, verify, 10%, PromQL and error-rate gate, 100%", func(ctx SpecContext) {
		e := newVerifyEnv()
		j := newJobs(ctx, e)
		deployVerifiedV1(ctx, e, 30*time.Second)

		By("deploying v2 through the whole pipeline")
		c := Commit()
		res := e.Deploy(ctx, DeployInput{App: verifiedExample, Commit: c, Files: verifiedFiles(ImageV2, migrateImage)})
		ExpectSuccess(res)
		Expect(StageNames(res.Executed())).To(Equal([]string{"CLOUDRUN_JOB_HOOK", "CLOUDRUN_SYNC", "CLOUDRUN_VERIFY", "CLOUDRUN_PROMOTE", "CLOUDRUN_ANALYSIS", "CLOUDRUN_PROMOTE"}))

		By("checking the revision the deployment created runs " + ImageV2 + " with all the traffic and its preview tag")
		v2 := DeployedRevision(res)
		want := Routes(Route(v2, 100, ""), Route(v2, 0, PreviewTag(c)))
		svc := e.Service(ctx, verifiedExample)
		Expect(Traffic(svc.GetTraffic())).To(Equal(want))
		Expect(LiveTraffic(svc)).To(Equal(want))
		Expect(e.Revision(ctx, verifiedExample, v2).GetContainers()[0].GetImage()).To(Equal(ImageV2))

		By("checking what each step did")
		migration := j.latest(ctx, j.get(ctx, e.Target.Project(), "canary-verified-migrate"))
		Expect(migration.GetTemplate().GetContainers()[0].GetArgs()).To(Equal([]string{"migrate", "--up"}))
		Expect(stage(res, "CLOUDRUN_VERIFY").LogText()).To(ContainSubstring("20 of 20 requests answered as expected"))
		log := stage(res, "CLOUDRUN_ANALYSIS").LogText()
		Expect(log).To(MatchRegexp(`promql +1 +>= 0\.99 +PASS`), "the PromQL gate passes a good canary")
		Expect(log).To(ContainSubstring("Revision " + v2 + " passed the analysis: 3 checks, 3 passed"))
	})

	It("fails CLOUDRUN_VERIFY when the tag URL answers 500, before any traffic moves", func(ctx SpecContext) {
		e := newVerifyEnv()
		before := deployVerifiedV1(ctx, e, 0)

		var trafficAtVerify []string
		hooks := piped.Hooks{OnStageEnd: func(_ *piped.Run, s piped.StageRecord) {
			if s.Name == "CLOUDRUN_VERIFY" {
				trafficAtVerify = LiveTraffic(e.Service(context.Background(), verifiedExample))
			}
		}}
		c := Commit()
		res := e.Deploy(ctx, DeployInput{App: verifiedExample, Commit: c, Files: verifiedFiles(imageBroken, migrateImage), Hooks: hooks})
		expectFailedAndRestored(ctx, e, res, "CLOUDRUN_VERIFY", before)
		v1 := ShortName(before.GetLatestReadyRevision())
		Expect(trafficAtVerify).To(Equal(Routes(Route(v1, 100, ""), Route(DeployedRevision(res), 0, PreviewTag(c)))), "the users' traffic never reached the new revision")
		Expect(stage(res, "CLOUDRUN_VERIFY").LogText()).To(MatchRegexp(`failed the verification at its tag URL \(20 of 20 requests not as expected\), before any traffic moved to it:\n  - request 1/20 GET https://\S+---canary-verified-\S+/: status 500, expected 200`))
		Expect(StageNames(res.Executed())).NotTo(ContainElement("CLOUDRUN_PROMOTE"))
	})

	It("fails CLOUDRUN_VERIFY when the body is not as expected", func(ctx SpecContext) {
		e := newVerifyEnv()
		before := deployVerifiedV1(ctx, e, 0)
		res := e.Deploy(ctx, DeployInput{App: verifiedExample, Files: verifiedFiles(ImageV2, migrateImage, "contains: running", "contains: Welcome")})
		expectFailedAndRestored(ctx, e, res, "CLOUDRUN_VERIFY", before)
		Expect(stage(res, "CLOUDRUN_VERIFY").LogText()).To(ContainSubstring(`: the body does not contain "Welcome" (body: "Hello from fakerun!`))
	})

	It("stops at a failing migration before CLOUDRUN_SYNC writes anything to the service", func(ctx SpecContext) {
		e := newVerifyEnv()
		before := deployVerifiedV1(ctx, e, 0)
		res := e.Deploy(ctx, DeployInput{App: verifiedExample, Files: verifiedFiles(ImageV2, migrateImageFail)})
		expectFailedAndRestored(ctx, e, res, "CLOUDRUN_JOB_HOOK", before)
		Expect(StageNames(res.Executed())).To(Equal([]string{"CLOUDRUN_JOB_HOOK", "CLOUDRUN_ROLLBACK"}))
		Expect(stage(res, "CLOUDRUN_JOB_HOOK").LogText()).To(MatchRegexp(`task 0 \(canary-verified-migrate-\S+-task0\): exit code 3`))
		after := e.Service(ctx, verifiedExample)
		Expect(after.GetGeneration()).To(Equal(before.GetGeneration()), "nothing was written to the service")
		Expect(e.Revisions(ctx, verifiedExample)).To(HaveLen(1), "no revision was created")
	})

	It("runs a smoke-test job against the tag URL, and rolls back when it fails", func(ctx SpecContext) {
		e := newVerifyEnv()
		j := newJobs(ctx, e)
		deployVerifiedV1(ctx, e, 60*time.Second)
		verify := "      - name: CLOUDRUN_VERIFY\n"
		smokeStage := "      - name: CLOUDRUN_JOB_HOOK\n        with:\n          jobManifestFile: smoke.job.yaml\n" +
			"          env:\n            TARGET_URL: ${CLOUDRUN_TAG_URL}\n            REVISION: ${CLOUDRUN_REVISION}\n" + verify
		withSmoke := func(service, image string) map[string]string {
			files := verifiedFiles(service, migrateImage, verify, smokeStage)
			files["smoke.job.yaml"] = strings.NewReplacer("canary-verified-migrate", "canary-verified-smoke", migrateImage, image).Replace(files["migrate.job.yaml"])
			return files
		}

		By("a smoke test that passes: the deployment goes on to 100%")
		res := e.Deploy(ctx, DeployInput{App: verifiedExample, Files: withSmoke(ImageV2, migrateImage)})
		ExpectSuccess(res)
		svc := e.Service(ctx, verifiedExample)
		v2 := ShortName(svc.GetLatestReadyRevision())
		env := map[string]string{}
		for _, v := range j.latest(ctx, j.get(ctx, e.Target.Project(), "canary-verified-smoke")).GetTemplate().GetContainers()[0].GetEnv() {
			env[v.GetName()] = v.GetValue()
		}
		Expect(env["REVISION"]).To(Equal(v2))
		Expect(env["TARGET_URL"]).To(MatchRegexp(`^https://\S+---canary-verified-\S+\.a\.run\.app$`))
		Expect(env["TARGET_URL"]).NotTo(Equal(svc.GetUri()), "the tag URL, not the service URL")

		By("a smoke test that fails: the rollback restores the service")
		before := e.Service(ctx, verifiedExample)
		res = e.Deploy(ctx, DeployInput{App: verifiedExample, Files: withSmoke(ImageV3, migrateImageFail)})
		expectFailedAndRestored(ctx, e, res, "CLOUDRUN_JOB_HOOK", before)
		Expect(StageNames(res.Executed())).To(Equal([]string{"CLOUDRUN_JOB_HOOK", "CLOUDRUN_SYNC", "CLOUDRUN_JOB_HOOK", "CLOUDRUN_ROLLBACK"}))
	})

	It("fails a bad canary on its PromQL threshold", func(ctx SpecContext) {
		e := newVerifyEnv()
		before := deployVerifiedV1(ctx, e, 30*time.Second)
		// 20% of its answers are 503: VERIFY lets them through, so that the analysis judges the canary.
		res := e.Deploy(ctx, DeployInput{App: verifiedExample, Files: verifiedFiles(imageErrors, migrateImage,
			"status: 200", "status: [200, 503]", "            body:\n              contains: running\n", "")})
		expectFailedAndRestored(ctx, e, res, "CLOUDRUN_ANALYSIS", before)
		Expect(stage(res, "CLOUDRUN_ANALYSIS").LogText()).To(MatchRegexp(`promql +0\.\d+ +>= 0\.99 +FAIL`))
	})

	It("logs a failed dry-run threshold without failing the stage", func(ctx SpecContext) {
		e := newVerifyEnv()
		deployVerifiedV1(ctx, e, 30*time.Second)
		res := e.Deploy(ctx, DeployInput{App: verifiedExample, Files: verifiedFiles(ImageV2, migrateImage, "max: 800", "max: 0.001")})
		ExpectSuccess(res)
		log := stage(res, "CLOUDRUN_ANALYSIS").LogText()
		Expect(log).To(MatchRegexp(`promql +[\d.]+ +<= 0\.001 +FAIL \(dry run\)`))
		Expect(log).To(ContainSubstring("Dry-run thresholds failed at check 1/3 (not failing the stage): promql"))
	})

	It("fails the analysis when Cloud Monitoring errs more checks in a row than consecutiveErrorLimit", func(ctx SpecContext) {
		e := newVerifyEnv()
		before := deployVerifiedV1(ctx, e, 30*time.Second)
		hooks := piped.Hooks{OnStageStart: func(_ *piped.Run, s piped.StageRecord) {
			if s.Name == "CLOUDRUN_ANALYSIS" {
				e.Fakerun.InjectFault("ListTimeSeries", fakerun.Fault{Code: codes.Unavailable})
			}
		}}
		res := e.Deploy(ctx, DeployInput{App: verifiedExample, Files: verifiedFiles(ImageV2, migrateImage, "minRequests: 10", "minRequests: 10\n          consecutiveErrorLimit: 1"), Hooks: hooks})
		expectFailedAndRestored(ctx, e, res, "CLOUDRUN_ANALYSIS", before)
		log := stage(res, "CLOUDRUN_ANALYSIS").LogText()
		Expect(log).To(ContainSubstring("Check 1/3 cannot read Cloud Monitoring (1 in a row, 1 tolerated by consecutiveErrorLimit); it is skipped"))
		Expect(log).To(ContainSubstring("check 2/3 cannot read Cloud Monitoring, 2 checks in a row (consecutiveErrorLimit 1)"))
	})
})
