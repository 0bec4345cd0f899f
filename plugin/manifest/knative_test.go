package manifest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// TestDecodeKnative converts realistic Knative manifests and compares the result, field by field,
// with the v2 Service written by hand in the matching .want.yaml file.
func TestDecodeKnative(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name string
		file string
	}{
		{name: "success: PipeCD v0 example", file: "v0-canary"},
		{name: "success: gcloud export with server-filled fields and status", file: "gcloud-export"},
		{name: "success: secrets in env and volumes, with aliases", file: "secrets"},
		{name: "success: probes", file: "probes"},
		{name: "success: every supported annotation, volumes and traffic", file: "annotations"},
		{name: "success: the fields of 2024-26: build from source, mesh, regions, base images, GPU, manual scaling", file: "newer"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Load("testdata/knative", tc.file+".yaml")
			require.NoError(t, err)
			assert.Equal(t, FormatKnative, got.Format)
			want, err := Load("testdata/knative", tc.file+".want.yaml")
			require.NoError(t, err)
			require.Equal(t, FormatCloudRunV2, want.Format)
			if diff := cmp.Diff(want.Proto(), got.Proto(), protocmp.Transform()); diff != "" {
				t.Errorf("converted service differs from %s.want.yaml (-want +got):\n%s", tc.file, diff)
			}

			// The result is itself a valid v2 manifest: nothing output-only, nothing the strict v2 decoder rejects.
			data, err := protojson.Marshal(got.Proto())
			require.NoError(t, err)
			again, err := Decode("again.json", data)
			require.NoError(t, err)
			assert.True(t, proto.Equal(got.Proto(), again.Proto()))
		})
	}
}

func TestKnativeService(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		file    string
		project string
		region  string
		wantErr string
	}{
		{name: "success: project number and matching location label", file: "gcloud-export", project: "my-proj", region: "asia-northeast1"},
		{name: "success: project number given as the deploy target's project", file: "gcloud-export", project: "123456789012", region: "asia-northeast1"},
		{name: "success: project ID namespace, no location label", file: "secrets", project: "my-proj", region: "europe-west1"},
		{name: "success: project ID namespace and a deploy target with a project number", file: "secrets", project: "555", region: "europe-west1"},
		{name: "success: no namespace, no location", file: "v0-canary", project: "any", region: "any-region1"},
		{name: "fail: other region", file: "gcloud-export", project: "my-proj", region: "us-central1",
			wantErr: `manifest gcloud-export.yaml: field "metadata.labels[\"cloud.googleapis.com/location\"]" names region "asia-northeast1" but the deploy target uses region "us-central1"; remove it or use the deploy target's region`},
		{name: "fail: other project number", file: "gcloud-export", project: "999", region: "asia-northeast1",
			wantErr: `field "metadata.namespace" names project "123456789012" but the deploy target uses project "999"`},
		{name: "fail: other project ID", file: "secrets", project: "other-proj", region: "europe-west1",
			wantErr: `manifest secrets.yaml: field "metadata.namespace" names project "my-proj" but the deploy target uses project "other-proj"; remove it or use the deploy target's project`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := Load("testdata/knative", tc.file+".yaml")
			require.NoError(t, err)
			svc, err := m.Service(tc.project, tc.region)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "projects/"+tc.project+"/locations/"+tc.region+"/services/"+m.ServiceID(), svc.GetName())
		})
	}
}

// knative returns a Knative Service named "a" whose container and template spec get the given extra lines.
func knative(containerExtra, specExtra string) string {
	return `apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: a}
spec:
  template:
    spec:
      containers:
      - image: gcr.io/p/a:v1
` + indent(containerExtra, "        ") + indent(specExtra, "      ")
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	return prefix + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+prefix) + "\n"
}

