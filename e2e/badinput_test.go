package e2e

import (
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// expectPluginAlive checks that the plugin process still runs and answers.
func expectPluginAlive(e *env) {
	GinkgoHelper()
	Expect(syscall.Kill(e.pd.PluginPID(), 0)).To(Succeed(), "the plugin process is still running")
}

var _ = Describe("Bad inputs [badinput]", Label("badinput", "fakerun-only"), func() {
	DescribeTable("fail the deployment with a clear message, leave the traffic unchanged and keep the plugin serving",
		func(ctx SpecContext, target string, files func(e *env) map[string]string, wantInLog []string) {
			e := newEnv()
			v1 := deployCanaryV1(ctx, e)
			before := traffic(e.service("canary").GetTraffic())

			res, err := e.pd.Deploy(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: commit(), Files: files(e), DeployTargets: []string{target}})
			if err != nil {
				// Rejected while planning (BuildPipelineSyncStages): piped fails the deployment before any stage.
				for _, w := range wantInLog {
					Expect(err.Error()).To(ContainSubstring(w))
				}
			} else {
				e.keep(res)
				Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), res.Report())
				var failed *piped.StageRecord
				for _, s := range res.Executed() {
					if s.Status == model.StageStatus_STAGE_FAILURE && !s.Rollback {
						failed = &s
						break
					}
				}
				Expect(failed).NotTo(BeNil(), res.Report())
				for _, w := range wantInLog {
					Expect(failed.LogText()).To(ContainSubstring(w), res.Report())
				}
			}
			svc := e.service("canary")
			Expect(traffic(svc.GetTraffic())).To(Equal(before), "traffic is unchanged")
			Expect(traffic(svc.GetTraffic())).To(Equal(entries(entry(v1, 100, ""))))
			expectPluginAlive(e)

			By("deploying a good version afterwards through the same plugin process")
			expectSuccess(e.deploy(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: commit()}))
		},
		Entry("malformed manifest", "local", func(*env) map[string]string {
			return map[string]string{"service.yaml": "name: canary\ntemplate: [this is: not a template\n"}
		}, []string{"service.yaml"}),
		Entry("percent out of range", "local", func(*env) map[string]string {
			return canaryConfig("percent: 50", "percent: 150")
		}, []string{"percent", "150", "0-100"}),
		Entry("unknown stage option", "local", func(*env) map[string]string {
			return canaryConfig("percent: 10", "percnt: 10")
		}, []string{"percnt", "percent"}),
		Entry("service in another region than the deploy target", "local", func(e *env) map[string]string {
			full := "\nname: projects/" + e.project + "/locations/us-central1/services/canary\n"
			return map[string]string{"service.yaml": strings.Replace(manifest("canary", ""), "\nname: canary\n", full, 1)}
		}, []string{"us-central1", region}),
		Entry("deploy target with an invalid region", "bad-region", func(*env) map[string]string {
			return map[string]string{"service.yaml": manifest("canary", imageV3)}
		}, []string{"bad-region", "Tokyo", "region"}),
		Entry("container without an image", "local", func(*env) map[string]string {
			return map[string]string{"service.yaml": "name: canary\ntemplate:\n  containers:\n    - ports:\n        - containerPort: 8080\n"}
		}, []string{"image"}),
	)
})
