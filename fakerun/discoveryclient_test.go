package fakerun_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/googleapi"
	runv2 "google.golang.org/api/run/v2"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// The discovery-based REST client (google.golang.org/api/run/v2) is a second
// client, built from the discovery document rather than the protos. These
// tests drive the main flows through it, so that both Google clients are
// checked on every run.

const (
	discoveryParent = "projects/p/locations/us-central1"
	discoveryWeb    = discoveryParent + "/services/web"
)

// newDiscoveryClient starts a fakerun whose revisions become ready after a
// short delay, so that operations are pending and must be polled.
func newDiscoveryClient(t *testing.T) (*fakerun.Server, *runv2.Service) {
	t.Helper()
	srv, err := fakerun.NewServer(fakerun.WithReadinessDelay(discoveryReadiness))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	client, err := runv2.NewService(t.Context(), srv.RESTClientOptions()...)
	require.NoError(t, err)
	return srv, client
}

// discoveryReadiness is how long new revisions take to become ready on the server's clock.
const discoveryReadiness = 200 * time.Millisecond

// waitDone waits for an operation with :wait (a pending one) and returns
// its response as a service.
func waitDone(t *testing.T, c *runv2.Service, op *runv2.GoogleLongrunningOperation) *runv2.GoogleCloudRunV2Service {
	t.Helper()
	var err error
	for !op.Done {
		op, err = c.Projects.Locations.Operations.Wait(op.Name, &runv2.GoogleLongrunningWaitOperationRequest{Timeout: "5s"}).Context(t.Context()).Do()
		require.NoError(t, err)
	}
	require.Nil(t, op.Error, "operation failed: %+v", op.Error)
	var svc runv2.GoogleCloudRunV2Service
	require.NoError(t, json.Unmarshal(op.Response, &svc))
	return &svc
}

func discoveryTemplate(revision, image string) *runv2.GoogleCloudRunV2RevisionTemplate {
	return &runv2.GoogleCloudRunV2RevisionTemplate{Revision: revision, Containers: []*runv2.GoogleCloudRunV2Container{{Image: image}}}
}

// googleAPICode returns the HTTP code of a *googleapi.Error, failing otherwise.
func googleAPICode(t *testing.T, err error) int {
	t.Helper()
	var gerr *googleapi.Error
	require.True(t, errors.As(err, &gerr), "want a *googleapi.Error, got %T: %v", err, err)
	return gerr.Code
}

