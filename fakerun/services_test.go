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

func TestCreateService(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		svc := mustCreateService(t, c, "svc", "img:1")

		assert.Equal(t, testSvc, svc.GetName())
		assert.Len(t, svc.GetUid(), 36)
		assert.Equal(t, int64(1), svc.GetGeneration())
		assert.Equal(t, int64(1), svc.GetObservedGeneration())
		assert.NotEmpty(t, svc.GetEtag())
		assert.False(t, svc.GetReconciling())
		assert.Equal(t, runpb.Condition_CONDITION_SUCCEEDED, svc.GetTerminalCondition().GetState())
		assert.Regexp(t, `^https://svc-[0-9a-z]{10}-uc\.a\.run\.app$`, svc.GetUri())
		assert.Contains(t, svc.GetUrls(), svc.GetUri())
		assert.Regexp(t, `^`+testSvc+`/revisions/svc-00001-[a-z]{3}$`, svc.GetLatestCreatedRevision())
		assert.Equal(t, svc.GetLatestCreatedRevision(), svc.GetLatestReadyRevision())
		assert.Empty(t, svc.GetTemplate().GetRevision(), "auto names are not written back into the template")
		require.Len(t, svc.GetTraffic(), 1)
		assert.Equal(t, runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, svc.GetTraffic()[0].GetType())
		assert.Equal(t, int32(100), svc.GetTraffic()[0].GetPercent())
		require.Len(t, svc.GetTrafficStatuses(), 1)
		assert.Empty(t, svc.GetTrafficStatuses()[0].GetRevision(), "LATEST statuses carry no revision name")

		got, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: testSvc})
		require.NoError(t, err)
		assert.True(t, proto.Equal(svc, got), "GetService returns what the operation returned")

		_, err = c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
			Parent: testParent, ServiceId: "svc", Service: &runpb.Service{Template: template("img:1")},
		})
		wantCode := codes.AlreadyExists
		if c.transport == "rest" {
			wantCode = codes.Aborted // HTTP 409 maps to Aborted in the Go REST client
		}
		assert.Equal(t, wantCode, status.Code(err), "%v", err)
		assert.ErrorContains(t, err, "Resource 'svc' already exists.")
	})
}

func TestCreateServiceInvalid(t *testing.T) {
	t.Parallel()
	_, c := newFake(t)
	testcases := []struct {
		name      string
		parent    string
		id        string
		service   *runpb.Service
		wantField string
	}{
		{name: "fail: bad parent", parent: "projects/p", id: "svc", service: &runpb.Service{Template: template("i")}, wantField: "parent"},
		{name: "fail: wildcard location", parent: "projects/p/locations/-", id: "svc", service: &runpb.Service{Template: template("i")}, wantField: "parent"},
		{name: "fail: id with upper case", parent: testParent, id: "Svc", service: &runpb.Service{Template: template("i")}, wantField: "service_id"},
		{name: "fail: id ending with hyphen", parent: testParent, id: "svc-", service: &runpb.Service{Template: template("i")}, wantField: "service_id"},
		{name: "fail: id too long", parent: testParent, id: strings.Repeat("a", 50), service: &runpb.Service{Template: template("i")}, wantField: "service_id"},
		{name: "fail: no template", parent: testParent, id: "svc", service: &runpb.Service{}, wantField: "service.template"},
		{name: "fail: no container", parent: testParent, id: "svc", service: &runpb.Service{Template: &runpb.RevisionTemplate{}}, wantField: "service.template.containers"},
		{name: "fail: no image", parent: testParent, id: "svc", service: &runpb.Service{Template: template("")}, wantField: "service.template.containers[0].image"},
		{name: "fail: revision without service prefix", parent: testParent, id: "svc", service: &runpb.Service{Template: &runpb.RevisionTemplate{Revision: "blue", Containers: template("i").Containers}}, wantField: "service.template.revision"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{Parent: tc.parent, ServiceId: tc.id, Service: tc.service})
			require.Error(t, err)
			assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
			assert.ErrorContains(t, err, "'"+tc.wantField+"'")
		})
	}
}

func TestListServicesPaging(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		for _, id := range []string{"c", "a", "e", "b", "d"} {
			mustCreateService(t, c, id, "img")
		}
		mustCreateService(t, c, "z", "img")
		_, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
			Parent: "projects/p/locations/europe-west1", ServiceId: "other", Service: &runpb.Service{Template: template("i")}})
		require.NoError(t, err)

		it := c.services.ListServices(t.Context(), &runpb.ListServicesRequest{Parent: testParent, PageSize: 2})
		var names []string
		for {
			svc, err := it.Next()
			if err != nil {
				require.Equal(t, "no more items in iterator", err.Error())
				break
			}
			names = append(names, rules.ShortName(svc.GetName()))
		}
		assert.Equal(t, []string{"a", "b", "c", "d", "e", "z"}, names)

		resp, err := c.services.ListServices(t.Context(), &runpb.ListServicesRequest{Parent: testParent, PageSize: 4}).Next()
		require.NoError(t, err)
		assert.Equal(t, "a", rules.ShortName(resp.GetName()))

		_, err = c.services.ListServices(t.Context(), &runpb.ListServicesRequest{Parent: testParent, PageToken: "bogus"}).Next()
		assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	})
}

