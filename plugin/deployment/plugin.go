// Package deployment implements the Cloud Run deployment plugin for piped: planning (versions, strategy,
// stages) and the stages CLOUDRUN_SYNC, CLOUDRUN_VERIFY, CLOUDRUN_PROMOTE, CLOUDRUN_ANALYSIS,
// CLOUDRUN_CANARY_CLEANUP, CLOUDRUN_JOB_HOOK and CLOUDRUN_ROLLBACK for a service, and CLOUDRUN_JOB_SYNC, CLOUDRUN_JOB_RUN and CLOUDRUN_ROLLBACK for a job.
package deployment

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"go.uber.org/zap"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/stagetime"
)

var _ sdk.DeploymentPlugin[config.PluginConfig, config.RawDeployTargetConfig, config.RawApplicationSpec] = (*Plugin)(nil)

const (
	defaultPollInterval  = time.Second
	defaultWriteAttempts = 5
	// defaultRollbackBudget is how long CLOUDRUN_ROLLBACK keeps trying to restore a service whose writes
	// fail with INTERNAL or with transient errors that outlast the client's own retries.
	defaultRollbackBudget = 2 * time.Minute
)

// Plugin is the Cloud Run deployment plugin. Create it with NewPlugin.
type Plugin struct {
	registry *provider.Registry
	// pollInterval is how often a revision is checked while waiting for it to become ready.
	pollInterval time.Duration
	// writeAttempts bounds how often a stage re-reads the service and re-applies its change after
	// Cloud Run reported a concurrent modification (ABORTED).
	writeAttempts int
	// rollbackBudget bounds how long a rollback retries a restore that keeps failing (see retryRestore).
	rollbackBudget time.Duration
	// metadata returns the store for cross-stage state; production uses the SDK client itself.
	metadata func(*sdk.Client) metadataStore
	// stageTiming makes ExecuteStage log where each stage's time went (see package stagetime).
	stageTiming bool
}

// NewPlugin returns the plugin; it takes the Cloud Run client of each deploy target from registry, which
// the live state and plan preview plugins of the process share.
func NewPlugin(registry *provider.Registry) *Plugin {
	return &Plugin{
		registry:       registry,
		pollInterval:   defaultPollInterval,
		writeAttempts:  defaultWriteAttempts,
		rollbackBudget: defaultRollbackBudget,
		metadata:       func(c *sdk.Client) metadataStore { return c },
		stageTiming:    os.Getenv(stagetime.EnvVar) != "",
	}
}

// FetchDefinedStages returns the stages this plugin executes.
func (p *Plugin) FetchDefinedStages() []string {
	return allStages
}

// BuildQuickSyncStages returns CLOUDRUN_SYNC and, with auto-rollback, CLOUDRUN_ROLLBACK.
func (p *Plugin) BuildQuickSyncStages(_ context.Context, _ *config.PluginConfig, input *sdk.BuildQuickSyncStagesInput) (*sdk.BuildQuickSyncStagesResponse, error) {
	return &sdk.BuildQuickSyncStagesResponse{Stages: buildQuickSyncPipeline(input.Request.Rollback)}, nil
}

// BuildPipelineSyncStages checks the options of every Cloud Run stage of the pipeline, so that piped fails a
// bad pipeline before any stage runs, and returns the stages and, with auto-rollback, CLOUDRUN_ROLLBACK.
func (p *Plugin) BuildPipelineSyncStages(_ context.Context, _ *config.PluginConfig, input *sdk.BuildPipelineSyncStagesInput) (*sdk.BuildPipelineSyncStagesResponse, error) {
	if err := checkPipelineOptions(input.Request.Stages); err != nil {
		return nil, err
	}
	if err := checkStageOrder(input.Request.Stages); err != nil {
		return nil, err
	}
	stages, err := buildPipelineStages(input.Request)
	if err != nil {
		return nil, err
	}
	return &sdk.BuildPipelineSyncStagesResponse{Stages: stages}, nil
}

