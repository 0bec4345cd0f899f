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
		commits := make([]string, loadServices) // of the latest deployment of each service
		deployAll := func(image string) []*piped.Result {
			GinkgoHelper()
			results := make([]*piped.Result, loadServices)
			var wg sync.WaitGroup
			for i := range loadServices {
				name := fmt.Sprintf("svc-%02d", i)
				commits[i] = Commit()
				run := e.Start(ctx, DeployInput{App: "canary", AppID: name, Commit: commits[i], Files: CanaryNamed(name, image)})
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
		canaries := deployAll(ImageV2)
		for _, res := range canaries {
			ExpectSuccess(res)
			Expect(res.Executed()).To(HaveLen(6))
		}

		By("checking every service runs the revision its deployment created, on v2, with all the traffic, and measuring the plugin's memory")
		for i, res := range canaries {
			id := fmt.Sprintf("svc-%02d", i)
			created := DeployedRevision(res)
			Expect(Traffic(e.Service(ctx, id).GetTraffic())).To(Equal(Routes(Route(created, 100, ""), Route(created, 0, PreviewTag(commits[i])))), "service %s", id)
			Expect(e.Revision(ctx, id, created).GetContainers()[0].GetImage()).To(Equal(ImageV2), "service %s", id)
			Expect(e.Revisions(ctx, id)).To(HaveLen(2))
		}
		rss, err := PeakRSS(e.Piped.PluginPID())
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("plugin peak RSS (VmHWM) during 10 concurrent deployments", fmt.Sprintf("%d kB", rss))
		GinkgoWriter.Printf("plugin peak RSS (VmHWM): %d kB\n", rss)
	})
})
