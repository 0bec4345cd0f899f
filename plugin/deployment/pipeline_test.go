package deployment

import (
	"encoding/json"
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// percent10 is the options of a valid CLOUDRUN_PROMOTE.
var percent10 = []byte(`{"percent": 10}`)

func TestBuildPipelineStages(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		req     sdk.BuildPipelineSyncStagesRequest
		want    []sdk.PipelineStage
		wantErr bool
	}{
		{
			name: "success: canary with auto-rollback borrows the smallest index",
			req: sdk.BuildPipelineSyncStagesRequest{Rollback: true, Stages: []sdk.StageConfig{
				{Index: 0, Name: StageCloudRunSync}, {Index: 1, Name: StageCloudRunPromote, Config: percent10}, {Index: 3, Name: StageCloudRunPromote, Config: percent10}, {Index: 4, Name: StageCloudRunCanaryCleanup},
			}},
			want: []sdk.PipelineStage{
				{Index: 0, Name: StageCloudRunSync}, {Index: 1, Name: StageCloudRunPromote}, {Index: 3, Name: StageCloudRunPromote}, {Index: 4, Name: StageCloudRunCanaryCleanup},
				{Index: 0, Name: StageCloudRunRollback, Rollback: true},
			},
		},
		{
			name: "success: the smallest index wherever it comes in the request",
			req:  sdk.BuildPipelineSyncStagesRequest{Rollback: true, Stages: []sdk.StageConfig{{Index: 5, Name: StageCloudRunPromote, Config: percent10}, {Index: 2, Name: StageCloudRunSync}}},
			want: []sdk.PipelineStage{{Index: 5, Name: StageCloudRunPromote}, {Index: 2, Name: StageCloudRunSync}, {Index: 2, Name: StageCloudRunRollback, Rollback: true}},
		},
		{
			name: "success: stages after other plugins' stages",
			req:  sdk.BuildPipelineSyncStagesRequest{Rollback: true, Stages: []sdk.StageConfig{{Index: 2, Name: StageCloudRunSync}, {Index: 5, Name: StageCloudRunPromote, Config: percent10}}},
			want: []sdk.PipelineStage{{Index: 2, Name: StageCloudRunSync}, {Index: 5, Name: StageCloudRunPromote}, {Index: 2, Name: StageCloudRunRollback, Rollback: true}},
		},
		{
			name: "success: a job pipeline with auto-rollback",
			req:  sdk.BuildPipelineSyncStagesRequest{Rollback: true, Stages: []sdk.StageConfig{{Index: 0, Name: StageCloudRunJobSync}, {Index: 1, Name: StageCloudRunJobRun}}},
			want: []sdk.PipelineStage{{Index: 0, Name: StageCloudRunJobSync}, {Index: 1, Name: StageCloudRunJobRun}, {Index: 0, Name: StageCloudRunRollback, Rollback: true}},
		},
		{
			name: "success: no rollback without auto-rollback",
			req:  sdk.BuildPipelineSyncStagesRequest{Stages: []sdk.StageConfig{{Index: 0, Name: StageCloudRunSync}}},
			want: []sdk.PipelineStage{{Index: 0, Name: StageCloudRunSync}},
		},
		{
			name: "success: a listed CLOUDRUN_ROLLBACK configures the rollback stage",
			req: sdk.BuildPipelineSyncStagesRequest{Rollback: true, Stages: []sdk.StageConfig{
				{Index: 0, Name: StageCloudRunSync}, {Index: 1, Name: StageCloudRunPromote, Config: percent10}, {Index: 2, Name: StageCloudRunRollback},
			}},
			want: []sdk.PipelineStage{{Index: 0, Name: StageCloudRunSync}, {Index: 1, Name: StageCloudRunPromote}, {Index: 2, Name: StageCloudRunRollback, Rollback: true}},
		},
		{name: "fail: no stages", req: sdk.BuildPipelineSyncStagesRequest{Rollback: true}, wantErr: true},
		{name: "fail: only a rollback stage", req: sdk.BuildPipelineSyncStagesRequest{Rollback: true, Stages: []sdk.StageConfig{{Index: 0, Name: StageCloudRunRollback}}}, wantErr: true},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := NewPlugin(provider.NewRegistry()).BuildPipelineSyncStages(t.Context(), &config.PluginConfig{}, &sdk.BuildPipelineSyncStagesInput{Request: tc.req})
			if tc.wantErr {
				require.ErrorIs(t, err, errRollbackRequiresStages)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.Stages)
		})
	}
}

