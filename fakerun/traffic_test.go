package fakerun

import (
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func TestCanaryTrafficFlow(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		first := mustCreateService(t, c, "svc", "img:1")
		rev1 := rules.ShortName(first.GetLatestCreatedRevision())

		// Deploy a new template with traffic pinned to rev1: the new revision gets 0%.
		pinned := proto.Clone(first).(*runpb.Service)
		pinned.Template = template("img:2")
		pinned.Traffic = []*runpb.TrafficTarget{revisionTarget(rev1, 100, "")}
		deployed, err := update(t, c, pinned)
		require.NoError(t, err)
		rev2 := rules.ShortName(deployed.GetLatestCreatedRevision())
		assert.NotEqual(t, rev1, rev2)
		assert.Equal(t, first.GetLatestReadyRevision(), deployed.GetLatestReadyRevision(), "a no-traffic revision does not become latest_ready")
		require.Len(t, deployed.GetTrafficStatuses(), 1)
		assert.Equal(t, rev1, deployed.GetTrafficStatuses()[0].GetRevision())
		got, err := c.revisions.GetRevision(t.Context(), &runpb.GetRevisionRequest{Name: deployed.GetLatestCreatedRevision()})
		require.NoError(t, err)
		assert.Equal(t, runpb.Condition_CONDITION_SUCCEEDED, readyState(got))

		// Canary: 10% to the new revision with a tag, traffic-only update.
		canary, err := update(t, c, &runpb.Service{Name: testSvc, Traffic: []*runpb.TrafficTarget{
			revisionTarget(rev1, 90, "stable"), revisionTarget(rev2, 10, "canary"),
		}}, "traffic")
		require.NoError(t, err)
		assert.Equal(t, deployed.GetLatestCreatedRevision(), canary.GetLatestCreatedRevision(), "traffic-only updates create no revision")
		assert.Equal(t, testSvc+"/revisions/"+rev2, canary.GetLatestReadyRevision())
		require.Len(t, canary.GetTrafficStatuses(), 2)
		assert.Equal(t, int32(10), canary.GetTrafficStatuses()[1].GetPercent())
		assert.Regexp(t, `^https://canary---svc-[0-9a-z]{10}-uc\.a\.run\.app$`, canary.GetTrafficStatuses()[1].GetUri())
		assert.Regexp(t, `^https://stable---svc-`, canary.GetTrafficStatuses()[0].GetUri())

		// Promote: everything to LATEST.
		promoted, err := update(t, c, &runpb.Service{Name: testSvc, Traffic: []*runpb.TrafficTarget{latestTarget(100, "")}}, "traffic")
		require.NoError(t, err)
		require.Len(t, promoted.GetTrafficStatuses(), 1)
		assert.Equal(t, runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, promoted.GetTrafficStatuses()[0].GetType())
		assert.Equal(t, testSvc+"/revisions/"+rev2, promoted.GetLatestReadyRevision())
		assert.Equal(t, promoted.GetGeneration(), promoted.GetObservedGeneration())
	})
}

func TestTrafficNamesRevisionOfSameRequest(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		first := mustCreateService(t, c, "svc", "img:1")
		rev1 := rules.ShortName(first.GetLatestCreatedRevision())
		next := proto.Clone(first).(*runpb.Service)
		next.Template = &runpb.RevisionTemplate{Revision: "svc-green", Containers: template("img:2").GetContainers()}
		next.Traffic = []*runpb.TrafficTarget{revisionTarget(rev1, 100, ""), revisionTarget("svc-green", 0, "green")}
		got, err := update(t, c, next)
		require.NoError(t, err)
		assert.Equal(t, testSvc+"/revisions/svc-green", got.GetLatestCreatedRevision())
		require.Len(t, got.GetTrafficStatuses(), 2)
		assert.Equal(t, "svc-green", got.GetTrafficStatuses()[1].GetRevision())
		assert.Regexp(t, `^https://green---svc-`, got.GetTrafficStatuses()[1].GetUri())
	})
}

