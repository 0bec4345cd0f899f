package planpreview

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

const (
	testProject = "proj"
	testRegion  = "asia-northeast1"
	testAppID   = "app-1"
	commitV1    = "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	commitV2    = "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	commitV3    = "3333333ccccccccccccccccccccccccccccccccc"
)

const appConfig = `apiVersion: pipecd.dev/v1beta1
kind: Application
spec:
  name: hello
  plugins:
    cloudrun:
      input:
        serviceManifestFile: service.yaml
`

// manifestV1 and manifestV2 differ only in the image.
const (
	manifestV1 = `name: hello
labels:
  team: web
template:
  scaling:
    maxInstanceCount: 3
  containers:
    - name: app
      image: gcr.io/proj/hello:v1
      env:
        - name: GREETING
          value: hi
`
	manifestV2 = `name: hello
labels:
  team: web
template:
  scaling:
    maxInstanceCount: 3
  containers:
    - name: app
      image: gcr.io/proj/hello:v2
      env:
        - name: GREETING
          value: hi
`
)

// fixture is one deploy target on an embedded fakerun, a Cloud Run client to arrange the live state, and
// the plugin under test.
type fixture struct {
	t      *testing.T
	srv    *fakerun.Server
	client *provider.Client
	plugin *Plugin
	dt     *sdk.DeployTarget[config.RawDeployTargetConfig]
}

func newFixture(t *testing.T, opts ...fakerun.Option) *fixture {
	t.Helper()
	srv, err := fakerun.NewServer(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	registry := provider.NewRegistry(provider.WithRetry(time.Millisecond, time.Millisecond, 2), provider.WithPollInterval(10*time.Millisecond))
	t.Cleanup(func() { _ = registry.Close() })
	dt := deployTarget(t, "dt1", fmt.Sprintf(`{"project": %q, "region": %q, "endpoint": %q, "insecure": true}`, testProject, testRegion, srv.Addr()))
	client, err := registry.Client(t.Context(), "arrange", config.DeployTargetConfig{Endpoint: srv.Addr(), Insecure: true})
	require.NoError(t, err)
	p := NewPlugin(WithRegistry(registry))
	return &fixture{t: t, srv: srv, client: client, plugin: p, dt: dt}
}

// deployTarget builds a deploy target the way the SDK does: by unmarshalling piped's JSON.
func deployTarget(t *testing.T, name, raw string) *sdk.DeployTarget[config.RawDeployTargetConfig] {
	t.Helper()
	var cfg config.RawDeployTargetConfig
	require.NoError(t, json.Unmarshal([]byte(raw), &cfg))
	return &sdk.DeployTarget[config.RawDeployTargetConfig]{Name: name, Config: cfg}
}

// source writes an application directory with app.pipecd.yaml and files, and returns it as the SDK would.
func source(t *testing.T, commit string, files map[string]string) sdk.DeploymentSource[config.RawApplicationSpec] {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"app.pipecd.yaml": appConfig}
	maps.Copy(all, files)
	for name, content := range all {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	return sdk.DeploymentSource[config.RawApplicationSpec]{
		ApplicationDirectory:      dir,
		CommitHash:                commit,
		ApplicationConfig:         sdk.LoadApplicationConfigForTest[config.RawApplicationSpec](t, filepath.Join(dir, "app.pipecd.yaml"), "cloudrun"),
		ApplicationConfigFilename: "app.pipecd.yaml",
	}
}

func manifestSource(t *testing.T, commit, service string) sdk.DeploymentSource[config.RawApplicationSpec] {
	return source(t, commit, map[string]string{"service.yaml": service})
}

// desired builds the service the deployment stages apply for a manifest at commit: ownership labels
// and an explicit revision name. mutate, when set, changes it before the revision is named (to stand
// for what Cloud Run stores).
func desired(t *testing.T, serviceYAML, commit string, mutate func(*runpb.Service)) (*runpb.Service, string) {
	t.Helper()
	m, err := manifest.Decode("service.yaml", []byte(serviceYAML))
	require.NoError(t, err)
	svc, err := m.Service(testProject, testRegion)
	require.NoError(t, err)
	if svc.Labels == nil {
		svc.Labels = map[string]string{}
	}
	svc.Labels[provider.LabelManagedBy] = provider.ManagedByPiped
	svc.Labels[provider.LabelApplication] = testAppID
	svc.Labels[provider.LabelCommitHash] = commit
	if svc.Template.Labels == nil {
		svc.Template.Labels = map[string]string{}
	}
	svc.Template.Labels[provider.LabelManagedBy] = provider.ManagedByPiped
	svc.Template.Labels[provider.LabelApplication] = testAppID
	if mutate != nil {
		mutate(svc)
	}
	rev, err := naming.RevisionName(provider.ShortName(svc.GetName()), commit, svc.GetTemplate())
	require.NoError(t, err)
	svc.Template.Revision = rev
	return svc, rev
}

// deploy applies the manifest at commit as CLOUDRUN_SYNC does; split gives the traffic from the live
// service and the new revision (nil: 100% to the new revision).
func (f *fixture) deploy(serviceYAML, commit string, mutate func(*runpb.Service), split func(live *runpb.Service, rev string) []*runpb.TrafficTarget) string {
	f.t.Helper()
	svc, rev := desired(f.t, serviceYAML, commit, mutate)
	ctx := f.t.Context()
	live, err := f.client.GetService(ctx, svc.GetName())
	if errors.Is(err, provider.ErrNotFound) {
		svc.Traffic = []*runpb.TrafficTarget{traffic.Revision(rev, 100, "")}
		_, err = f.client.CreateService(ctx, svc)
		require.NoError(f.t, err)
		return rev
	}
	require.NoError(f.t, err)
	svc.Traffic = []*runpb.TrafficTarget{traffic.Revision(rev, 100, "")}
	if split != nil {
		svc.Traffic = split(live, rev)
	}
	svc.Etag = live.GetEtag()
	_, err = f.client.ReplaceService(ctx, svc)
	require.NoError(f.t, err)
	return rev
}

func (f *fixture) preview(target sdk.DeploymentSource[config.RawApplicationSpec], running *sdk.DeploymentSource[config.RawApplicationSpec], dts ...*sdk.DeployTarget[config.RawDeployTargetConfig]) *sdk.GetPlanPreviewResponse {
	f.t.Helper()
	resp, err := f.previewErr(target, running, dts...)
	require.NoError(f.t, err)
	require.NotNil(f.t, resp)
	return resp
}

func (f *fixture) previewErr(target sdk.DeploymentSource[config.RawApplicationSpec], running *sdk.DeploymentSource[config.RawApplicationSpec], dts ...*sdk.DeployTarget[config.RawDeployTargetConfig]) (*sdk.GetPlanPreviewResponse, error) {
	f.t.Helper()
	if dts == nil {
		dts = []*sdk.DeployTarget[config.RawDeployTargetConfig]{f.dt}
	}
	req := sdk.GetPlanPreviewRequest[config.RawApplicationSpec]{ApplicationID: testAppID, ApplicationName: "hello", PipedID: "piped-1", TargetDeploymentSource: target}
	for _, dt := range dts {
		req.DeployTargets = append(req.DeployTargets, dt.Name)
	}
	if running != nil {
		req.RunningDeploymentSource = *running
	}
	return f.plugin.GetPlanPreview(f.t.Context(), &config.PluginConfig{}, dts, &sdk.GetPlanPreviewInput[config.RawApplicationSpec]{Request: req, Logger: zaptest.NewLogger(f.t)})
}
