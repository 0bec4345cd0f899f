package planpreview

import (
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/internal/fakeenv"
)

// fixture is the shared test environment and the plugin under test.
type fixture struct {
	*fakeenv.Env
	plugin *Plugin
}

func newFixture(t *testing.T, opts ...fakerun.Option) *fixture {
	env := fakeenv.New(t, opts...)
	return &fixture{Env: env, plugin: NewPlugin(env.Registry)}
}

func (f *fixture) preview(target sdk.DeploymentSource[config.RawApplicationSpec], running *sdk.DeploymentSource[config.RawApplicationSpec], dts ...*sdk.DeployTarget[config.RawDeployTargetConfig]) *sdk.GetPlanPreviewResponse {
	f.T.Helper()
	resp, err := f.previewErr(target, running, dts...)
	require.NoError(f.T, err)
	require.NotNil(f.T, resp)
	return resp
}

func (f *fixture) previewErr(target sdk.DeploymentSource[config.RawApplicationSpec], running *sdk.DeploymentSource[config.RawApplicationSpec], dts ...*sdk.DeployTarget[config.RawDeployTargetConfig]) (*sdk.GetPlanPreviewResponse, error) {
	f.T.Helper()
	if dts == nil {
		dts = []*sdk.DeployTarget[config.RawDeployTargetConfig]{f.Target}
	}
	req := sdk.GetPlanPreviewRequest[config.RawApplicationSpec]{ApplicationID: fakeenv.AppID, ApplicationName: "hello", PipedID: "piped-1", TargetDeploymentSource: target}
	for _, dt := range dts {
		req.DeployTargets = append(req.DeployTargets, dt.Name)
	}
	if running != nil {
		req.RunningDeploymentSource = *running
	}
	return f.plugin.GetPlanPreview(f.T.Context(), &config.PluginConfig{}, dts, &sdk.GetPlanPreviewInput[config.RawApplicationSpec]{Request: req, Logger: zaptest.NewLogger(f.T)})
}