func TestUpdateServiceRevisions(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		first := mustCreateService(t, c, "svc", "img:1")

		// Traffic-only and label changes bump the generation but create no revision.
		labelled := proto.Clone(first).(*runpb.Service)
		labelled.Labels = map[string]string{"team": "a"}
		got, err := update(t, c, labelled)
		require.NoError(t, err)
		assert.Equal(t, int64(2), got.GetGeneration())
		assert.NotEqual(t, first.GetEtag(), got.GetEtag())
		assert.Equal(t, first.GetLatestCreatedRevision(), got.GetLatestCreatedRevision())

		// Re-sending the same desired state is a no-op.
		same, err := update(t, c, got)
		require.NoError(t, err)
		assert.Equal(t, got.GetGeneration(), same.GetGeneration())
		assert.Equal(t, got.GetEtag(), same.GetEtag())

		// A template change creates a revision named after the new generation.
		changed := proto.Clone(same).(*runpb.Service)
		changed.Template.Containers[0].Env = []*runpb.EnvVar{{Name: "A", Values: &runpb.EnvVar_Value{Value: "1"}}}
		third, err := update(t, c, changed)
		require.NoError(t, err)
		assert.Equal(t, int64(3), third.GetGeneration())
		assert.Regexp(t, `/revisions/svc-00003-[a-z]{3}$`, third.GetLatestCreatedRevision())
		assert.Equal(t, third.GetLatestCreatedRevision(), third.GetLatestReadyRevision())
		assert.Len(t, srv.Revisions(testSvc), 2)

		// Explicit names must start with the service name; reusing one with a
		// different template is ALREADY_EXISTS; with the same template a no-op.
		named := proto.Clone(third).(*runpb.Service)
		named.Template.Revision = "svc-blue"
		named.Template.Containers[0].Image = "img:2"
		blue, err := update(t, c, named)
		require.NoError(t, err)
		assert.Equal(t, testSvc+"/revisions/svc-blue", blue.GetLatestCreatedRevision())
		assert.Equal(t, "svc-blue", blue.GetTemplate().GetRevision())

		again, err := update(t, c, blue)
		require.NoError(t, err)
		assert.Equal(t, blue.GetGeneration(), again.GetGeneration())

		clash := proto.Clone(blue).(*runpb.Service)
		clash.Template.Containers[0].Image = "img:3"
		_, err = update(t, c, clash)
		wantCode := codes.AlreadyExists
		if c.transport == "rest" {
			wantCode = codes.Aborted
		}
		assert.Equal(t, wantCode, status.Code(err), "%v", err)
		assert.ErrorContains(t, err, "Revision named 'svc-blue' with different configuration already exists.")
		assert.Len(t, srv.Revisions(testSvc), 3)
	})
}

func TestUpdateServiceMask(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		first := mustCreateService(t, c, "svc", "img:1")
		testcases := []struct {
			name      string
			service   *runpb.Service
			paths     []string
			wantCode  codes.Code
			wantImage string
			wantLabel string
		}{
			{
				name:      "success: mask limits the update to labels",
				service:   &runpb.Service{Name: testSvc, Labels: map[string]string{"x": "1"}, Template: template("ignored")},
				paths:     []string{"labels"},
				wantImage: "img:1", wantLabel: "1",
			},
			{
				name:      "success: nested template path",
				service:   &runpb.Service{Name: testSvc, Template: template("img:2")},
				paths:     []string{"template.containers"},
				wantImage: "img:2", wantLabel: "1",
			},
			{
				name:     "fail: unknown path",
				service:  &runpb.Service{Name: testSvc},
				paths:    []string{"nope"},
				wantCode: codes.InvalidArgument,
			},
			{
				name:     "fail: output-only path",
				service:  &runpb.Service{Name: testSvc},
				paths:    []string{"uri"},
				wantCode: codes.InvalidArgument,
			},
			{
				name:     "fail: full replace without template",
				service:  &runpb.Service{Name: testSvc, Labels: map[string]string{"x": "2"}},
				wantCode: codes.InvalidArgument,
			},
		}
		for _, tc := range testcases {
			got, err := update(t, c, tc.service, tc.paths...)
			if tc.wantCode != codes.OK {
				assert.Equal(t, tc.wantCode, status.Code(err), "%s: %v", tc.name, err)
				continue
			}
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.wantImage, got.GetTemplate().GetContainers()[0].GetImage(), tc.name)
			assert.Equal(t, tc.wantLabel, got.GetLabels()["x"], tc.name)
		}
		assert.Len(t, srv.Revisions(first.GetName()), 2)
	})
}

