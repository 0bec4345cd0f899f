package piped

import (
	"context"
	"testing"
	"time"

	"github.com/pipe-cd/pipecd/pkg/app/pipedv1/plugin"
	config "github.com/pipe-cd/pipecd/pkg/configv1"
	"github.com/pipe-cd/pipecd/pkg/model"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/deployment"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateStageIndexes(t *testing.T) {
	t.Parallel()
	req := []*deployment.BuildPipelineSyncStagesRequest_StageConfig{{Name: "A", Index: 1}, {Name: "B", Index: 3}}
	testcases := []struct {
		name    string
		res     []*model.PipelineStage
		wantErr string
	}{
		{name: "success: rollback shares an index with a normal stage", res: []*model.PipelineStage{{Index: 1}, {Index: 3}, {Index: 1, Rollback: true}}},
		{name: "fail: duplicated normal index", res: []*model.PipelineStage{{Index: 1}, {Index: 1}}, wantErr: "stage index 1 (rollback=false) from plugin is duplicated"},
		{name: "fail: duplicated rollback index", res: []*model.PipelineStage{{Index: 1, Rollback: true}, {Index: 1, Rollback: true}}, wantErr: "duplicated"},
		{name: "fail: index not in the request", res: []*model.PipelineStage{{Index: 2}}, wantErr: "stage index 2 from plugin is not defined in the request"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := validateStageIndexes(req, tc.res)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}

// TestPlanRefusesAStageWithoutPlugin: like pipedv1, the stand-in does not plan a pipeline whose stage no
// installed plugin defines (here WAIT, with only the built-in WAIT_APPROVAL installed).
func TestPlanRefusesAStageWithoutPlugin(t *testing.T) {
	t.Parallel()
	b, _ := newTestBuiltin()
	registry, err := plugin.NewPluginRegistry(t.Context(), []plugin.Plugin{{Name: builtinPluginName, Cli: b}})
	require.NoError(t, err)
	rollback := true
	r := &Run{
		p:     &Piped{registry: registry},
		model: &model.Deployment{Id: "d", Trigger: &model.DeploymentTrigger{}},
		genericCfg: &config.GenericApplicationSpec{
			Planner:  config.DeploymentPlanner{AutoRollback: &rollback},
			Pipeline: &config.DeploymentPipeline{Stages: []config.PipelineStage{{Name: "WAIT_APPROVAL"}, {Name: "WAIT"}}},
		},
	}
	err = r.buildPlan(t.Context(), nil, nil)
	require.EqualError(t, err, "no plugin found for the stage WAIT")
	assert.Empty(t, r.model.Stages, "nothing is planned")
}

func newTestBuiltin() (*builtinStages, *controlPlane) {
	cp := newControlPlane()
	var idx int64
	b := &builtinStages{cp: cp, logf: func(d, s string, sev model.LogSeverity, format string, args ...any) {
		idx++
		cp.addBlocks(d, s, []*model.LogBlock{{Index: idx, Log: format, Severity: sev, CreatedAt: time.Now().Unix()}})
	}}
	return b, cp
}

func executeBuiltin(t *testing.T, ctx context.Context, b *builtinStages, name string, config string) model.StageStatus {
	t.Helper()
	res, err := b.ExecuteStage(ctx, &deployment.ExecuteStageRequest{Input: &deployment.ExecutePluginInput{
		Deployment:  &model.Deployment{Id: "d"},
		Stage:       &model.PipelineStage{Id: "s", Name: name},
		StageConfig: []byte(config),
	}})
	require.NoError(t, err)
	return res.Status
}

func TestBuiltinStages(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name   string
		stage  string
		config string
		act    func(cp *controlPlane)
		cancel bool
		want   model.StageStatus
	}{
		{name: "success: approved", stage: StageWaitApproval, act: func(cp *controlPlane) {
			cp.addCommand("d", "s", &model.Command{Type: model.Command_APPROVE_STAGE, Commander: "alice"})
		}, want: model.StageStatus_STAGE_SUCCESS},
		{name: "fail: rejected", stage: StageWaitApproval, act: func(cp *controlPlane) { cp.reject("d", "s", "bob") }, want: model.StageStatus_STAGE_FAILURE},
		{name: "fail: approval interrupted", stage: StageWaitApproval, cancel: true, want: model.StageStatus_STAGE_FAILURE},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, cp := newTestBuiltin()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			if tc.act != nil {
				tc.act(cp)
			}
			assert.Equal(t, tc.want, executeBuiltin(t, ctx, b, tc.stage, tc.config))
			assert.NotEmpty(t, cp.stageLogs("d", "s"), "the stage writes logs")
		})
	}
}

func TestControlPlaneDedupesLogBlocks(t *testing.T) {
	t.Parallel()
	cp := newControlPlane()
	blocks := []*model.LogBlock{{Index: 2, Log: "b", CreatedAt: 1}, {Index: 1, Log: "a", CreatedAt: 1}}
	cp.addBlocks("d", "s", blocks)
	cp.addBlocks("d", "s", append(blocks, &model.LogBlock{Index: 3, Log: "c", CreatedAt: 1}))
	var texts []string
	for _, l := range cp.stageLogs("d", "s") {
		texts = append(texts, l.Text)
	}
	assert.Equal(t, []string{"a", "b", "c"}, texts)
}