func TestDecodeKnativeErrors(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		data    string
		wantErr string
	}{
		{name: "fail: unsupported container field", data: knative("securityContext: {runAsUser: 1000}", ""),
			wantErr: `field "spec.template.spec.containers[0].securityContext": cannot be converted: Cloud Run Admin API v2 has no equivalent for it here; convertible fields here are args, command, env, image, livenessProbe, name, ports, readinessProbe, resources, startupProbe, volumeMounts, workingDir`},
		{name: "fail: typo in a container field", data: knative("agrs: [x]", ""), wantErr: `field "spec.template.spec.containers[0].agrs": unknown field (did you mean "args"?)`},
		{name: "fail: env from a config map", data: knative("env: [{name: A, valueFrom: {configMapKeyRef: {name: c, key: k}}}]", ""),
			wantErr: `field "spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef": is required: Cloud Run takes environment values only from Secret Manager secrets`},
		{name: "fail: env with value and valueFrom", data: knative("env: [{name: A, value: b, valueFrom: {secretKeyRef: {name: s, key: latest}}}]", ""),
			wantErr: `field "spec.template.spec.containers[0].env[0]": has both value and valueFrom, allowed one of them`},
		{name: "fail: env without name", data: knative("env: [{value: b}]", ""), wantErr: `field "spec.template.spec.containers[0].env[0].name": is required`},
		{name: "fail: YAML boolean env value", data: knative("env: [{name: A, value: yes}]", ""),
			wantErr: `field "spec.template.spec.containers[0].env[0].value": true is invalid, allowed a string (quote the value in YAML)`},
		{name: "fail: resource limit as a list", data: knative("resources: {limits: {cpu: [1]}}", ""),
			wantErr: `field "spec.template.spec.containers[0].resources.limits[\"cpu\"]": [1] is invalid, allowed a quantity such as "1", "1000m" or "512Mi"`},
		{name: "fail: resource requests", data: knative("resources: {requests: {cpu: '1'}}", ""), wantErr: `field "spec.template.spec.containers[0].resources.requests": cannot be converted`},
		{name: "fail: UDP port", data: knative("ports: [{containerPort: 53, protocol: UDP}]", ""),
			wantErr: `field "spec.template.spec.containers[0].ports[0].protocol": "UDP" is invalid, allowed "TCP" (the only protocol of Cloud Run)`},
		{name: "fail: port out of range", data: knative("ports: [{containerPort: 70000}]", ""),
			wantErr: `field "spec.template.spec.containers[0].ports[0].containerPort": 70000 is invalid, allowed an integer from 1 to 65535`},
		{name: "fail: exec probe", data: knative("livenessProbe: {exec: {command: [true]}}", ""),
			wantErr: `field "spec.template.spec.containers[0].livenessProbe": needs exactly one of httpGet, tcpSocket or grpc, found 0`},
		{name: "fail: probe with two actions", data: knative("startupProbe: {tcpSocket: {port: 1}, grpc: {port: 2}}", ""), wantErr: `startupProbe": needs exactly one of httpGet, tcpSocket or grpc, found 2`},
		{name: "fail: probe success threshold", data: knative("readinessProbe: {successThreshold: 2, tcpSocket: {port: 1}}", ""),
			wantErr: `field "spec.template.spec.containers[0].readinessProbe.successThreshold": cannot be converted: Cloud Run Admin API v2 probes pass after one success`},
		{name: "fail: probe host", data: knative("livenessProbe: {httpGet: {host: example.com, path: /}}", ""), wantErr: `field "spec.template.spec.containers[0].livenessProbe.httpGet.host": cannot be converted`},
		{name: "fail: mount of a missing volume", data: knative("volumeMounts: [{name: v, mountPath: /v}]", ""),
			wantErr: `field "spec.template.spec.containers[0].volumeMounts[0].name": "v" is not a volume of spec.template.spec.volumes`},
		{name: "fail: read-only mount of a writable volume", data: knative("volumeMounts: [{name: v, mountPath: /v, readOnly: true}]", "volumes: [{name: v, nfs: {server: s, path: /p}}]"),
			wantErr: `field "spec.template.spec.containers[0].volumeMounts[0].readOnly": cannot be converted: Cloud Run Admin API v2 sets readOnly on the volume, not on the mount; set readOnly: true on volume "v"`},
		{name: "fail: config map volume", data: knative("", "volumes: [{name: v, configMap: {name: c}}]"),
			wantErr: `field "spec.template.spec.volumes[0]": needs exactly one of secret, emptyDir, nfs or csi, found 0`},
		{name: "fail: other CSI driver", data: knative("", "volumes: [{name: v, csi: {driver: x.example.com, volumeAttributes: {bucketName: b}}}]"),
			wantErr: `field "spec.template.spec.volumes[0].csi.driver": "x.example.com" is invalid, allowed "gcsfuse.run.googleapis.com" (a Cloud Storage bucket)`},
		{name: "fail: disk-backed empty dir", data: knative("", "volumes: [{name: v, emptyDir: {medium: Disk}}]"), wantErr: `field "spec.template.spec.volumes[0].emptyDir.medium": "Disk" is invalid, allowed "Memory"`},
		{name: "fail: image pull secrets", data: knative("", "imagePullSecrets: [{name: s}]"), wantErr: `field "spec.template.spec.imagePullSecrets": cannot be converted`},
		{name: "fail: timeout out of range", data: knative("", "timeoutSeconds: 0"), wantErr: `field "spec.template.spec.timeoutSeconds": 0 is invalid, allowed an integer from 1 to 3600`},
		{name: "fail: concurrency as a string", data: knative("", "containerConcurrency: '80'"), wantErr: `field "spec.template.spec.containerConcurrency": "80" is invalid, allowed an integer from 0 to 1000`},
		{name: "fail: missing image", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\nspec: {template: {spec: {containers: [{name: c}]}}}\n",
			wantErr: `field "spec.template.spec.containers[0].image": is required: every container needs an image`},
		{name: "fail: bad image", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\nspec: {template: {spec: {containers: [{image: 'Gcr.io/P/A'}]}}}\n",
			wantErr: `field "spec.template.spec.containers[0].image": image "Gcr.io/P/A" is not a valid reference`},
		{name: "fail: missing name", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nspec: {template: {spec: {containers: [{image: a}]}}}\n",
			wantErr: `field "metadata.name": is required, allowed a service ID such as "my-svc"`},
		{name: "fail: invalid name", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: My_App}\nspec: {template: {spec: {containers: [{image: a}]}}}\n",
			wantErr: `field "metadata.name": "My_App" is not a valid service name`},
		{name: "fail: generateName", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a, generateName: a-}\nspec: {template: {spec: {containers: [{image: a}]}}}\n",
			wantErr: `field "metadata.generateName": cannot be converted`},
		{name: "fail: unknown Cloud Run annotation", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a, annotations: {run.googleapis.com/function-target: f}}\nspec: {template: {spec: {containers: [{image: a}]}}}\n",
			wantErr: `field "metadata.annotations[\"run.googleapis.com/function-target\"]": cannot be converted: annotation "run.googleapis.com/function-target" has no Cloud Run Admin API v2 equivalent that this plugin knows of`},
		{name: "fail: bad ingress", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a, annotations: {run.googleapis.com/ingress: public}}\nspec: {template: {spec: {containers: [{image: a}]}}}\n",
			wantErr: `field "metadata.annotations[\"run.googleapis.com/ingress\"]": "public" is invalid, allowed one of "all", "internal", "internal-and-cloud-load-balancing"`},
		{name: "fail: unquoted scale", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\nspec: {template: {metadata: {annotations: {autoscaling.knative.dev/maxScale: 3}}, spec: {containers: [{image: a}]}}}\n",
			wantErr: `field "spec.template.metadata.annotations[\"autoscaling.knative.dev/maxScale\"]": 3 is invalid, allowed a string (quote the value in YAML)`},
		{name: "fail: scale not a number", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\nspec: {template: {metadata: {annotations: {autoscaling.knative.dev/minScale: few}}, spec: {containers: [{image: a}]}}}\n",
			wantErr: `field "spec.template.metadata.annotations[\"autoscaling.knative.dev/minScale\"]": "few" is invalid, allowed a whole number such as "3", quoted`},
		{name: "fail: knative autoscaling target", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\nspec: {template: {metadata: {annotations: {autoscaling.knative.dev/target: '70'}}, spec: {containers: [{image: a}]}}}\n",
			wantErr: `annotation "autoscaling.knative.dev/target" has no Cloud Run Admin API v2 equivalent`},
		{name: "fail: bad boolean annotation", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\nspec: {template: {metadata: {annotations: {run.googleapis.com/cpu-throttling: 'yes'}}, spec: {containers: [{image: a}]}}}\n",
			wantErr: `"run.googleapis.com/cpu-throttling\"]": "yes" is invalid, allowed "true" or "false"`},
		{name: "fail: malformed secret alias", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\nspec: {template: {metadata: {annotations: {run.googleapis.com/secrets: 'db:secrets/x'}}, spec: {containers: [{image: a}]}}}\n",
			wantErr: `"run.googleapis.com/secrets\"]": "db:secrets/x" is invalid, allowed comma-separated "ALIAS:projects/PROJECT/secrets/SECRET" entries`},
		{name: "fail: dependency on an unknown container", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\nspec: {template: {metadata: {annotations: {run.googleapis.com/container-dependencies: '{\"app\":[\"db\"]}'}}, spec: {containers: [{image: a}]}}}\n",
			wantErr: `names container "app", which spec.template.spec.containers does not have`},
		{name: "fail: cloud SQL volume name taken", data: knative("", "volumes: [{name: cloudsql, emptyDir: {}}]\n") + "    metadata: {annotations: {run.googleapis.com/cloudsql-instances: 'p:r:i'}}\n",
			wantErr: `it becomes a volume named "cloudsql", and spec.template.spec.volumes already has one`},
		{name: "fail: reserved label", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a, labels: {serving.knative.dev/route: r}}\nspec: {template: {spec: {containers: [{image: a}]}}}\n",
			wantErr: `field "metadata.labels[\"serving.knative.dev/route\"]": cannot be converted: Cloud Run Admin API v2 rejects labels in the namespaces run.googleapis.com`},
		{name: "fail: traffic to a configuration", data: knative("", "") + "  traffic: [{configurationName: a, percent: 100}]\n",
			wantErr: `field "spec.traffic[0]": needs revisionName or latestRevision: true`},
		{name: "fail: traffic with latest and a revision", data: knative("", "") + "  traffic: [{latestRevision: true, revisionName: a-1, percent: 100}]\n",
			wantErr: `field "spec.traffic[0]": has latestRevision: true and revisionName "a-1", allowed one of them`},
		{name: "fail: traffic percent out of range", data: knative("", "") + "  traffic: [{latestRevision: true, percent: 150}]\n",
			wantErr: `field "spec.traffic[0].percent": 150 is invalid, allowed an integer from 0 to 100`},
		{name: "fail: unknown top-level field", data: knative("", "") + "extra: 1\n", wantErr: `field "extra": cannot be converted`},
		{name: "fail: bad network interfaces", data: knative("", "") + "    metadata: {annotations: {run.googleapis.com/network-interfaces: '[{\"net\":\"x\"}]'}}\n",
			wantErr: `"run.googleapis.com/network-interfaces\"]": "[{\"net\":\"x\"}]" is invalid, allowed a JSON list such as`},
		{name: "fail: bad custom audiences", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a, annotations: {run.googleapis.com/custom-audiences: x}}\nspec: {template: {spec: {containers: [{image: a}]}}}\n",
			wantErr: `"run.googleapis.com/custom-audiences\"]": "x" is invalid, allowed a JSON list of strings`},
		{name: "fail: bad container dependencies", data: knative("", "") + "    metadata: {annotations: {run.googleapis.com/container-dependencies: 'app: [db]'}}\n",
			wantErr: `"run.googleapis.com/container-dependencies\"]": "app: [db]" is invalid, allowed a JSON object such as`},
		{name: "fail: empty cloud SQL instances", data: knative("", "") + "    metadata: {annotations: {run.googleapis.com/cloudsql-instances: ' , '}}\n",
			wantErr: `"run.googleapis.com/cloudsql-instances\"]": " , " is invalid, allowed comma-separated connection names`},
		{name: "fail: secret volume without a secret", data: knative("", "volumes: [{name: v, secret: {items: [{key: latest, path: f}]}}]"),
			wantErr: `field "spec.template.spec.volumes[0].secret.secretName": is required`},
		{name: "fail: volume without a name", data: knative("", "volumes: [{emptyDir: {}}]"), wantErr: `field "spec.template.spec.volumes[0].name": is required`},
		{name: "fail: bucket without a name", data: knative("", "volumes: [{name: v, csi: {driver: gcsfuse.run.googleapis.com}}]"),
			wantErr: `field "spec.template.spec.volumes[0].csi.volumeAttributes.bucketName": is required`},
		{name: "fail: command not a list", data: knative("command: /app", ""), wantErr: `field "spec.template.spec.containers[0].command": "/app" is invalid, allowed a list`},
		{name: "fail: number in args", data: knative("args: [--port, 8080]", ""), wantErr: `field "spec.template.spec.containers[0].args[1]": 8080 is invalid, allowed a string`},
		{name: "fail: labels not strings", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a, labels: {tier: 1}}\nspec: {template: {spec: {containers: [{image: a}]}}}\n",
			wantErr: `field "metadata.labels[\"tier\"]": 1 is invalid, allowed a string`},
		{name: "fail: latestRevision not a boolean", data: knative("", "") + "  traffic: [{latestRevision: 'yes', percent: 100}]\n",
			wantErr: `field "spec.traffic[0].latestRevision": "yes" is invalid, allowed true or false`},
		{name: "fail: base image of an unknown container", data: knative("", "") + "    metadata: {annotations: {run.googleapis.com/base-images: '{\"db\":\"us-docker.pkg.dev/b\"}'}}\n",
			wantErr: `"run.googleapis.com/base-images\"]": names container "db", which spec.template.spec.containers does not have`},
		{name: "fail: bad base images", data: knative("", "") + "    metadata: {annotations: {run.googleapis.com/base-images: 'nodejs22'}}\n",
			wantErr: `"run.googleapis.com/base-images\"]": "nodejs22" is invalid, allowed a JSON object such as`},
		{name: "fail: runtime class other than automatic base image updates", data: knative("", "runtimeClassName: gvisor"),
			wantErr: `field "spec.template.spec.runtimeClassName": "gvisor" cannot be converted, allowed "run.googleapis.com/linux-base-image-update"`},
		{name: "fail: empty regions", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a, annotations: {run.googleapis.com/regions: ','}}\nspec: {template: {spec: {containers: [{image: a}]}}}\n",
			wantErr: `"run.googleapis.com/regions\"]": "," is invalid, allowed comma-separated regions such as "us-central1,europe-west1"`},
		{name: "fail: bad build environment variables", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a, annotations: {run.googleapis.com/build-environment-variables: 'A=b'}}\nspec: {template: {spec: {containers: [{image: a}]}}}\n",
			wantErr: `"run.googleapis.com/build-environment-variables\"]": "A=b" is invalid, allowed a JSON object of strings`},
		{name: "fail: spec is a list", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\nspec: [a]\n", wantErr: `field "spec": ["a"] is invalid, allowed an object`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode("svc.yaml", []byte(tc.data))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Contains(t, err.Error(), "manifest svc.yaml: the Knative serving.knative.dev/v1 Service cannot be converted to a Cloud Run Admin API v2 Service")
		})
	}
}