func TestUpdateServiceOptions(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		missing := &runpb.Service{Name: testParent + "/services/new", Template: template("img")}
		_, err := c.services.UpdateService(t.Context(), &runpb.UpdateServiceRequest{Service: missing})
		assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)

		// validate_only persists nothing.
		op, err := c.services.UpdateService(t.Context(), &runpb.UpdateServiceRequest{Service: missing, AllowMissing: true, ValidateOnly: true})
		require.NoError(t, err)
		require.True(t, op.Done())
		_, err = srv.Service(missing.GetName())
		assert.Equal(t, codes.NotFound, status.Code(err))

		// allow_missing creates.
		op, err = c.services.UpdateService(t.Context(), &runpb.UpdateServiceRequest{Service: missing, AllowMissing: true})
		require.NoError(t, err)
		created, err := op.Wait(t.Context())
		require.NoError(t, err)
		assert.Equal(t, int64(1), created.GetGeneration())

		// A stale etag is ABORTED; the current one is accepted.
		stale := proto.Clone(created).(*runpb.Service)
		stale.Etag = `"stale"`
		stale.Labels = map[string]string{"a": "b"}
		_, err = update(t, c, stale)
		assert.Equal(t, codes.Aborted, status.Code(err), "%v", err)
		fresh := proto.Clone(created).(*runpb.Service)
		fresh.Labels = map[string]string{"a": "b"}
		_, err = update(t, c, fresh)
		require.NoError(t, err)
	})
}

func TestDeleteService(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		svc := mustCreateService(t, c, "svc", "img:1")
		revName := svc.GetLatestCreatedRevision()

		_, err := c.services.DeleteService(t.Context(), &runpb.DeleteServiceRequest{Name: testSvc, Etag: `"wrong"`})
		assert.Equal(t, codes.Aborted, status.Code(err), "%v", err)

		op, err := c.services.DeleteService(t.Context(), &runpb.DeleteServiceRequest{Name: testSvc, Etag: svc.GetEtag()})
		require.NoError(t, err)
		deleted, err := op.Wait(t.Context())
		require.NoError(t, err)
		assert.NotNil(t, deleted.GetDeleteTime())
		assert.NotNil(t, deleted.GetExpireTime())

		_, err = c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: testSvc})
		assert.Equal(t, codes.NotFound, status.Code(err))
		_, err = c.revisions.GetRevision(t.Context(), &runpb.GetRevisionRequest{Name: revName})
		assert.Equal(t, codes.NotFound, status.Code(err))
		_, err = c.services.DeleteService(t.Context(), &runpb.DeleteServiceRequest{Name: testSvc})
		assert.Equal(t, codes.NotFound, status.Code(err))
	})
}

func TestCreateServiceWithoutID(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, _ *Server, c clients) {
		op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{Parent: testParent, Service: &runpb.Service{Template: template("img:1")}})
		require.NoError(t, err)
		svc, err := op.Wait(t.Context())
		require.NoError(t, err)
		assert.Regexp(t, `^`+testParent+`/services/service-[a-z]{8}$`, svc.GetName())
		id := rules.ShortName(svc.GetName())
		assert.Regexp(t, `^`+svc.GetName()+`/revisions/`+id+`-00001-[a-z]{3}$`, svc.GetLatestCreatedRevision())

		op, err = c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{Parent: testParent, Service: &runpb.Service{Template: template("img:1")}})
		require.NoError(t, err)
		second, err := op.Wait(t.Context())
		require.NoError(t, err)
		assert.NotEqual(t, svc.GetName(), second.GetName(), "every generated id is unique")
	})
}

func TestForceNewRevision(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, _ *Server, c clients) {
		svc := mustCreateService(t, c, "svc", "img:1")

		same, err := update(t, c, &runpb.Service{Name: testSvc, Template: template("img:1")})
		require.NoError(t, err)
		assert.Equal(t, svc.GetLatestCreatedRevision(), same.GetLatestCreatedRevision(), "an unchanged template creates no revision")
		assert.Equal(t, svc.GetGeneration(), same.GetGeneration())

		op, err := c.services.UpdateService(t.Context(), &runpb.UpdateServiceRequest{
			Service: &runpb.Service{Name: testSvc, Template: template("img:1")}, ForceNewRevision: true,
		})
		require.NoError(t, err)
		forced, err := op.Wait(t.Context())
		require.NoError(t, err)
		assert.NotEqual(t, svc.GetLatestCreatedRevision(), forced.GetLatestCreatedRevision(), "force_new_revision creates a revision from the same template")
		assert.Regexp(t, `/revisions/svc-00002-[a-z]{3}$`, forced.GetLatestCreatedRevision())
		assert.Equal(t, forced.GetLatestCreatedRevision(), forced.GetLatestReadyRevision())
		assert.Equal(t, svc.GetGeneration()+1, forced.GetGeneration())

		named := &runpb.RevisionTemplate{Revision: "svc-v1", Containers: template("img:1").GetContainers()}
		_, err = update(t, c, &runpb.Service{Name: testSvc, Template: named})
		require.NoError(t, err)
		_, err = c.services.UpdateService(t.Context(), &runpb.UpdateServiceRequest{
			Service: &runpb.Service{Name: testSvc, Template: named}, ForceNewRevision: true,
		})
		wantCode := codes.AlreadyExists
		if c.transport == "rest" {
			wantCode = codes.Aborted // HTTP 409
		}
		assert.Equal(t, wantCode, status.Code(err), "a forced revision cannot reuse the template's existing name: %v", err)
	})
}
