package piped

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/pipe-cd/pipecd/pkg/app/pipedv1/controller"
	"github.com/pipe-cd/pipecd/pkg/app/pipedv1/deploysource"
	"github.com/pipe-cd/pipecd/pkg/app/pipedv1/plugin"
	config "github.com/pipe-cd/pipecd/pkg/configv1"
	"github.com/pipe-cd/pipecd/pkg/model"
	pluginapi "github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/common"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/deployment"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func randomHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// plan mirrors pipedv1's planner: deploy sources, versions, strategy and stages.
func (p *Piped) plan(ctx context.Context, d Deployment) (*Run, error) {
	if d.AppDir == "" {
		return nil, errors.New("piped: Deployment.AppDir is required")
	}
	appDir, err := filepath.Abs(d.AppDir)
	if err != nil {
		return nil, err
	}
	if d.AppID == "" {
		d.AppID = filepath.Base(appDir)
	}
	if d.ConfigFilename == "" {
		d.ConfigFilename = "app.pipecd.yaml"
	}
	if d.Commit == "" {
		d.Commit = randomHex(40)
	}
	if d.CommitMessage == "" {
		d.CommitMessage = "Deploy " + d.AppID
	}
	if len(d.DeployTargets) == 0 {
		d.DeployTargets = []string{p.opts.deployTargets[0].Name}
	}

	now := time.Now()
	id := uuid.NewString()
	gitPath := &model.ApplicationGitPath{
		Repo:           &model.ApplicationGitRepository{Id: RepoID, Remote: "https://example.com/e2e/apps.git", Branch: "main"},
		Path:           "apps/" + d.AppID,
		ConfigFilename: d.ConfigFilename,
	}
	target := &runningSource{
		cloner:         &dirCloner{appDir: appDir, appPath: gitPath.Path, files: d.Files, revision: d.Commit, revName: "target"},
		gitPath:        gitPath,
		configFilename: d.ConfigFilename,
	}
	workDir, err := os.MkdirTemp(p.workDir, "deployment")
	if err != nil {
		return nil, err
	}
	r := &Run{p: p, spec: d, target: target, done: make(chan struct{}), cancel: make(chan struct{})}
	r.targetDSP = deploysource.NewProvider(filepath.Join(workDir, "target-deploysource"), target.cloner, gitPath, nil)

	p.mu.Lock()
	running := p.lastSuccess[d.AppID]
	p.mu.Unlock()
	var runningCommit, runningConfig string
	if running != nil {
		runningCommit, runningConfig = running.cloner.revision, running.configFilename
		rc := *running.cloner
		rc.revName = "running"
		r.runningDSP = deploysource.NewProvider(filepath.Join(workDir, "running-deploysource"), &rc, running.gitPath, nil)
	}

	tds, err := r.targetDSP.Get(ctx, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("failed to prepare the target deploy source: %w", err)
	}
	cfg, err := config.DecodeYAML[*config.GenericApplicationSpec](tds.ApplicationConfig)
	if err != nil {
		return nil, fmt.Errorf("failed to decode %s: %w", filepath.Join(appDir, d.ConfigFilename), err)
	}
	r.genericCfg = cfg.Spec

	r.model = &model.Deployment{
		Id:                    id,
		ApplicationId:         d.AppID,
		ApplicationName:       cfg.Spec.Name,
		PipedId:               PipedID,
		ProjectId:             ProjectID,
		GitPath:               gitPath,
		DeployTargetsByPlugin: map[string]*model.DeployTargets{pluginName: {DeployTargets: d.DeployTargets}},
		Labels:                cfg.Spec.Labels,
		Trigger: &model.DeploymentTrigger{
			Commit: &model.Commit{
				Hash: d.Commit, Message: d.CommitMessage, Author: "e2e", Branch: "main", CreatedAt: now.Unix(),
			},
			Timestamp:    now.Unix(),
			SyncStrategy: d.SyncStrategy,
		},
		RunningCommitHash:     runningCommit,
		RunningConfigFilename: runningConfig,
		Status:                model.DeploymentStatus_DEPLOYMENT_PENDING,
		CreatedAt:             now.Unix(),
		UpdatedAt:             now.Unix(),
	}

	var runningDS *common.DeploymentSource
	if r.runningDSP != nil {
		rds, err := r.runningDSP.Get(ctx, io.Discard)
		if err != nil {
			return nil, fmt.Errorf("failed to prepare the running deploy source: %w", err)
		}
		runningDS = rds.ToPluginDeploySource()
	}
	if err := r.buildPlan(ctx, runningDS, tds.ToPluginDeploySource()); err != nil {
		return nil, fmt.Errorf("unable to plan the deployment: %w", err)
	}

	p.svc.register(r.model)
	p.mu.Lock()
	p.runs[id] = r
	p.mu.Unlock()
	return r, nil
}