// TestDecodeKnativeListsEveryProblem checks that one error names every field that cannot be converted.
func TestDecodeKnativeListsEveryProblem(t *testing.T) {
	t.Parallel()
	data := `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: a
  finalizers: [x]
  annotations:
    run.googleapis.com/gc-traffic-tags: 'true'
spec:
  template:
    spec:
      runtimeClassName: gvisor
      containers:
      - image: gcr.io/p/a:v1
        imagePullPolicy: Always
        envFrom: [{secretRef: {name: s}}]
        env: [{name: A, valueFrom: {secretKeyRef: {name: s, key: latest, optional: true}}}]
  traffic:
  - {configurationName: a, latestRevision: true, percent: 100}
`
	_, err := Decode("svc.yaml", []byte(data))
	require.Error(t, err)
	for _, field := range []string{
		`"metadata.finalizers"`,
		`"metadata.annotations[\"run.googleapis.com/gc-traffic-tags\"]"`,
		`"spec.template.spec.runtimeClassName"`,
		`"spec.template.spec.containers[0].imagePullPolicy"`,
		`"spec.template.spec.containers[0].envFrom"`,
		`"spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.optional"`,
		`"spec.traffic[0].configurationName"`,
	} {
		assert.Contains(t, err.Error(), "  - field "+field+": ")
	}
	assert.Contains(t, err.Error(), "(7 problems)")
}

