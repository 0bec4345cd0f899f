package traffic

import (
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
)

func TestServing(t *testing.T) {
	t.Parallel()
	const latestType = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
	const revisionType = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
	testcases := []struct {
		name string
		svc  *runpb.Service
		want []Share
	}{
		{
			name: "success: no traffic means all to the latest ready revision",
			svc:  &runpb.Service{LatestReadyRevision: "projects/p/locations/l/services/s/revisions/s-1"},
			want: []Share{{Revision: "s-1", Percent: 100}},
		},
		{
			name: "success: applied traffic wins over requested traffic",
			svc: &runpb.Service{
				LatestReadyRevision: "projects/p/locations/l/services/s/revisions/s-2",
				Traffic: []*runpb.TrafficTarget{
					{Type: revisionType, Revision: "s-1", Percent: 50},
					{Type: revisionType, Revision: "s-3", Percent: 50, Tag: "next"},
				},
				TrafficStatuses: []*runpb.TrafficTargetStatus{
					{Type: latestType, Percent: 90},
					{Type: revisionType, Revision: "s-1", Percent: 10, Tag: "old", Uri: "https://old---s.run.app"},
					{Type: revisionType, Revision: "s-0", Percent: 0},
				},
			},
			want: []Share{
				{Revision: "s-2", Percent: 90},
				{Revision: "s-1", Percent: 10, Tags: []string{"old"}, URLs: []string{"https://old---s.run.app"}},
				{Revision: "s-3", Tags: []string{"next"}, Pending: true},
			},
		},
		{
			name: "success: a requested revision with traffic but no tag is pending, one at 0% without a tag is not listed",
			svc: &runpb.Service{
				LatestReadyRevision: "projects/p/locations/l/services/s/revisions/s-2",
				Traffic: []*runpb.TrafficTarget{
					{Type: revisionType, Revision: "s-2", Percent: 40},
					{Type: revisionType, Revision: "s-4", Percent: 60},
					{Type: revisionType, Revision: "s-5"},
				},
				TrafficStatuses: []*runpb.TrafficTargetStatus{{Type: latestType, Percent: 100}},
			},
			want: []Share{{Revision: "s-2", Percent: 100}, {Revision: "s-4", Pending: true}},
		},
		{
			name: "success: requested traffic while Cloud Run reports none",
			svc: &runpb.Service{Traffic: []*runpb.TrafficTarget{
				{Type: revisionType, Revision: "s-1", Percent: 100},
				{Type: revisionType, Revision: "s-2", Tag: "canary"},
				{Type: revisionType, Revision: "s-0"},
			}},
			want: []Share{{Revision: "s-1", Percent: 100}, {Revision: "s-2", Tags: []string{"canary"}}},
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Serving(tc.svc)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.want[0].Percent, ShareOf(got, tc.want[0].Revision))
		})
	}
}

func TestDescribeShares(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name   string
		shares []Share
		want   string
	}{
		{
			name: "success: percentages and tags, pending revisions left out",
			shares: []Share{
				{Revision: "web-a", Percent: 90},
				{Revision: "web-b", Percent: 10, Tags: []string{"canary", "next"}},
				{Revision: "web-c", Tags: []string{"preview"}, Pending: true},
			},
			want: "web-a 90%, web-b 10% (tag canary, next)",
		},
		{name: "success: only pending revisions", shares: []Share{{Revision: "web-c", Pending: true}}, want: "no revision serves traffic"},
		{name: "success: no revision", want: "no revision serves traffic"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, DescribeShares(tc.shares))
		})
	}
}

func TestShareOfMissingRevision(t *testing.T) {
	t.Parallel()
	assert.Equal(t, int32(0), ShareOf([]Share{{Revision: "web-a", Percent: 100}}, "web-b"))
}