func (r *Run) buildPlan(ctx context.Context, runningDS, targetDS *common.DeploymentSource) error {
	registry := r.p.pluginRegistry()
	spec := r.genericCfg
	plugins, err := registry.GetPluginClientsByAppConfig(spec)
	if err != nil {
		return err
	}
	input := &deployment.PlanPluginInput{Deployment: r.model, RunningDeploymentSource: runningDS, TargetDeploymentSource: targetDS}
	// Like piped, errors of DetermineVersions and DetermineStrategy are only logged; they are kept here to
	// explain a failed plan.
	logs, warnings := observer.New(zap.WarnLevel)
	logger := zap.New(logs)
	var versions []*model.ArtifactVersion
	for _, plg := range plugins {
		res, err := plg.DetermineVersions(ctx, &deployment.DetermineVersionsRequest{Input: input})
		if err != nil {
			logger.Warn("unable to determine versions", zap.String("plugin", plg.Name()), zap.Error(err))
			continue
		}
		versions = append(versions, res.Versions...)
	}
	if len(versions) == 0 {
		versions = []*model.ArtifactVersion{{Kind: model.ArtifactVersion_UNKNOWN, Version: "unknown"}}
	}
	strategy, summary, err := controller.DetermineStrategy(ctx, spec, plugins, input, r.model.Trigger, r.model.RunningCommitHash, logger)
	if err != nil {
		return err
	}
	withWarnings := func(err error) error {
		for _, w := range warnings.All() {
			msg := w.Message
			for k, v := range w.ContextMap() {
				msg += fmt.Sprintf(" %s=%v", k, v)
			}
			err = fmt.Errorf("%w; %s", err, msg)
		}
		return err
	}
	var stages []*model.PipelineStage
	switch strategy {
	case model.SyncStrategy_QUICK_SYNC:
		stages, err = buildQuickSyncStages(ctx, plugins, *spec.Planner.AutoRollback)
	case model.SyncStrategy_PIPELINE:
		stages, err = buildPipelineSyncStages(ctx, registry, spec)
	default:
		err = fmt.Errorf("no plugin decided the sync strategy (got %s)", strategy)
	}
	if err != nil {
		return withWarnings(err)
	}
	for _, s := range stages {
		r.records = append(r.records, &StageRecord{
			ID: s.Id, Name: s.Name, Desc: s.Desc, Index: int(s.Index), Rollback: s.Rollback, Status: s.Status,
		})
	}
	r.model.Summary = summary
	r.model.Versions = versions
	r.model.Stages = stages
	r.model.Status = model.DeploymentStatus_DEPLOYMENT_PLANNED
	// The control plane records the planned strategy on the trigger (pipecd#6274), so that quick-sync stages
	// get no stage config.
	r.model.Trigger.SyncStrategy = strategy
	r.model.Trigger.StrategySummary = summary
	return nil
}