func TestBuildQuickSyncStages(t *testing.T) {
	t.Parallel()
	p := NewPlugin(provider.NewRegistry())
	got, err := p.BuildQuickSyncStages(t.Context(), &config.PluginConfig{}, &sdk.BuildQuickSyncStagesInput{Request: sdk.BuildQuickSyncStagesRequest{Rollback: true}})
	require.NoError(t, err)
	require.Len(t, got.Stages, 2)
	assert.Equal(t, StageCloudRunSync, got.Stages[0].Name)
	assert.False(t, got.Stages[0].Rollback)
	assert.Equal(t, StageCloudRunRollback, got.Stages[1].Name)
	assert.True(t, got.Stages[1].Rollback)
	assert.Equal(t, "true", got.Stages[0].Metadata[quickSyncMetadataKey])

	got, err = p.BuildQuickSyncStages(t.Context(), &config.PluginConfig{}, &sdk.BuildQuickSyncStagesInput{})
	require.NoError(t, err)
	require.Len(t, got.Stages, 1)
	assert.Equal(t, StageCloudRunSync, got.Stages[0].Name)
	assert.Equal(t, allStages, p.FetchDefinedStages())
}

func TestSync_QuickSyncIgnoresStageConfig(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))
	// A pipeline application deployed by quick sync: piped may pass the first stage's `with`.
	e.deploy("2222222bbbb", canaryApp, serviceYAML("gcr.io/p/web:v2"))
	revB := e.revisionFor()
	status, log := e.run(StageCloudRunSync, `{"skipTrafficShift": true, "bogus": 1}`, quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revB + ":100"}, trafficOf(t, f))
}

func TestExecuteStage_UnknownStageAndPanics(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))

	_, err := e.plugin.ExecuteStage(t.Context(), &config.PluginConfig{}, e.dts, &sdk.ExecuteStageInput[config.RawApplicationSpec]{
		Request: sdk.ExecuteStageRequest[config.RawApplicationSpec]{StageName: "K8S_SYNC"},
		Client:  sdk.NewClient(nil, "cloudrun", "", "", &recordLog{t: t}, nil),
		Logger:  zaptest.NewLogger(t),
	})
	require.ErrorContains(t, err, `unsupported stage "K8S_SYNC"`)

	// A panic (here: the SDK client cannot serve metadata without piped) becomes a failed stage.
	e.plugin.metadata = func(c *sdk.Client) metadataStore { return c }
	status, log := e.run(StageCloudRunSync, "", nil)
	assert.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), "Internal error in the Cloud Run plugin while running CLOUDRUN_SYNC")
}

func TestRawConfigsRoundTrip(t *testing.T) {
	t.Parallel()
	var dt config.RawDeployTargetConfig
	require.NoError(t, json.Unmarshal([]byte(`{"project": "p", "region": "us-central1"}`), &dt))
	b, err := json.Marshal(dt)
	require.NoError(t, err)
	assert.JSONEq(t, `{"project": "p", "region": "us-central1"}`, string(b))
	cfg, err := dt.Decode()
	require.NoError(t, err)
	assert.Equal(t, config.DeployTargetConfig{Project: "p", Region: "us-central1"}, cfg)

	var spec config.RawApplicationSpec
	require.NoError(t, json.Unmarshal([]byte(`{"input": {"serviceManifestFile": "svc.yaml"}}`), &spec))
	decoded, err := spec.Decode("app.pipecd.yaml")
	require.NoError(t, err)
	assert.Equal(t, "svc.yaml", decoded.Input.ServiceManifestFile)
	_, err = config.RawApplicationSpec{}.Decode("app.pipecd.yaml")
	require.NoError(t, err, "an empty section means the defaults")
	require.NoError(t, json.Unmarshal([]byte(`{"inputs": {}}`), &spec))
	_, err = spec.Decode("app.pipecd.yaml")
	require.ErrorContains(t, err, `app.pipecd.yaml: application spec.plugins.cloudrun: unknown field "inputs"`)
}
