package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/protobuf/proto"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// firstLineOf is the first line of the first error a user sees of a deployment: piped's planning error, or
// the first error line of its first failed stage.
func firstLineOf(res *piped.Result, planErr error) string {
	GinkgoHelper()
	text := ""
	if planErr != nil {
		text = planErr.Error()
	} else {
		Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), "%s", res.Report())
		for _, s := range res.Executed() {
			if s.Status == model.StageStatus_STAGE_FAILURE {
				text = FirstErrorLine(s)
				break
			}
		}
	}
	first, _, _ := strings.Cut(text, "\n")
	return first
}

// Round 3 of the hostile cases (issue 22): an explicit zero is not "absent", and the first error line names
// the real cause.
var _ = Describe("Hostile inputs [hostile]", Label("hostile", "fakerun-only"), func() {
	It("refuses CLOUDRUN_JOB_RUN taskCount: 0 at planning and a job manifest's taskCount: 0 before writing", func(ctx SpecContext) {
		e := newEnv(jobBehaviors)
		j := newJobs(ctx, e)
		ExpectSuccess(e.Deploy(ctx, DeployInput{App: "job", Files: jobFiles(jobImageV1)}))
		before := j.get(ctx, e.Target.Project(), "job")

		By("running the smoke execution with taskCount: 0")
		files := jobFiles(jobImageV2)
		app, err := os.ReadFile(filepath.Join(AppDir("job"), "app.pipecd.yaml"))
		Expect(err).NotTo(HaveOccurred())
		files["app.pipecd.yaml"] = strings.Replace(string(app), "taskCount: 1", "taskCount: 0", 1)
		res, err := e.Piped.Deploy(ctx, DeployInput{App: "job", Commit: Commit(), Files: files}.Deployment())
		e.Keep(res)
		Expect(firstLineOf(res, err)).To(HaveSuffix(`CLOUDRUN_JOB_RUN: field "taskCount": 0 is out of range, allowed an integer from 1 to 10000 (omit it to keep the job's task count)`))

		By("deploying a job manifest with taskCount: 0 next to parallelism: 2")
		files = jobFiles(jobImageV2)
		files["job.yaml"] = strings.Replace(files["job.yaml"], "taskCount: 3", "taskCount: 0", 1)
		res, err = e.Piped.Deploy(ctx, DeployInput{App: "job", Commit: Commit(), Files: files}.Deployment())
		e.Keep(res)
		Expect(firstLineOf(res, err)).To(HaveSuffix(`manifest job.yaml: field "template.taskCount": 0 is out of range, allowed 1 to 10000 (omit it for 1 task)`))
		after := j.get(ctx, e.Target.Project(), "job")
		Expect(proto.Equal(before.GetTemplate(), after.GetTemplate())).To(BeTrue(), "the job is unchanged")
		Expect(after.GetExecutionCount()).To(Equal(before.GetExecutionCount()), "nothing ran")
	})

	It("refuses an explicit 0 in a service manifest and names a duplicated key with its line on the first line", func(ctx SpecContext) {
		e := newEnv()
		v1 := e.DeployCanaryV1(ctx)
		manifest := Manifest("canary", ImageV3)

		By("deploying containerPort: 0")
		res, err := e.Piped.Deploy(ctx, DeployInput{App: "canary", Commit: Commit(),
			Files: map[string]string{"service.yaml": strings.Replace(manifest, "containerPort: 8080", "containerPort: 0", 1)}}.Deployment())
		e.Keep(res)
		Expect(firstLineOf(res, err)).To(HaveSuffix(`manifest service.yaml: field "template.containers[0].ports[0].containerPort": 0 is out of range, allowed 1 to 65535 (omit the port for 8080)`))

		By("deploying a container with two image keys")
		res, err = e.Piped.Deploy(ctx, DeployInput{App: "canary", Commit: Commit(),
			Files: map[string]string{"service.yaml": strings.Replace(manifest, "      ports:\n", "      image: "+ImageV2+"\n      ports:\n", 1)}}.Deployment())
		e.Keep(res)
		Expect(firstLineOf(res, err)).To(HaveSuffix(`manifest service.yaml: duplicate key "image" on line 10, allowed each key once per object`))

		Expect(Traffic(e.Service(ctx, "canary").GetTraffic())).To(Equal(Routes(Route(v1, 100, ""))), "nothing was written")
	})

	It("names a custom filter that matched nothing, and a new revision whose traffic was moved away, as the inconclusive causes", func(ctx SpecContext) {
		e := newAnalysisEnv()
		v1, before := deployAnalysisV1(ctx, e, 30*time.Second)
		nothing := `            - custom:
                filter: 'metric.type = "custom.googleapis.com/nothing"'
                max: 0
      - name: CLOUDRUN_PROMOTE
        with:
          percent: 50`

		By("judging a custom metric that nobody writes")
		res := e.Deploy(ctx, DeployInput{App: AnalysisExample, Files: AnalysisFiles(ImageV2, "      - name: CLOUDRUN_PROMOTE\n        with:\n          percent: 50", nothing)})
		expectAnalysisRolledBack(ctx, e, res, region, before)
		Expect(FirstErrorLine(analysisStage(res))).To(MatchRegexp(`^the analysis of revision \S+ is inconclusive \(\d passed, 0 failed, [1-3] inconclusive\): ` +
			`the custom filter metric\.type = "custom\.googleapis\.com/nothing" matched no time series in checks? [\d, ]+/3: check its metric\.type and labels, and that something writes the metric; ` +
			`to pass an inconclusive analysis, set onInconclusive: pass$`))
		Expect(analysisStage(res).LogText()).NotTo(ContainSubstring("lower minRequests"))

		By("moving the traffic away from the new revision when the analysis starts")
		hooks := piped.Hooks{OnStageStart: func(_ *piped.Run, s piped.StageRecord) {
			if s.Name == "CLOUDRUN_ANALYSIS" {
				e.SetTraffic(ctx, AnalysisExample, RevisionTarget(v1, 100, ""))
			}
		}}
		res = e.Deploy(ctx, DeployInput{App: AnalysisExample, Files: AnalysisFiles(ImageV3), Hooks: hooks})
		expectAnalysisRolledBack(ctx, e, res, region, before)
		// The first window may still hold a few requests answered before the move: only the last check is sure to see none.
		Expect(FirstErrorLine(analysisStage(res))).To(MatchRegexp(`^the analysis of revision \S+ is inconclusive \(\d passed, 0 failed, [1-3] inconclusive\): ` +
			`(the new revision answered fewer than minRequests \(10\) requests in check 1/3: send the service more traffic or lower minRequests; )?` +
			`the new revision served 0 requests in checks? [\d, ]*3/3; it gets 0% of the traffic now \(` + regexp.QuoteMeta(v1) + ` 100%.*\): the traffic was moved away from it; ` +
			`to pass an inconclusive analysis, set onInconclusive: pass$`))
	})
})
