package livestate

import (
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	run "cloud.google.com/go/run/apiv2"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/internal/fakeenv"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// With access.public set, live state shows whether the service is public and compares it with git.
func TestGetLivestateAccessPublic(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name       string
		public     string // access.public in app.pipecd.yaml; empty: not set
		bindings   []*iampb.Binding
		wantStatus sdk.ApplicationSyncStatus
		wantShort  string
		wantMeta   string // the service's "public" metadata; empty: none
	}{
		{name: "public as asked", public: "true", bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}},
			wantStatus: sdk.ApplicationSyncStateSynced, wantMeta: "true"},
		{name: "public access revoked out of band", public: "true", bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"user:a@example.com"}}},
			wantStatus: sdk.ApplicationSyncStateOutOfSync, wantShort: "Service hello differs from git: access.public", wantMeta: "false"},
		{name: "made public out of band", public: "false", bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}},
			wantStatus: sdk.ApplicationSyncStateOutOfSync, wantShort: "Service hello differs from git: access.public", wantMeta: "true"},
		{name: "not managed: the policy is not compared", bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}},
			wantStatus: sdk.ApplicationSyncStateSynced},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
			c, err := run.NewServicesClient(t.Context(), f.Server.ClientOptions()...)
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			_, err = c.SetIamPolicy(t.Context(), &iampb.SetIamPolicyRequest{
				Resource: naming.ServiceName(fakeenv.Project, fakeenv.Region, "hello"), Policy: &iampb.Policy{Bindings: tc.bindings},
			})
			require.NoError(t, err)

			app := fakeenv.AppConfig
			if tc.public != "" {
				app += "      access:\n        public: " + tc.public + "\n"
			}
			resp := f.livestate(fakeenv.Source(t, fakeenv.CommitV1, map[string]string{"app.pipecd.yaml": app, "service.yaml": fakeenv.ManifestV1}))
			assert.Equal(t, tc.wantStatus, resp.SyncState.Status, resp.SyncState.Reason)
			if tc.wantShort != "" {
				assert.Equal(t, tc.wantShort, resp.SyncState.ShortReason)
				assert.Contains(t, resp.SyncState.Reason, "access.public: git "+tc.public+", live "+tc.wantMeta)
			}
			assert.Equal(t, tc.wantMeta, resourceByName(t, resp, "hello").ResourceMetadata["public"])
		})
	}
}
