package diff

import (
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"
)

// TestCompareEveryField compares, field by field, a service in git with the same service as Cloud Run
// reports it (its defaults filled in, quantities and lists normalised, output-only fields set): no
// difference; and with the field changed out of band: the differences naming the field, in live state
// and in plan preview.
func TestCompareEveryField(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name string
		// git is the manifest; reported is the live service Cloud Run returns for it; changed is the live
		// service after an out-of-band change of the field, which differs at wantPath.
		git, reported, changed string
		wantPaths              []string
	}{
		{
			name:      "scaling: manual",
			git:       "scaling: {scalingMode: MANUAL, manualInstanceCount: 2}",
			reported:  "scaling: {scalingMode: MANUAL, manualInstanceCount: 2}",
			changed:   "scaling: {scalingMode: MANUAL, manualInstanceCount: 3}",
			wantPaths: []string{"scaling.manualInstanceCount"},
		},
		{
			name:      "scaling: automatic with min and max, 0 and unset alike",
			git:       "scaling: {scalingMode: AUTOMATIC, minInstanceCount: 1, maxInstanceCount: 0}",
			reported:  "scaling: {scalingMode: AUTOMATIC, minInstanceCount: 1}",
			changed:   "scaling: {scalingMode: AUTOMATIC, minInstanceCount: 2}",
			wantPaths: []string{"scaling.minInstanceCount"},
		},
		{
			name:      "scaling: mode changed",
			git:       "scaling: {scalingMode: AUTOMATIC}",
			reported:  "scaling: {scalingMode: AUTOMATIC}",
			changed:   "scaling: {scalingMode: MANUAL, manualInstanceCount: 1}",
			wantPaths: []string{"scaling.scalingMode"},
		},
		{
			name:      "revision scaling",
			git:       "template: {scaling: {minInstanceCount: 1, maxInstanceCount: 5}, containers: [{image: gcr.io/p/web:v1}]}",
			reported:  "template: {scaling: {minInstanceCount: 1, maxInstanceCount: 5}, containers: [{name: web-1, image: gcr.io/p/web:v1}]}",
			changed:   "template: {scaling: {minInstanceCount: 1, maxInstanceCount: 7}, containers: [{name: web-1, image: gcr.io/p/web:v1}]}",
			wantPaths: []string{"template.scaling.maxInstanceCount"},
		},
		{name: "invokerIamDisabled", git: "invokerIamDisabled: true", reported: "invokerIamDisabled: true", changed: "invokerIamDisabled: false", wantPaths: []string{"invokerIamDisabled"}},
		{name: "iapEnabled", git: "iapEnabled: true", reported: "iapEnabled: true", changed: "{}", wantPaths: []string{"iapEnabled"}},
		{name: "defaultUriDisabled", git: "defaultUriDisabled: true", reported: "{defaultUriDisabled: true, urls: []}", changed: "{urls: [https://web-123.a.run.app]}", wantPaths: []string{"defaultUriDisabled"}},
		{
			name:      "customAudiences",
			git:       "customAudiences: [https://web.example.com]",
			reported:  "customAudiences: [https://web.example.com]",
			changed:   "customAudiences: [https://web.example.com, https://other.example.com]",
			wantPaths: []string{"customAudiences"},
		},
		{
			name:      "GPU: accelerator, zonal redundancy and limits, with quantities written otherwise",
			git:       "template: {nodeSelector: {accelerator: nvidia-l4}, gpuZonalRedundancyDisabled: true, containers: [{image: gcr.io/p/web:v1, resources: {cpuIdle: false, limits: {cpu: '4', memory: 16Gi, nvidia.com/gpu: '1'}}}]}",
			reported:  "template: {nodeSelector: {accelerator: nvidia-l4}, gpuZonalRedundancyDisabled: true, containers: [{name: web-1, image: gcr.io/p/web:v1, resources: {cpuIdle: false, startupCpuBoost: true, limits: {cpu: 4000m, memory: 16384Mi, nvidia.com/gpu: '1'}}}]}",
			changed:   "template: {nodeSelector: {accelerator: nvidia-l4}, gpuZonalRedundancyDisabled: false, containers: [{name: web-1, image: gcr.io/p/web:v1, resources: {cpuIdle: false, limits: {cpu: '4', memory: 16Gi, nvidia.com/gpu: '1'}}}]}",
			wantPaths: []string{"template.gpuZonalRedundancyDisabled"},
		},
		{
			name:      "GPU: accelerator changed",
			git:       "template: {nodeSelector: {accelerator: nvidia-l4}, containers: [{image: gcr.io/p/web:v1}]}",
			reported:  "template: {nodeSelector: {accelerator: nvidia-l4}, containers: [{image: gcr.io/p/web:v1}]}",
			changed:   "template: {nodeSelector: {accelerator: nvidia-rtx-pro-6000}, containers: [{image: gcr.io/p/web:v1}]}",
			wantPaths: []string{"template.nodeSelector.accelerator"},
		},
		{
			name:      "serviceMesh",
			git:       "template: {serviceMesh: {mesh: projects/p/locations/global/meshes/m1}, containers: [{image: gcr.io/p/web:v1}]}",
			reported:  "template: {serviceMesh: {mesh: projects/p/locations/global/meshes/m1}, containers: [{image: gcr.io/p/web:v1}]}",
			changed:   "template: {serviceMesh: {mesh: projects/p/locations/global/meshes/m2}, containers: [{image: gcr.io/p/web:v1}]}",
			wantPaths: []string{"template.serviceMesh.mesh"},
		},
		{
			name: "sidecars: dependsOn and one ingress port, ports named by Cloud Run",
			git: `template: {containers: [
  {name: app, image: gcr.io/p/web:v1, ports: [{containerPort: 8080}], dependsOn: [proxy]},
  {name: proxy, image: gcr.io/p/proxy:v1}]}`,
			reported: `template: {containers: [
  {name: proxy, image: gcr.io/p/proxy:v1, resources: {limits: {cpu: 1000m, memory: 512Mi}}},
  {name: app, image: gcr.io/p/web:v1, ports: [{name: http1, containerPort: 8080}], dependsOn: [proxy], resources: {limits: {cpu: 1000m, memory: 512Mi}}}]}`,
			changed: `template: {containers: [
  {name: app, image: gcr.io/p/web:v1, ports: [{containerPort: 8080}], dependsOn: []},
  {name: proxy, image: gcr.io/p/proxy:v1}]}`,
			wantPaths: []string{"template.containers[app].dependsOn"},
		},
		{
			name:      "sidecars: a sidecar added out of band",
			git:       `template: {containers: [{name: app, image: gcr.io/p/web:v1}]}`,
			reported:  `template: {containers: [{name: app, image: gcr.io/p/web:v1}]}`,
			changed:   `template: {containers: [{name: app, image: gcr.io/p/web:v1}, {name: proxy, image: gcr.io/p/proxy:v1}]}`,
			wantPaths: []string{"template.containers[proxy]"},
		},
		{
			name: "volumes: secret, Cloud SQL, emptyDir, NFS, GCS, in another order, one volume at two paths",
			git: `template:
  volumes:
    - {name: secret, secret: {secret: db-pass, items: [{path: pass, version: latest}]}}
    - {name: cloudsql, cloudSqlInstance: {instances: ['p:r:db']}}
    - {name: scratch, emptyDir: {medium: MEMORY, sizeLimit: 1Gi}}
    - {name: nfs, nfs: {server: 10.0.0.2, path: /share}}
    - {name: gcs, gcs: {bucket: assets, readOnly: true, mountOptions: [implicit-dirs, uid=1000]}}
  containers:
    - name: app
      image: gcr.io/p/web:v1
      volumeMounts:
        - {name: secret, mountPath: /secrets}
        - {name: cloudsql, mountPath: /cloudsql}
        - {name: scratch, mountPath: /tmp/a}
        - {name: scratch, mountPath: /tmp/b}
        - {name: nfs, mountPath: /mnt/nfs}
        - {name: gcs, mountPath: /mnt/gcs}`,
			reported: `template:
  volumes:
    - {name: gcs, gcs: {bucket: assets, readOnly: true, mountOptions: [implicit-dirs, uid=1000]}}
    - {name: nfs, nfs: {server: 10.0.0.2, path: /share}}
    - {name: scratch, emptyDir: {medium: MEMORY, sizeLimit: 1024Mi}}
    - {name: cloudsql, cloudSqlInstance: {instances: ['p:r:db']}}
    - {name: secret, secret: {secret: db-pass, defaultMode: 292, items: [{path: pass, version: latest, mode: 292}]}}
  containers:
    - name: app
      image: gcr.io/p/web:v1
      volumeMounts:
        - {name: scratch, mountPath: /tmp/b}
        - {name: gcs, mountPath: /mnt/gcs}
        - {name: nfs, mountPath: /mnt/nfs}
        - {name: scratch, mountPath: /tmp/a}
        - {name: cloudsql, mountPath: /cloudsql}
        - {name: secret, mountPath: /secrets}`,
			changed: `template:
  volumes:
    - {name: gcs, gcs: {bucket: assets, readOnly: true, mountOptions: [implicit-dirs, uid=2000]}}
    - {name: nfs, nfs: {server: 10.0.0.2, path: /share}}
    - {name: scratch, emptyDir: {medium: MEMORY, sizeLimit: 1Gi}}
    - {name: cloudsql, cloudSqlInstance: {instances: ['p:r:db']}}
    - {name: secret, secret: {secret: db-pass, items: [{path: pass, version: latest}]}}
  containers:
    - name: app
      image: gcr.io/p/web:v1
      volumeMounts:
        - {name: secret, mountPath: /secrets}
        - {name: cloudsql, mountPath: /cloudsql}
        - {name: scratch, mountPath: /tmp/a}
        - {name: scratch, mountPath: /tmp/b}
        - {name: nfs, mountPath: /mnt/nfs}
        - {name: gcs, mountPath: /mnt/gcs}`,
			wantPaths: []string{"template.volumes[gcs].gcs.mountOptions"},
		},
		{
			name:      "volumes: emptyDir size changed",
			git:       "template: {volumes: [{name: scratch, emptyDir: {sizeLimit: 1Gi}}], containers: [{image: gcr.io/p/web:v1}]}",
			reported:  "template: {volumes: [{name: scratch, emptyDir: {medium: MEMORY, sizeLimit: 1024Mi}}], containers: [{image: gcr.io/p/web:v1}]}",
			changed:   "template: {volumes: [{name: scratch, emptyDir: {sizeLimit: 2Gi}}], containers: [{image: gcr.io/p/web:v1}]}",
			wantPaths: []string{"template.volumes[scratch].emptyDir.sizeLimit"},
		},
		{
			name:      "volumes: a mount moved",
			git:       "template: {volumes: [{name: v, emptyDir: {}}], containers: [{name: app, image: gcr.io/p/web:v1, volumeMounts: [{name: v, mountPath: /a}]}]}",
			reported:  "template: {volumes: [{name: v, emptyDir: {medium: MEMORY}}], containers: [{name: app, image: gcr.io/p/web:v1, volumeMounts: [{name: v, mountPath: /a}]}]}",
			changed:   "template: {volumes: [{name: v, emptyDir: {}}], containers: [{name: app, image: gcr.io/p/web:v1, volumeMounts: [{name: v, mountPath: /b}]}]}",
			wantPaths: []string{"template.containers[app].volumeMounts[/a]", "template.containers[app].volumeMounts[/b]"},
		},
		{
			name: "probes: startup, liveness, readiness, with Cloud Run's defaults filled in",
			git: `template: {containers: [{name: app, image: gcr.io/p/web:v1,
  startupProbe: {tcpSocket: {}},
  livenessProbe: {httpGet: {path: /healthz}},
  readinessProbe: {grpc: {}, periodSeconds: 5}}]}`,
			reported: `template: {containers: [{name: app, image: gcr.io/p/web:v1,
  startupProbe: {tcpSocket: {port: 8080}, timeoutSeconds: 240, periodSeconds: 240, failureThreshold: 1},
  livenessProbe: {httpGet: {path: /healthz, port: 8080}, timeoutSeconds: 1, periodSeconds: 10, failureThreshold: 3},
  readinessProbe: {grpc: {port: 8080}, periodSeconds: 5, timeoutSeconds: 1, failureThreshold: 3}}]}`,
			changed: `template: {containers: [{name: app, image: gcr.io/p/web:v1,
  startupProbe: {tcpSocket: {port: 8080}},
  livenessProbe: {httpGet: {path: /healthz, port: 8080}},
  readinessProbe: {grpc: {port: 8080}, periodSeconds: 10}}]}`,
			wantPaths: []string{"template.containers[app].readinessProbe.periodSeconds"},
		},
		{
			name:      "probes: a liveness probe removed out of band",
			git:       "template: {containers: [{name: app, image: gcr.io/p/web:v1, livenessProbe: {httpGet: {path: /healthz}}}]}",
			reported:  "template: {containers: [{name: app, image: gcr.io/p/web:v1, livenessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 10}}]}",
			changed:   "template: {containers: [{name: app, image: gcr.io/p/web:v1}]}",
			wantPaths: []string{"template.containers[app].livenessProbe"},
		},
		{
			name:      "sessionAffinity",
			git:       "template: {sessionAffinity: true, containers: [{image: gcr.io/p/web:v1}]}",
			reported:  "template: {sessionAffinity: true, containers: [{image: gcr.io/p/web:v1}]}",
			changed:   "template: {containers: [{image: gcr.io/p/web:v1}]}",
			wantPaths: []string{"template.sessionAffinity"},
		},
		{
			name:      "healthCheckDisabled",
			git:       "template: {healthCheckDisabled: true, containers: [{image: gcr.io/p/web:v1}]}",
			reported:  "template: {healthCheckDisabled: true, containers: [{image: gcr.io/p/web:v1}]}",
			changed:   "template: {containers: [{image: gcr.io/p/web:v1}]}",
			wantPaths: []string{"template.healthCheckDisabled"},
		},
		{
			name:      "multiRegionSettings: the multi-region ID Cloud Run generates is not a difference",
			git:       "multiRegionSettings: {regions: [us-central1, europe-west1]}",
			reported:  "multiRegionSettings: {regions: [us-central1, europe-west1], multiRegionId: mr-6f1c}",
			changed:   "multiRegionSettings: {regions: [us-central1], multiRegionId: mr-6f1c}",
			wantPaths: []string{"multiRegionSettings.regions"},
		},
		{
			name:      "buildConfig: the build name is output only",
			git:       "buildConfig: {sourceLocation: gs://b/fn.zip, functionTarget: handle, baseImage: nodejs22, enableAutomaticUpdates: true, environmentVariables: {A: b}}",
			reported:  "buildConfig: {name: projects/1/locations/l/builds/b-1, sourceLocation: gs://b/fn.zip, functionTarget: handle, baseImage: nodejs22, enableAutomaticUpdates: true, environmentVariables: {A: b}}",
			changed:   "buildConfig: {sourceLocation: gs://b/fn.zip, functionTarget: other, baseImage: nodejs22, enableAutomaticUpdates: true, environmentVariables: {A: b}}",
			wantPaths: []string{"buildConfig.functionTarget"},
		},
		{
			name:      "containers[].baseImageUri, with the build info Cloud Run reports",
			git:       "template: {containers: [{name: fn, image: gcr.io/p/fn:v1, baseImageUri: nodejs22}]}",
			reported:  "template: {containers: [{name: fn, image: gcr.io/p/fn:v1, baseImageUri: nodejs22, buildInfo: {functionTarget: handle, sourceLocation: gs://b/fn.zip}}]}",
			changed:   "template: {containers: [{name: fn, image: gcr.io/p/fn:v1, baseImageUri: nodejs20}]}",
			wantPaths: []string{"template.containers[fn].baseImageUri"},
		},
		{
			name:      "ingress, with the output-only fields of a live service",
			git:       "ingress: INGRESS_TRAFFIC_INTERNAL_ONLY",
			reported:  "{ingress: INGRESS_TRAFFIC_INTERNAL_ONLY, uri: https://web-1.a.run.app, satisfiesPzs: true, threatDetectionEnabled: true, reconciling: false, observedGeneration: 3, latestReadyRevision: web-1}",
			changed:   "ingress: INGRESS_TRAFFIC_ALL",
			wantPaths: []string{"ingress"},
		},
		{
			name:      "launchStage",
			git:       "launchStage: BETA",
			reported:  "launchStage: BETA",
			changed:   "launchStage: GA",
			wantPaths: []string{"launchStage"},
		},
		{
			name:      "binaryAuthorization",
			git:       "binaryAuthorization: {policy: projects/p/platforms/cloudRun/policies/strict, breakglassJustification: incident-42}",
			reported:  "binaryAuthorization: {policy: projects/p/platforms/cloudRun/policies/strict, breakglassJustification: incident-42}",
			changed:   "binaryAuthorization: {policy: projects/p/platforms/cloudRun/policies/default, breakglassJustification: incident-42}",
			wantPaths: []string{"binaryAuthorization.policy"},
		},
		{
			name:      "template: vpcAccess, executionEnvironment, timeout, concurrency, service account, encryption key",
			git:       "template: {vpcAccess: {networkInterfaces: [{network: default}], egress: PRIVATE_RANGES_ONLY}, executionEnvironment: EXECUTION_ENVIRONMENT_GEN2, timeout: 60s, maxInstanceRequestConcurrency: 40, serviceAccount: run@p.iam.gserviceaccount.com, encryptionKey: projects/p/locations/l/keyRings/r/cryptoKeys/k, containers: [{image: gcr.io/p/web:v1}]}",
			reported:  "template: {vpcAccess: {networkInterfaces: [{network: default, subnetwork: default}], egress: PRIVATE_RANGES_ONLY}, executionEnvironment: EXECUTION_ENVIRONMENT_GEN2, timeout: 60s, maxInstanceRequestConcurrency: 40, serviceAccount: run@p.iam.gserviceaccount.com, encryptionKey: projects/p/locations/l/keyRings/r/cryptoKeys/k, containers: [{image: gcr.io/p/web:v1}]}",
			changed:   "template: {vpcAccess: {networkInterfaces: [{network: default}], egress: ALL_TRAFFIC}, executionEnvironment: EXECUTION_ENVIRONMENT_GEN2, timeout: 60s, maxInstanceRequestConcurrency: 40, serviceAccount: run@p.iam.gserviceaccount.com, encryptionKey: projects/p/locations/l/keyRings/r/cryptoKeys/k, containers: [{image: gcr.io/p/web:v1}]}",
			wantPaths: []string{"template.vpcAccess.egress"},
		},
		{
			name:      "env: values and secrets in another order",
			git:       "template: {containers: [{name: app, image: gcr.io/p/web:v1, env: [{name: A, value: '1'}, {name: B, valueSource: {secretKeyRef: {secret: s, version: latest}}}]}]}",
			reported:  "template: {containers: [{name: app, image: gcr.io/p/web:v1, env: [{name: B, valueSource: {secretKeyRef: {secret: s, version: latest}}}, {name: A, value: '1'}]}]}",
			changed:   "template: {containers: [{name: app, image: gcr.io/p/web:v1, env: [{name: A, value: '2'}, {name: B, valueSource: {secretKeyRef: {secret: s, version: latest}}}]}]}",
			wantPaths: []string{"template.containers[app].env[A].value"},
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			git := surfaceService(t, tc.git)
			c := Compare(git, surfaceService(t, tc.reported))
			assert.Empty(t, c.Differences, "the service as Cloud Run reports it is in sync")

			c = Compare(git, surfaceService(t, tc.changed))
			assert.Equal(t, tc.wantPaths, c.Paths(), "the out-of-band change is what differs")

			preview := CompareManifests(git, surfaceService(t, tc.changed)).Paths()
			for _, p := range tc.wantPaths {
				assert.Contains(t, preview, p, "plan preview shows the change")
			}
		})
	}
}

// surfaceService decodes a service "web" with the fields of fields (YAML); a template it does not set
// is one container.
func surfaceService(t *testing.T, fields string) *runpb.Service {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(fields))
	require.NoError(t, err)
	svc := &runpb.Service{}
	require.NoError(t, protojson.Unmarshal(j, svc))
	svc.Name = "projects/p/locations/l/services/web"
	if svc.Template == nil {
		svc.Template = &runpb.RevisionTemplate{Containers: []*runpb.Container{{Image: "gcr.io/p/web:v1"}}}
	}
	return svc
}
