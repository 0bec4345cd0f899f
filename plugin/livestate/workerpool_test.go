package livestate

import (
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/internal/fakeenv"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

func TestLivestate_WorkerPool(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	resp := f.livestate(fakeenv.PoolSource(t, fakeenv.CommitV1, fakeenv.PoolV1))
	assert.Equal(t, sdk.ApplicationSyncStateOutOfSync, resp.SyncState.Status)
	assert.Contains(t, resp.SyncState.ShortReason, "Worker pool consumer does not exist")

	v1 := f.DeployPool(fakeenv.PoolV1, fakeenv.CommitV1)
	resp = f.livestate(fakeenv.PoolSource(t, fakeenv.CommitV1, fakeenv.PoolV1))
	assert.Equal(t, sdk.ApplicationSyncStateSynced, resp.SyncState.Status, resp.SyncState.Reason)
	assert.Equal(t, "Worker pool consumer runs git's revision "+v1+" with all the instances", resp.SyncState.ShortReason)
	pool := resourceByName(t, resp, "consumer")
	assert.Equal(t, ResourceTypeWorkerPool, pool.ResourceType)
	assert.Equal(t, sdk.ResourceHealthStateHealthy, pool.HealthStatus)
	assert.Equal(t, "4", pool.ResourceMetadata["manualInstanceCount"])
	rev := resourceByName(t, resp, v1)
	assert.Equal(t, ResourceTypeRevision, rev.ResourceType)
	assert.Equal(t, []string{fakeenv.PoolName}, rev.ParentIDs)
	assert.Contains(t, rev.HealthDescription, "100% of the instances")

	// A canary of commit 2 at 25%: in sync while the pool carries commit 2.
	v2 := f.DeployPool(fakeenv.PoolV2, fakeenv.CommitV2)
	f.SetSplit(traffic.Revision(v1, 75, ""), traffic.Revision(v2, 25, ""))
	resp = f.livestate(fakeenv.PoolSource(t, fakeenv.CommitV2, fakeenv.PoolV2))
	assert.Equal(t, sdk.ApplicationSyncStateSynced, resp.SyncState.Status, resp.SyncState.Reason)
	assert.Contains(t, resp.SyncState.ShortReason, "Deployment of commit 2222222 in progress or stopped: its revision "+v2+" of worker pool consumer has 25% of the instances")

	// The same split seen from a later commit was made outside PipeCD: drift.
	resp = f.livestate(fakeenv.PoolSource(t, fakeenv.CommitV3, fakeenv.PoolV2))
	assert.Equal(t, sdk.ApplicationSyncStateOutOfSync, resp.SyncState.Status)
	assert.Equal(t, "Instance split of worker pool consumer was changed outside PipeCD: git's revision "+v2+" has 25% of the instances", resp.SyncState.ShortReason)

	// A template change out of band is drift in the template.
	resp = f.livestate(fakeenv.PoolSource(t, fakeenv.CommitV1, fakeenv.PoolV1))
	require.Equal(t, sdk.ApplicationSyncStateOutOfSync, resp.SyncState.Status)
	assert.Contains(t, resp.SyncState.ShortReason, "Worker pool consumer differs from git: template.containers[consumer].image")
}
