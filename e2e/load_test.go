package e2e

import (
	"fmt"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// loadServices is how many services the load spec deploys at once.
const loadServices = 10

var _ = Describe("Load [load]", Label("load", "fakerun-only"), func() {
	It("runs 10 canary deployments of different services at once through one plugin process", func(ctx SpecContext) {
		e := newEnv()
		deployAll := func(image string) []*piped.Result {
			GinkgoHelper()
			results := make([]*piped.Result, loadServices)
			var wg sync.WaitGroup
			for i := range loadServices {
				name := fmt.Sprintf("svc-%02d", i)
				run := e.Start(ctx, DeployInput{App: "canary", AppID: name, Commit: Commit(), Files: CanaryNamed(name, image)})
				wg.Go(func() {
					res, err := run.Wait()
					if err == nil {
						e.Keep(res)
					}
					results[i] = res
				})
			}
			wg.Wait()
			return results
		}

		By("quick-syncing v1 of 10 services at once")
		for _, res := range deployAll(ImageV1) {
			ExpectSuccess(res)
		}
		By("running the canary pipeline of v2 for the 10 services at once")
		for _, res := range deployAll(ImageV2) {
			ExpectSuccess(res)
			Expect(res.Executed()).To(HaveLen(6))
		}

		By("checking every service runs its new revision with all the traffic, and measuring the plugin's memory")
		for i := range loadServices {
			svc := e.Service(ctx, fmt.Sprintf("svc-%02d", i))
			latest := ShortName(svc.GetLatestReadyRevision())
			Expect(Traffic(svc.GetTraffic())).To(ContainElement(Route(latest, 100, "")))
			Expect(e.Revisions(ctx, fmt.Sprintf("svc-%02d", i))).To(HaveLen(2))
		}
		rss, err := PeakRSS(e.Piped.PluginPID())
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("plugin peak RSS (VmHWM) during 10 concurrent deployments", fmt.Sprintf("%d kB", rss))
		GinkgoWriter.Printf("plugin peak RSS (VmHWM): %d kB\n", rss)
	})
})
