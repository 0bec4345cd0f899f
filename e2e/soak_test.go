package e2e

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/framework/soak"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
)

// The soak: many deployments through one plugin process, with random faults, and an oracle after each (the
// harness is framework/soak; the README's "The soak" says what it checks).
var _ = Describe("Soak [soak]", Label("soak", "fakerun-only"), func() {
	It("keeps every service exactly new or exactly as before through many deployments with random faults", SpecTimeout(soak.Timeout()), func(ctx SpecContext) {
		seed, total := soak.Size()
		replay := fmt.Sprintf("%s=%d %s=%d", soak.SeedEnv, seed, soak.DeploymentsEnv, total)
		By(fmt.Sprintf("soak seed %d, %d deployments (replay: %s)", seed, total, replay))
		AddReportEntry("soak seed", replay)
		e := newFakerunEnv(func(fr *target.Fakerun) []piped.DeployTarget {
			return []piped.DeployTarget{
				{Name: LocalDeployTarget, Config: fr.DeployTargetConfig(region)},
				{Name: soak.SecondTarget, Config: fr.DeployTargetConfig(soak.SecondRegion)},
			}
		})
		s := soak.New(e, seed, sampleImage)
		started := time.Now()

		By(fmt.Sprintf("creating %d services on deploy targets %s, %s or both, by quick sync", soak.Services, LocalDeployTarget, soak.SecondTarget))
		s.CreateServices(ctx)
		start, err := PluginStats(ctx, e.Piped)
		Expect(err).NotTo(HaveOccurred())

		kills := soak.Kills(seed, total)
		By(fmt.Sprintf("running %d deployments, %d at once, with faults and %d SIGKILL + restarts of the plugin in the first half", total, soak.Services, len(kills)))
		s.Run(ctx, total, kills)
		restarts, baseline, err := s.Restarts()
		Expect(err).NotTo(HaveOccurred(), "restarting the plugin")
		Expect(restarts).To(BeNumerically(">", 0), "the plugin was killed")
		end, err := s.SettledStats(ctx, baseline)
		Expect(err).NotTo(HaveOccurred())
		summary := s.Summary(total, time.Since(started), start, baseline, end)
		AddReportEntry("soak summary", summary)

		By("checking every deployment left its services exactly new or exactly as before, and every failed stage said why")
		if problems := s.Problems(); len(problems) > 0 {
			Fail(fmt.Sprintf("%d problem(s), each printed in full above as SOAK PROBLEM; seed %d (replay with %s)\n%s\nthe first:\n%s",
				len(problems), seed, replay, summary, problems[0][:min(len(problems[0]), 4000)]))
		}
		Expect(s.Others()).To(BeZero())

		By("checking no revision was created twice for one commit")
		Expect(s.RevisionsTwice()).To(BeEmpty(), "seed %d", seed)

		By("checking the plugin's goroutines and RSS came back near where they started (a leak check)")
		Expect(end.Goroutines).To(BeNumerically("<=", baseline.Goroutines+soak.GoroutineSlack),
			"goroutines after the soak; baseline just after the last restart: %s (seed %d)", baseline, seed)
		Expect(end.RSS).To(BeNumerically("<=", start.RSS*3/2+soak.RSSSlackKB),
			"RSS after the soak; after the first deployments: %s (seed %d)", start, seed)
	})
})
