package livestate

import (
	"os"
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/internal/fakeenv"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

func TestGetLivestateResources(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v1 := f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
	v2 := f.Deploy(fakeenv.ManifestV2, fakeenv.CommitV2, nil, func(_ *runpb.Service, rev string) []*runpb.TrafficTarget {
		return []*runpb.TrafficTarget{traffic.Revision(v1, 90, ""), traffic.Revision(rev, 10, "canary")}
	})

	resp := f.livestate(fakeenv.ManifestSource(t, fakeenv.CommitV2, fakeenv.ManifestV2))
	require.Len(t, resp.LiveState.Resources, 3)

	svc := resourceByName(t, resp, "hello")
	serviceName := naming.ServiceName(fakeenv.Project, fakeenv.Region, "hello")
	assert.Equal(t, serviceName, svc.ID)
	assert.Equal(t, ResourceTypeService, svc.ResourceType)
	assert.Empty(t, svc.ParentIDs)
	assert.Equal(t, "dt1", svc.DeployTarget)
	assert.Equal(t, sdk.ResourceHealthStateHealthy, svc.HealthStatus)
	assert.Contains(t, svc.HealthDescription, "Ready; traffic: "+v1+" 90%, "+v2+" 10% (tag canary)")
	assert.False(t, svc.CreatedAt.IsZero())

	old := resourceByName(t, resp, v1)
	assert.Equal(t, ResourceTypeRevision, old.ResourceType)
	assert.Equal(t, []string{serviceName}, old.ParentIDs)
	assert.Equal(t, naming.FullRevisionName(serviceName, v1), old.ID)
	assert.Equal(t, sdk.ResourceHealthStateHealthy, old.HealthStatus)
	assert.Equal(t, "90% of the traffic, image gcr.io/proj/hello:v1", old.HealthDescription)

	canary := resourceByName(t, resp, v2)
	assert.Equal(t, "10% of the traffic, tag canary, image gcr.io/proj/hello:v2", canary.HealthDescription)
	assert.Equal(t, "canary", canary.ResourceMetadata["tags"])
	assert.Equal(t, "gcr.io/proj/hello:v2", canary.ResourceMetadata["image"])
}

func TestGetLivestateOnlyServingOrTaggedRevisions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v1 := f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
	v2 := f.Deploy(fakeenv.ManifestV2, fakeenv.CommitV2, nil, nil)
	v3 := f.Deploy(fakeenv.ManifestV2, fakeenv.CommitV3, func(s *runpb.Service) { s.Template.Containers[0].Image = "gcr.io/proj/hello:v3" }, nil)
	f.SetTraffic(traffic.Revision(v3, 100, ""), traffic.Revision(v1, 0, "old"))

	resp := f.livestate(fakeenv.ManifestSource(t, fakeenv.CommitV3, fakeenv.ManifestV2))
	var names []string
	for _, r := range resp.LiveState.Resources {
		names = append(names, r.Name)
	}
	assert.ElementsMatch(t, []string{"hello", v1, v3}, names, "revision %s serves no traffic and has no tag", v2)
	assert.Equal(t, "0% of the traffic, tag old, image gcr.io/proj/hello:v1", resourceByName(t, resp, v1).HealthDescription)
}

func TestGetLivestateUnhealthyRevision(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v1 := f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
	require.NoError(t, f.Server.SetRevisionReady(v1, false))

	resp := f.livestate(fakeenv.ManifestSource(t, fakeenv.CommitV1, fakeenv.ManifestV1))
	rev := resourceByName(t, resp, v1)
	assert.Equal(t, sdk.ResourceHealthStateUnhealthy, rev.HealthStatus)
	assert.Contains(t, rev.HealthDescription, "100% of the traffic, image gcr.io/proj/hello:v1; The user-provided container failed to start")
}

