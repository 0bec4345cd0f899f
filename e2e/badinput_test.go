package e2e

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
)

var _ = Describe("Bad inputs [badinput]", Label("badinput", "fakerun-only"), func() {
	DescribeTable("fail the deployment with a clear message, leave the traffic unchanged and keep the plugin serving",
		func(ctx SpecContext, target string, files func(e *Environment) map[string]string, wantInLog []string) {
			e := newEnv()
			By("running v1 by quick sync")
			v1 := e.DeployCanaryV1(ctx)
			before := Traffic(e.Service(ctx, "canary").GetTraffic())

			By("deploying the bad input to the deploy target " + target)
			res, err := e.Piped.Deploy(ctx, DeployInput{App: "canary", Commit: Commit(), Files: files(e), DeployTargets: []string{target}}.Deployment())
			expectDeploymentRefused(e, res, err, wantInLog)

			By("checking the traffic is unchanged and the plugin still runs")
			svc := e.Service(ctx, "canary")
			Expect(Traffic(svc.GetTraffic())).To(Equal(before), "traffic is unchanged")
			Expect(Traffic(svc.GetTraffic())).To(Equal(Routes(Route(v1, 100, ""))))
			expectPluginAlive(e)

			By("deploying a good version afterwards through the same plugin process")
			ExpectSuccess(e.Deploy(ctx, DeployInput{App: "canary"}))
		},
		Entry("malformed manifest", "local", func(*Environment) map[string]string {
			return map[string]string{"service.yaml": "name: canary\ntemplate: [this is: not a template\n"}
		}, []string{"service.yaml"}),
		Entry("percent out of range", "local", func(*Environment) map[string]string {
			return CanaryConfig("percent: 50", "percent: 150")
		}, []string{"percent", "150", "0-100"}),
		Entry("unknown stage option", "local", func(*Environment) map[string]string {
			return CanaryConfig("percent: 10", "percnt: 10")
		}, []string{"percnt", "percent"}),
		Entry("service in another region than the deploy target", "local", func(e *Environment) map[string]string {
			full := "\nname: projects/" + e.Target.Project() + "/locations/us-central1/services/canary\n"
			return map[string]string{"service.yaml": strings.Replace(Manifest("canary", ""), "\nname: canary\n", full, 1)}
		}, []string{"us-central1", region}),
		Entry("deploy target with an invalid region", "bad-region", func(*Environment) map[string]string {
			return map[string]string{"service.yaml": Manifest("canary", ImageV3)}
		}, []string{"bad-region", "Tokyo", "region"}),
		Entry("container without an image", "local", func(*Environment) map[string]string {
			return map[string]string{"service.yaml": "name: canary\ntemplate:\n  containers:\n    - ports:\n        - containerPort: 8080\n"}
		}, []string{"image"}),
	)
})
