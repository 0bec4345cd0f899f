package piped

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pipe-cd/pipecd/pkg/app/pipedv1/deploysource"
	config "github.com/pipe-cd/pipecd/pkg/configv1"
	"github.com/pipe-cd/pipecd/pkg/model"
	pluginapi "github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/common"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/livestate"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/planpreview"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Source is an application at a commit, as piped's livestate reporter (the head commit) and plan-preview
// builder (the merged commit of a pull request) see it.
type Source struct {
	// AppDir is the application directory holding the application config file. Required.
	AppDir string
	// AppID identifies the application. Default: the base name of AppDir.
	AppID string
	// ConfigFilename is the application config file inside AppDir. Default "app.pipecd.yaml".
	ConfigFilename string
	// Commit is the commit hash. Default: a random 40-digit hex string.
	Commit string
	// Files overrides or adds files (path relative to AppDir → content).
	Files map[string]string
	// DeployTargets names the application's deploy targets. Default: the first one configured.
	DeployTargets []string
}

// Livestate asks the plugin for the application's live state and sync state with the request piped's
// livestatereporter sends (pipedv1/livestatereporter flush).
func (p *Piped) Livestate(ctx context.Context, s Source) (*livestate.GetLivestateResponse, error) {
	ds, app, cleanup, err := p.source(ctx, s)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	cli, err := p.currentClient()
	if err != nil {
		return nil, err
	}
	return cli.GetLivestate(ctx, &livestate.GetLivestateRequest{
		PipedId:         app.GetPipedId(),
		ApplicationId:   app.GetId(),
		ApplicationName: app.GetName(),
		DeploySource:    ds,
		DeployTargets:   app.GetDeployTargets(),
	})
}

// PlanPreview asks the plugin for the plan preview of s with the request piped's plan-preview builder sends
// (pipedv1/planpreview buildApp: the target source only).
func (p *Piped) PlanPreview(ctx context.Context, s Source) (*planpreview.GetPlanPreviewResponse, error) {
	ds, app, cleanup, err := p.source(ctx, s)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	// pluginapi.NewClient of the pinned pipecd leaves its plan-preview client nil, so dial one here.
	conn, err := grpc.NewClient(p.proc.addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close() }()
	return planpreview.NewPlanPreviewServiceClient(conn).GetPlanPreview(ctx, &planpreview.GetPlanPreviewRequest{
		ApplicationId:          app.GetId(),
		DeployTargets:          app.GetDeployTargets(),
		TargetDeploymentSource: ds,
	})
}

func (p *Piped) currentClient() (pluginapi.PluginClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil {
		return nil, errors.New("piped: the plugin is not connected")
	}
	return p.client, nil
}

// source prepares the deploy source of s through piped's deploysource.Provider and the application model
// piped keeps for it.
func (p *Piped) source(ctx context.Context, s Source) (*common.DeploymentSource, *model.Application, func(), error) {
	if s.AppDir == "" {
		return nil, nil, nil, errors.New("piped: Source.AppDir is required")
	}
	appDir, err := filepath.Abs(s.AppDir)
	if err != nil {
		return nil, nil, nil, err
	}
	if s.AppID == "" {
		s.AppID = filepath.Base(appDir)
	}
	if s.ConfigFilename == "" {
		s.ConfigFilename = "app.pipecd.yaml"
	}
	if s.Commit == "" {
		s.Commit = randomHex(40)
	}
	if len(s.DeployTargets) == 0 {
		s.DeployTargets = []string{p.opts.deployTargets[0].Name}
	}
	gitPath := &model.ApplicationGitPath{
		Repo:           &model.ApplicationGitRepository{Id: RepoID, Remote: "https://example.com/e2e/apps.git", Branch: "main"},
		Path:           "apps/" + s.AppID,
		ConfigFilename: s.ConfigFilename,
	}
	dir, err := os.MkdirTemp(p.workDir, "source")
	if err != nil {
		return nil, nil, nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	cloner := &dirCloner{appDir: appDir, appPath: gitPath.Path, files: s.Files, revision: s.Commit, revName: "target"}
	ds, err := deploysource.NewProvider(dir, cloner, gitPath, nil).Get(ctx, io.Discard)
	if err != nil {
		cleanup()
		return nil, nil, nil, fmt.Errorf("failed to prepare the deploy source: %w", err)
	}
	cfg, err := config.DecodeYAML[*config.GenericApplicationSpec](ds.ApplicationConfig)
	if err != nil {
		cleanup()
		return nil, nil, nil, fmt.Errorf("failed to decode %s: %w", filepath.Join(appDir, s.ConfigFilename), err)
	}
	app := &model.Application{
		Id:                    s.AppID,
		Name:                  cfg.Spec.Name,
		PipedId:               PipedID,
		ProjectId:             ProjectID,
		GitPath:               gitPath,
		DeployTargetsByPlugin: map[string]*model.DeployTargets{pluginName: {DeployTargets: s.DeployTargets}},
	}
	return ds.ToPluginDeploySource(), app, cleanup, nil
}
