package livestate

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

func (f *fixture) livestate(src sdk.DeploymentSource[config.RawApplicationSpec], dts ...*sdk.DeployTarget[config.RawDeployTargetConfig]) *sdk.GetLivestateResponse {
	f.T.Helper()
	if dts == nil {
		dts = []*sdk.DeployTarget[config.RawDeployTargetConfig]{f.Target}
	}
	resp, err := f.plugin.GetLivestate(f.T.Context(), &config.PluginConfig{}, dts, &sdk.GetLivestateInput[config.RawApplicationSpec]{
		Request: sdk.GetLivestateRequest[config.RawApplicationSpec]{PipedID: "piped-1", ApplicationID: fakeenv.AppID, ApplicationName: "hello", DeploymentSource: src},
		Logger:  zaptest.NewLogger(f.T),
	})
	require.NoError(f.T, err)
	require.NotNil(f.T, resp)
	return resp
}

// resourceByName returns the resource named name.
func resourceByName(t *testing.T, resp *sdk.GetLivestateResponse, name string) sdk.ResourceState {
	t.Helper()
	for _, r := range resp.LiveState.Resources {
		if r.Name == name {
			return r
		}
	}
	require.Failf(t, "resource not found", "no resource %q in %+v", name, resp.LiveState.Resources)
	return sdk.ResourceState{}
}