func TestTrafficValidation(t *testing.T) {
	t.Parallel()
	_, c := newFake(t)
	first := mustCreateService(t, c, "svc", "img:1")
	rev1 := rules.ShortName(first.GetLatestCreatedRevision())
	testcases := []struct {
		name      string
		traffic   []*runpb.TrafficTarget
		wantField string
	}{
		{name: "fail: sum below 100", traffic: []*runpb.TrafficTarget{revisionTarget(rev1, 90, "")}, wantField: "service.traffic"},
		{name: "fail: percent above 100", traffic: []*runpb.TrafficTarget{revisionTarget(rev1, 101, ""), latestTarget(-1, "")}, wantField: "service.traffic[0].percent"},
		{name: "fail: negative percent", traffic: []*runpb.TrafficTarget{latestTarget(101, ""), revisionTarget(rev1, -1, "")}, wantField: "service.traffic[0].percent"},
		{name: "fail: revision type without revision", traffic: []*runpb.TrafficTarget{revisionTarget("", 100, "")}, wantField: "service.traffic[0].revision"},
		{name: "fail: latest type naming a revision", traffic: []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Revision: rev1, Percent: 100}}, wantField: "service.traffic[0].revision"},
		{name: "fail: unknown type", traffic: []*runpb.TrafficTarget{{Type: 7, Percent: 100}}, wantField: "service.traffic[0].type"},
		{name: "fail: duplicate tags", traffic: []*runpb.TrafficTarget{revisionTarget(rev1, 100, "blue"), latestTarget(0, "blue")}, wantField: "service.traffic[1].tag"},
		{name: "fail: tag with underscore", traffic: []*runpb.TrafficTarget{revisionTarget(rev1, 100, "my_tag")}, wantField: "service.traffic[0].tag"},
		{name: "fail: tag too short", traffic: []*runpb.TrafficTarget{revisionTarget(rev1, 100, "ab")}, wantField: "service.traffic[0].tag"},
		{name: "fail: tag and service over 46 characters", traffic: []*runpb.TrafficTarget{revisionTarget(rev1, 100, strings.Repeat("t", 44))}, wantField: "service.traffic[0].tag"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := update(t, c, &runpb.Service{Name: testSvc, Traffic: tc.traffic}, "traffic")
			assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
			assert.ErrorContains(t, err, "'"+tc.wantField+"'")
		})
	}
	t.Run("success: tag at the 46 character limit", func(t *testing.T) {
		t.Parallel()
		got, err := update(t, c, &runpb.Service{Name: testSvc, Traffic: []*runpb.TrafficTarget{revisionTarget(rev1, 100, strings.Repeat("t", 43))}}, "traffic")
		require.NoError(t, err)
		assert.Len(t, got.GetTrafficStatuses()[0].GetTag(), 43)
	})
}

func TestTrafficToMissingRevisionFailsOperation(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		first := mustCreateService(t, c, "svc", "img:1")
		_, err := update(t, c, &runpb.Service{Name: testSvc, Traffic: []*runpb.TrafficTarget{revisionTarget("svc-nope", 100, "")}}, "traffic")
		require.Error(t, err)
		assert.Equal(t, codes.Internal, status.Code(err), "%v", err)
		assert.ErrorContains(t, err, "Revision 'svc-nope' does not exist or is deleted.")

		svc, err := srv.Service(testSvc)
		require.NoError(t, err)
		assert.Equal(t, runpb.Condition_CONDITION_FAILED, svc.GetTerminalCondition().GetState())
		assert.Equal(t, first.GetObservedGeneration(), svc.GetObservedGeneration())
		assert.True(t, proto.Equal(first.GetTrafficStatuses()[0], svc.GetTrafficStatuses()[0]), "observed traffic is unchanged")
	})
}

// readyState returns the state of a revision's Ready condition.
func readyState(r *runpb.Revision) runpb.Condition_State {
	for _, c := range r.GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetState()
		}
	}
	return runpb.Condition_STATE_UNSPECIFIED
}
