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

const v2Job = `name: migrate
template:
  taskCount: 2
  template:
    maxRetries: 1
    timeout: 60s
    containers:
      - image: gcr.io/p/migrate:v1
`

// TestDecodeKnativeJob converts v1 Job manifests and compares the result with the v2 Job written by hand.
func TestDecodeKnativeJob(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"pipecd-5812", "gcloud-export"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			got, err := LoadJob("testdata/job", file+".yaml")
			require.NoError(t, err)
			assert.Equal(t, FormatKnativeJob, got.Format)
			want, err := LoadJob("testdata/job", file+".want.yaml")
			require.NoError(t, err)
			require.Equal(t, FormatCloudRunV2, want.Format)
			if diff := cmp.Diff(want.Proto(), got.Proto(), protocmp.Transform()); diff != "" {
				t.Errorf("converted job differs from %s.want.yaml (-want +got):\n%s", file, diff)
			}
			data, err := protojson.Marshal(got.Proto())
			require.NoError(t, err)
			again, err := DecodeJob("again.json", data)
			require.NoError(t, err)
			assert.True(t, proto.Equal(got.Proto(), again.Proto()))
		})
	}
}

func TestDecodeJob(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		data    string
		wantErr []string
	}{
		{name: "success: v2 job", data: v2Job},
		{name: "success: v2 job with apiVersion and kind", data: "apiVersion: run.googleapis.com/v2\nkind: Job\n" + v2Job},
		{name: "success: JSON", data: `{"name": "migrate", "template": {"template": {"containers": [{"image": "gcr.io/p/m:v1"}]}}}`},
		{name: "fail: a service manifest", data: "kind: Service\n" + v2Job, wantErr: []string{`kind "Service" is not supported, allowed Job`, "input.serviceManifestFile"}},
		{name: "fail: a Knative service", data: "apiVersion: serving.knative.dev/v1\n" + v2Job, wantErr: []string{`apiVersion "serving.knative.dev/v1" is not supported`, "run.googleapis.com/v1"}},
		{name: "fail: a service and a job in one file", data: v2Job + "---\nkind: Service\nname: web\n", wantErr: []string{"found 2 YAML documents", "a service, a job and a worker pool are separate applications"}},
		{name: "fail: unknown field", data: strings.Replace(v2Job, "taskCount", "taskCont", 1), wantErr: []string{`unknown field "template.taskCont"`, `did you mean "taskCount"`}},
		{name: "fail: output-only field", data: "executionCount: 3\n" + v2Job, wantErr: []string{`field "executionCount" is output only`}},
		{name: "fail: no container", data: "name: migrate\ntemplate: {template: {}}\n", wantErr: []string{`field "template.template.containers" needs at least one container`}},
		{name: "fail: invalid image", data: strings.Replace(v2Job, "gcr.io/p/migrate:v1", "gcr.io/p/Migrate", 1), wantErr: []string{`field "template.template.containers[0].image"`}},
		{name: "fail: invalid name", data: strings.Replace(v2Job, "name: migrate", "name: Migrate_All", 1), wantErr: []string{`"Migrate_All" is not a valid job name`, "at most 63 characters"}},
		{name: "fail: service full name", data: strings.Replace(v2Job, "name: migrate", "name: projects/p/locations/r/services/migrate", 1), wantErr: []string{"is not a valid job name", "projects/PROJECT/locations/REGION/jobs/my-job"}},
		{name: "fail: task count is not a number", data: strings.Replace(v2Job, "taskCount: 2", "taskCount: two", 1), wantErr: []string{`field "template.taskCount": "two" is invalid, allowed an integer`}},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := DecodeJob("job.yaml", []byte(tc.data))
			if len(tc.wantErr) > 0 {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "manifest job.yaml: ")
				for _, want := range tc.wantErr {
					assert.Contains(t, err.Error(), want)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "migrate", m.JobID())
		})
	}
}

func TestServiceManifestRefusesJob(t *testing.T) {
	t.Parallel()
	_, err := Decode("service.yaml", []byte("apiVersion: run.googleapis.com/v1\nkind: Job\nmetadata: {name: a}\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `manifest service.yaml: kind "Job" is not supported, allowed Service; this is a Cloud Run job: name its manifest in input.jobManifestFile`)
}

// TestDecodeKnativeJobListsEveryProblem checks that one error lists every field that cannot be converted.
func TestDecodeKnativeJobListsEveryProblem(t *testing.T) {
	t.Parallel()
	data := `apiVersion: run.googleapis.com/v1
kind: Job
metadata:
  name: migrate
  annotations:
    run.googleapis.com/ingress: all
spec:
  backoffLimit: 3
  template:
    metadata:
      annotations:
        run.googleapis.com/execution-environment: gen3
    spec:
      taskCount: 0
      template:
        spec:
          timeoutSeconds: soon
          restartPolicy: Never
          containers:
            - image: gcr.io/p/m:v1
              imagePullPolicy: Always
`
	_, err := DecodeJob("job.yaml", []byte(data))
	require.Error(t, err)
	for _, want := range []string{
		"cannot be converted to a Cloud Run Admin API v2 Job (7 problems)",
		`field "metadata.annotations[\"run.googleapis.com/ingress\"]": cannot be converted`,
		`field "spec.backoffLimit": cannot be converted`,
		`field "spec.template.metadata.annotations[\"run.googleapis.com/execution-environment\"]": "gen3" is invalid, allowed one of "gen1", "gen2"`,
		`field "spec.template.spec.taskCount": 0 is invalid, allowed an integer from 1 to 10000`,
		`field "spec.template.spec.template.spec.timeoutSeconds": "soon" is invalid, allowed an integer from 1 to 604800`,
		`field "spec.template.spec.template.spec.restartPolicy": cannot be converted`,
		`field "spec.template.spec.template.spec.containers[0].imagePullPolicy": cannot be converted`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestJobPlacement(t *testing.T) {
	t.Parallel()
	m, err := LoadJob("testdata/job", "pipecd-5812.yaml")
	require.NoError(t, err)
	job, err := m.Job("sample-ns", "asia-northeast1")
	require.NoError(t, err)
	assert.Equal(t, "projects/sample-ns/locations/asia-northeast1/jobs/sample-job", job.GetName())
	_, err = m.Job("other", "asia-northeast1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `field "metadata.namespace" names project "sample-ns" but the deploy target uses project "other"`)
}

func TestJobSetImage(t *testing.T) {
	t.Parallel()
	m, err := DecodeJob("job.yaml", []byte(v2Job))
	require.NoError(t, err)
	require.NoError(t, m.SetImage("gcr.io/p/migrate:v2"))
	assert.Equal(t, []string{"gcr.io/p/migrate:v2"}, m.Images())

	two, err := DecodeJob("job.yaml", []byte(strings.Replace(v2Job, "      - image: gcr.io/p/migrate:v1\n", "      - image: gcr.io/p/migrate:v1\n      - image: gcr.io/p/proxy:v1\n", 1)))
	require.NoError(t, err)
	err = two.SetImage("gcr.io/p/migrate:v2")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot apply input.image: the job has 2 containers")
	assert.Equal(t, []string{"gcr.io/p/migrate:v1", "gcr.io/p/proxy:v1"}, two.Images())
}