// TestDecodeKnativeSmallCases converts small manifests that cover one conversion each.
func TestDecodeKnativeSmallCases(t *testing.T) {
	t.Parallel()
	const head = "apiVersion: serving.knative.dev/v1\nkind: Service\n"
	testcases := []struct {
		name    string
		knative string
		want    string
	}{
		{
			name:    "success: manual scaling",
			knative: "metadata: {name: a, annotations: {run.googleapis.com/scalingMode: manual, run.googleapis.com/manualInstanceCount: '3'}}\nspec: {template: {spec: {containers: [{image: a}]}}}\n",
			want:    "name: a\nscaling: {scalingMode: MANUAL, manualInstanceCount: 3}\ntemplate: {containers: [{image: a, resources: {cpuIdle: true}}]}\n",
		},
		{
			name:    "success: manual scaling to zero instances",
			knative: "metadata: {name: a, annotations: {run.googleapis.com/manualInstanceCount: '0'}}\nspec: {template: {spec: {containers: [{image: a}]}}}\n",
			want:    "name: a\nscaling: {manualInstanceCount: 0}\ntemplate: {containers: [{image: a, resources: {cpuIdle: true}}]}\n",
		},
		{
			name:    "success: binary authorization policy",
			knative: "metadata: {name: a, annotations: {run.googleapis.com/binary-authorization: projects/p/platforms/cloudRun/policies/strict}}\nspec: {template: {spec: {containers: [{image: a}]}}}\n",
			want:    "name: a\nbinaryAuthorization: {policy: projects/p/platforms/cloudRun/policies/strict}\ntemplate: {containers: [{image: a, resources: {cpuIdle: true}}]}\n",
		},
		{
			name:    "success: breakglass alone",
			knative: "metadata: {name: a, annotations: {run.googleapis.com/binary-authorization-breakglass: outage}}\nspec: {template: {spec: {containers: [{image: a}]}}}\n",
			want:    "name: a\nbinaryAuthorization: {breakglassJustification: outage}\ntemplate: {containers: [{image: a, resources: {cpuIdle: true}}]}\n",
		},
		{
			name:    "success: null fields are absent",
			knative: "metadata: {name: a, labels: null, annotations: null, creationTimestamp: null}\nspec: {template: {metadata: {creationTimestamp: null}, spec: {containers: [{image: a, env: null, resources: null}]}}, traffic: null}\nstatus: {}\n",
			want:    "name: a\ntemplate: {containers: [{image: a, resources: {cpuIdle: true}}]}\n",
		},
		{
			name:    "success: secret volume without items and an empty dir on disk by default",
			knative: "metadata: {name: a}\nspec: {template: {spec: {volumes: [{name: s, secret: {secretName: key}}, {name: e, emptyDir: {}}], containers: [{image: a, volumeMounts: [{name: s, mountPath: /s}, {name: e, mountPath: /e, readOnly: false}]}]}}}\n",
			want:    "name: a\ntemplate: {volumes: [{name: s, secret: {secret: key}}, {name: e, emptyDir: {}}], containers: [{image: a, resources: {cpuIdle: true}, volumeMounts: [{name: s, mountPath: /s}, {name: e, mountPath: /e}]}]}\n",
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode("svc.yaml", []byte(head+tc.knative))
			require.NoError(t, err)
			want, err := Decode("want.yaml", []byte(tc.want))
			require.NoError(t, err)
			if diff := cmp.Diff(want.Proto(), got.Proto(), protocmp.Transform()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
