package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// loadServices is how many services the load spec deploys at once.
const loadServices = 10

// canaryNamed returns the canary example's files renamed to service (and application) name, at image.
func canaryNamed(name, image string) map[string]string {
	GinkgoHelper()
	cfg, err := os.ReadFile(appDir("canary") + "/app.pipecd.yaml")
	Expect(err).NotTo(HaveOccurred())
	return map[string]string{
		"app.pipecd.yaml": strings.Replace(string(cfg), "\n  name: canary\n", "\n  name: "+name+"\n", 1),
		"service.yaml":    strings.Replace(manifest("canary", image), "\nname: canary\n", "\nname: "+name+"\n", 1),
	}
}

// peakRSS returns the peak resident set size (VmHWM) of a process, in kB.
func peakRSS(pid int) int {
	GinkgoHelper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	Expect(err).NotTo(HaveOccurred())
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.Atoi(f[1])
			Expect(err).NotTo(HaveOccurred())
			return kb
		}
	}
	Fail("no VmHWM in /proc/<pid>/status")
	return 0
}

var _ = Describe("Load [load]", Label("load", "fakerun-only"), func() {
	It("runs 10 canary deployments of different services at once through one plugin process", func(ctx SpecContext) {
		e := newEnv()
		deployAll := func(image string) []*piped.Result {
			GinkgoHelper()
			results := make([]*piped.Result, loadServices)
			var wg sync.WaitGroup
			for i := range loadServices {
				name := fmt.Sprintf("svc-%02d", i)
				d := piped.Deployment{AppDir: appDir("canary"), AppID: name, Commit: commit(), Files: canaryNamed(name, image)}
				run, err := e.pd.Start(ctx, d)
				Expect(err).NotTo(HaveOccurred())
				wg.Go(func() {
					res, err := run.Wait()
					if err == nil {
						e.keep(res)
					}
					results[i] = res
				})
			}
			wg.Wait()
			return results
		}

		By("quick-syncing v1 of 10 services at once")
		for _, res := range deployAll(imageV1) {
			expectSuccess(res)
		}
		By("running the canary pipeline of v2 for the 10 services at once")
		for _, res := range deployAll(imageV2) {
			expectSuccess(res)
			Expect(res.Executed()).To(HaveLen(6))
		}
		for i := range loadServices {
			svc := e.service(fmt.Sprintf("svc-%02d", i))
			latest := shortName(svc.GetLatestReadyRevision())
			Expect(traffic(svc.GetTraffic())).To(ContainElement(entry(latest, 100, "")))
			Expect(e.srv.Revisions(e.serviceName(fmt.Sprintf("svc-%02d", i)))).To(HaveLen(2))
		}
		rss := peakRSS(e.pd.PluginPID())
		AddReportEntry("plugin peak RSS (VmHWM) during 10 concurrent deployments", fmt.Sprintf("%d kB", rss))
		GinkgoWriter.Printf("plugin peak RSS (VmHWM): %d kB\n", rss)
	})
})
