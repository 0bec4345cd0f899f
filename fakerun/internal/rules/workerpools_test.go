package rules

import (
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestInstanceCounts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		total    int32
		percents []int32
		want     []int32
	}{
		{"exact", 10, []int32{10, 90}, []int32{1, 9}},
		{"four instances at 10%: the canary gets none", 4, []int32{10, 90}, []int32{0, 4}},
		{"largest remainder", 3, []int32{50, 50}, []int32{2, 1}},
		{"three shares", 7, []int32{33, 33, 34}, []int32{2, 2, 3}},
		{"the largest remainder, not the largest share", 3, []int32{70, 30}, []int32{2, 1}},
		{"zero percent gets nothing", 5, []int32{0, 100}, []int32{0, 5}},
		{"no instances", 0, []int32{50, 50}, []int32{0, 0}},
		{"one instance goes to the largest share", 1, []int32{10, 90}, []int32{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, InstanceCounts(tc.total, tc.percents))
		})
	}
}

func TestValidateInstanceSplits(t *testing.T) {
	rev := runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION
	latest := runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST
	require.NoError(t, ValidateInstanceSplits(nil))
	require.NoError(t, ValidateInstanceSplits([]*runpb.InstanceSplit{{Type: rev, Revision: "a", Percent: 10}, {Type: latest, Percent: 90}}))
	require.NoError(t, ValidateInstanceSplits([]*runpb.InstanceSplit{{Type: rev, Revision: "a"}, {Type: latest, Percent: 100}}), "a 0% entry")
	for _, tc := range []struct {
		name   string
		splits []*runpb.InstanceSplit
		want   string
	}{
		{"sum", []*runpb.InstanceSplit{{Type: rev, Revision: "a", Percent: 10}, {Type: rev, Revision: "b", Percent: 80}},
			"Invalid value for field 'worker_pool.instance_splits': instance split percentages must add up to 100, got 90"},
		{"negative", []*runpb.InstanceSplit{{Type: rev, Revision: "a", Percent: -10}, {Type: rev, Revision: "b", Percent: 110}},
			"Invalid value for field 'worker_pool.instance_splits[0].percent': percent must be between 0 and 100, got -10"},
		{"above 100", []*runpb.InstanceSplit{{Type: rev, Revision: "a", Percent: 101}},
			"Invalid value for field 'worker_pool.instance_splits[0].percent': percent must be between 0 and 100, got 101"},
		{"revision without a name", []*runpb.InstanceSplit{{Type: rev, Percent: 100}},
			"Invalid value for field 'worker_pool.instance_splits[0].revision': an entry of type INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION must name a revision"},
		{"latest with a name", []*runpb.InstanceSplit{{Type: latest, Revision: "a", Percent: 100}},
			`Invalid value for field 'worker_pool.instance_splits[0].revision': an entry of type INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST must not name a revision, got "a"`},
		{"twice", []*runpb.InstanceSplit{{Type: rev, Revision: "a", Percent: 50}, {Revision: "a", Percent: 50}},
			`Invalid value for field 'worker_pool.instance_splits[1].revision': revision "a" is already given a share by worker_pool.instance_splits[0]; name each revision once`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateInstanceSplits(tc.splits)
			assert.Equal(t, codes.InvalidArgument, status.Code(err))
			assert.Equal(t, tc.want, status.Convert(err).Message())
		})
	}
}