func TestGetLivestateSyncState(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name string
		// arrange builds the live state and returns the git fakeenv.Source to compare with.
		arrange    func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec]
		want       sdk.ApplicationSyncStatus
		wantShort  string
		wantReason []string
	}{
		{
			name: "success: synced after a deployment",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV1, fakeenv.ManifestV1)
			},
			want:      sdk.ApplicationSyncStateSynced,
			wantShort: "runs git's revision hello-1111111-",
		},
		{
			name: "success: a later commit that does not change the manifest is still in sync",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, fakeenv.ManifestV1)
			},
			want:      sdk.ApplicationSyncStateSynced,
			wantShort: "Service hello runs git's revision hello-1111111-",
		},
		{
			// pipecd#4790: a boolean-looking environment value must not be reported as drift.
			name: "success: boolean and numeric environment values are no drift",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				m := fakeenv.ManifestV1 + "        - name: DEBUG\n          value: \"true\"\n        - name: CACHE\n          value: \"false\"\n        - name: WORKERS\n          value: \"4\"\n"
				f.Deploy(m, fakeenv.CommitV1, nil, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV1, m)
			},
			want:      sdk.ApplicationSyncStateSynced,
			wantShort: "Service hello runs git's revision hello-1111111-",
		},
		{
			// pipecd#4790 with the Knative manifest of PipeCD v0: quoted boolean values stay strings.
			name: "success: Knative manifest with boolean environment values is no drift",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				f.Deploy(knativeManifest, fakeenv.CommitV1, nil, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV1, knativeManifest)
			},
			want:      sdk.ApplicationSyncStateSynced,
			wantShort: "Service hello runs git's revision hello-1111111-",
		},
		{
			name: "success: gcloud export of the live service in git is no drift",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				data, err := os.ReadFile("../manifest/testdata/knative/gcloud-export.yaml")
				require.NoError(t, err)
				f.Deploy(string(data), fakeenv.CommitV1, nil, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV1, string(data))
			},
			want:      sdk.ApplicationSyncStateSynced,
			wantShort: "Service hello runs git's revision hello-1111111-",
		},
		{
			name: "fail: Knative manifest, environment value changed out of band",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				f.Deploy(knativeManifest, fakeenv.CommitV1, func(s *runpb.Service) {
					s.Template.Containers[0].Env[1].Values = &runpb.EnvVar_Value{Value: "true"}
				}, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV1, knativeManifest)
			},
			want:       sdk.ApplicationSyncStateOutOfSync,
			wantShort:  "Service hello differs from git: template.containers[app].env[DEBUG].value",
			wantReason: []string{`template.containers[app].env[DEBUG].value: git "false", live "true"`},
		},
		{
			name: "success: defaults that Cloud Run fills in are no drift",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, func(s *runpb.Service) {
					tpl := s.Template
					tpl.Timeout = durationpb.New(300e9)
					tpl.ServiceAccount = "123-compute@developer.gserviceaccount.com"
					tpl.MaxInstanceRequestConcurrency = 80
					tpl.Scaling.MinInstanceCount = 0
					c := tpl.Containers[0]
					c.Ports = []*runpb.ContainerPort{{Name: "http1", ContainerPort: 8080}}
					c.Resources = &runpb.ResourceRequirements{Limits: map[string]string{"cpu": "1000m", "memory": "512Mi"}, CpuIdle: true}
					c.StartupProbe = &runpb.Probe{TimeoutSeconds: 240, PeriodSeconds: 240, FailureThreshold: 1,
						ProbeType: &runpb.Probe_TcpSocket{TcpSocket: &runpb.TCPSocketAction{Port: 8080}}}
					s.Client, s.ClientVersion = "gcloud", "500.0.0"
				}, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV1, fakeenv.ManifestV1)
			},
			want:      sdk.ApplicationSyncStateSynced,
			wantShort: "Service hello runs git's revision hello-1111111-",
		},
		{
			name: "success: service created outside PipeCD with the same manifest",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				m, err := manifest.Decode("service.yaml", []byte(fakeenv.ManifestV1))
				require.NoError(t, err)
				svc, err := m.Service(fakeenv.Project, fakeenv.Region)
				require.NoError(t, err)
				_, err = f.Client.CreateService(t.Context(), svc)
				require.NoError(t, err)
				return fakeenv.ManifestSource(t, fakeenv.CommitV1, fakeenv.ManifestV1)
			},
			want:      sdk.ApplicationSyncStateSynced,
			wantShort: "runs git's revision hello-00001-",
		},
		{
			name: "success: a canary of the compared commit is expected",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				v1 := f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
				f.Deploy(fakeenv.ManifestV2, fakeenv.CommitV2, nil, func(_ *runpb.Service, rev string) []*runpb.TrafficTarget {
					return []*runpb.TrafficTarget{traffic.Revision(v1, 80, ""), traffic.Revision(rev, 20, "")}
				})
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, fakeenv.ManifestV2)
			},
			want:       sdk.ApplicationSyncStateSynced,
			wantShort:  "Deployment of commit 2222222 in progress or stopped",
			wantReason: []string{"hello-1111111-", " 80%", " 20%"},
		},
		{
			name: "success: a canary revision with no traffic yet is expected",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				v1 := f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
				f.Deploy(fakeenv.ManifestV2, fakeenv.CommitV2, nil, func(_ *runpb.Service, rev string) []*runpb.TrafficTarget {
					return []*runpb.TrafficTarget{traffic.Revision(v1, 100, ""), traffic.Revision(rev, 0, "preview-2222222")}
				})
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, fakeenv.ManifestV2)
			},
			want:      sdk.ApplicationSyncStateSynced,
			wantShort: "serves 0% of the traffic",
		},
		{
			name: "fail: traffic moved back out of band after the deployment of another commit",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				v1 := f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
				f.Deploy(fakeenv.ManifestV2, fakeenv.CommitV2, nil, nil)
				f.SetTraffic(traffic.Revision(v1, 100, ""))
				return fakeenv.ManifestSource(t, fakeenv.CommitV3, fakeenv.ManifestV2)
			},
			want:       sdk.ApplicationSyncStateOutOfSync,
			wantShort:  "Traffic of service hello was changed outside PipeCD: git's revision hello-2222222-",
			wantReason: []string{"serves 0% of the traffic", "Deploy the application to route all the traffic"},
		},
		{
			name: "fail: image changed out of band",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				f.Deploy(fakeenv.ManifestV2, fakeenv.CommitV1, nil, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV1, fakeenv.ManifestV1)
			},
			want:      sdk.ApplicationSyncStateOutOfSync,
			wantShort: "Service hello differs from git: template.containers[app].image",
			wantReason: []string{
				`template.containers[app].image: git "gcr.io/proj/hello:v1", live "gcr.io/proj/hello:v2"`,
				"--- live service hello\n+++ git 1111111\n",
				"@@ -6,7 +6,7 @@\n",
				"-    image: gcr.io/proj/hello:v2\n+    image: gcr.io/proj/hello:v1\n",
			},
		},
		{
			name: "fail: environment variable added and changed out of band",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, func(s *runpb.Service) {
					c := s.Template.Containers[0]
					c.Env[0].Values = &runpb.EnvVar_Value{Value: "hello"}
					c.Env = append(c.Env, &runpb.EnvVar{Name: "DEBUG", Values: &runpb.EnvVar_Value{Value: "true"}})
				}, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV1, fakeenv.ManifestV1)
			},
			want:      sdk.ApplicationSyncStateOutOfSync,
			wantShort: "Service hello differs from git: template.containers[app].env[GREETING].value, template.containers[app].env[DEBUG]",
			wantReason: []string{
				`template.containers[app].env[GREETING].value: git "hi", live "hello"`,
				`template.containers[app].env[DEBUG]: git (not set), live {"name":"DEBUG","value":"true"}`,
			},
		},
		{
			name: "fail: service settings changed out of band",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, func(s *runpb.Service) {
					s.Labels["team"] = "ops"
					s.Labels["cost-center"] = "42"
					s.Template.Scaling.MaxInstanceCount = 10
				}, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV1, fakeenv.ManifestV1)
			},
			want:      sdk.ApplicationSyncStateOutOfSync,
			wantShort: "Service hello differs from git: labels[cost-center], labels[team], template.scaling.maxInstanceCount",
			wantReason: []string{
				`labels[team]: git "web", live "ops"`,
				`template.scaling.maxInstanceCount: git 3, live 10`,
			},
		},
		{
			name: "fail: sidecar container added out of band",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, func(s *runpb.Service) {
					// With a sidecar, exactly one container declares the port Cloud Run sends requests to.
					s.Template.Containers[0].Ports = []*runpb.ContainerPort{{ContainerPort: 8080}}
					s.Template.Containers = append(s.Template.Containers, &runpb.Container{Name: "proxy", Image: "envoyproxy/envoy:v1"})
				}, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV1, fakeenv.ManifestV1)
			},
			want:      sdk.ApplicationSyncStateOutOfSync,
			wantShort: "template.containers[proxy]",
		},
		{
			name: "fail: service does not exist",
			arrange: func(t *testing.T, _ *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				return fakeenv.ManifestSource(t, fakeenv.CommitV1, fakeenv.ManifestV1)
			},
			want:       sdk.ApplicationSyncStateOutOfSync,
			wantShort:  "Service hello does not exist in project proj, region asia-northeast1",
			wantReason: []string{"Deploy the application to create it"},
		},
		{
			name: "fail: invalid manifest",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV1, "name: hello\ntemplate:\n  containers:\n    - image: gcr.io/proj/hello:v1\n      imagePullPolicy: Always\n")
			},
			want:       sdk.ApplicationSyncStateInvalidConfig,
			wantShort:  "Invalid configuration at commit 1111111",
			wantReason: []string{"manifest service.yaml", `unknown field "template.containers[0].imagePullPolicy"`},
		},
		{
			name: "fail: invalid plugin spec in app.pipecd.yaml",
			arrange: func(t *testing.T, f *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
				return fakeenv.Source(t, fakeenv.CommitV1, map[string]string{
					"service.yaml":    fakeenv.ManifestV1,
					"app.pipecd.yaml": strings.Replace(fakeenv.AppConfig, "serviceManifestFile:", "manifestFile:", 1),
				})
			},
			want:       sdk.ApplicationSyncStateInvalidConfig,
			wantShort:  "Invalid configuration at commit 1111111",
			wantReason: []string{`app.pipecd.yaml: application spec.plugins.cloudrun: unknown field "input.manifestFile"`},
		},
		{
			name: "fail: manifest file missing",
			arrange: func(t *testing.T, _ *fixture) sdk.DeploymentSource[config.RawApplicationSpec] {
				return fakeenv.Source(t, fakeenv.CommitV1, nil)
			},
			want:       sdk.ApplicationSyncStateInvalidConfig,
			wantShort:  "Invalid configuration at commit 1111111",
			wantReason: []string{"manifest service.yaml"},
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			src := tc.arrange(t, f)
			got := f.livestate(src).SyncState
			assert.Equal(t, tc.want, got.Status, "short reason: %s\nreason:\n%s", got.ShortReason, got.Reason)
			require.NotEmpty(t, tc.wantShort, "every case states its short reason")
			assert.Contains(t, got.ShortReason, tc.wantShort)
			for _, r := range tc.wantReason {
				assert.Contains(t, got.Reason, r)
			}
		})
	}
}

