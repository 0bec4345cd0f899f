package fakerun

import (
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

func TestServiceIAMPolicy(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, _ *Server, c clients) {
		ctx := t.Context()
		mustCreateService(t, c, "svc", "img")
		fresh, err := c.services.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: testSvc})
		require.NoError(t, err)
		assert.Empty(t, fresh.GetBindings())

		invoker := &iampb.Binding{Role: "roles/run.invoker", Members: []string{"user:b@example.com", "allUsers"}}
		set, err := c.services.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: testSvc, Policy: &iampb.Policy{Bindings: []*iampb.Binding{invoker}, Etag: fresh.GetEtag()}})
		require.NoError(t, err)
		want := []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers", "user:b@example.com"}}}
		assert.Empty(t, cmpBindings(want, set.GetBindings()))
		assert.NotEqual(t, fresh.GetEtag(), set.GetEtag(), "a write gets a new etag")

		got, err := c.services.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: testSvc})
		require.NoError(t, err)
		assert.Empty(t, cmpBindings(want, got.GetBindings()))
		assert.Equal(t, set.GetEtag(), got.GetEtag())

		_, err = c.services.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: testSvc, Policy: &iampb.Policy{Etag: fresh.GetEtag()}})
		assert.Equal(t, codes.Aborted, status.Code(err), "a stale etag: %v", err)
		_, err = c.services.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: testSvc, Policy: &iampb.Policy{Bindings: []*iampb.Binding{{Role: "run.invoker", Members: []string{"allUsers"}}}}})
		assert.Equal(t, codes.InvalidArgument, status.Code(err), "a role without roles/: %v", err)

		perms, err := c.services.TestIamPermissions(ctx, &iampb.TestIamPermissionsRequest{Resource: testSvc, Permissions: []string{"run.services.get", "storage.buckets.get"}})
		require.NoError(t, err)
		assert.Equal(t, []string{"run.services.get"}, perms.GetPermissions())

		_, err = c.services.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: testParent + "/services/missing"})
		assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)

		op, err := c.services.DeleteService(ctx, &runpb.DeleteServiceRequest{Name: testSvc})
		require.NoError(t, err)
		_, err = op.Wait(ctx)
		require.NoError(t, err)
		mustCreateService(t, c, "svc", "img")
		again, err := c.services.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: testSvc})
		require.NoError(t, err)
		assert.Empty(t, again.GetBindings(), "a service created again under a deleted one's name starts with an empty policy")
	})
}

// cmpBindings is empty when the bindings are equal, else both, in text.
func cmpBindings(want, got []*iampb.Binding) string {
	w, g := &iampb.Policy{Bindings: want}, &iampb.Policy{Bindings: got}
	if proto.Equal(w, g) {
		return ""
	}
	return "want " + prototext.Format(w) + "\ngot " + prototext.Format(g)
}

func iamGet(resource string) *iampb.GetIamPolicyRequest {
	return &iampb.GetIamPolicyRequest{Resource: resource}
}
