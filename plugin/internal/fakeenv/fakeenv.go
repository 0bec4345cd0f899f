// Package fakeenv is the test environment the live state and plan preview tests share: one deploy target on
// an embedded fakerun, a Cloud Run client that arranges the live state as CLOUDRUN_SYNC leaves it, and
// application sources at a commit. Only _test.go files import it, so the plugin binary never links fakerun.
package fakeenv

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

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// The project, region and application of the environment, and the commits its tests deploy.
const (
	Project  = "proj"
	Region   = "asia-northeast1"
	AppID    = "app-1"
	CommitV1 = "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	CommitV2 = "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	CommitV3 = "3333333ccccccccccccccccccccccccccccccccc"
)

// AppConfig is the app.pipecd.yaml of the application, whose manifest is service.yaml.
const AppConfig = `apiVersion: pipecd.dev/v1beta1
kind: Application
spec:
  name: hello
  plugins:
    cloudrun:
      input:
        serviceManifestFile: service.yaml
`

// ManifestV1 and ManifestV2 differ only in the image.
const (
	ManifestV1 = `name: hello
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
	ManifestV2 = `name: hello
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

// Env is one deploy target (Target) on an embedded fakerun (Server), the registry the plugin under test
// takes its clients from, and a Cloud Run client to arrange the live state.
type Env struct {
	T        *testing.T
	Server   *fakerun.Server
	Registry *provider.Registry
	Client   *provider.Client
	Target   *target.DeployTarget
}

// New starts fakerun with opts and returns the environment; everything stops with the test.
func New(t *testing.T, opts ...fakerun.Option) *Env {
	t.Helper()
	srv, err := fakerun.NewServer(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	registry := provider.NewRegistry(provider.WithRetry(time.Millisecond, time.Millisecond, 2), provider.WithPollInterval(10*time.Millisecond))
	t.Cleanup(func() { _ = registry.Close() })
	dt := DeployTarget(t, "dt1", fmt.Sprintf(`{"project": %q, "region": %q, "endpoint": %q, "insecure": true}`, Project, Region, srv.Addr()))
	client, err := registry.Client(t.Context(), "arrange", config.DeployTargetConfig{Endpoint: srv.Addr(), Insecure: true})
	require.NoError(t, err)
	return &Env{T: t, Server: srv, Registry: registry, Client: client, Target: dt}
}

// DeployTarget builds a deploy target the way the SDK does: by unmarshalling piped's JSON.
func DeployTarget(t *testing.T, name, raw string) *target.DeployTarget {
	t.Helper()
	var cfg config.RawDeployTargetConfig
	require.NoError(t, json.Unmarshal([]byte(raw), &cfg))
	return &target.DeployTarget{Name: name, Config: cfg}
}

// Source writes an application directory with app.pipecd.yaml and files, and returns it as the SDK would.
func Source(t *testing.T, commit string, files map[string]string) sdk.DeploymentSource[config.RawApplicationSpec] {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"app.pipecd.yaml": AppConfig}
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

// ManifestSource is Source with service as service.yaml.
func ManifestSource(t *testing.T, commit, service string) sdk.DeploymentSource[config.RawApplicationSpec] {
	return Source(t, commit, map[string]string{"service.yaml": service})
}

// Desired builds the service the deployment stages apply for a manifest at commit: ownership labels
// and an explicit revision name. mutate, when set, changes it before the revision is named (to stand
// for what Cloud Run stores).
func Desired(t *testing.T, serviceYAML, commit string, mutate func(*runpb.Service)) (*runpb.Service, string) {
	t.Helper()
	m, err := manifest.Decode("service.yaml", []byte(serviceYAML))
	require.NoError(t, err)
	svc, err := m.Service(Project, Region)
	require.NoError(t, err)
	if svc.Labels == nil {
		svc.Labels = map[string]string{}
	}
	svc.Labels[provider.LabelManagedBy] = provider.ManagedByPiped
	svc.Labels[provider.LabelApplication] = AppID
	svc.Labels[provider.LabelCommitHash] = commit
	if svc.Template.Labels == nil {
		svc.Template.Labels = map[string]string{}
	}
	svc.Template.Labels[provider.LabelManagedBy] = provider.ManagedByPiped
	svc.Template.Labels[provider.LabelApplication] = AppID
	if mutate != nil {
		mutate(svc)
	}
	rev, err := naming.RevisionName(naming.ShortName(svc.GetName()), commit, svc.GetTemplate())
	require.NoError(t, err)
	svc.Template.Revision = rev
	return svc, rev
}

// Deploy applies the manifest at commit as CLOUDRUN_SYNC does; split gives the traffic from the live
// service and the new revision (nil: 100% to the new revision).
func (f *Env) Deploy(serviceYAML, commit string, mutate func(*runpb.Service), split func(live *runpb.Service, rev string) []*runpb.TrafficTarget) string {
	f.T.Helper()
	svc, rev := Desired(f.T, serviceYAML, commit, mutate)
	ctx := f.T.Context()
	live, err := f.Client.GetService(ctx, svc.GetName())
	if errors.Is(err, provider.ErrNotFound) {
		svc.Traffic = []*runpb.TrafficTarget{traffic.Revision(rev, 100, "")}
		_, err = f.Client.CreateService(ctx, svc)
		require.NoError(f.T, err)
		return rev
	}
	require.NoError(f.T, err)
	svc.Traffic = []*runpb.TrafficTarget{traffic.Revision(rev, 100, "")}
	if split != nil {
		svc.Traffic = split(live, rev)
	}
	svc.Etag = live.GetEtag()
	_, err = f.Client.ReplaceService(ctx, svc)
	require.NoError(f.T, err)
	return rev
}

// SetTraffic replaces the traffic of the service out of band.
func (f *Env) SetTraffic(targets ...*runpb.TrafficTarget) {
	f.T.Helper()
	name := naming.ServiceName(Project, Region, "hello")
	live, err := f.Client.GetService(f.T.Context(), name)
	require.NoError(f.T, err)
	_, err = f.Client.UpdateTraffic(f.T.Context(), name, live.GetEtag(), targets)
	require.NoError(f.T, err)
}
