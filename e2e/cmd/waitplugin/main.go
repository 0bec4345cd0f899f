// Command waitplugin is a WAIT stage plugin for PipeCD v1 on the plugin SDK: the suites install it in piped's
// "wait" slot, where production pipeds install PipeCD's official wait plugin (not served by the Go module
// proxy). The stage waits for its `with.duration`, resumes a wait a restarted piped re-runs from the start
// time it keeps in the stage's metadata, and fails when the deployment is cancelled. Its plugin config may set
// `timeScale` (a factor on every duration, for tests).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"strconv"
	"time"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/pipe-cd/piped-plugin-sdk-go/unit"
)

// stageWait is the stage this plugin runs.
const stageWait = "WAIT"

// startTimeKey is the stage metadata key holding when the wait started (Unix seconds).
const startTimeKey = "startTime"

// config is the plugin's config in piped.yaml.
type config struct {
	// TimeScale multiplies every wait (default 1).
	TimeScale float64 `json:"timeScale,omitempty"`
}

// waitOptions is a WAIT stage's `with`.
type waitOptions struct {
	Duration unit.Duration `json:"duration"`
}

type plugin struct{}

var _ sdk.StagePlugin[config, struct{}, struct{}] = plugin{}

func (plugin) FetchDefinedStages() []string { return []string{stageWait} }

func (plugin) BuildPipelineSyncStages(_ context.Context, _ *config, in *sdk.BuildPipelineSyncStagesInput) (*sdk.BuildPipelineSyncStagesResponse, error) {
	stages := make([]sdk.PipelineStage, 0, len(in.Request.Stages))
	for _, s := range in.Request.Stages {
		stages = append(stages, sdk.PipelineStage{Index: s.Index, Name: s.Name})
	}
	return &sdk.BuildPipelineSyncStagesResponse{Stages: stages}, nil
}

func (plugin) ExecuteStage(ctx context.Context, cfg *config, _ []*sdk.DeployTarget[struct{}], in *sdk.ExecuteStageInput[struct{}]) (*sdk.ExecuteStageResponse, error) {
	if in.Request.StageName != stageWait {
		return nil, fmt.Errorf("unsupported stage %s: this plugin runs %s", in.Request.StageName, stageWait)
	}
	lp, err := in.Client.StageLogPersister()
	if err != nil {
		return nil, err
	}
	var opts waitOptions
	if len(in.Request.StageConfig) > 0 {
		if err := json.Unmarshal(in.Request.StageConfig, &opts); err != nil {
			lp.Errorf("invalid WAIT options at stage %d (with.duration is a duration like 30s): %v", in.Request.StageIndex, err)
			return &sdk.ExecuteStageResponse{Status: sdk.StageStatusFailure}, nil
		}
	}
	scale := 1.0
	if cfg != nil && cfg.TimeScale > 0 {
		scale = cfg.TimeScale
	}
	duration := time.Duration(float64(opts.Duration.Duration()) * scale)
	start := startTime(ctx, in.Client)
	if err := in.Client.PutStageMetadata(ctx, startTimeKey, strconv.FormatInt(start.Unix(), 10)); err != nil {
		lp.Errorf("Unable to save the wait's start time: %v", err)
	}
	remaining := time.Until(start.Add(duration))
	lp.Infof("Waiting for %v...", opts.Duration.Duration())
	timer := time.NewTimer(max(remaining, 0))
	defer timer.Stop()
	select {
	case <-timer.C:
		lp.Successf("Waited for %v", opts.Duration.Duration())
		return &sdk.ExecuteStageResponse{Status: sdk.StageStatusSuccess}, nil
	case <-ctx.Done():
		lp.Info("Wait cancelled")
		return &sdk.ExecuteStageResponse{Status: sdk.StageStatusFailure}, nil
	}
}

// startTime is when the wait started: kept in the stage's metadata by an earlier run of the stage, else now.
func startTime(ctx context.Context, c *sdk.Client) time.Time {
	v, ok, err := c.GetStageMetadata(ctx, startTimeKey)
	if err != nil || !ok {
		return time.Now()
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Now()
	}
	return time.Unix(sec, 0)
}

func main() {
	p, err := sdk.NewPlugin("0.1.0", sdk.WithStagePlugin[config, struct{}, struct{}](plugin{}))
	if err != nil {
		log.Fatalf("failed to create the wait plugin: %v", err)
	}
	if err := p.Run(); err != nil {
		log.Fatalf("failed to run the wait plugin: %v", err)
	}
}