// ExecuteStage runs one stage on every deploy target of the deployment, concurrently. It never panics:
// a panic becomes a failed stage with the message in the stage log.
func (p *Plugin) ExecuteStage(ctx context.Context, _ *config.PluginConfig, dts []*sdk.DeployTarget[config.RawDeployTargetConfig], input *sdk.ExecuteStageInput[config.RawApplicationSpec]) (resp *sdk.ExecuteStageResponse, err error) {
	if input.Logger == nil {
		input.Logger = zap.NewNop()
	}
	if p.stageTiming {
		var span *stagetime.Span
		ctx, span = stagetime.Start(ctx)
		defer logTiming(input, span)
	}
	var lp sdk.StageLogPersister = zapLog{input.Logger}
	defer func() {
		if r := recover(); r != nil {
			input.Logger.Error("panic while executing a stage", zap.String("stage", input.Request.StageName), zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			lp.Errorf("Internal error in the Cloud Run plugin while running %s: %v. This is a bug; please report it with this log.", input.Request.StageName, r)
			resp, err = &sdk.ExecuteStageResponse{Status: sdk.StageStatusFailure}, nil
		}
	}()
	if input.Client != nil {
		if stageLP, err := input.Client.StageLogPersister(); err == nil {
			lp = stageLP
		}
	}

	var run stageFunc
	switch input.Request.StageName {
	case StageCloudRunSync:
		run = p.executeSync
	case StageCloudRunPromote:
		run = p.executePromote
	case StageCloudRunRollback:
		run = p.executeRollback
	case StageCloudRunCanaryCleanup:
		run = p.executeCleanup
	case StageCloudRunAnalysis:
		run = p.executeAnalysis
	case StageCloudRunJobSync:
		run = p.executeJobSync
	case StageCloudRunJobRun:
		run = p.executeJobRun
	case StageCloudRunVerify:
		run = p.executeVerify
	case StageCloudRunJobHook:
		run = p.executeJobHook
	default:
		return nil, fmt.Errorf("unsupported stage %q: the Cloud Run plugin executes %v", input.Request.StageName, allStages)
	}
	return &sdk.ExecuteStageResponse{Status: run(ctx, lp, input, dts)}, nil
}

// logTiming writes the figures of span, the stage of input, to the plugin's log.
func logTiming(input *sdk.ExecuteStageInput[config.RawApplicationSpec], span *stagetime.Span) {
	fields := append([]zap.Field{
		zap.String(stagetime.FieldStage, input.Request.StageName),
		zap.Int(stagetime.FieldStageIndex, input.Request.StageIndex),
		zap.String(stagetime.FieldDeployment, input.Request.Deployment.ID),
	}, span.End().Fields()...)
	input.Logger.Info(stagetime.Message, fields...)
}

// stageFunc runs one stage on all deploy targets and returns its status.
type stageFunc func(ctx context.Context, lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[config.RawApplicationSpec], dts []*sdk.DeployTarget[config.RawDeployTargetConfig]) sdk.StageStatus

// zapLog is the stage log used when the SDK provides none: it writes to the plugin's own log.
type zapLog struct{ l *zap.Logger }

func (z zapLog) Write(b []byte) (int, error)      { z.l.Info(string(b)); return len(b), nil }
func (z zapLog) Info(s string)                    { z.l.Info(s) }
func (z zapLog) Infof(format string, a ...any)    { z.l.Info(fmt.Sprintf(format, a...)) }
func (z zapLog) Success(s string)                 { z.l.Info(s) }
func (z zapLog) Successf(format string, a ...any) { z.l.Info(fmt.Sprintf(format, a...)) }
func (z zapLog) Error(s string)                   { z.l.Error(s) }
func (z zapLog) Errorf(format string, a ...any)   { z.l.Error(fmt.Sprintf(format, a...)) }
