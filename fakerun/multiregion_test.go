package fakerun

import (
	"net/http"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const euSvc = "projects/p/locations/europe-west1/services/svc"

func multiRegion(regions ...string) *runpb.Service_MultiRegionSettings {
	return &runpb.Service_MultiRegionSettings{Regions: regions}
}

func TestMultiRegionService(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{Parent: testParent, ServiceId: "svc",
			Service: &runpb.Service{Template: template("img:1"), MultiRegionSettings: multiRegion("us-central1", "europe-west1")}})
		require.NoError(t, err)
		us, err := op.Wait(t.Context())
		require.NoError(t, err)
		id := us.GetMultiRegionSettings().GetMultiRegionId()
		require.NotEmpty(t, id, "multi_region_id is system-generated")

		t.Run("success: the service is visible in every listed region, with its own name, URLs and readiness", func(t *testing.T) {
			eu, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: euSvc})
			require.NoError(t, err)
			assert.Equal(t, euSvc, eu.GetName())
			assert.Equal(t, id, eu.GetMultiRegionSettings().GetMultiRegionId())
			assert.Equal(t, us.GetGeneration(), eu.GetGeneration())
			assert.Regexp(t, `^https://svc-[0-9a-z]{10}-ew\.a\.run\.app$`, eu.GetUri())
			assert.NotEqual(t, us.GetUid(), eu.GetUid())
			assert.Equal(t, euSvc+"/revisions/"+shortName(us.GetLatestCreatedRevision()), eu.GetLatestReadyRevision())
			assert.Equal(t, runpb.Condition_CONDITION_SUCCEEDED, eu.GetTerminalCondition().GetState())
			assert.True(t, proto.Equal(us.GetTemplate(), eu.GetTemplate()))
			list, err := c.services.ListServices(t.Context(), &runpb.ListServicesRequest{Parent: "projects/p/locations/europe-west1"}).Next()
			require.NoError(t, err)
			assert.Equal(t, euSvc, list.GetName())
		})
		t.Run("success: the data plane answers in each region", func(t *testing.T) {
			eu, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: euSvc})
			require.NoError(t, err)
			for _, u := range []string{us.GetUri(), eu.GetUri()} {
				code, rev, _ := get(t, srv.TrafficClient(), u)
				assert.Equal(t, http.StatusOK, code, u)
				assert.Equal(t, shortName(us.GetLatestCreatedRevision()), rev, u)
			}
		})
		t.Run("success: an update through either region applies to both; traffic and revisions stay the same", func(t *testing.T) {
			eu, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: euSvc})
			require.NoError(t, err)
			eu.Template = template("img:2")
			eu.Template.Revision = "svc-two"
			eu.Traffic = []*runpb.TrafficTarget{revisionTarget("svc-two", 90, ""), revisionTarget(shortName(us.GetLatestCreatedRevision()), 10, "")}
			_, err = update(t, c, eu)
			require.NoError(t, err)
			got, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: testSvc})
			require.NoError(t, err)
			assert.Equal(t, "img:2", got.GetTemplate().GetContainers()[0].GetImage())
			assert.Equal(t, testSvc+"/revisions/svc-two", got.GetLatestReadyRevision())
			require.Len(t, got.GetTrafficStatuses(), 2)
			assert.Equal(t, "svc-two", got.GetTrafficStatuses()[0].GetRevision())
			assert.Equal(t, int32(90), got.GetTrafficStatuses()[0].GetPercent())
			_, err = c.revisions.GetRevision(t.Context(), &runpb.GetRevisionRequest{Name: testSvc + "/revisions/svc-two"})
			require.NoError(t, err)
		})
		t.Run("fail: the regions must include the region written through, each once", func(t *testing.T) {
			for _, mr := range []*runpb.Service_MultiRegionSettings{multiRegion("europe-west1", "asia-east1"), multiRegion("us-central1", "us-central1")} {
				_, err := update(t, c, &runpb.Service{Name: testSvc, MultiRegionSettings: mr}, "multi_region_settings")
				assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
				assert.ErrorContains(t, err, "multi_region_settings.regions")
			}
		})
		t.Run("fail: a region holding another service of that id is refused", func(t *testing.T) {
			op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{Parent: "projects/p/locations/asia-east1", ServiceId: "svc",
				Service: &runpb.Service{Template: template("img:1")}})
			require.NoError(t, err)
			_, err = op.Wait(t.Context())
			require.NoError(t, err)
			_, err = update(t, c, &runpb.Service{Name: testSvc, MultiRegionSettings: multiRegion("us-central1", "europe-west1", "asia-east1")}, "multi_region_settings")
			require.Error(t, err)
			assert.ErrorContains(t, err, "already exists in region asia-east1")
		})
		t.Run("success: a region left out of the list loses the service", func(t *testing.T) {
			_, err := update(t, c, &runpb.Service{Name: testSvc, MultiRegionSettings: multiRegion("us-central1")}, "multi_region_settings")
			require.NoError(t, err)
			_, err = c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: euSvc})
			assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)
		})
		t.Run("success: a delete through one region deletes every region's", func(t *testing.T) {
			_, err := update(t, c, &runpb.Service{Name: testSvc, MultiRegionSettings: multiRegion("us-central1", "europe-west1")}, "multi_region_settings")
			require.NoError(t, err)
			op, err := c.services.DeleteService(t.Context(), &runpb.DeleteServiceRequest{Name: euSvc})
			require.NoError(t, err)
			_, err = op.Wait(t.Context())
			require.NoError(t, err)
			for _, name := range []string{testSvc, euSvc} {
				_, err = c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: name})
				assert.Equal(t, codes.NotFound, status.Code(err), "%s: %v", name, err)
			}
		})
	})
}

func TestMultiRegionReadinessPerRegion(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	srv.SetManualReadiness(true)
	op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{Parent: testParent, ServiceId: "svc",
		Service: &runpb.Service{Template: &runpb.RevisionTemplate{Revision: "svc-one", Containers: template("img:1").GetContainers()},
			MultiRegionSettings: multiRegion("us-central1", "europe-west1")}})
	require.NoError(t, err)
	require.NoError(t, srv.SetRevisionReady(euSvc+"/revisions/svc-one", false))
	require.NoError(t, srv.SetRevisionReady(testSvc+"/revisions/svc-one", true))
	us, err := op.Wait(t.Context())
	require.NoError(t, err)
	assert.Equal(t, runpb.Condition_CONDITION_SUCCEEDED, us.GetTerminalCondition().GetState())
	eu, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: euSvc})
	require.NoError(t, err)
	assert.Equal(t, runpb.Condition_CONDITION_FAILED, eu.GetTerminalCondition().GetState(), "each region has its own readiness")
	assert.Contains(t, eu.GetTerminalCondition().GetMessage(), "Revision 'svc-one' is not ready")
}
