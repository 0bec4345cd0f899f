package traffic

import (
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func TestSplitsRoundTrip(t *testing.T) {
	t.Parallel()
	splits := []*runpb.InstanceSplit{
		{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: "pool-a", Percent: 30},
		{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST, Percent: 70},
	}
	back, err := ToSplits(FromSplits(splits))
	require.NoError(t, err)
	require.Len(t, back, 2)
	for i := range splits {
		assert.True(t, proto.Equal(splits[i], back[i]), "entry %d: %v != %v", i, splits[i], back[i])
	}
	_, err = ToSplits([]*runpb.TrafficTarget{Revision("pool-a", 100, "preview")})
	assert.EqualError(t, err, `the entry for revision "pool-a" has tag "preview": a worker pool's instance split has no tags`)
}

func TestLivePool(t *testing.T) {
	t.Parallel()
	pool := &runpb.WorkerPool{
		Name:                "projects/p/locations/r/workerPools/pool",
		LatestReadyRevision: "projects/p/locations/r/workerPools/pool/revisions/pool-b",
		InstanceSplits: []*runpb.InstanceSplit{
			{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: "pool-a", Percent: 30},
			{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST, Percent: 70},
		},
	}
	cur, err := LivePool(pool)
	require.NoError(t, err)
	assert.True(t, Equal([]*runpb.TrafficTarget{Revision("pool-a", 30, ""), Revision("pool-b", 70, "")}, cur), "%v", cur)

	_, err = LivePool(&runpb.WorkerPool{Name: "projects/p/locations/r/workerPools/pool"})
	assert.ErrorContains(t, err, "worker pool pool: cannot pin the traffic to the latest ready revision")
}

func TestRenderSplit(t *testing.T) {
	t.Parallel()
	before := []*runpb.TrafficTarget{Revision("pool-a", 100, "")}
	after := []*runpb.TrafficTarget{Revision("pool-b", 10, ""), Revision("pool-a", 90, "")}
	assert.Equal(t, "REVISION  INSTANCES BEFORE  → AFTER\n"+
		"pool-a    ██████████ 100%   → █████████░  90%\n"+
		"pool-b    -                 → █░░░░░░░░░  10%\n", RenderSplit(before, after))
	assert.Equal(t, "REVISION  INSTANCES\npool-b    █░░░░░░░░░  10%\npool-a    █████████░  90%\n", SplitTable(after))
}
