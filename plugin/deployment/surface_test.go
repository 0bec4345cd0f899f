package deployment_test

import (
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/deployment"
	"github.com/pipecd-cloudrun/cloudrun/plugin/diff"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// TestEveryFieldRoundTrip deploys a service with each field on fakerun and checks, field by field, what a
// user sees: live state IN_SYNC; a deployment that changes the field, rolled back, restores the service
// exactly (the field included); an out-of-band change of the field makes live state OUT_OF_SYNC naming it.
func TestEveryFieldRoundTrip(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name string
		// service and template are the service-level and revision-template fields of the manifest at the
		// first commit; nextService and nextTemplate those of the second commit, which is rolled back.
		service, template         string
		nextService, nextTemplate string
		// containers replaces the one container "app" of the template when set.
		containers string
		// edit changes the field on the live service out of band; live state then names wantPath.
		edit     func(*runpb.Service)
		wantPath string
	}{
		{
			name: "scaling: manual", service: "scaling: {scalingMode: MANUAL, manualInstanceCount: 2}", nextService: "scaling: {scalingMode: MANUAL, manualInstanceCount: 3}",
			edit: func(s *runpb.Service) { s.Scaling.ManualInstanceCount = proto.Int32(4) }, wantPath: "scaling.manualInstanceCount",
		},
		{
			name: "scaling: automatic min and max", service: "scaling: {minInstanceCount: 1, maxInstanceCount: 5}", nextService: "scaling: {minInstanceCount: 0, maxInstanceCount: 8}",
			edit: func(s *runpb.Service) { s.Scaling.MaxInstanceCount = 9 }, wantPath: "scaling.maxInstanceCount",
		},
		{
			name: "revision scaling", template: "scaling: {minInstanceCount: 1, maxInstanceCount: 4}", nextTemplate: "scaling: {maxInstanceCount: 6}",
			edit: func(s *runpb.Service) { s.Template.Scaling.MaxInstanceCount = 7 }, wantPath: "template.scaling.maxInstanceCount",
		},
		{
			name: "invokerIamDisabled", service: "invokerIamDisabled: true", nextService: "invokerIamDisabled: false",
			edit: func(s *runpb.Service) { s.InvokerIamDisabled = false }, wantPath: "invokerIamDisabled",
		},
		{
			name: "iapEnabled", service: "iapEnabled: true", nextService: "iapEnabled: false",
			edit: func(s *runpb.Service) { s.IapEnabled = false }, wantPath: "iapEnabled",
		},
		{
			name: "defaultUriDisabled", service: "defaultUriDisabled: true", nextService: "defaultUriDisabled: false",
			edit: func(s *runpb.Service) { s.DefaultUriDisabled = false }, wantPath: "defaultUriDisabled",
		},
		{
			name: "customAudiences", service: "customAudiences: [https://web.example.com]", nextService: "customAudiences: [https://api.example.com]",
			edit: func(s *runpb.Service) { s.CustomAudiences = append(s.CustomAudiences, "https://x.example.com") }, wantPath: "customAudiences",
		},
		{
			name:         "GPU",
			template:     "nodeSelector: {accelerator: nvidia-l4}\n  gpuZonalRedundancyDisabled: true",
			nextTemplate: "nodeSelector: {accelerator: nvidia-l4}\n  gpuZonalRedundancyDisabled: false",
			containers:   "- {name: app, image: gcr.io/p/web:v1, ports: [{containerPort: 8080}], resources: {cpuIdle: false, limits: {cpu: '4', memory: 16Gi, nvidia.com/gpu: '1'}}}",
			edit:         func(s *runpb.Service) { s.Template.NodeSelector.Accelerator = "nvidia-rtx-pro-6000" }, wantPath: "template.nodeSelector.accelerator",
		},
		{
			name: "serviceMesh", template: "serviceMesh: {mesh: projects/proj/locations/global/meshes/m1}", nextTemplate: "serviceMesh: {mesh: projects/proj/locations/global/meshes/m2}",
			edit: func(s *runpb.Service) { s.Template.ServiceMesh = nil }, wantPath: "template.serviceMesh",
		},
		{
			name:         "sidecars with dependsOn",
			containers:   "- {name: app, image: gcr.io/p/web:v1, ports: [{containerPort: 8080}], dependsOn: [proxy]}\n  - {name: proxy, image: gcr.io/p/proxy:v1}",
			nextTemplate: "timeout: 30s",
			edit:         func(s *runpb.Service) { s.Template.Containers[1].Image = "gcr.io/p/proxy:v2" }, wantPath: "template.containers[proxy].image",
		},
		{
			name: "volumes: secret, Cloud SQL, emptyDir, NFS, GCS",
			template: `volumes:
    - {name: secret, secret: {secret: db-pass, items: [{path: pass, version: latest}]}}
    - {name: cloudsql, cloudSqlInstance: {instances: ['proj:asia-northeast1:db']}}
    - {name: scratch, emptyDir: {medium: MEMORY, sizeLimit: 1Gi}}
    - {name: nfs, nfs: {server: 10.0.0.2, path: /share}}
    - {name: gcs, gcs: {bucket: assets, readOnly: true, mountOptions: [implicit-dirs]}}
  executionEnvironment: EXECUTION_ENVIRONMENT_GEN2`,
			nextTemplate: "volumes: [{name: scratch, emptyDir: {medium: MEMORY, sizeLimit: 2Gi}}]",
			containers: `- name: app
    image: gcr.io/p/web:v1
    ports: [{containerPort: 8080}]
    volumeMounts: [{name: secret, mountPath: /secrets}, {name: cloudsql, mountPath: /cloudsql}, {name: scratch, mountPath: /tmp/a}, {name: nfs, mountPath: /mnt/nfs}, {name: gcs, mountPath: /mnt/gcs}]`,
			edit: func(s *runpb.Service) {
				s.Template.Volumes[4].GetGcs().MountOptions = []string{"implicit-dirs", "uid=1000"}
			},
			wantPath: "template.volumes[gcs].gcs.mountOptions",
		},
		{
			name: "probes: startup, liveness, readiness",
			containers: `- name: app
    image: gcr.io/p/web:v1
    ports: [{containerPort: 8080}]
    startupProbe: {tcpSocket: {port: 8080}, periodSeconds: 5}
    livenessProbe: {httpGet: {path: /healthz}}
    readinessProbe: {httpGet: {path: /ready}, periodSeconds: 5}`,
			nextTemplate: "timeout: 30s",
			edit:         func(s *runpb.Service) { s.Template.Containers[0].ReadinessProbe.PeriodSeconds = 7 }, wantPath: "template.containers[app].readinessProbe.periodSeconds",
		},
		{
			name: "sessionAffinity", template: "sessionAffinity: true", nextTemplate: "sessionAffinity: false",
			edit: func(s *runpb.Service) { s.Template.SessionAffinity = false }, wantPath: "template.sessionAffinity",
		},
		{
			name: "healthCheckDisabled", template: "healthCheckDisabled: true", nextTemplate: "healthCheckDisabled: false",
			edit: func(s *runpb.Service) { s.Template.HealthCheckDisabled = false }, wantPath: "template.healthCheckDisabled",
		},
		{
			name:        "buildConfig",
			service:     "buildConfig: {sourceLocation: gs://b/fn.zip, functionTarget: handle, baseImage: nodejs22, environmentVariables: {A: b}}",
			nextService: "buildConfig: {sourceLocation: gs://b/fn-2.zip, functionTarget: handle, baseImage: nodejs22}",
			edit:        func(s *runpb.Service) { s.BuildConfig.FunctionTarget = "other" }, wantPath: "buildConfig.functionTarget",
		},
		{
			name: "ingress and description", service: "ingress: INGRESS_TRAFFIC_INTERNAL_ONLY\ndescription: web", nextService: "ingress: INGRESS_TRAFFIC_ALL",
			edit: func(s *runpb.Service) { s.Ingress = runpb.IngressTraffic_INGRESS_TRAFFIC_ALL }, wantPath: "ingress",
		},
		{
			name:         "resources: startupCpuBoost and cpuIdle",
			containers:   "- {name: app, image: gcr.io/p/web:v1, ports: [{containerPort: 8080}], resources: {cpuIdle: true, startupCpuBoost: true, limits: {cpu: '2', memory: 1Gi}}}",
			nextTemplate: "timeout: 30s",
			edit:         func(s *runpb.Service) { s.Template.Containers[0].Resources.StartupCpuBoost = false }, wantPath: "template.containers[app].resources.startupCpuBoost",
		},
		{
			name:         "template settings: vpcAccess, executionEnvironment",
			template:     "vpcAccess: {connector: projects/proj/locations/asia-northeast1/connectors/c1, egress: PRIVATE_RANGES_ONLY}\n  executionEnvironment: EXECUTION_ENVIRONMENT_GEN2",
			nextTemplate: "vpcAccess: {connector: projects/proj/locations/asia-northeast1/connectors/c2, egress: PRIVATE_RANGES_ONLY}\n  executionEnvironment: EXECUTION_ENVIRONMENT_GEN2",
			edit: func(s *runpb.Service) {
				s.Template.ExecutionEnvironment = runpb.ExecutionEnvironment_EXECUTION_ENVIRONMENT_GEN1
			}, wantPath: "template.executionEnvironment",
		},
		{
			name:         "containers: env, command, args, workingDir",
			containers:   "- {name: app, image: gcr.io/p/web:v1, ports: [{containerPort: 8080}], env: [{name: MODE, value: a}], command: [/app], args: [--x], workingDir: /srv}",
			nextTemplate: "timeout: 30s",
			edit:         func(s *runpb.Service) { s.Template.Containers[0].WorkingDir = "/tmp" }, wantPath: "template.containers[app].workingDir",
		},
		{
			name: "launchStage and binaryAuthorization", service: "launchStage: BETA\nbinaryAuthorization: {useDefault: true}", nextService: "launchStage: GA\nbinaryAuthorization: {useDefault: true}",
			edit: func(s *runpb.Service) { s.LaunchStage = api.LaunchStage_ALPHA }, wantPath: "launchStage",
		},
		{
			name:         "baseImageUri (automatic base image updates)",
			containers:   "- {name: app, image: gcr.io/p/web:v1, ports: [{containerPort: 8080}], baseImageUri: us-central1-docker.pkg.dev/serverless-runtimes/google-22/runtimes/nodejs22}",
			nextTemplate: "timeout: 30s",
			edit: func(s *runpb.Service) {
				s.Template.Containers[0].BaseImageUri = "us-central1-docker.pkg.dev/serverless-runtimes/google-22/runtimes/nodejs20"
			}, wantPath: "template.containers[app].baseImageUri",
		},
		{
			name:         "encryptionKey",
			template:     "encryptionKey: projects/proj/locations/asia-northeast1/keyRings/r/cryptoKeys/k1",
			nextTemplate: "encryptionKey: projects/proj/locations/asia-northeast1/keyRings/r/cryptoKeys/k2",
			edit: func(s *runpb.Service) {
				s.Template.EncryptionKey = "projects/proj/locations/asia-northeast1/keyRings/r/cryptoKeys/k3"
			}, wantPath: "template.encryptionKey",
		},
		{
			name: "functionalType and sshEnabled", service: "functionalType: FUNCTIONAL_TYPE_MCP_SERVER\nsshEnabled: true", nextService: "functionalType: FUNCTIONAL_TYPE_MCP_SERVER\nsshEnabled: false",
			edit: func(s *runpb.Service) { s.SshEnabled = proto.Bool(false) }, wantPath: "sshEnabled",
		},
		{
			name: "template client and clientVersion", template: "client: cloud-console\n  clientVersion: '1'", nextTemplate: "client: cloud-console\n  clientVersion: '2'",
			edit: func(s *runpb.Service) { s.Template.ClientVersion = "3" }, wantPath: "template.clientVersion",
		},
		{
			name: "revision scaling: cpuUtilization, concurrencyUtilization", template: "scaling: {cpuUtilization: 0.6, concurrencyUtilization: 0.7}", nextTemplate: "scaling: {cpuUtilization: 0.8}",
			edit: func(s *runpb.Service) { s.Template.Scaling.CpuUtilization = proto.Float32(0.9) }, wantPath: "template.scaling.cpuUtilization",
		},
		{
			name:         "workloadIdentityConfig and ambientNetworking",
			template:     "workloadIdentityConfig: {identity: run@proj.iam.gserviceaccount.com, identityType: IDENTITY_TYPE_SERVICE_ACCOUNT}\n  ambientNetworking: {enabled: true, ambientScope: AMBIENT_SCOPE_REGIONAL}",
			nextTemplate: "ambientNetworking: {enabled: true, ambientScope: AMBIENT_SCOPE_GLOBAL}",
			edit: func(s *runpb.Service) {
				s.Template.AmbientNetworking.AmbientScope = runpb.AmbientScope_AMBIENT_SCOPE_GLOBAL
			}, wantPath: "template.ambientNetworking.ambientScope",
		},
		{
			name:         "containers: sandboxLauncher",
			containers:   "- {name: app, image: gcr.io/p/web:v1, ports: [{containerPort: 8080}], sandboxLauncher: true}",
			nextTemplate: "timeout: 30s",
			edit:         func(s *runpb.Service) { s.Template.Containers[0].SandboxLauncher = proto.Bool(false) }, wantPath: "template.containers[app].sandboxLauncher",
		},
		{
			name: "template settings: timeout, concurrency, service account", template: "timeout: 60s\n  maxInstanceRequestConcurrency: 40\n  serviceAccount: run@proj.iam.gserviceaccount.com",
			nextTemplate: "timeout: 30s",
			edit:         func(s *runpb.Service) { s.Template.Timeout = durationpb.New(90e9) }, wantPath: "template.timeout",
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := fakerun.NewServer()
			require.NoError(t, err)
			t.Cleanup(func() { _ = f.Close() })
			r := deployment.NewStageRunner(t, f)
			registry := provider.NewRegistry()
			t.Cleanup(func() { _ = registry.Close() })
			syncState := liveSyncState(t, r, registry)
			name := naming.ServiceName("proj", "asia-northeast1", "web")
			first := surfaceManifest(tc.service, tc.template, tc.containers)

			r.Deploy("1111111aaaa", deployment.QuickSyncApp, first)
			status, log := r.Run(deployment.StageCloudRunSync, "", true)
			require.Equal(t, sdk.StageStatusSuccess, status, log)
			got := syncState()
			require.Equal(t, sdk.ApplicationSyncStateSynced, got.Status, got.Reason)
			before, err := f.Service(name)
			require.NoError(t, err)

			r.Deploy("2222222bbbb", deployment.QuickSyncApp, surfaceManifest(tc.nextService, tc.nextTemplate, tc.containers))
			status, log = r.Run(deployment.StageCloudRunSync, "", true)
			require.Equal(t, sdk.StageStatusSuccess, status, log)
			changed, err := f.Service(name)
			require.NoError(t, err)
			require.False(t, proto.Equal(diff.View(before), diff.View(changed)), "the second commit changes the service")
			status, log = r.Run(deployment.StageCloudRunRollback, "", false)
			require.Equal(t, sdk.StageStatusSuccess, status, log)
			after, err := f.Service(name)
			require.NoError(t, err)
			assert.Empty(t, diff.Compare(diff.View(before), after).Differences, "the rollback restores the service exactly")
			assert.True(t, proto.Equal(diff.View(before), diff.View(after)), "the rollback restores the service exactly:\nbefore %v\nafter  %v", diff.View(before), diff.View(after))

			r.Deploy("1111111aaaa", deployment.QuickSyncApp, first)
			got = syncState()
			require.Equal(t, sdk.ApplicationSyncStateSynced, got.Status, got.Reason)

			client, err := registry.Client(t.Context(), "edit", config.DeployTargetConfig{Endpoint: f.Addr(), Insecure: true})
			require.NoError(t, err)
			edited := proto.Clone(after).(*runpb.Service)
			tc.edit(edited)
			edited.Template.Revision = ""
			_, err = client.ReplaceService(t.Context(), edited)
			require.NoError(t, err)
			got = syncState()
			assert.Equal(t, sdk.ApplicationSyncStateOutOfSync, got.Status, got.Reason)
			assert.Contains(t, got.ShortReason, "differs from git: "+tc.wantPath)
		})
	}
}

