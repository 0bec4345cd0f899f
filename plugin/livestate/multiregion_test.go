package livestate

import (
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/internal/fakeenv"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// A multi-region service is one deploy target; live state reports and compares the service of every region.
func TestGetLivestateMultiRegion(t *testing.T) {
	t.Parallel()
	manifest := strings.Replace(fakeenv.ManifestV1, "labels:", "multiRegionSettings:\n  regions: ["+fakeenv.Region+", europe-west1]\nlabels:", 1)
	testcases := []struct {
		name       string
		other      func(*runpb.Service) // changes the europe-west1 service; nil: it does not exist
		wantStatus sdk.ApplicationSyncStatus
		wantShort  string
		wantReason string
	}{
		{name: "every region in sync", other: func(*runpb.Service) {}, wantStatus: sdk.ApplicationSyncStateSynced,
			wantShort: "Service hello runs git's revision"},
		{name: "the other region runs another image", other: func(s *runpb.Service) { s.Template.Containers[0].Image = "gcr.io/proj/hello:v9" },
			wantStatus: sdk.ApplicationSyncStateOutOfSync, wantShort: "Service hello differs from git: template.containers[app].image",
			wantReason: "Deploy target dt1 (region europe-west1 of the multi-region service): service hello differs from git"},
		{name: "the other region has no service (the live service lists one region)", wantStatus: sdk.ApplicationSyncStateOutOfSync,
			wantShort: "Service hello does not exist in project proj, region europe-west1"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if tc.other == nil {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
			} else {
				// fakerun, as Cloud Run, applies the service to every region; a write through europe-west1
				// applies to both.
				f.Deploy(manifest, fakeenv.CommitV1, nil, nil)
				svc, rev := fakeenv.Desired(t, manifest, fakeenv.CommitV1, tc.other)
				svc.Name = naming.ServiceName(fakeenv.Project, "europe-west1", "hello")
				svc.Traffic = []*runpb.TrafficTarget{traffic.Revision(rev, 100, "")}
				_, err := f.Client.ReplaceService(t.Context(), svc)
				require.NoError(t, err)
			}

			resp := f.livestate(fakeenv.ManifestSource(t, fakeenv.CommitV1, manifest))
			assert.Equal(t, tc.wantStatus, resp.SyncState.Status, resp.SyncState.Reason)
			assert.Contains(t, resp.SyncState.ShortReason, tc.wantShort)
			assert.Contains(t, resp.SyncState.Reason, tc.wantReason)
			regions := map[string]string{}
			for _, r := range resp.LiveState.Resources {
				if r.ResourceType == ResourceTypeService {
					regions[r.ID] = r.ResourceMetadata["region"]
					assert.Equal(t, "dt1", r.DeployTarget)
				}
			}
			want := map[string]string{naming.ServiceName(fakeenv.Project, fakeenv.Region, "hello"): fakeenv.Region}
			if tc.other != nil {
				want[naming.ServiceName(fakeenv.Project, "europe-west1", "hello")] = "europe-west1"
			}
			assert.Equal(t, want, regions)
		})
	}
}
