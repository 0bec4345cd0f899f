package pipelines

import (
	"context"

	"google.golang.org/grpc/codes"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/pipelinetest"
)

const (
	checkout   = "../apps/checkout"
	checkoutV1 = "europe-docker.pkg.dev/acme/shop/checkout:1.4.0"
	checkoutV2 = "europe-docker.pkg.dev/acme/shop/checkout:1.5.0"
	// load is enough requests a second for the analysis: 20% of it gives the canary about 180 requests, more
	// than minRequests (20) even on a loaded machine, in every 5-minute check scaled to 3s.
	load = 300
)

// givenV1 deploys checkout at v1 by quick sync: the live state before the change.
func givenV1(ctx context.Context, env *Env, targets ...string) {
	GinkgoHelper()
	res := deploy(ctx, env, Deployment{AppDir: checkout, Image: checkoutV1, QuickSync: true, Targets: targets})
	Expect(res).To(HaveSucceeded())
}

var _ = Describe("checkout's canary", Label("pipelinetest"), func() {
	It("promotes a healthy release to 100% after three passed checks", func(ctx SpecContext) {
		env := start(ctx)
		givenV1(ctx, env)

		res := deploy(ctx, env, Deployment{AppDir: checkout, Image: checkoutV2, Load: load})

		Expect(res).To(HaveSucceeded())
		Expect(res).To(HaveRunStages("CLOUDRUN_SYNC", "CLOUDRUN_PROMOTE", "CLOUDRUN_ANALYSIS", "CLOUDRUN_PROMOTE", "CLOUDRUN_CANARY_CLEANUP"))
		Expect(res).To(HaveAnalysisVerdicts("PASS", "PASS", "PASS"))
		Expect(res).To(HaveTraffic(Route{Revision: NewRevision, Percent: 100}, Route{Revision: NewRevision, Tag: "preview-*"}))
	})

	It("rolls back a release answering 20% of its requests with 503 at the first check", func(ctx SpecContext) {
		env := start(ctx)
		givenV1(ctx, env)

		res := deploy(ctx, env, Deployment{AppDir: checkout, Image: checkoutV2, Load: load,
			Behaviors: map[string]Behavior{checkoutV2: {ErrorRate: 0.2, ErrorCode: 503}}})

		Expect(res).To(HaveFailedAt("CLOUDRUN_ANALYSIS"))
		Expect(res).To(HaveAnalysisVerdicts("FAIL"))
		Expect(res).To(HaveRolledBack())
		Expect(res).To(HaveTraffic(Route{Revision: PreviousRevision, Percent: 100}))
	})

	It("gives no traffic to a release that never becomes ready", func(ctx SpecContext) {
		env := start(ctx)
		givenV1(ctx, env)

		res := deploy(ctx, env, Deployment{AppDir: checkout, Image: checkoutV2,
			Behaviors: map[string]Behavior{checkoutV2: {Fail: true}}})

		Expect(res).To(HaveFailedAt("CLOUDRUN_SYNC"))
		Expect(res).To(HaveRunStages("CLOUDRUN_SYNC", "CLOUDRUN_ROLLBACK"))
		Expect(res).To(HaveRolledBack())
		Expect(res).To(HaveTraffic(Route{Revision: PreviousRevision, Percent: 100}))
	})

	It("completes in two regions through a burst of UNAVAILABLE from the Cloud Run API", func(ctx SpecContext) {
		env := start(ctx, Target{Name: "tokyo", Region: "asia-northeast1"}, Target{Name: "iowa", Region: "us-central1"})
		givenV1(ctx, env, "tokyo", "iowa")

		res := deploy(ctx, env, Deployment{AppDir: checkout, Image: checkoutV2, Load: load, Targets: []string{"tokyo", "iowa"},
			Faults: []Fault{{Method: "UpdateService", Code: codes.Unavailable, Times: 2}}})

		Expect(res).To(HaveSucceeded())
		for _, region := range []string{"tokyo", "iowa"} {
			Expect(res).To(HaveTrafficOn(region, Route{Revision: NewRevision, Percent: 100}, Route{Revision: NewRevision, Tag: "preview-*"}))
		}
	})
})
