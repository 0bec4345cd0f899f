package deployment

import (
	"context"
	"fmt"
	"strings"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
)

// DetermineVersions reports every container image of the service or job manifest (sidecars included).
func (p *Plugin) DetermineVersions(_ context.Context, _ *config.PluginConfig, input *sdk.DetermineVersionsInput[config.RawApplicationSpec]) (*sdk.DetermineVersionsResponse, error) {
	src, err := app.Load(input.Request.DeploymentSource)
	if err != nil {
		return nil, err
	}
	versions, err := imageVersions(src.Images())
	if err != nil {
		return nil, err
	}
	return &sdk.DetermineVersionsResponse{Versions: versions}, nil
}

func imageVersions(images []string) ([]sdk.ArtifactVersion, error) {
	versions := make([]sdk.ArtifactVersion, 0, len(images))
	for _, ref := range images {
		img, err := manifest.ParseImage(ref)
		if err != nil {
			return nil, err
		}
		versions = append(versions, sdk.ArtifactVersion{
			Version: img.Version(),
			Name:    img.Name[strings.LastIndex(img.Name, "/")+1:],
			URL:     ref,
		})
	}
	return versions, nil
}

// DetermineStrategy chooses quick sync when the change creates no new revision (the revision template is
// unchanged, so only service- or worker-pool-level settings such as labels, scaling or ingress change), and
// the pipeline otherwise, including when the application changes kind.
func (p *Plugin) DetermineStrategy(_ context.Context, _ *config.PluginConfig, input *sdk.DetermineStrategyInput[config.RawApplicationSpec]) (*sdk.DetermineStrategyResponse, error) {
	req := input.Request
	if target, err := app.Load(req.TargetDeploymentSource); err == nil && target.Pool != nil {
		if err := checkPoolAnalysis(req.TargetDeploymentSource); err != nil {
			return nil, err
		}
	}
	if req.RunningDeploymentSource.CommitHash == "" {
		return &sdk.DetermineStrategyResponse{Strategy: sdk.SyncStrategyPipelineSync, Summary: "Sync with the pipeline because there is no running deployment to compare with"}, nil
	}
	running, err := app.Load(req.RunningDeploymentSource)
	if err != nil {
		return nil, fmt.Errorf("running commit: %w", err)
	}
	target, err := app.Load(req.TargetDeploymentSource)
	if err != nil {
		return nil, err
	}
	if running.Job != nil || target.Job != nil {
		return jobStrategy(running, target, req.Deployment), nil
	}
	settings := "service settings"
	switch {
	case running.Pool == nil && target.Pool != nil:
		return &sdk.DetermineStrategyResponse{Strategy: sdk.SyncStrategyPipelineSync, Summary: "Sync with the pipeline because the application changes from a service to a worker pool"}, nil
	case running.Pool != nil && target.Pool == nil:
		return &sdk.DetermineStrategyResponse{Strategy: sdk.SyncStrategyPipelineSync, Summary: "Sync with the pipeline because the application changes from a worker pool to a service"}, nil
	case target.Pool != nil:
		settings = "worker pool settings"
	}
	runningHash, err := running.TemplateHash(req.Deployment)
	if err != nil {
		return nil, fmt.Errorf("running commit: %w", err)
	}
	targetHash, err := target.TemplateHash(req.Deployment)
	if err != nil {
		return nil, err
	}
	if runningHash == targetHash {
		return &sdk.DetermineStrategyResponse{
			Strategy: sdk.SyncStrategyQuickSync,
			Summary:  "Quick sync because the revision template is unchanged: no new revision, only " + settings + " are updated",
		}, nil
	}
	from, to := strings.Join(running.Images(), ", "), strings.Join(target.Images(), ", ")
	if from != to {
		return &sdk.DetermineStrategyResponse{
			Strategy: sdk.SyncStrategyPipelineSync,
			Summary:  fmt.Sprintf("Sync with the pipeline because the image changes from %s to %s", from, to),
		}, nil
	}
	return &sdk.DetermineStrategyResponse{
		Strategy: sdk.SyncStrategyPipelineSync,
		Summary:  "Sync with the pipeline because the revision template changes (same image, other settings), which creates a new revision",
	}, nil
}

// jobStrategy chooses quick sync when the execution template of the job is unchanged (only job settings such
// as labels change, which affect no execution), and the pipeline otherwise, including when the application
// changes between a service and a job.
func jobStrategy(running, target *app.Source, d sdk.Deployment) *sdk.DetermineStrategyResponse {
	pipeline := func(summary string) *sdk.DetermineStrategyResponse {
		return &sdk.DetermineStrategyResponse{Strategy: sdk.SyncStrategyPipelineSync, Summary: summary}
	}
	switch {
	case running.Job == nil:
		return pipeline("Sync with the pipeline because the application changes from a service to a job")
	case target.Job == nil:
		return pipeline("Sync with the pipeline because the application changes from a job to a service")
	case proto.Equal(running.ExecutionTemplate(d), target.ExecutionTemplate(d)):
		return &sdk.DetermineStrategyResponse{
			Strategy: sdk.SyncStrategyQuickSync,
			Summary:  "Quick sync because the job's execution template is unchanged: only job settings are updated",
		}
	}
	from, to := strings.Join(running.Images(), ", "), strings.Join(target.Images(), ", ")
	if from != to {
		return pipeline(fmt.Sprintf("Sync with the pipeline because the job's image changes from %s to %s", from, to))
	}
	return pipeline("Sync with the pipeline because the job's execution template changes (same image, other settings)")
}
