package deployment

import (
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

// StageRunner runs deployments against fakerun for the tests of package deployment_test, which may
// import packages that import this one (livestate).
type StageRunner struct{ e *env }

// NewStageRunner returns a runner with one deploy target, on f.
func NewStageRunner(t *testing.T, f *fakerun.Server) StageRunner {
	return StageRunner{e: newEnv(t, f)}
}

// Deploy starts a new deployment of commit with the given app.pipecd.yaml and service.yaml.
func (r StageRunner) Deploy(commit, app, service string) { r.e.deploy(commit, app, service) }

// Run executes a stage of the current deployment; quickSync marks it a stage of a quick sync.
func (r StageRunner) Run(stage, stageConfig string, quickSync bool) (sdk.StageStatus, string) {
	var md map[string]string
	if quickSync {
		md = quick
	}
	status, log := r.e.run(stage, stageConfig, md)
	return status, log.String()
}

// Source is the deployment source of the current deployment's commit.
func (r StageRunner) Source() sdk.DeploymentSource[config.RawApplicationSpec] {
	return r.e.source(r.e.commit, r.e.app, r.e.service)
}

// DeployTargets are the deploy targets of the runner.
func (r StageRunner) DeployTargets() []*sdk.DeployTarget[config.RawDeployTargetConfig] {
	return r.e.dts
}

// Test fixtures shared with package deployment_test.
const (
	QuickSyncApp = quickSyncApp
	V0CanaryApp  = v0CanaryApp
)

// ServiceYAML is a service manifest running image.
func ServiceYAML(image string) string { return serviceYAML(image) }
