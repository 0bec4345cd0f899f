package provider

import (
	"context"
	"net"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

func TestWithPublic(t *testing.T) {
	t.Parallel()
	conditional := &iampb.Binding{Role: InvokerRole, Members: []string{AllUsers}, Condition: &expr.Expr{Expression: "request.time < timestamp('2027-01-01T00:00:00Z')"}}
	others := []*iampb.Binding{{Role: "roles/run.developer", Members: []string{"group:devs@example.com"}}}
	testcases := []struct {
		name       string
		in         []*iampb.Binding
		public     bool
		want       []*iampb.Binding
		wasPublic  bool
		wantPublic bool
	}{
		{name: "grant on an empty policy", public: true, want: []*iampb.Binding{{Role: InvokerRole, Members: []string{AllUsers}}}, wantPublic: true},
		{
			name: "grant keeps the other invokers and bindings", public: true, wantPublic: true,
			in:   append([]*iampb.Binding{{Role: InvokerRole, Members: []string{"user:a@example.com"}}}, others...),
			want: append([]*iampb.Binding{{Role: InvokerRole, Members: []string{"user:a@example.com", AllUsers}}}, others...),
		},
		{
			name: "revoke keeps the other invokers", wasPublic: true,
			in:   []*iampb.Binding{{Role: InvokerRole, Members: []string{AllUsers, "user:a@example.com"}}},
			want: []*iampb.Binding{{Role: InvokerRole, Members: []string{"user:a@example.com"}}},
		},
		{name: "revoke drops an emptied binding", wasPublic: true, in: append([]*iampb.Binding{{Role: InvokerRole, Members: []string{AllUsers}}}, others...), want: others},
		{
			name: "a conditional grant is not public access and is left alone", public: true, wantPublic: true,
			in:   []*iampb.Binding{conditional},
			want: []*iampb.Binding{conditional, {Role: InvokerRole, Members: []string{AllUsers}}},
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := &iampb.Policy{Version: 1, Etag: []byte("e1"), Bindings: tc.in}
			assert.Equal(t, tc.wasPublic, IsPublic(in))
			got := WithPublic(in, tc.public)
			assert.Empty(t, cmp.Diff(&iampb.Policy{Version: 1, Etag: []byte("e1"), Bindings: tc.want}, got, protocmp.Transform()))
			assert.Equal(t, tc.wantPublic, IsPublic(got))
			assert.Empty(t, cmp.Diff(got, WithPublic(got, tc.public), protocmp.Transform()), "applying it again changes nothing")
		})
	}
}

// permissionsServer answers TestIamPermissions with none of the permissions asked, as Cloud Run does for
// credentials with roles/run.developer only.
type permissionsServer struct {
	runpb.UnimplementedServicesServer
}

func (permissionsServer) TestIamPermissions(context.Context, *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	return &iampb.TestIamPermissionsResponse{}, nil
}

func TestCanSetServiceIAMPolicy_NamesThePermissionAndTheRole(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	runpb.RegisterServicesServer(srv, permissionsServer{})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	c, err := NewClient(t.Context(), config.DeployTargetConfig{Endpoint: lis.Addr().String(), Insecure: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	err = c.CanSetServiceIAMPolicy(t.Context(), "projects/p/locations/l/services/web")
	require.Error(t, err)
	assert.Equal(t, "failed to set the IAM policy of service projects/p/locations/l/services/web: permission denied: "+
		"Permission 'run.services.setIamPolicy' denied on resource 'projects/p/locations/l/services/web' "+
		"(the deploy target's credentials lack run.services.setIamPolicy, which making the service public (access.public) needs: "+
		"grant its service account roles/run.admin on the service or project (roles/run.developer does not include it))", err.Error())
}
