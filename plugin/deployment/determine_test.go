package deployment

import (
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

func TestDetermineVersions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	service := `name: web
template:
  containers:
    - image: localhost:5000/team/web:v3
      ports:
        - containerPort: 8080
    - image: gcr.io/p/proxy@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    - image: busybox
`
	got, err := NewPlugin(provider.NewRegistry()).DetermineVersions(t.Context(), &config.PluginConfig{}, &sdk.DetermineVersionsInput[config.RawApplicationSpec]{
		Request: sdk.DetermineVersionsRequest[config.RawApplicationSpec]{DeploymentSource: e.source("1111111", quickSyncApp, service)},
	})
	require.NoError(t, err)
	assert.Equal(t, []sdk.ArtifactVersion{
		{Version: "v3", Name: "web", URL: "localhost:5000/team/web:v3"},
		{Version: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Name: "proxy", URL: "gcr.io/p/proxy@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{Version: "latest", Name: "busybox", URL: "busybox"},
	}, got.Versions)

	_, err = NewPlugin(provider.NewRegistry()).DetermineVersions(t.Context(), &config.PluginConfig{}, &sdk.DetermineVersionsInput[config.RawApplicationSpec]{
		Request: sdk.DetermineVersionsRequest[config.RawApplicationSpec]{DeploymentSource: e.source("1111111", quickSyncApp, "name: web\n")},
	})
	require.ErrorContains(t, err, "service.yaml")
}

func TestDetermineStrategy(t *testing.T) {
	t.Parallel()
	v1 := serviceYAML("gcr.io/p/web:v1")
	testcases := []struct {
		name        string
		running     string
		target      string
		noRunning   bool
		want        sdk.SyncStrategy
		wantSummary string
	}{
		{name: "success: image change uses the pipeline", running: v1, target: serviceYAML("gcr.io/p/web:v2"), want: sdk.SyncStrategyPipelineSync, wantSummary: "image changes from gcr.io/p/web:v1 to gcr.io/p/web:v2"},
		{name: "success: other template change uses the pipeline", running: v1, target: v1 + "    - image: gcr.io/p/sidecar:v1\n", want: sdk.SyncStrategyPipelineSync, wantSummary: "image changes"},
		{name: "success: env change uses the pipeline", running: v1, target: v1[:len(v1)-1] + "\n      env:\n        - name: A\n          value: b\n", want: sdk.SyncStrategyPipelineSync, wantSummary: "revision template changes (same image"},
		{name: "success: service-level change only is a quick sync", running: v1, target: "labels:\n  team: web\n" + v1, want: sdk.SyncStrategyQuickSync, wantSummary: "revision template is unchanged"},
		{
			name:        "success: a manifest with a full service name works without a deploy target",
			running:     "name: projects/p1/locations/us-central1/services/web\n" + v1[len("name: web\n"):],
			target:      "name: projects/p1/locations/us-central1/services/web\nlabels:\n  a: b\n" + v1[len("name: web\n"):],
			want:        sdk.SyncStrategyQuickSync,
			wantSummary: "unchanged",
		},
		{name: "success: no running deployment uses the pipeline", noRunning: true, target: v1, want: sdk.SyncStrategyPipelineSync, wantSummary: "no running deployment"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			req := sdk.DetermineStrategyRequest[config.RawApplicationSpec]{
				TargetDeploymentSource: e.source("2222222", canaryApp, tc.target),
				Deployment:             sdk.Deployment{ApplicationID: "app-1", PipedID: "piped-1"},
			}
			if !tc.noRunning {
				req.RunningDeploymentSource = e.source("1111111", canaryApp, tc.running)
			}
			got, err := NewPlugin(provider.NewRegistry()).DetermineStrategy(t.Context(), &config.PluginConfig{}, &sdk.DetermineStrategyInput[config.RawApplicationSpec]{Request: req})
			require.NoError(t, err)
			require.NotNil(t, got)
			assert.Equal(t, tc.want, got.Strategy)
			assert.Contains(t, got.Summary, tc.wantSummary)
		})
	}
}
