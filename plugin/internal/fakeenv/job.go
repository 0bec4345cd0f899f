package fakeenv

import (
	"errors"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// JobAppConfig is the app.pipecd.yaml of a job application, whose manifest is job.yaml.
const JobAppConfig = `apiVersion: pipecd.dev/v1beta1
kind: Application
spec:
  name: report
  plugins:
    cloudrun:
      input:
        jobManifestFile: job.yaml
`

// JobV1 and JobV2 differ only in the image. They leave the task count, retries and timeout to Cloud Run.
const (
	JobV1 = `name: report
labels:
  team: data
template:
  template:
    containers:
      - name: report
        image: gcr.io/proj/report:v1
`
	JobV2 = `name: report
labels:
  team: data
template:
  template:
    containers:
      - name: report
        image: gcr.io/proj/report:v2
`
)

// JobName is the full name of the job of JobV1 and JobV2.
const JobName = "projects/" + Project + "/locations/" + Region + "/jobs/report"

// JobSource is Source of the job application with job as job.yaml.
func JobSource(t *testing.T, commit, job string) sdk.DeploymentSource[config.RawApplicationSpec] {
	return Source(t, commit, map[string]string{"app.pipecd.yaml": JobAppConfig, "job.yaml": job})
}

// DeployJob applies the job manifest at commit as CLOUDRUN_JOB_SYNC does: created, or replaced with the
// ownership labels.
func (f *Env) DeployJob(jobYAML, commit string) *runpb.Job {
	f.T.Helper()
	m, err := manifest.DecodeJob("job.yaml", []byte(jobYAML))
	require.NoError(f.T, err)
	job, err := m.Job(Project, Region)
	require.NoError(f.T, err)
	if job.Labels == nil {
		job.Labels = map[string]string{}
	}
	job.Labels[provider.LabelManagedBy] = provider.ManagedByPiped
	job.Labels[provider.LabelApplication] = AppID
	job.Labels[provider.LabelCommitHash] = commit
	ctx := f.T.Context()
	live, err := f.Client.GetJob(ctx, job.GetName())
	if errors.Is(err, provider.ErrNotFound) {
		got, err := f.Client.CreateJob(ctx, job)
		require.NoError(f.T, err)
		return got
	}
	require.NoError(f.T, err)
	job.Etag = live.GetEtag()
	got, err := f.Client.ReplaceJob(ctx, job)
	require.NoError(f.T, err)
	return got
}
