package e2e

import (
	"fmt"
	"net/http"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// otherRegion is the second region of the multi-region service; the deploy target's is region.
const otherRegion = "europe-west1"

// multiRegionManifest is the canary service in region and otherRegion, running image.
func multiRegionManifest(image string) string {
	return "name: canary\nmultiRegionSettings: {regions: [" + region + ", " + otherRegion + "]}\n" +
		"template:\n  containers:\n  - {name: app, image: " + image + ", ports: [{containerPort: 8080}]}\n"
}

var _ = Describe("A multi-region service [surface]", Label("surface", "fakerun-only"), func() {
	It("deploys through one deploy target to every region, the rollback restores each region exactly, and live state reports each", func(ctx SpecContext) {
		e := newEnv()
		names := map[string]string{region: e.ServiceName("canary"), otherRegion: naming.ServiceName(e.Target.Project(), otherRegion, "canary")}
		// regional returns the service of each region as a manifest says it, with its serving revisions.
		regional := func() map[string]string {
			out := map[string]string{}
			for r, name := range names {
				svc, err := e.ServicesClient.GetService(ctx, &runpb.GetServiceRequest{Name: name})
				Expect(err).NotTo(HaveOccurred(), r)
				var serving []string
				for _, st := range svc.GetTrafficStatuses() {
					serving = append(serving, fmt.Sprintf("%s=%d%%", st.GetRevision(), st.GetPercent()))
				}
				out[r] = settings(svc) + " serving " + strings.Join(serving, ",")
			}
			return out
		}
		// answers is the revision that answers a request to the region's service URL.
		answers := func(r string) string {
			svc, err := e.ServicesClient.GetService(ctx, &runpb.GetServiceRequest{Name: names[r]})
			Expect(err).NotTo(HaveOccurred())
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.Fakerun.Addr()+"/", nil)
			Expect(err).NotTo(HaveOccurred())
			req.Host = strings.TrimPrefix(svc.GetUri(), "https://")
			req.Header.Set("Authorization", "Bearer token")
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			_ = resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusOK), r)
			return resp.Header.Get(fakerun.HeaderRevision)
		}

		By("deploying v1 by quick sync through the deploy target's region: both regions run it and answer")
		first := DeployInput{App: "canary", Files: map[string]string{"service.yaml": multiRegionManifest(ImageV1)}, SyncStrategy: model.SyncStrategy_QUICK_SYNC}
		ExpectSuccess(e.Deploy(ctx, first))
		v1 := e.Service(ctx, "canary").GetTemplate().GetRevision()
		Expect(v1).NotTo(BeEmpty())
		Expect(answers(region)).To(Equal(v1))
		Expect(answers(otherRegion)).To(Equal(v1))
		before := regional()
		Expect(before[otherRegion]).To(Equal(before[region]), "one service: the same settings, template and traffic in each region")

		By("live state: SYNCED, with the service of each region")
		ls := e.Livestate(ctx, first.Source())
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED), ls.GetSyncState().GetReason())
		var regions []string
		for _, res := range ls.GetApplicationLiveState().GetResources() {
			if res.GetResourceType() == "Service" {
				regions = append(regions, res.GetResourceMetadata()["region"])
			}
		}
		Expect(regions).To(ConsistOf(region, otherRegion))

		By("deploying v2 in the canary pipeline, cancelled at CLOUDRUN_PROMOTE: the rollback restores each region exactly")
		var during map[string]string
		res := e.Deploy(ctx, DeployInput{App: "canary", Files: map[string]string{"service.yaml": multiRegionManifest(ImageV2)}, SyncStrategy: model.SyncStrategy_PIPELINE, Hooks: piped.Hooks{
			OnStageStart: func(r *piped.Run, s piped.StageRecord) {
				if s.Name == "CLOUDRUN_PROMOTE" && !s.Rollback {
					during = regional()
					r.Cancel()
				}
			},
		}})
		Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_CANCELLED), "%s", res.Report())
		Expect(during[otherRegion]).To(ContainSubstring(ImageV2), "the canary reached the other region")
		Expect(regional()).To(Equal(before))
		Expect(answers(region)).To(Equal(v1))
		Expect(answers(otherRegion)).To(Equal(v1))
		ls = e.Livestate(ctx, first.Source())
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED), ls.GetSyncState().GetReason())

		By("changing the service out of band through the other region: live state OUT_OF_SYNC, naming that region")
		eu, err := e.ServicesClient.GetService(ctx, &runpb.GetServiceRequest{Name: names[otherRegion]})
		Expect(err).NotTo(HaveOccurred())
		eu.Template.Revision = ""
		eu.Template.Containers[0].Image = ImageV3
		op, err := e.ServicesClient.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: eu})
		Expect(err).NotTo(HaveOccurred())
		_, err = op.Wait(ctx)
		Expect(err).NotTo(HaveOccurred())
		ls = e.Livestate(ctx, first.Source())
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_OUT_OF_SYNC), ls.GetSyncState().GetReason())
		Expect(ls.GetSyncState().GetReason()).To(ContainSubstring("region " + otherRegion + " of the multi-region service"))
		Expect(ls.GetSyncState().GetShortReason()).To(ContainSubstring("differs from git: template.containers[app].image"))
	})
})
