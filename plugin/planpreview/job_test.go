package planpreview

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/internal/fakeenv"
)

func TestPlanPreview_Job(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	resp := f.preview(fakeenv.JobSource(t, fakeenv.CommitV1, fakeenv.JobV1), nil)
	require.Len(t, resp.Results, 1)
	r := resp.Results[0]
	assert.Equal(t, "New job report with image gcr.io/proj/report:v1", r.Summary)
	assert.Contains(t, string(r.Details), "+    - image: gcr.io/proj/report:v1")
	assert.Contains(t, string(r.Details), "[ok] Cloud Run accepts the job (validate_only)")
	_, err := f.Client.GetJob(t.Context(), fakeenv.JobName)
	require.Error(t, err, "a preview creates nothing")

	f.DeployJob(fakeenv.JobV1, fakeenv.CommitV1)
	r = f.preview(fakeenv.JobSource(t, fakeenv.CommitV2, fakeenv.JobV2), nil).Results[0]
	assert.False(t, r.NoChange)
	assert.Equal(t, "Job report changes: template.template.containers[report].image (image gcr.io/proj/report:v2, was gcr.io/proj/report:v1)", r.Summary)
	assert.Contains(t, string(r.Details), "--- live job report")
	assert.Contains(t, string(r.Details), "-    - image: gcr.io/proj/report:v1")

	running := fakeenv.JobSource(t, fakeenv.CommitV1, fakeenv.JobV1)
	r = f.preview(fakeenv.JobSource(t, fakeenv.CommitV2, strings.Replace(fakeenv.JobV1, "team: data", "team: etl", 1)), &running).Results[0]
	assert.Equal(t, `Job report changes: labels[team]`, r.Summary)
	assert.Contains(t, string(r.Details), "--- running commit 1111111")

	r = f.preview(fakeenv.JobSource(t, fakeenv.CommitV2, fakeenv.JobV1), nil).Results[0]
	assert.True(t, r.NoChange, r.Summary)
	assert.Contains(t, r.Summary, "No change: job report already runs this template")

	bad := strings.Replace(fakeenv.JobV2, "template:\n  template:", "template:\n  taskCount: 1\n  parallelism: 5\n  template:", 1)
	r = f.preview(fakeenv.JobSource(t, fakeenv.CommitV2, bad), nil).Results[0]
	assert.Contains(t, r.Summary, "(pre-flight: 1 warning(s) or error(s))")
	assert.Contains(t, string(r.Details), "[error] Cloud Run refuses the job (validate_only)")
	assert.Contains(t, string(r.Details), "parallelism")
}
