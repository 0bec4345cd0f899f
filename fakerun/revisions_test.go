package fakerun

import (
	"errors"
	"fmt"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// deploy changes the service's image and waits, returning the service.
func deploy(t *testing.T, c clients, image string, traffic ...*runpb.TrafficTarget) *runpb.Service {
	t.Helper()
	svc := &runpb.Service{Name: testSvc, Template: template(image), Traffic: traffic}
	got, err := update(t, c, svc)
	require.NoError(t, err)
	return got
}

func listRevisions(t *testing.T, c clients, parent string, pageSize int32) []string {
	t.Helper()
	it := c.revisions.ListRevisions(t.Context(), &runpb.ListRevisionsRequest{Parent: parent, PageSize: pageSize})
	var names []string
	for {
		r, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return names
		}
		require.NoError(t, err)
		names = append(names, rules.ShortName(r.GetName()))
	}
}

func TestGetAndListRevisions(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		mustCreateService(t, c, "svc", "img:1")
		deploy(t, c, "img:2")
		last := deploy(t, c, "img:3")
		other := testParent + "/services/other"
		_, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
			Parent: testParent, ServiceId: "other", Service: &runpb.Service{Template: template("o")}})
		require.NoError(t, err)

		rev, err := c.revisions.GetRevision(t.Context(), &runpb.GetRevisionRequest{Name: last.GetLatestCreatedRevision()})
		require.NoError(t, err)
		assert.Equal(t, testSvc, rev.GetService())
		assert.Equal(t, "img:3", rev.GetContainers()[0].GetImage())
		assert.Equal(t, runpb.Condition_CONDITION_SUCCEEDED, readyState(rev))
		assert.False(t, rev.GetReconciling())
		assert.NotEmpty(t, rev.GetUid())
		assert.NotEmpty(t, rev.GetEtag())

		names := listRevisions(t, c, testSvc, 2)
		require.Len(t, names, 3)
		assert.Regexp(t, `^svc-00003-`, names[0], "newest first")
		assert.Regexp(t, `^svc-00001-`, names[2])
		all := listRevisions(t, c, testParent+"/services/-", 0)
		assert.Len(t, all, 4)
		assert.Regexp(t, `^other-00001-`, all[0], "services in name order")

		_, err = c.revisions.GetRevision(t.Context(), &runpb.GetRevisionRequest{Name: testSvc + "/revisions/svc-nope"})
		assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)
		_, err = c.revisions.ListRevisions(t.Context(), &runpb.ListRevisionsRequest{Parent: testParent + "/services/nope"}).Next()
		assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)
		assert.Len(t, srv.Revisions(other), 1)
	})
}

func TestDeleteRevision(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		first := mustCreateService(t, c, "svc", "img:1")
		rev1 := first.GetLatestCreatedRevision()
		second := deploy(t, c, "img:2", revisionTarget(rules.ShortName(rev1), 100, ""))
		rev2 := second.GetLatestCreatedRevision()
		third := deploy(t, c, "img:3", revisionTarget(rules.ShortName(rev1), 90, ""), revisionTarget(rules.ShortName(rev2), 10, ""))
		rev3 := third.GetLatestCreatedRevision()
		// rev3 is latest; rev1 and rev2 serve traffic.

		// Over REST, FAILED_PRECONDITION is HTTP 400, which the Go client reads as InvalidArgument.
		refused := codes.FailedPrecondition
		if c.transport == "rest" {
			refused = codes.InvalidArgument
		}
		testcases := []struct {
			name     string
			revision string
			wantCode codes.Code
			wantMsg  string
		}{
			{name: "fail: latest revision", revision: rev3, wantCode: refused, wantMsg: "latest revision"},
			{name: "fail: serving revision", revision: rev2, wantCode: refused, wantMsg: "actively serving"},
			{name: "fail: missing revision", revision: testSvc + "/revisions/svc-nope", wantCode: codes.NotFound},
		}
		for _, tc := range testcases {
			_, err := c.revisions.DeleteRevision(t.Context(), &runpb.DeleteRevisionRequest{Name: tc.revision})
			assert.Equal(t, tc.wantCode, status.Code(err), "%s: %v", tc.name, err)
			assert.ErrorContains(t, err, tc.wantMsg, tc.name)
		}

		// Move traffic off rev2, then it can go.
		_, err := update(t, c, &runpb.Service{Name: testSvc, Traffic: []*runpb.TrafficTarget{latestTarget(100, "")}}, "traffic")
		require.NoError(t, err)
		op, err := c.revisions.DeleteRevision(t.Context(), &runpb.DeleteRevisionRequest{Name: rev2})
		require.NoError(t, err)
		deleted, err := op.Wait(t.Context())
		require.NoError(t, err)
		assert.Equal(t, rev2, deleted.GetName())
		assert.NotNil(t, deleted.GetDeleteTime())
		_, err = c.revisions.GetRevision(t.Context(), &runpb.GetRevisionRequest{Name: rev2})
		assert.Equal(t, codes.NotFound, status.Code(err))
		assert.Len(t, srv.Revisions(testSvc), 2)
	})
}

func TestRevisionCap(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t, WithRevisionCap(3))
	first := mustCreateService(t, c, "svc", "img:0")
	pinned := revisionTarget(rules.ShortName(first.GetLatestCreatedRevision()), 100, "")
	for i := 1; i <= 4; i++ {
		deploy(t, c, fmt.Sprintf("img:%d", i), pinned)
	}
	revs := srv.Revisions(testSvc)
	require.Len(t, revs, 3)
	assert.Equal(t, first.GetLatestCreatedRevision(), revs[2].GetName(), "the serving revision survives")
	assert.Equal(t, "img:4", revs[0].GetContainers()[0].GetImage())
	assert.Equal(t, "img:3", revs[1].GetContainers()[0].GetImage(), "the oldest non-serving revisions go first")
}

func TestRevisionCopies(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	mustCreateService(t, c, "svc", "img:1")
	revs := srv.Revisions(testSvc)
	revs[0].Containers[0].Image = "mutated"
	svc, err := srv.Service(testSvc)
	require.NoError(t, err)
	svc.Template.Containers[0].Image = "mutated"
	again, err := srv.Service(testSvc)
	require.NoError(t, err)
	assert.Equal(t, "img:1", again.GetTemplate().GetContainers()[0].GetImage())
	assert.Equal(t, "img:1", srv.Revisions(testSvc)[0].GetContainers()[0].GetImage())
	assert.False(t, proto.Equal(svc, again))
}
