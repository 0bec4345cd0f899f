package fakerun

import (
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// restCode is the code the Go REST client reports for code: it reads the
// HTTP status, so 409 (ABORTED, ALREADY_EXISTS) is Aborted and 400
// (FAILED_PRECONDITION) is InvalidArgument.
func restCode(c clients, code codes.Code) codes.Code {
	if c.transport != "rest" {
		return code
	}
	switch code {
	case codes.AlreadyExists:
		return codes.Aborted
	case codes.FailedPrecondition:
		return codes.InvalidArgument
	}
	return code
}

func TestWithCompatibilityInvalid(t *testing.T) {
	t.Parallel()
	_, err := NewServer(WithCompatibility(Compatibility{EtagMismatchCode: codes.Internal}))
	require.ErrorContains(t, err, "EtagMismatchCode Internal is not allowed; use codes.Aborted (default) or codes.FailedPrecondition")
}

func TestCompatibilityFullRevisionNames(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name   string
		compat Compatibility
		accept bool
	}{
		{name: "fail: by default a full name is an unknown revision"},
		{name: "success: AcceptFullRevisionNames stores the short name", compat: Compatibility{AcceptFullRevisionNames: true}, accept: true},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bothTransports(t, func(t *testing.T, srv *Server, c clients) {
				first := mustCreateService(t, c, "svc", "img:1")
				full := first.GetLatestCreatedRevision()
				svc, err := update(t, c, &runpb.Service{Name: testSvc, Template: template("img:2"),
					Traffic: []*runpb.TrafficTarget{revisionTarget(full, 100, "")}})
				if !tc.accept {
					assert.Equal(t, codes.Internal, status.Code(err), "%v", err)
					assert.ErrorContains(t, err, "Revision '"+full+"' does not exist or is deleted.")
					return
				}
				require.NoError(t, err)
				require.Len(t, svc.GetTraffic(), 1)
				assert.Equal(t, rules.ShortName(full), svc.GetTraffic()[0].GetRevision())
				require.Len(t, svc.GetTrafficStatuses(), 1)
				assert.Equal(t, rules.ShortName(full), svc.GetTrafficStatuses()[0].GetRevision())
				assert.Equal(t, full, svc.GetLatestReadyRevision())
			}, WithCompatibility(tc.compat))
		})
	}
}

func TestCompatibilityNoOpUpdate(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name   string
		compat Compatibility
		bump   bool
	}{
		{name: "success: by default a no-op update changes nothing"},
		{name: "success: BumpGenerationOnNoOpUpdate bumps generation and etag", compat: Compatibility{BumpGenerationOnNoOpUpdate: true}, bump: true},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bothTransports(t, func(t *testing.T, srv *Server, c clients) {
				first := mustCreateService(t, c, "svc", "img:1")
				got, err := update(t, c, first)
				require.NoError(t, err)
				if tc.bump {
					assert.Equal(t, int64(2), got.GetGeneration())
					assert.Equal(t, int64(2), got.GetObservedGeneration())
					assert.NotEqual(t, first.GetEtag(), got.GetEtag())
				} else {
					assert.Equal(t, int64(1), got.GetGeneration())
					assert.Equal(t, first.GetEtag(), got.GetEtag())
				}
				assert.Len(t, srv.Revisions(testSvc), 1, "a no-op update never creates a revision")
			}, WithCompatibility(tc.compat))
		})
	}
}

