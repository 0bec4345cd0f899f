// Package pipelines tests this repository's Cloud Run pipelines: each spec runs an application directory
// through the Cloud Run plugin and piped against fakerun, with the behaviour a bad release would have, and
// checks that the pipeline catches it.
package pipelines

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pipecd-cloudrun/cloudrun/e2e/pipelinetest"
)

func TestPipelines(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Pipelines")
}

// start starts fakerun, the plugin and piped for one spec, with opts' deploy targets; everything stops when
// the spec ends. The progress log goes to GinkgoWriter (shown when the spec fails, or with -v).
func start(ctx context.Context, targets ...pipelinetest.Target) *pipelinetest.Env {
	GinkgoHelper()
	env, err := pipelinetest.Start(ctx, pipelinetest.Options{Targets: targets, Log: GinkgoWriter})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(env.Close)
	return env
}

// deploy runs a deployment and fails the spec when it cannot run (a deployment that fails is a result).
func deploy(ctx context.Context, env *pipelinetest.Env, d pipelinetest.Deployment) *pipelinetest.Result {
	GinkgoHelper()
	res, err := env.Deploy(ctx, d)
	Expect(err).NotTo(HaveOccurred())
	return res
}
