package fakeenv

import (
	"errors"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// PoolAppConfig is the app.pipecd.yaml of a worker pool application, whose manifest is pool.yaml.
const PoolAppConfig = `apiVersion: pipecd.dev/v1beta1
kind: Application
spec:
  name: consumer
  plugins:
    cloudrun:
      input:
        workerPoolManifestFile: pool.yaml
`

// PoolV1 and PoolV2 differ only in the image.
const (
	PoolV1 = `name: consumer
scaling:
  manualInstanceCount: 4
template:
  containers:
    - name: consumer
      image: gcr.io/proj/consumer:v1
`
	PoolV2 = `name: consumer
scaling:
  manualInstanceCount: 4
template:
  containers:
    - name: consumer
      image: gcr.io/proj/consumer:v2
`
)

// PoolName is the full name of the worker pool of PoolV1 and PoolV2.
const PoolName = "projects/" + Project + "/locations/" + Region + "/workerPools/consumer"

// PoolSource is Source of the worker pool application with pool as pool.yaml.
func PoolSource(t *testing.T, commit, pool string) sdk.DeploymentSource[config.RawApplicationSpec] {
	return Source(t, commit, map[string]string{"app.pipecd.yaml": PoolAppConfig, "pool.yaml": pool})
}

// DeployPool applies the worker pool manifest at commit as CLOUDRUN_SYNC leaves it after a quick sync: the
// revision named by the plugin's rule with 100% of the instances, the ownership labels. It returns the
// short revision name once the revision is ready.
func (f *Env) DeployPool(poolYAML, commit string) string {
	f.T.Helper()
	src, err := app.Load(PoolSource(f.T, commit, poolYAML))
	require.NoError(f.T, err)
	want, err := src.DesiredPool(config.DeployTargetConfig{Project: Project, Region: Region}, sdk.Deployment{ApplicationID: AppID, PipedID: "piped-1"})
	require.NoError(f.T, err)
	pool := want.Pool
	pool.InstanceSplits = []*runpb.InstanceSplit{{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: want.Revision, Percent: 100}}
	ctx := f.T.Context()
	live, err := f.Client.GetWorkerPool(ctx, pool.GetName())
	if errors.Is(err, provider.ErrNotFound) {
		_, err = f.Client.CreateWorkerPool(ctx, pool)
	} else {
		require.NoError(f.T, err)
		pool.Etag = live.GetEtag()
		_, err = f.Client.ReplaceWorkerPool(ctx, pool)
	}
	require.NoError(f.T, err)
	got, err := f.Client.GetWorkerPool(ctx, pool.GetName())
	require.NoError(f.T, err)
	require.False(f.T, got.GetReconciling(), "fakerun without a readiness delay settles the rollout at once")
	return want.Revision
}

// SetSplit replaces the worker pool's instance split, as someone outside PipeCD would.
func (f *Env) SetSplit(split ...*runpb.TrafficTarget) {
	f.T.Helper()
	live, err := f.Client.GetWorkerPool(f.T.Context(), PoolName)
	require.NoError(f.T, err)
	splits, err := traffic.ToSplits(split)
	require.NoError(f.T, err)
	_, err = f.Client.UpdateInstanceSplit(f.T.Context(), PoolName, live.GetEtag(), splits)
	require.NoError(f.T, err)
}
