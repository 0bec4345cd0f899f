package manifest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

const v2WorkerPool = `name: consumer
scaling:
  manualInstanceCount: 3
template:
  containers:
    - image: gcr.io/p/consumer:v1
`

// TestDecodeKnativeWorkerPool converts a v1 WorkerPool manifest and compares the result with the v2
// WorkerPool written by hand.
func TestDecodeKnativeWorkerPool(t *testing.T) {
	t.Parallel()
	got, err := LoadWorkerPool("testdata/workerpool", "gcloud-export.yaml")
	require.NoError(t, err)
	assert.Equal(t, FormatKnativeJob, got.Format)
	want, err := LoadWorkerPool("testdata/workerpool", "gcloud-export.want.yaml")
	require.NoError(t, err)
	require.Equal(t, FormatCloudRunV2, want.Format)
	if diff := cmp.Diff(want.Proto(), got.Proto(), protocmp.Transform()); diff != "" {
		t.Errorf("converted worker pool differs from gcloud-export.want.yaml (-want +got):\n%s", diff)
	}
	data, err := protojson.Marshal(got.Proto())
	require.NoError(t, err)
	again, err := DecodeWorkerPool("again.json", data)
	require.NoError(t, err)
	assert.True(t, proto.Equal(got.Proto(), again.Proto()))

	// Where the v1 metadata says the pool lives must be the deploy target's.
	_, err = got.WorkerPool("my-proj", "us-central1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `field "metadata.labels[\"cloud.googleapis.com/location\"]" names region "asia-northeast1" but the deploy target uses region "us-central1"`)
	pool, err := got.WorkerPool("my-proj", "asia-northeast1")
	require.NoError(t, err)
	assert.Equal(t, "projects/my-proj/locations/asia-northeast1/workerPools/consumer", pool.GetName())
}

func TestDecodeWorkerPool(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		data    string
		wantErr []string
	}{
		{name: "success: v2 worker pool", data: v2WorkerPool},
		{name: "success: v2 with apiVersion and kind", data: "apiVersion: run.googleapis.com/v2\nkind: WorkerPool\n" + v2WorkerPool},
		{name: "success: a split adding up to 100", data: v2WorkerPool + "instanceSplits:\n  - {type: INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST, percent: 100}\n"},
		{name: "fail: a service manifest", data: "kind: Service\n" + v2WorkerPool,
			wantErr: []string{`kind "Service" is not supported, allowed WorkerPool; this is a Cloud Run service: name its manifest in input.serviceManifestFile instead of input.workerPoolManifestFile`}},
		{name: "fail: a job manifest", data: "apiVersion: run.googleapis.com/v1\nkind: Job\nmetadata: {name: a}\n",
			wantErr: []string{`kind "Job" is not supported, allowed WorkerPool; this is a Cloud Run job: name its manifest in input.jobManifestFile instead of input.workerPoolManifestFile`}},
		{name: "fail: a Knative service", data: "apiVersion: serving.knative.dev/v1\n" + v2WorkerPool,
			wantErr: []string{`apiVersion "serving.knative.dev/v1" is not supported, allowed run.googleapis.com/v2 or none (Cloud Run Admin API v2 WorkerPool), or run.googleapis.com/v1 (Cloud Run Admin API v1 WorkerPool)`}},
		{name: "fail: a service field", data: v2WorkerPool + "traffic:\n  - {percent: 100}\n", wantErr: []string{`unknown field "traffic"`}},
		{name: "fail: a service template field", data: strings.Replace(v2WorkerPool, "template:\n", "template:\n  timeout: 60s\n", 1), wantErr: []string{`unknown field "template.timeout"`}},
		{name: "fail: split not adding up to 100", data: v2WorkerPool + "instanceSplits:\n  - {revision: consumer-a, percent: 60}\n  - {revision: consumer-b, percent: 30}\n",
			wantErr: []string{`field "instanceSplits": the percentages add up to 90, allowed exactly 100`}},
		{name: "fail: negative percent", data: v2WorkerPool + "instanceSplits:\n  - {revision: consumer-a, percent: -10}\n  - {revision: consumer-b, percent: 110}\n",
			wantErr: []string{`field "instanceSplits[0].percent": -10 is invalid, allowed a percentage from 0 to 100`}},
		{name: "fail: negative instance count", data: strings.Replace(v2WorkerPool, "manualInstanceCount: 3", "manualInstanceCount: -1", 1),
			wantErr: []string{`field "scaling.manualInstanceCount": -1 is invalid, allowed a whole number of instances, 0 or more`}},
		{name: "fail: no container", data: "name: consumer\ntemplate: {}\n", wantErr: []string{`field "template.containers" needs at least one container`}},
		{name: "fail: invalid name", data: strings.Replace(v2WorkerPool, "name: consumer", "name: Consumer_1", 1),
			wantErr: []string{`"Consumer_1" is not a valid worker pool name`, `projects/PROJECT/locations/REGION/workerPools/my-pool`}},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := DecodeWorkerPool("pool.yaml", []byte(tc.data))
			if len(tc.wantErr) > 0 {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "manifest pool.yaml: ")
				for _, want := range tc.wantErr {
					assert.Contains(t, err.Error(), want)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "consumer", m.WorkerPoolID())
		})
	}
}

// TestOtherManifestsRefuseWorkerPool: a worker pool manifest where a service or a job is expected names
// the field that takes it.
func TestOtherManifestsRefuseWorkerPool(t *testing.T) {
	t.Parallel()
	pool := []byte("apiVersion: run.googleapis.com/v1\nkind: WorkerPool\nmetadata: {name: a}\n")
	_, err := Decode("service.yaml", pool)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `manifest service.yaml: kind "WorkerPool" is not supported, allowed Service; this is a Cloud Run worker pool: name its manifest in input.workerPoolManifestFile instead of input.serviceManifestFile`)
	_, err = DecodeJob("job.yaml", pool)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `manifest job.yaml: kind "WorkerPool" is not supported, allowed Job; this is a Cloud Run worker pool: name its manifest in input.workerPoolManifestFile instead of input.jobManifestFile`)
}

// TestDecodeKnativeWorkerPoolListsEveryProblem checks that one error lists every field that cannot be
// converted, the settings only a service's revisions have among them.
func TestDecodeKnativeWorkerPoolListsEveryProblem(t *testing.T) {
	t.Parallel()
	data := `apiVersion: run.googleapis.com/v1
kind: WorkerPool
metadata:
  name: consumer
  annotations:
    run.googleapis.com/ingress: all
    run.googleapis.com/scalingMode: automatic
spec:
  traffic:
    - percent: 100
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/maxScale: '3'
        run.googleapis.com/execution-environment: gen2
        run.googleapis.com/cpu-throttling: 'true'
    spec:
      containerConcurrency: 80
      timeoutSeconds: 300
      containers:
        - image: gcr.io/p/consumer:v1
  instanceSplits:
    - percent: 100
`
	_, err := DecodeWorkerPool("pool.yaml", []byte(data))
	require.Error(t, err)
	for _, want := range []string{
		"cannot be converted to a Cloud Run Admin API v2 WorkerPool (9 problems)",
		`field "metadata.annotations[\"run.googleapis.com/ingress\"]": cannot be converted`,
		`field "metadata.annotations[\"run.googleapis.com/scalingMode\"]": "automatic" is invalid, allowed one of "manual"`,
		`field "spec.traffic": cannot be converted`,
		`field "spec.template.spec.containerConcurrency": cannot be converted: a worker pool's revisions take no requests`,
		`field "spec.template.spec.timeoutSeconds": cannot be converted`,
		`autoscaling.knative.dev/minScale\"] or maxScale": cannot be converted: a worker pool runs run.googleapis.com/manualInstanceCount instances`,
		`field "spec.template.metadata.annotations[\"run.googleapis.com/execution-environment\"]": cannot be converted`,
		`field "spec.template.metadata.annotations[\"run.googleapis.com/cpu-throttling\"]": cannot be converted: a worker pool's instances always have CPU`,
		`field "spec.instanceSplits[0]": needs revisionName or latestRevision: true`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}
