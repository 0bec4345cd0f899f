package planpreview

import (
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	run "cloud.google.com/go/run/apiv2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/internal/fakeenv"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// Plan preview shows the change of public access that access.public asks for, and changes nothing.
func TestGetPlanPreviewAccessPublic(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name         string
		public       string
		livePublic   bool
		wantSummary  string
		wantNoChange bool
		wantDetail   string
	}{
		{name: "made public", public: "true", wantSummary: "No new revision; public access: allUsers gets roles/run.invoker",
			wantDetail: "Public access (access.public): false now, true after the deployment\n"},
		{name: "no longer public", public: "false", livePublic: true, wantSummary: "No new revision; public access: allUsers loses roles/run.invoker",
			wantDetail: "Public access (access.public): true now, false after the deployment\n"},
		{name: "already public", public: "true", livePublic: true, wantNoChange: true,
			wantSummary: "No new revision: no change, service hello already runs revision", wantDetail: "Public access (access.public: true): unchanged\n"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
			c, err := run.NewServicesClient(t.Context(), f.Server.ClientOptions()...)
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			name := naming.ServiceName(fakeenv.Project, fakeenv.Region, "hello")
			if tc.livePublic {
				_, err = c.SetIamPolicy(t.Context(), &iampb.SetIamPolicyRequest{Resource: name, Policy: &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}}}})
				require.NoError(t, err)
			}
			before, err := c.GetIamPolicy(t.Context(), &iampb.GetIamPolicyRequest{Resource: name})
			require.NoError(t, err)

			app := fakeenv.AppConfig + "      access:\n        public: " + tc.public + "\n"
			resp := f.preview(fakeenv.Source(t, fakeenv.CommitV1, map[string]string{"app.pipecd.yaml": app, "service.yaml": fakeenv.ManifestV1}), nil)
			require.Len(t, resp.Results, 1)
			got := resp.Results[0]
			assert.Contains(t, got.Summary, tc.wantSummary)
			assert.Equal(t, tc.wantNoChange, got.NoChange)
			assert.Contains(t, string(got.Details), tc.wantDetail)
			assert.Contains(t, string(got.Details), "[ok] public access (access.public): the deploy target's credentials hold run.services.setIamPolicy")

			after, err := c.GetIamPolicy(t.Context(), &iampb.GetIamPolicyRequest{Resource: name})
			require.NoError(t, err)
			assert.Equal(t, before.GetEtag(), after.GetEtag(), "plan preview writes nothing")
		})
	}
}