func TestCompatibilityEtagMismatchCode(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name     string
		compat   Compatibility
		wantCode codes.Code
	}{
		{name: "fail: ABORTED by default", wantCode: codes.Aborted},
		{name: "fail: FAILED_PRECONDITION when chosen", compat: Compatibility{EtagMismatchCode: codes.FailedPrecondition}, wantCode: codes.FailedPrecondition},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bothTransports(t, func(t *testing.T, srv *Server, c clients) {
				first := mustCreateService(t, c, "svc", "img:1")
				want := restCode(c, tc.wantCode)
				stale := `"stale"`

				_, err := c.services.UpdateService(t.Context(), &runpb.UpdateServiceRequest{
					Service: &runpb.Service{Name: testSvc, Labels: map[string]string{"a": "b"}, Etag: stale}, UpdateMask: fieldMask("labels")})
				assert.Equal(t, want, status.Code(err), "UpdateService: %v", err)
				assert.ErrorContains(t, err, "does not match the current etag")

				_, err = c.services.DeleteService(t.Context(), &runpb.DeleteServiceRequest{Name: testSvc, Etag: stale})
				assert.Equal(t, want, status.Code(err), "DeleteService: %v", err)

				_, err = c.revisions.DeleteRevision(t.Context(), &runpb.DeleteRevisionRequest{Name: first.GetLatestCreatedRevision(), Etag: stale})
				assert.Equal(t, want, status.Code(err), "DeleteRevision: %v", err)
			}, WithCompatibility(tc.compat))
		})
	}
}

func TestCompatibilityUpdateWhileReconciling(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name   string
		compat Compatibility
		reject bool
	}{
		{name: "success: by default an update supersedes the pending rollout"},
		{name: "fail: RejectUpdateWhileReconciling refuses it", compat: Compatibility{RejectUpdateWhileReconciling: true}, reject: true},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bothTransports(t, func(t *testing.T, srv *Server, c clients) {
				op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
					Parent: testParent, ServiceId: "svc", Service: &runpb.Service{Template: template("img:1")}})
				require.NoError(t, err)
				require.False(t, op.Done(), "manual readiness keeps the rollout pending")
				labels := &runpb.Service{Name: testSvc, Labels: map[string]string{"team": "a"}}

				_, err = c.services.UpdateService(t.Context(), &runpb.UpdateServiceRequest{Service: labels, UpdateMask: fieldMask("labels")})
				if !tc.reject {
					require.NoError(t, err)
					got, err := srv.Service(testSvc)
					require.NoError(t, err)
					assert.Equal(t, int64(2), got.GetGeneration(), "the update is accepted")
					return
				}
				assert.Equal(t, codes.Aborted, status.Code(err), "%v", err)
				assert.ErrorContains(t, err, "Service 'svc' is still being updated by operation '"+op.Name()+"'")

				// Once the rollout is over, the same update goes through.
				svc, err := srv.Service(testSvc)
				require.NoError(t, err)
				require.NoError(t, srv.SetRevisionReady(svc.GetLatestCreatedRevision(), true))
				got, err := update(t, c, labels, "labels")
				require.NoError(t, err)
				assert.Equal(t, "a", got.GetLabels()["team"])
			}, WithManualReadiness(), WithCompatibility(tc.compat))
		})
	}
}

func TestCompatibilityDeletedRevisionNames(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name   string
		compat Compatibility
		reject bool
	}{
		{name: "fail: by default a deleted revision's name stays taken", reject: true},
		{name: "success: AllowDeletedRevisionNames frees it", compat: Compatibility{AllowDeletedRevisionNames: true}},
	}
	named := func(rev, image string) *runpb.Service {
		tmpl := template(image)
		tmpl.Revision = rev
		return &runpb.Service{Name: testSvc, Template: tmpl}
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bothTransports(t, func(t *testing.T, srv *Server, c clients) {
				mustCreateService(t, c, "svc", "img:0")
				_, err := update(t, c, named("svc-one", "img:1"))
				require.NoError(t, err)
				_, err = update(t, c, named("svc-two", "img:2"))
				require.NoError(t, err)
				op, err := c.revisions.DeleteRevision(t.Context(), &runpb.DeleteRevisionRequest{Name: testSvc + "/revisions/svc-one"})
				require.NoError(t, err)
				_, err = op.Wait(t.Context())
				require.NoError(t, err)

				got, err := update(t, c, named("svc-one", "img:3"))
				if tc.reject {
					assert.Equal(t, restCode(c, codes.AlreadyExists), status.Code(err), "%v", err)
					assert.ErrorContains(t, err, "Revision named 'svc-one' was deleted; the name of a deleted revision cannot be reused.")
					return
				}
				require.NoError(t, err)
				assert.Equal(t, testSvc+"/revisions/svc-one", got.GetLatestCreatedRevision())
			}, WithCompatibility(tc.compat))
		})
	}
}