func TestGetLivestateInvalidDeployTarget(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
	bad := fakeenv.DeployTarget(t, "dt-bad", `{"project": "proj"}`)

	resp := f.livestate(fakeenv.ManifestSource(t, fakeenv.CommitV1, fakeenv.ManifestV1), f.Target, bad)
	assert.Equal(t, sdk.ApplicationSyncStateInvalidConfig, resp.SyncState.Status)
	assert.Equal(t, "Invalid configuration for deploy target dt-bad", resp.SyncState.ShortReason)
	assert.Contains(t, resp.SyncState.Reason, `deploy target dt-bad in piped.yaml: deploy target config: field "region": is required`)
	assert.Len(t, resp.LiveState.Resources, 2, "the valid deploy target is still reported")
}

func TestGetLivestateNoDeployTarget(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	resp, err := f.plugin.GetLivestate(t.Context(), nil, nil, &sdk.GetLivestateInput[config.RawApplicationSpec]{
		Request: sdk.GetLivestateRequest[config.RawApplicationSpec]{DeploymentSource: fakeenv.ManifestSource(t, fakeenv.CommitV1, fakeenv.ManifestV1)},
	})
	require.NoError(t, err)
	assert.Equal(t, sdk.ApplicationSyncStateInvalidConfig, resp.SyncState.Status)
	assert.Contains(t, resp.SyncState.ShortReason, "no deploy target")
}

