package piped

import (
	"context"
	"encoding/json"
	"time"

	config "github.com/pipe-cd/pipecd/pkg/configv1"
	"github.com/pipe-cd/pipecd/pkg/model"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/deployment"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/livestate"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/planpreview"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// StageWaitApproval is the stage the stand-in executes itself. In PipeCD v1 it is a separate stage plugin
// (waitapproval); here it runs in-process behind the same pluginapi.PluginClient interface, because approving
// needs the stand-in's control plane. WAIT is not built in: the wait plugin runs it (see New).
const StageWaitApproval = "WAIT_APPROVAL"

// builtinPluginName is the name the in-process stage plugin is registered under.
const builtinPluginName = "builtin"

// approvalPollInterval is how often WAIT_APPROVAL looks for an approval command.
const approvalPollInterval = 20 * time.Millisecond

// builtinStages implements pluginapi.PluginClient for WAIT_APPROVAL, answering planning calls as the SDK's
// StagePluginServiceServer does.
type builtinStages struct {
	cp   *controlPlane
	logf func(deploymentID, stageID string, severity model.LogSeverity, format string, args ...any)
}

func (b *builtinStages) Name() string { return builtinPluginName }

func (b *builtinStages) Close() error { return nil }

func (b *builtinStages) FetchDefinedStages(context.Context, *deployment.FetchDefinedStagesRequest, ...grpc.CallOption) (*deployment.FetchDefinedStagesResponse, error) {
	return &deployment.FetchDefinedStagesResponse{Stages: []string{StageWaitApproval}}, nil
}

func (b *builtinStages) DetermineVersions(context.Context, *deployment.DetermineVersionsRequest, ...grpc.CallOption) (*deployment.DetermineVersionsResponse, error) {
	return &deployment.DetermineVersionsResponse{}, nil
}

func (b *builtinStages) DetermineStrategy(context.Context, *deployment.DetermineStrategyRequest, ...grpc.CallOption) (*deployment.DetermineStrategyResponse, error) {
	return &deployment.DetermineStrategyResponse{Unsupported: true}, nil
}

func (b *builtinStages) BuildQuickSyncStages(context.Context, *deployment.BuildQuickSyncStagesRequest, ...grpc.CallOption) (*deployment.BuildQuickSyncStagesResponse, error) {
	return &deployment.BuildQuickSyncStagesResponse{}, nil
}

func (b *builtinStages) BuildPipelineSyncStages(_ context.Context, req *deployment.BuildPipelineSyncStagesRequest, _ ...grpc.CallOption) (*deployment.BuildPipelineSyncStagesResponse, error) {
	now := time.Now().Unix()
	stages := make([]*model.PipelineStage, 0, len(req.Stages))
	for _, s := range req.Stages {
		ps := &model.PipelineStage{
			Name:               s.Name,
			Desc:               s.Desc,
			Index:              s.Index,
			Status:             model.StageStatus_STAGE_NOT_STARTED_YET,
			AvailableOperation: model.ManualOperation_MANUAL_OPERATION_NONE,
			CreatedAt:          now,
			UpdatedAt:          now,
		}
		if s.Name == StageWaitApproval {
			var opts config.WaitApprovalStageOptions
			if len(s.Config) > 0 {
				if err := json.Unmarshal(s.Config, &opts); err != nil {
					return nil, status.Errorf(codes.InvalidArgument, "invalid WAIT_APPROVAL options at stage %d: %v", s.Index, err)
				}
			}
			ps.AvailableOperation = model.ManualOperation_MANUAL_OPERATION_APPROVE
			ps.AuthorizedOperators = opts.Approvers
		}
		stages = append(stages, ps)
	}
	return &deployment.BuildPipelineSyncStagesResponse{Stages: stages}, nil
}

func (b *builtinStages) ExecuteStage(ctx context.Context, req *deployment.ExecuteStageRequest, _ ...grpc.CallOption) (*deployment.ExecuteStageResponse, error) {
	in := req.GetInput()
	if name := in.GetStage().GetName(); name != StageWaitApproval {
		return nil, status.Errorf(codes.InvalidArgument, "unsupported stage %s", name)
	}
	return &deployment.ExecuteStageResponse{Status: b.waitApproval(ctx, in)}, nil
}

func (b *builtinStages) waitApproval(ctx context.Context, in *deployment.ExecutePluginInput) model.StageStatus {
	d, s := in.Deployment.Id, in.Stage.Id
	b.logf(d, s, model.LogSeverity_INFO, "Waiting for an approval...")
	ticker := time.NewTicker(approvalPollInterval)
	defer ticker.Stop()
	for {
		for _, cmd := range b.cp.ListStageCommands(d, s) {
			if cmd.Type == model.Command_APPROVE_STAGE {
				b.logf(d, s, model.LogSeverity_SUCCESS, "Got an approval from %s", cmd.Commander)
				return model.StageStatus_STAGE_SUCCESS
			}
		}
		if by, ok := b.cp.rejection(d, s); ok {
			b.logf(d, s, model.LogSeverity_ERROR, "Rejected by %s", by)
			return model.StageStatus_STAGE_FAILURE
		}
		select {
		case <-ticker.C:
		case <-ctx.Done():
			b.logf(d, s, model.LogSeverity_INFO, "Waiting for an approval was interrupted")
			return model.StageStatus_STAGE_FAILURE
		}
	}
}

func (b *builtinStages) GetLivestate(context.Context, *livestate.GetLivestateRequest, ...grpc.CallOption) (*livestate.GetLivestateResponse, error) {
	return nil, status.Error(codes.Unimplemented, "the built-in stages have no live state")
}

func (b *builtinStages) GetPlanPreview(context.Context, *planpreview.GetPlanPreviewRequest, ...grpc.CallOption) (*planpreview.GetPlanPreviewResponse, error) {
	return nil, status.Error(codes.Unimplemented, "the built-in stages have no plan preview")
}
