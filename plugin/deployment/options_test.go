package deployment

import (
	"errors"
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

func TestStageOptions_EveryStageIsChecked(t *testing.T) {
	t.Parallel()
	for _, stage := range allStages {
		assert.Contains(t, stageOptions, stage, "planning checks the options of %s", stage)
	}
}

func TestBuildPipelineSyncStages_RejectsABadOptionOfAnyStageBeforeAnythingRuns(t *testing.T) {
	t.Parallel()
	canary := func(last sdk.StageConfig) []sdk.StageConfig {
		return []sdk.StageConfig{
			{Index: 0, Name: StageCloudRunSync, Config: []byte(`{"skipTrafficShift": true}`)},
			{Index: 1, Name: StageCloudRunPromote, Config: []byte(`{"percent": 10}`)},
			{Index: 2, Name: "WAIT"}, // another plugin's stage: never sent to this plugin, only its index is skipped
			{Index: 3, Name: StageCloudRunPromote, Config: []byte(`{"percent": 50}`)},
			last,
		}
	}
	testcases := []struct {
		name    string
		stages  []sdk.StageConfig
		wantErr string
	}{
		{
			name:    "third PROMOTE percent out of range",
			stages:  canary(sdk.StageConfig{Index: 4, Name: StageCloudRunPromote, Config: []byte(`{"percent": 150}`)}),
			wantErr: `application config spec.pipeline.stages[4], CLOUDRUN_PROMOTE #3 of 3: CLOUDRUN_PROMOTE: field "percent": 150 is out of range, allowed 0-100`,
		},
		{
			name:    "ROLLBACK revision is a number",
			stages:  canary(sdk.StageConfig{Index: 4, Name: StageCloudRunRollback, Config: []byte(`{"revision": 5}`)}),
			wantErr: `application config spec.pipeline.stages[4], CLOUDRUN_ROLLBACK: CLOUDRUN_ROLLBACK: field "revision": 5 is not a string`,
		},
		{
			name:    "CLEANUP keepCount zero",
			stages:  canary(sdk.StageConfig{Index: 4, Name: StageCloudRunCanaryCleanup, Config: []byte(`{"keepCount": 0}`)}),
			wantErr: `application config spec.pipeline.stages[4], CLOUDRUN_CANARY_CLEANUP: CLOUDRUN_CANARY_CLEANUP: field "keepCount": 0 is out of range, allowed an integer >= 1`,
		},
		{
			name: "SYNC timeout not a duration",
			stages: []sdk.StageConfig{
				{Index: 0, Name: StageCloudRunSync, Config: []byte(`{"timeout": "soon"}`)},
				{Index: 1, Name: StageCloudRunPromote, Config: []byte(`{"percent": 100}`)},
			},
			wantErr: `application config spec.pipeline.stages[0], CLOUDRUN_SYNC: CLOUDRUN_SYNC: field "timeout": "soon" is not a duration`,
		},
		{
			name:    "stage this plugin does not execute",
			stages:  canary(sdk.StageConfig{Index: 4, Name: "CLOUDRUN_DELETE"}),
			wantErr: `application config spec.pipeline.stages[4]: unsupported stage "CLOUDRUN_DELETE"`,
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stages := make([]sdk.StageConfig, 0, len(tc.stages))
			for _, s := range tc.stages {
				if s.Name != "WAIT" {
					stages = append(stages, s)
				}
			}
			_, err := NewPlugin(provider.NewRegistry()).BuildPipelineSyncStages(t.Context(), &config.PluginConfig{},
				&sdk.BuildPipelineSyncStagesInput{Request: sdk.BuildPipelineSyncStagesRequest{Rollback: true, Stages: stages}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestRollback_BadOptionsStillRestoreTheRecordedState(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revA := quickSyncV1(t, e)

	e.deploy("2222222bbbb", pipelineWithRollback("web-x"), serviceYAML("gcr.io/p/web:v2"))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, `{"skipTrafficShift": true}`, nil)))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunPromote, `{"percent": 50}`, nil)))

	status, log := e.run(StageCloudRunRollback, `{"revision": 5}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), `Invalid stage options in app.pipecd.yaml spec.pipeline.stages[0]: CLOUDRUN_ROLLBACK: field "revision": 5 is not a string`)
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
	got, err := f.Service(serviceName())
	require.NoError(t, err)
	assert.Equal(t, revA, got.GetTemplate().GetRevision())
}

// Options that fail to decode when the stage runs are reported at the application config file piped read,
// app.pipecd.yaml when piped does not say.
func TestInvalidOptionsNameTheApplicationConfigFile(t *testing.T) {
	t.Parallel()
	for file, want := range map[string]string{"": "app.pipecd.yaml", "web.pipecd.yaml": "web.pipecd.yaml"} {
		log := &recordLog{t: t}
		input := &sdk.ExecuteStageInput[config.RawApplicationSpec]{Request: sdk.ExecuteStageRequest[config.RawApplicationSpec]{
			StageIndex:             3,
			TargetDeploymentSource: sdk.DeploymentSource[config.RawApplicationSpec]{ApplicationConfigFilename: file},
		}}
		logInvalidOptions(log, input, errors.New(`CLOUDRUN_PROMOTE: field "percent": 101 is out of range`))
		assert.Equal(t, "Invalid stage options in "+want+` spec.pipeline.stages[3]: CLOUDRUN_PROMOTE: field "percent": 101 is out of range`, log.firstError())
	}
}
