package planpreview

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/internal/fakeenv"
)

func TestPlanPreview_WorkerPool(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	r := f.preview(fakeenv.PoolSource(t, fakeenv.CommitV1, fakeenv.PoolV1), nil).Results[0]
	assert.True(t, strings.HasPrefix(r.Summary, "New worker pool consumer with revision consumer-1111111-"), r.Summary)
	assert.Contains(t, r.Summary, "(image gcr.io/proj/consumer:v1), 100% of the instances")
	assert.Contains(t, string(r.Details), "+  - image: gcr.io/proj/consumer:v1")
	assert.Contains(t, string(r.Details), "[ok] Cloud Run accepts the worker pool (validate_only)")
	_, err := f.Client.GetWorkerPool(t.Context(), fakeenv.PoolName)
	require.Error(t, err, "a preview creates nothing")

	v1 := f.DeployPool(fakeenv.PoolV1, fakeenv.CommitV1)
	r = f.preview(fakeenv.PoolSource(t, fakeenv.CommitV2, fakeenv.PoolV2), nil).Results[0]
	assert.False(t, r.NoChange)
	assert.Contains(t, r.Summary, "Worker pool consumer: new revision consumer-2222222-")
	assert.Contains(t, r.Summary, "; changes: template.containers[consumer].image")
	assert.Contains(t, string(r.Details), "-  - image: gcr.io/proj/consumer:v1")
	assert.Contains(t, string(r.Details), "Instance split now:")
	assert.Contains(t, string(r.Details), v1)
	assert.Contains(t, string(r.Details), "[ok] Cloud Run accepts the worker pool (validate_only)")

	r = f.preview(fakeenv.PoolSource(t, fakeenv.CommitV1, fakeenv.PoolV1), nil).Results[0]
	assert.True(t, r.NoChange, r.Summary)
	assert.Equal(t, "No change: worker pool consumer already runs revision "+v1+" (image gcr.io/proj/consumer:v1)", r.Summary)
}
