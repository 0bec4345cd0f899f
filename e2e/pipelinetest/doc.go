// Package pipelinetest tests a PipeCD application's Cloud Run pipeline before it reaches production: it runs the
// application directory (app.pipecd.yaml and its manifests) through the Cloud Run plugin and piped against an
// in-process fakerun, with the behaviours a change may bring (a new image answering 503s, slowly, never ready,
// job tasks failing) and faults of the Cloud Run API, then reads the outcome: the deployment's status, each
// stage's status and log, the services and jobs before and after, and the analysis verdicts.
//
// A test reads as the story it checks:
//
//	env, err := pipelinetest.Start(ctx, pipelinetest.Options{})
//	...
//	defer env.Close()
//	// given: v1 runs
//	_, err = env.Deploy(ctx, pipelinetest.Deployment{AppDir: "apps/checkout", Image: v1, QuickSync: true})
//	// when: v2 answers 20% of its requests with 503
//	res, err := env.Deploy(ctx, pipelinetest.Deployment{AppDir: "apps/checkout", Image: v2,
//		Behaviors: map[string]pipelinetest.Behavior{v2: {ErrorRate: 0.2, ErrorCode: 503}}, Load: 300})
//	// then
//	Expect(res).To(pipelinetest.HaveFailedAt("CLOUDRUN_ANALYSIS"))
//	Expect(res).To(pipelinetest.HaveRolledBack())
//
// Which piped drives the plugin is a detail behind Env: today the project's piped stand-in (e2e/piped), which
// plans and schedules stages with pipedv1's own planner code and serves pipedv1's PluginService. Tests written
// against this package do not change when it moves to the real pipedv1.
//
// Durations: Options.TimeScale (default 0.01) scales WAIT stages and the duration, interval and
// ingestionDelay of CLOUDRUN_ANALYSIS stages, so that a 10-minute analysis takes 6 seconds (fakerun's metric
// points are per second and visible at once). Thresholds (minRequests, error rates, latencies) are not
// scaled: send enough traffic with Deployment.Load.
package pipelinetest
