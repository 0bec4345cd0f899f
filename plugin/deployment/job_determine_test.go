package deployment

import (
	"strings"
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// jobManifestV1 is a job whose manifest the strategy tests change.
const jobManifestV1 = `name: report
template:
  taskCount: 2
  template:
    containers:
      - image: gcr.io/p/report:v1
`

func TestDetermineStrategy_Jobs(t *testing.T) {
	t.Parallel()
	const jobAppConfig = "apiVersion: pipecd.dev/v1beta1\nkind: Application\nspec:\n  name: report\n  plugins:\n    cloudrun:\n      input:\n        jobManifestFile: service.yaml\n"
	testcases := []struct {
		name                  string
		runningApp, targetApp string
		running, target       string
		want                  sdk.SyncStrategy
		wantSummary           string
	}{
		{name: "success: job labels only is a quick sync", running: jobManifestV1, target: "labels:\n  team: data\n" + jobManifestV1,
			want: sdk.SyncStrategyQuickSync, wantSummary: "execution template is unchanged"},
		{name: "success: image change uses the pipeline", running: jobManifestV1, target: strings.Replace(jobManifestV1, ":v1", ":v2", 1),
			want: sdk.SyncStrategyPipelineSync, wantSummary: "job's image changes from gcr.io/p/report:v1 to gcr.io/p/report:v2"},
		{name: "success: task count change uses the pipeline", running: jobManifestV1, target: strings.Replace(jobManifestV1, "taskCount: 2", "taskCount: 5", 1),
			want: sdk.SyncStrategyPipelineSync, wantSummary: "execution template changes (same image"},
		{name: "success: a service becoming a job uses the pipeline", runningApp: quickSyncApp, running: serviceYAML("gcr.io/p/web:v1"), target: jobManifestV1,
			want: sdk.SyncStrategyPipelineSync, wantSummary: "changes from a service to a job"},
		{name: "success: a job becoming a service uses the pipeline", running: jobManifestV1, targetApp: quickSyncApp, target: serviceYAML("gcr.io/p/web:v1"),
			want: sdk.SyncStrategyPipelineSync, wantSummary: "changes from a job to a service"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			runningApp, targetApp := jobAppConfig, jobAppConfig
			if tc.runningApp != "" {
				runningApp = tc.runningApp
			}
			if tc.targetApp != "" {
				targetApp = tc.targetApp
			}
			req := sdk.DetermineStrategyRequest[config.RawApplicationSpec]{
				RunningDeploymentSource: e.source("1111111", runningApp, tc.running),
				TargetDeploymentSource:  e.source("2222222", targetApp, tc.target),
				Deployment:              sdk.Deployment{ApplicationID: "app-1", PipedID: "piped-1"},
			}
			got, err := NewPlugin(provider.NewRegistry()).DetermineStrategy(t.Context(), &config.PluginConfig{}, &sdk.DetermineStrategyInput[config.RawApplicationSpec]{Request: req})
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.Strategy)
			assert.Contains(t, got.Summary, tc.wantSummary)
		})
	}

	versions, err := NewPlugin(provider.NewRegistry()).DetermineVersions(t.Context(), &config.PluginConfig{}, &sdk.DetermineVersionsInput[config.RawApplicationSpec]{
		Request: sdk.DetermineVersionsRequest[config.RawApplicationSpec]{DeploymentSource: newEnv(t).source("1111111", jobAppConfig, jobManifestV1)},
	})
	require.NoError(t, err)
	assert.Equal(t, []sdk.ArtifactVersion{{Version: "v1", Name: "report", URL: "gcr.io/p/report:v1"}}, versions.Versions)
}
