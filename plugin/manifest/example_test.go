package manifest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/diff"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// TestKnativeExampleDeploys loads the Knative manifest of examples/knative-v0, a PipeCD v0 application,
// creates and updates the service with it on fakerun through the plugin's Cloud Run client, and checks
// that the live service shows no drift from the manifest. The full canary of that example runs in the
// end-to-end suite.
func TestKnativeExampleDeploys(t *testing.T) {
	t.Parallel()
	m, err := manifest.Load("../../examples/knative-v0", "service.yaml")
	require.NoError(t, err)
	assert.Equal(t, manifest.FormatKnative, m.Format)
	want, err := manifest.Decode("want.yaml", []byte(`
name: knative-v0
template:
  scaling: {maxInstanceCount: 2}
  maxInstanceRequestConcurrency: 80
  containers:
    - image: gcr.io/pipecd/helloworld:v0.27.4
      args: [server]
      ports: [{containerPort: 9085}]
      resources: {limits: {cpu: 1000m, memory: 128Mi}, cpuIdle: true}
`))
	require.NoError(t, err)
	if diff := cmp.Diff(want.Proto(), m.Proto(), protocmp.Transform()); diff != "" {
		t.Fatalf("examples/knative-v0/service.yaml converts differently (-want +got):\n%s", diff)
	}

	srv, err := fakerun.NewServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	client, err := provider.NewClient(t.Context(), config.DeployTargetConfig{Endpoint: srv.Addr(), Insecure: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })

	svc, err := m.Service("demo-project", "asia-northeast1")
	require.NoError(t, err)
	_, err = client.CreateService(t.Context(), svc)
	require.NoError(t, err)
	live, err := client.GetService(t.Context(), svc.GetName())
	require.NoError(t, err)
	assert.True(t, diff.Compare(svc, live).InSync(), "drift right after creating the service: %v", diff.Compare(svc, live).Paths())

	require.NoError(t, m.SetImage("gcr.io/pipecd/helloworld:v0.28.0"))
	next, err := m.Service("demo-project", "asia-northeast1")
	require.NoError(t, err)
	next.Etag = live.GetEtag()
	_, err = client.ReplaceService(t.Context(), next)
	require.NoError(t, err)
	live, err = client.GetService(t.Context(), svc.GetName())
	require.NoError(t, err)
	assert.True(t, diff.Compare(next, live).InSync(), "drift after updating the service: %v", diff.Compare(next, live).Paths())
	revisions, err := client.ListRevisions(t.Context(), svc.GetName())
	require.NoError(t, err)
	images := map[string]bool{}
	for _, r := range revisions {
		images[r.GetContainers()[0].GetImage()] = true
		assert.Equal(t, int32(80), r.GetMaxInstanceRequestConcurrency())
		assert.Equal(t, int32(2), r.GetScaling().GetMaxInstanceCount())
		assert.True(t, r.GetContainers()[0].GetResources().GetCpuIdle(), "CPU must stay throttled as in v1")
	}
	assert.Equal(t, map[string]bool{"gcr.io/pipecd/helloworld:v0.27.4": true, "gcr.io/pipecd/helloworld:v0.28.0": true}, images)
}