func TestDiscoveryClientDeployFlow(t *testing.T) {
	t.Parallel()
	srv, c := newDiscoveryClient(t)
	services := c.Projects.Locations.Services
	ctx := t.Context()

	op, err := services.Create(discoveryParent, &runv2.GoogleCloudRunV2Service{
		Labels: map[string]string{"team": "web"}, Template: discoveryTemplate("web-v1", "us-docker.pkg.dev/p/r/web:v1"),
	}).ServiceId("web").Context(ctx).Do()
	require.NoError(t, err)
	assert.False(t, op.Done, "the first revision is not ready yet")

	// Poll with GetOperation, as a client without :wait would: pending until the revision is ready.
	op, err = c.Projects.Locations.Operations.Get(op.Name).Context(ctx).Do()
	require.NoError(t, err)
	assert.False(t, op.Done, "the operation waits for the first revision")
	srv.Advance(discoveryReadiness)
	op, err = c.Projects.Locations.Operations.Get(op.Name).Context(ctx).Do()
	require.NoError(t, err)
	assert.True(t, op.Done, "the first revision is ready once its readiness delay has passed")
	svc, err := services.Get(discoveryWeb).Context(ctx).Do()
	require.NoError(t, err)
	assert.Equal(t, int64(1), svc.Generation, "int64 fields arrive as strings and decode")
	assert.Equal(t, discoveryWeb+"/revisions/web-v1", svc.LatestReadyRevision)
	assert.Equal(t, "web", svc.Labels["team"])
	assert.False(t, svc.Reconciling)
	require.Len(t, svc.TrafficStatuses, 1)
	assert.Equal(t, "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", svc.TrafficStatuses[0].Type)
	assert.Empty(t, svc.TrafficStatuses[0].Revision, "a LATEST status names no revision")
	assert.Empty(t, svc.DeleteTime, "unset timestamps are left out")

	// A canary: a new revision at 10% with a tag, through update_mask.
	op, err = services.Patch(discoveryWeb, &runv2.GoogleCloudRunV2Service{
		Template: discoveryTemplate("web-v2", "us-docker.pkg.dev/p/r/web:v2"),
		Traffic: []*runv2.GoogleCloudRunV2TrafficTarget{
			{Type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", Revision: "web-v1", Percent: 90},
			{Type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", Revision: "web-v2", Percent: 10, Tag: "canary"},
		},
	}).UpdateMask("template,traffic").Context(ctx).Do()
	require.NoError(t, err)
	svc = waitDone(t, c, op)
	assert.Equal(t, int64(2), svc.Generation)
	assert.Equal(t, "web", svc.Labels["team"], "fields outside update_mask are kept")
	require.Len(t, svc.TrafficStatuses, 2)
	assert.Equal(t, "canary", svc.TrafficStatuses[1].Tag)
	assert.Regexp(t, `^https://canary---web-[0-9a-z]{10}-uc\.a\.run\.app$`, svc.TrafficStatuses[1].Uri)

	// Everything to web-v2; web-v1 then serves nothing and can be deleted.
	op, err = services.Patch(discoveryWeb, &runv2.GoogleCloudRunV2Service{
		Traffic: []*runv2.GoogleCloudRunV2TrafficTarget{{Type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", Revision: "web-v2", Percent: 100}},
	}).UpdateMask("traffic").Context(ctx).Do()
	require.NoError(t, err)
	waitDone(t, c, op)

	revisions := services.Revisions
	_, err = revisions.Delete(discoveryWeb + "/revisions/web-v2").Context(ctx).Do()
	assert.Equal(t, http.StatusBadRequest, googleAPICode(t, err), "the serving revision cannot be deleted: %v", err)

	op, err = revisions.Delete(discoveryWeb + "/revisions/web-v1").Context(ctx).Do()
	require.NoError(t, err)
	require.True(t, op.Done)
	var deleted runv2.GoogleCloudRunV2Revision
	require.NoError(t, json.Unmarshal(op.Response, &deleted))
	assert.NotEmpty(t, deleted.DeleteTime)

	list, err := revisions.List(discoveryWeb).Context(ctx).Do()
	require.NoError(t, err)
	require.Len(t, list.Revisions, 1)
	assert.Equal(t, discoveryWeb+"/revisions/web-v2", list.Revisions[0].Name)

	_, err = revisions.Get(discoveryWeb + "/revisions/web-v1").Context(ctx).Do()
	assert.Equal(t, http.StatusNotFound, googleAPICode(t, err))
}

func TestDiscoveryClientListAndErrors(t *testing.T) {
	t.Parallel()
	_, c := newDiscoveryClient(t)
	services := c.Projects.Locations.Services
	ctx := t.Context()

	for _, id := range []string{"a-svc", "b-svc", "c-svc"} {
		op, err := services.Create(discoveryParent, &runv2.GoogleCloudRunV2Service{Template: discoveryTemplate("", "img:1")}).ServiceId(id).Context(ctx).Do()
		require.NoError(t, err)
		waitDone(t, c, op)
	}
	var names []string
	pages := 0
	require.NoError(t, services.List(discoveryParent).PageSize(2).Pages(ctx, func(page *runv2.GoogleCloudRunV2ListServicesResponse) error {
		pages++
		for _, s := range page.Services {
			names = append(names, s.Name)
		}
		return nil
	}))
	assert.Equal(t, 2, pages)
	assert.Equal(t, []string{discoveryParent + "/services/a-svc", discoveryParent + "/services/b-svc", discoveryParent + "/services/c-svc"}, names)

	ops, err := c.Projects.Locations.Operations.List(discoveryParent).Context(ctx).Do()
	require.NoError(t, err)
	assert.Len(t, ops.Operations, 3)

	testcases := []struct {
		name     string
		call     func() error
		wantCode int
	}{
		{name: "fail: unknown service", wantCode: http.StatusNotFound, call: func() error {
			_, err := services.Get(discoveryParent + "/services/nope").Context(ctx).Do()
			return err
		}},
		{name: "fail: existing service id", wantCode: http.StatusConflict, call: func() error {
			_, err := services.Create(discoveryParent, &runv2.GoogleCloudRunV2Service{Template: discoveryTemplate("", "img:1")}).ServiceId("a-svc").Context(ctx).Do()
			return err
		}},
		{name: "fail: traffic not adding up to 100", wantCode: http.StatusBadRequest, call: func() error {
			_, err := services.Patch(discoveryParent+"/services/a-svc", &runv2.GoogleCloudRunV2Service{
				Traffic: []*runv2.GoogleCloudRunV2TrafficTarget{{Type: "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", Percent: 50}},
			}).UpdateMask("traffic").Context(ctx).Do()
			return err
		}},
		{name: "fail: reserved label namespace", wantCode: http.StatusBadRequest, call: func() error {
			_, err := services.Patch(discoveryParent+"/services/a-svc", &runv2.GoogleCloudRunV2Service{
				Labels: map[string]string{"run.googleapis.com/x": "y"},
			}).UpdateMask("labels").Context(ctx).Do()
			return err
		}},
		{name: "fail: unknown enum name", wantCode: http.StatusBadRequest, call: func() error {
			_, err := services.Patch(discoveryParent+"/services/a-svc", &runv2.GoogleCloudRunV2Service{Ingress: "INGRESS_TRAFFIC_EVERYWHERE"}).
				UpdateMask("ingress").Context(ctx).Do()
			return err
		}},
		{name: "fail: unknown operation", wantCode: http.StatusNotFound, call: func() error {
			_, err := c.Projects.Locations.Operations.Get(discoveryParent + "/operations/nope").Context(ctx).Do()
			return err
		}},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err)
			assert.Equal(t, tc.wantCode, googleAPICode(t, err), "%v", err)
			var gerr *googleapi.Error
			require.True(t, errors.As(err, &gerr))
			assert.NotEmpty(t, gerr.Message, "Google's error body is parsed")
		})
	}
}