func buildQuickSyncStages(ctx context.Context, plugins []pluginapi.PluginClient, rollback bool) ([]*model.PipelineStage, error) {
	var stages, rollbackStages []*model.PipelineStage
	for _, plg := range plugins {
		res, err := plg.BuildQuickSyncStages(ctx, &deployment.BuildQuickSyncStagesRequest{Rollback: rollback})
		if err != nil {
			return nil, fmt.Errorf("%s: BuildQuickSyncStages: %w", plg.Name(), err)
		}
		stages, rollbackStages = appendStages(stages, rollbackStages, res.Stages)
	}
	stages = append(stages, rollbackStages...)
	if len(stages) == 0 {
		return nil, errors.New("no quick sync stages were built")
	}
	return stages, nil
}

func buildPipelineSyncStages(ctx context.Context, registry plugin.PluginRegistry, spec *config.GenericApplicationSpec) ([]*model.PipelineStage, error) {
	rollback := *spec.Planner.AutoRollback
	var (
		order     []pluginapi.PluginClient
		perPlugin = map[pluginapi.PluginClient][]*deployment.BuildPipelineSyncStagesRequest_StageConfig{}
	)
	for i, sc := range spec.Pipeline.Stages {
		plg, err := registry.GetPluginClientByStageName(sc.Name.String())
		if err != nil {
			return nil, fmt.Errorf("stage %d %s: %w", i, sc.Name, err)
		}
		if _, ok := perPlugin[plg]; !ok {
			order = append(order, plg)
		}
		perPlugin[plg] = append(perPlugin[plg], &deployment.BuildPipelineSyncStagesRequest_StageConfig{
			Name: sc.Name.String(), Desc: sc.Desc, Index: int32(i), Config: sc.With,
		})
	}
	var stages, rollbackStages []*model.PipelineStage
	for _, plg := range order {
		req := perPlugin[plg]
		res, err := plg.BuildPipelineSyncStages(ctx, &deployment.BuildPipelineSyncStagesRequest{Stages: req, Rollback: rollback})
		if err != nil {
			return nil, fmt.Errorf("%s: BuildPipelineSyncStages: %w", plg.Name(), err)
		}
		if err := validateStageIndexes(req, res.Stages); err != nil {
			return nil, fmt.Errorf("%s: %w", plg.Name(), err)
		}
		stages, rollbackStages = appendStages(stages, rollbackStages, res.Stages)
	}
	slices.SortStableFunc(stages, func(a, b *model.PipelineStage) int { return int(a.Index - b.Index) })
	slices.SortStableFunc(rollbackStages, func(a, b *model.PipelineStage) int { return int(a.Index - b.Index) })
	prev := ""
	for _, s := range stages {
		if prev != "" {
			s.Requires = []string{prev}
		}
		prev = s.Id
	}
	stages = append(stages, rollbackStages...)
	if len(stages) == 0 {
		return nil, errors.New("no pipeline stages were built")
	}
	return stages, nil
}

// appendStages gives each built stage an ID and appends it to stages, or to rollbackStages when it is a
// rollback stage.
func appendStages(stages, rollbackStages, built []*model.PipelineStage) ([]*model.PipelineStage, []*model.PipelineStage) {
	for _, s := range built {
		s.Id = uuid.NewString()
		if s.Rollback {
			rollbackStages = append(rollbackStages, s)
		} else {
			stages = append(stages, s)
		}
	}
	return stages, rollbackStages
}

// validateStageIndexes applies piped's rules to the stages a plugin built: no duplicate index among normal
// stages nor among rollback stages, and every index must come from the request.
func validateStageIndexes(req []*deployment.BuildPipelineSyncStagesRequest_StageConfig, res []*model.PipelineStage) error {
	normal, rollback, requested := map[int32]bool{}, map[int32]bool{}, map[int32]bool{}
	for _, s := range req {
		requested[s.Index] = true
	}
	for _, s := range res {
		seen := normal
		if s.Rollback {
			seen = rollback
		}
		if seen[s.Index] {
			return fmt.Errorf("stage index %d (rollback=%v) from plugin is duplicated", s.Index, s.Rollback)
		}
		seen[s.Index] = true
		if !requested[s.Index] {
			return fmt.Errorf("stage index %d from plugin is not defined in the request", s.Index)
		}
	}
	return nil
}
