package pipelinetest_test

import (
	"context"
	"fmt"

	"github.com/pipecd-cloudrun/cloudrun/e2e/pipelinetest"
)

// A new version whose container never starts fails CLOUDRUN_SYNC before any traffic moves, and the rollback
// puts back exactly what served before.
func Example() {
	ctx := context.Background()
	env, err := pipelinetest.Start(ctx, pipelinetest.Options{})
	if err != nil {
		panic(err)
	}
	defer env.Close()
	const app = "../../examples/pipeline-testing/apps/checkout"

	// Given v1 serves,
	_, err = env.Deploy(ctx, pipelinetest.Deployment{AppDir: app, Image: "example.com/checkout:v1", QuickSync: true})
	if err != nil {
		panic(err)
	}
	// when v2, which never becomes ready, is deployed,
	res, err := env.Deploy(ctx, pipelinetest.Deployment{AppDir: app, Image: "example.com/checkout:v2",
		Behaviors: map[string]pipelinetest.Behavior{"example.com/checkout:v2": {Fail: true}}})
	if err != nil {
		panic(err)
	}
	// then the deployment fails at CLOUDRUN_SYNC and v1 keeps all the traffic.
	fmt.Println(res.Status, res.FailedStage(), res.StageNames())
	rolledBack, _ := pipelinetest.HaveRolledBack().Match(res)
	fmt.Println("rolled back:", rolledBack)
	onV1, _ := pipelinetest.HaveTraffic(pipelinetest.Route{Revision: pipelinetest.PreviousRevision, Percent: 100}).Match(res)
	fmt.Println("100% to v1:", onV1)
	// Output:
	// FAILURE CLOUDRUN_SYNC [CLOUDRUN_SYNC CLOUDRUN_ROLLBACK]
	// rolled back: true
	// 100% to v1: true
}
