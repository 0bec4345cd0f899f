package pipelinetest_test

import (
	"context"
	"fmt"
	"os"

	"github.com/pipecd-cloudrun/cloudrun/e2e/pipelinetest"
)

// A new version answering 20% of its requests with 503 is caught by the analysis of checkout's canary and
// rolled back to exactly what served before. (The example's Go specs in examples/pipeline-testing/pipelines
// run this story and the others in make test; examples here are compiled, not run, to keep it short.)
func Example() {
	ctx := context.Background()
	env, err := pipelinetest.Start(ctx, pipelinetest.Options{Log: os.Stdout})
	if err != nil {
		panic(err)
	}
	defer env.Close()
	const app = "examples/pipeline-testing/apps/checkout"
	const v1, v2 = "europe-docker.pkg.dev/acme/shop/checkout:1.4.0", "europe-docker.pkg.dev/acme/shop/checkout:1.5.0"

	// Given v1 serves,
	if _, err := env.Deploy(ctx, pipelinetest.Deployment{AppDir: app, Image: v1, QuickSync: true}); err != nil {
		panic(err)
	}
	// when v2, which answers 20% of its requests with 503, is deployed with traffic for the analysis,
	res, err := env.Deploy(ctx, pipelinetest.Deployment{AppDir: app, Image: v2, Load: 300,
		Behaviors: map[string]pipelinetest.Behavior{v2: {ErrorRate: 0.2, ErrorCode: 503}}})
	if err != nil {
		panic(err)
	}
	// then the analysis fails and v1 gets all the traffic back.
	fmt.Println(res.Status, res.FailedStage(), res.AnalysisVerdicts())
	rolledBack, _ := pipelinetest.HaveRolledBack().Match(res)
	fmt.Println("rolled back:", rolledBack)
}

// Two deploy targets are two regions of one fakerun; a deployment goes to the targets it names, and the
// matchers read each target's service.
func ExampleHaveTrafficOn() {
	ctx := context.Background()
	env, err := pipelinetest.Start(ctx, pipelinetest.Options{Targets: []pipelinetest.Target{
		{Name: "tokyo", Region: "asia-northeast1"}, {Name: "iowa", Region: "us-central1"},
	}})
	if err != nil {
		panic(err)
	}
	defer env.Close()
	res, err := env.Deploy(ctx, pipelinetest.Deployment{AppDir: "examples/pipeline-testing/apps/checkout",
		Targets: []string{"tokyo", "iowa"}, QuickSync: true})
	if err != nil {
		panic(err)
	}
	for _, target := range []string{"tokyo", "iowa"} {
		ok, _ := pipelinetest.HaveTrafficOn(target, pipelinetest.Route{Revision: pipelinetest.NewRevision, Percent: 100}).Match(res)
		fmt.Println(target, "serves the new revision:", ok)
	}
}
