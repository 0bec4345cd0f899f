package fakerun

import (
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShowDeleted checks show_deleted of ListRevisions and ListServices:
// deleted but unexpired resources are listed with delete_time and
// expire_time, and vanish once they expire.
func TestShowDeleted(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		srv.SetNow(epoch)
		mustCreateService(t, c, "svc", "img:1")
		_, err := update(t, c, &runpb.Service{Name: testSvc, Template: template("img:2")}, "template")
		require.NoError(t, err)
		revs := listRevisionNames(t, c, false)
		require.Len(t, revs, 2)
		op, err := c.revisions.DeleteRevision(t.Context(), &runpb.DeleteRevisionRequest{Name: revs[1]})
		require.NoError(t, err)
		_, err = op.Wait(t.Context())
		require.NoError(t, err)
		mustCreateService(t, c, "gone", "img:1")
		dop, err := c.services.DeleteService(t.Context(), &runpb.DeleteServiceRequest{Name: testParent + "/services/gone"})
		require.NoError(t, err)
		_, err = dop.Wait(t.Context())
		require.NoError(t, err)

		assert.Equal(t, revs[:1], listRevisionNames(t, c, false))
		assert.Equal(t, revs, listRevisionNames(t, c, true), "newest first, the deleted one among them")
		deleted := listAllRevisions(t, c, true)[1]
		assert.Equal(t, epoch, deleted.GetDeleteTime().AsTime())
		assert.Equal(t, epoch.Add(30*24*time.Hour), deleted.GetExpireTime().AsTime())

		assert.Equal(t, []string{testSvc}, listServiceNames(t, c, false))
		assert.Equal(t, []string{testParent + "/services/gone", testSvc}, listServiceNames(t, c, true))

		srv.Advance(30 * 24 * time.Hour)
		assert.Equal(t, revs[:1], listRevisionNames(t, c, true), "expired revisions are not listed")
		assert.Equal(t, []string{testSvc}, listServiceNames(t, c, true), "expired services are not listed")
	}, WithReadinessDelay(0))
}

func listAllRevisions(t *testing.T, c clients, showDeleted bool) []*runpb.Revision {
	t.Helper()
	var out []*runpb.Revision
	for r, err := range c.revisions.ListRevisions(t.Context(), &runpb.ListRevisionsRequest{Parent: testSvc, ShowDeleted: showDeleted}).All() {
		require.NoError(t, err)
		out = append(out, r)
	}
	return out
}

func listRevisionNames(t *testing.T, c clients, showDeleted bool) []string {
	t.Helper()
	var names []string
	for _, r := range listAllRevisions(t, c, showDeleted) {
		names = append(names, r.GetName())
	}
	return names
}

func listServiceNames(t *testing.T, c clients, showDeleted bool) []string {
	t.Helper()
	var names []string
	for s, err := range c.services.ListServices(t.Context(), &runpb.ListServicesRequest{Parent: testParent, ShowDeleted: showDeleted}).All() {
		require.NoError(t, err)
		names = append(names, s.GetName())
	}
	return names
}