// surfaceManifest is the manifest of service "web" with service-level fields, revision template fields and
// containers (default: one container "app" with port 8080), each YAML at its level.
func surfaceManifest(service, template, containers string) string {
	if containers == "" {
		containers = "- {name: app, image: gcr.io/p/web:v1, ports: [{containerPort: 8080}]}"
	}
	var b strings.Builder
	b.WriteString("name: web\n")
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

// A multi-region service is deployed and rolled back through the deploy target's region as one deploy
// target; the log says what each other region runs.
func TestMultiRegionServiceDeploysAndRollsBackThroughTheTargetRegion(t *testing.T) {
	t.Parallel()
	f, err := fakerun.NewServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	r := deployment.NewStageRunner(t, f)
	name := naming.ServiceName("proj", "asia-northeast1", "web")
	manifest := func(image string) string {
		return "name: web\nmultiRegionSettings: {regions: [asia-northeast1, europe-west1]}\ntemplate:\n  containers:\n  - {image: " + image + ", ports: [{containerPort: 8080}]}\n"
	}

	r.Deploy("1111111aaaa", deployment.QuickSyncApp, manifest("gcr.io/p/web:v1"))
	status, log := r.Run(deployment.StageCloudRunSync, "", true)
	require.Equal(t, sdk.StageStatusSuccess, status, log)
	assert.Contains(t, log, "Region europe-west1 of the multi-region service: service web")
	before, err := f.Service(name)
	require.NoError(t, err)
	assert.Equal(t, []string{"asia-northeast1", "europe-west1"}, before.GetMultiRegionSettings().GetRegions())

	r.Deploy("2222222bbbb", deployment.QuickSyncApp, manifest("gcr.io/p/web:v2"))
	status, log = r.Run(deployment.StageCloudRunSync, "", true)
	require.Equal(t, sdk.StageStatusSuccess, status, log)
	status, log = r.Run(deployment.StageCloudRunRollback, "", false)
	require.Equal(t, sdk.StageStatusSuccess, status, log)
	assert.Contains(t, log, "Region europe-west1 of the multi-region service: service web")
	after, err := f.Service(name)
	require.NoError(t, err)
	assert.True(t, proto.Equal(diff.View(before), diff.View(after)), "the rollback restores the service exactly")
}

// A multi-region service whose regions leave out the deploy target's is refused before anything is written.
func TestMultiRegionServiceWithoutTheTargetRegionIsRefused(t *testing.T) {
	t.Parallel()
	f, err := fakerun.NewServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	r := deployment.NewStageRunner(t, f)
	r.Deploy("1111111aaaa", deployment.QuickSyncApp, "name: web\nmultiRegionSettings: {regions: [us-central1, europe-west1]}\ntemplate:\n  containers:\n  - {image: gcr.io/p/web:v1}\n")
	status, log := r.Run(deployment.StageCloudRunSync, "", true)
	require.Equal(t, sdk.StageStatusFailure, status, log)
	assert.Contains(t, log, `field "multiRegionSettings.regions" lists us-central1, europe-west1 without the deploy target's region "asia-northeast1"`)
	_, err = f.Service(naming.ServiceName("proj", "asia-northeast1", "web"))
	assert.Error(t, err, "nothing was written")
}