func TestGetLivestateSeveralDeployTargets(t *testing.T) {
	t.Parallel()
	a, b := newFixture(t), newFixture(t)
	a.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
	b.Deploy(fakeenv.ManifestV2, fakeenv.CommitV1, nil, nil)
	dtB := fakeenv.DeployTarget(t, "dt2", `{"project": "proj", "region": "asia-northeast1", "endpoint": "`+b.Server.Addr()+`", "insecure": true}`)

	resp := a.livestate(fakeenv.ManifestSource(t, fakeenv.CommitV1, fakeenv.ManifestV1), a.Target, dtB)
	assert.Equal(t, sdk.ApplicationSyncStateOutOfSync, resp.SyncState.Status)
	assert.Contains(t, resp.SyncState.ShortReason, "template.containers[app].image")
	assert.Contains(t, resp.SyncState.Reason, "Deploy target dt2: service hello differs from git")
	assert.NotContains(t, resp.SyncState.Reason, "Deploy target dt1")
	targets := map[string]int{}
	for _, r := range resp.LiveState.Resources {
		targets[r.DeployTarget]++
	}
	assert.Equal(t, map[string]int{"dt1": 2, "dt2": 2}, targets)
}

func TestGetLivestateFailedRollout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fakerun.WithFailingImage("gcr.io/proj/hello:v2"))
	v1 := f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
	svc, v2 := fakeenv.Desired(t, fakeenv.ManifestV2, fakeenv.CommitV2, nil)
	live, err := f.Client.GetService(t.Context(), svc.GetName())
	require.NoError(t, err)
	svc.Etag = live.GetEtag()
	svc.Traffic = []*runpb.TrafficTarget{traffic.Revision(v1, 100, ""), traffic.Revision(v2, 0, "preview-2222222")}
	_, err = f.Client.ReplaceService(t.Context(), svc)
	require.Error(t, err, "the rollout of a failing image fails")

	resp := f.livestate(fakeenv.ManifestSource(t, fakeenv.CommitV2, fakeenv.ManifestV2))
	service := resourceByName(t, resp, "hello")
	assert.Equal(t, sdk.ResourceHealthStateUnhealthy, service.HealthStatus)
	assert.Contains(t, service.HealthDescription, "Not ready: ")
	failed := resourceByName(t, resp, v2)
	assert.Equal(t, sdk.ResourceHealthStateUnhealthy, failed.HealthStatus)
	assert.Contains(t, failed.HealthDescription, "requested in the traffic but not serving, tag preview-2222222, image gcr.io/proj/hello:v2; Image 'gcr.io/proj/hello:v2' not found")
	assert.Equal(t, sdk.ResourceHealthStateHealthy, resourceByName(t, resp, v1).HealthStatus)
}

// knativeManifest is a PipeCD v0 Knative manifest with boolean-looking environment values (pipecd#4790).
const knativeManifest = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
  labels:
    team: web
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/maxScale: '3'
    spec:
      containerConcurrency: 80
      containers:
      - name: app
        image: gcr.io/proj/hello:v1
        env:
        - name: FEATURE_X
          value: "true"
        - name: DEBUG
          value: "false"
`
