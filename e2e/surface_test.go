package e2e

import (
	"fmt"
	"net/http"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// surfaceField is one row of the field round trip: the manifest at the first commit (service-level fields,
// revision template fields, containers), the one of the second commit, which is rolled back, and an
// out-of-band change that live state names by path.
type surfaceField struct {
	service, template, containers string
	nextService, nextTemplate     string
	edit                          func(*runpb.Service)
	path                          string
}

// manifest is the canary example's service with the row's fields at one of its commits.
func (f surfaceField) manifest(next bool) string {
	service, template := f.service, f.template
	if next {
		service, template = f.nextService, f.nextTemplate
	}
	containers := f.containers
	if containers == "" {
		containers = "- {name: app, image: " + ImageV1 + ", ports: [{containerPort: 8080}]}"
	}
	var b strings.Builder
	b.WriteString("name: canary\n")
	if service != "" {
		b.WriteString(service + "\n")
	}
	b.WriteString("template:\n")
	if template != "" {
		fmt.Fprintf(&b, "  %s\n", template)
	}
	fmt.Fprintf(&b, "  containers:\n  %s\n", containers)
	return b.String()
}

// settings is the service as a manifest can say it: without what Cloud Run sets or the plugin owns.
func settings(svc *runpb.Service) string {
	v := proto.Clone(svc).(*runpb.Service)
	kept := &runpb.Service{
		Description: v.Description, Ingress: v.Ingress, Scaling: v.Scaling, InvokerIamDisabled: v.InvokerIamDisabled,
		IapEnabled: v.IapEnabled, DefaultUriDisabled: v.DefaultUriDisabled, CustomAudiences: v.CustomAudiences,
		MultiRegionSettings: v.MultiRegionSettings, BuildConfig: v.BuildConfig, Template: v.Template,
	}
	kept.Template.Revision = ""
	b, err := protojson.Marshal(kept)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

var _ = Describe("Every field of the service [surface]", Label("surface", "fakerun-only"), func() {
	DescribeTable("deploys it in sync, rolls a change of it back exactly and names it when changed out of band",
		func(ctx SpecContext, f surfaceField) {
			e := newEnv()
			first := DeployInput{App: "canary", Files: map[string]string{"service.yaml": f.manifest(false)}, SyncStrategy: model.SyncStrategy_QUICK_SYNC}
			By("deploying the field by quick sync: live state SYNCED")
			ExpectSuccess(e.Deploy(ctx, first))
			ls := e.Livestate(ctx, first.Source())
			Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED), ls.GetSyncState().GetReason())
			before := settings(e.Service(ctx, "canary"))

			By("deploying a change of it in the canary pipeline, cancelled after CLOUDRUN_SYNC: the rollback restores it exactly")
			res := e.Deploy(ctx, DeployInput{App: "canary", Files: map[string]string{"service.yaml": f.manifest(true)}, SyncStrategy: model.SyncStrategy_PIPELINE, Hooks: piped.Hooks{
				OnStageStart: func(r *piped.Run, s piped.StageRecord) {
					if s.Name == "CLOUDRUN_PROMOTE" && !s.Rollback {
						r.Cancel()
					}
				},
			}})
			Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_CANCELLED), "%s", res.Report())
			Expect(settings(e.Service(ctx, "canary"))).To(Equal(before))
			ls = e.Livestate(ctx, first.Source())
			Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED), ls.GetSyncState().GetReason())

			By("changing it out of band: live state OUT_OF_SYNC naming it")
			e.UpdateService(ctx, "canary", func(svc *runpb.Service) {
				svc.Template.Revision = ""
				f.edit(svc)
			})
			ls = e.Livestate(ctx, first.Source())
			Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_OUT_OF_SYNC), ls.GetSyncState().GetReason())
			Expect(ls.GetSyncState().GetShortReason()).To(ContainSubstring("differs from git: " + f.path))
		},
		Entry("manual scaling", surfaceField{
			service: "scaling: {scalingMode: MANUAL, manualInstanceCount: 2}", nextService: "scaling: {scalingMode: MANUAL, manualInstanceCount: 3}",
			edit: func(s *runpb.Service) { s.Scaling.ManualInstanceCount = proto.Int32(4) }, path: "scaling.manualInstanceCount",
		}),
		Entry("invokerIamDisabled", surfaceField{
			service: "invokerIamDisabled: true", nextService: "invokerIamDisabled: false",
			edit: func(s *runpb.Service) { s.InvokerIamDisabled = false }, path: "invokerIamDisabled",
		}),
		Entry("iapEnabled and customAudiences", surfaceField{
			service: "iapEnabled: true\ncustomAudiences: [https://canary.example.com]", nextService: "customAudiences: [https://api.example.com]",
			edit: func(s *runpb.Service) { s.CustomAudiences = nil }, path: "customAudiences",
		}),
		Entry("GPU", surfaceField{
			template:     "nodeSelector: {accelerator: nvidia-l4}\n  gpuZonalRedundancyDisabled: true",
			nextTemplate: "nodeSelector: {accelerator: nvidia-l4}\n  gpuZonalRedundancyDisabled: false",
			containers:   "- {name: app, image: " + ImageV1 + ", ports: [{containerPort: 8080}], resources: {cpuIdle: false, limits: {cpu: '4', memory: 16Gi, nvidia.com/gpu: '1'}}}",
			edit:         func(s *runpb.Service) { s.Template.GpuZonalRedundancyDisabled = proto.Bool(false) }, path: "template.gpuZonalRedundancyDisabled",
		}),
		Entry("serviceMesh", surfaceField{
			template: "serviceMesh: {mesh: projects/p/locations/global/meshes/m1}", nextTemplate: "serviceMesh: {mesh: projects/p/locations/global/meshes/m2}",
			edit: func(s *runpb.Service) { s.Template.ServiceMesh.Mesh = "projects/p/locations/global/meshes/m3" }, path: "template.serviceMesh.mesh",
		}),
		Entry("sidecars with dependsOn", surfaceField{
			containers:   "- {name: app, image: " + ImageV1 + ", ports: [{containerPort: 8080}], dependsOn: [proxy]}\n  - {name: proxy, image: " + ImageV2 + "}",
			nextTemplate: "timeout: 30s",
			edit:         func(s *runpb.Service) { s.Template.Containers[1].Image = ImageV3 }, path: "template.containers[proxy].image",
		}),
		Entry("volumes and mounts", surfaceField{
			template:     "volumes: [{name: scratch, emptyDir: {medium: MEMORY, sizeLimit: 1Gi}}, {name: gcs, gcs: {bucket: assets, readOnly: true, mountOptions: [implicit-dirs]}}]\n  executionEnvironment: EXECUTION_ENVIRONMENT_GEN2",
			nextTemplate: "volumes: [{name: scratch, emptyDir: {medium: MEMORY, sizeLimit: 2Gi}}, {name: gcs, gcs: {bucket: assets, readOnly: true}}]\n  executionEnvironment: EXECUTION_ENVIRONMENT_GEN2",
			containers:   "- {name: app, image: " + ImageV1 + ", ports: [{containerPort: 8080}], volumeMounts: [{name: scratch, mountPath: /tmp/a}, {name: gcs, mountPath: /mnt/gcs}]}",
			edit:         func(s *runpb.Service) { s.Template.Volumes[0].GetEmptyDir().SizeLimit = "4Gi" }, path: "template.volumes[scratch].emptyDir.sizeLimit",
		}),
		Entry("startup, liveness and readiness probes", surfaceField{
			containers:   "- {name: app, image: " + ImageV1 + ", ports: [{containerPort: 8080}], startupProbe: {tcpSocket: {port: 8080}}, livenessProbe: {httpGet: {path: /healthz}}, readinessProbe: {httpGet: {path: /ready}, periodSeconds: 5}}",
			nextTemplate: "timeout: 30s",
			edit:         func(s *runpb.Service) { s.Template.Containers[0].ReadinessProbe.PeriodSeconds = 7 }, path: "template.containers[app].readinessProbe.periodSeconds",
		}),
		Entry("sessionAffinity and healthCheckDisabled", surfaceField{
			template: "sessionAffinity: true\n  healthCheckDisabled: true", nextTemplate: "sessionAffinity: false",
			edit: func(s *runpb.Service) { s.Template.SessionAffinity = false }, path: "template.sessionAffinity",
		}),
		Entry("automatic scaling bounds (service and revision) and defaultUriDisabled", surfaceField{
			service:      "scaling: {minInstanceCount: 1, maxInstanceCount: 5}\ndefaultUriDisabled: true",
			nextService:  "scaling: {minInstanceCount: 2, maxInstanceCount: 5}\ndefaultUriDisabled: true",
			template:     "scaling: {minInstanceCount: 1}",
			nextTemplate: "scaling: {minInstanceCount: 1}",
			edit:         func(s *runpb.Service) { s.Scaling.MinInstanceCount = 3 }, path: "scaling.minInstanceCount",
		}),
		Entry("timeout, concurrency and execution environment", surfaceField{
			template:     "timeout: 60s\n  maxInstanceRequestConcurrency: 20\n  executionEnvironment: EXECUTION_ENVIRONMENT_GEN2",
			nextTemplate: "timeout: 90s\n  maxInstanceRequestConcurrency: 20\n  executionEnvironment: EXECUTION_ENVIRONMENT_GEN2",
			edit:         func(s *runpb.Service) { s.Template.MaxInstanceRequestConcurrency = 40 }, path: "template.maxInstanceRequestConcurrency",
		}),
		Entry("resources: limits, cpuIdle and startupCpuBoost", surfaceField{
			containers:   "- {name: app, image: " + ImageV1 + ", ports: [{containerPort: 8080}], resources: {cpuIdle: true, startupCpuBoost: true, limits: {cpu: '2', memory: 1Gi}}}",
			nextTemplate: "timeout: 30s",
			edit:         func(s *runpb.Service) { s.Template.Containers[0].Resources.StartupCpuBoost = false }, path: "template.containers[app].resources.startupCpuBoost",
		}),
		Entry("a container left to the server defaults (port, resources, startup probe, concurrency, timeout, scaling)", surfaceField{
			containers:   "- {name: app, image: " + ImageV1 + "}",
			nextTemplate: "timeout: 30s",
			edit:         func(s *runpb.Service) { s.Template.Containers[0].Image = ImageV2 }, path: "template.containers[app].image",
		}),
		Entry("buildConfig", surfaceField{
			service:     "buildConfig: {sourceLocation: gs://b/fn.zip, functionTarget: handle, baseImage: nodejs22}",
			nextService: "buildConfig: {sourceLocation: gs://b/fn-2.zip, functionTarget: handle, baseImage: nodejs22}",
			edit:        func(s *runpb.Service) { s.BuildConfig.FunctionTarget = "other" }, path: "buildConfig.functionTarget",
		}),
	)

	It("makes the service public with access.public (403 before, 200 after), keeping the other bindings, and the rollback restores the policy exactly", func(ctx SpecContext) {
		e := newEnv()
		By("running v1 without access.public, with an invoker binding of its own: a request without a token gets 403")
		e.DeployCanaryV1(ctx)
		// anonymous is the status of a request without credentials to the service URL, as from a browser.
		anonymous := func() int {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.Fakerun.Addr()+"/", nil)
			Expect(err).NotTo(HaveOccurred())
			req.Host = strings.TrimPrefix(e.Service(ctx, "canary").GetUri(), "https://")
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			_ = resp.Body.Close()
			return resp.StatusCode
		}
		Expect(anonymous()).To(Equal(http.StatusForbidden))
		own := []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"serviceAccount:caller@p.iam.gserviceaccount.com"}}}
		_, err := e.ServicesClient.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: e.ServiceName("canary"), Policy: &iampb.Policy{Bindings: own}})
		Expect(err).NotTo(HaveOccurred())
		policy := func() []*iampb.Binding {
			p, err := e.ServicesClient.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: e.ServiceName("canary")})
			Expect(err).NotTo(HaveOccurred())
			return p.GetBindings()
		}
		public := CanaryConfig("        serviceManifestFile: service.yaml\n", "        serviceManifestFile: service.yaml\n      access:\n        public: true\n")
		public["service.yaml"] = Manifest("canary", ImageV2)

		By("deploying v2 with access.public: true, cancelled at the first CLOUDRUN_PROMOTE")
		var during []*iampb.Binding
		res := e.Deploy(ctx, DeployInput{App: "canary", Files: public, Hooks: piped.Hooks{
			OnStageStart: func(r *piped.Run, s piped.StageRecord) {
				if s.Name == "CLOUDRUN_PROMOTE" && !s.Rollback {
					during = policy()
					r.Cancel()
				}
			},
		}})
		Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_CANCELLED), "%s", res.Report())
		Expect(anonymous()).To(Equal(http.StatusForbidden), "after the rollback")
		Expect(during).To(HaveLen(1))
		Expect(during[0].GetMembers()).To(Equal([]string{"allUsers", "serviceAccount:caller@p.iam.gserviceaccount.com"}), "public, the other invoker kept")

		By("checking the rollback put the policy back exactly")
		after := policy()
		Expect(after).To(HaveLen(1))
		Expect(after[0].GetRole()).To(Equal("roles/run.invoker"))
		Expect(after[0].GetMembers()).To(Equal([]string{"serviceAccount:caller@p.iam.gserviceaccount.com"}))

		By("deploying v2 with access.public: true to the end: a request without a token gets 200, live state shows the service public and SYNCED")
		in := DeployInput{App: "canary", Files: public}
		ExpectSuccess(e.Deploy(ctx, in))
		Expect(anonymous()).To(Equal(http.StatusOK))
		ls := e.Livestate(ctx, in.Source())
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED), ls.GetSyncState().GetReason())
		Expect(resourcesByName(ls)["canary"].GetResourceMetadata()).To(HaveKeyWithValue("public", "true"))
	})
})
