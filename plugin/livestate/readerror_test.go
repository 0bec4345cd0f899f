package livestate

import (
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/internal/fakeenv"
)

// A job or worker pool whose read Cloud Run refuses (not NOT_FOUND) has an unknown sync state naming the
// deploy target and Cloud Run's reason, not a drift.
func TestLivestate_RefusedReadIsUnknown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method string
		source       func(t *testing.T) sdk.DeploymentSource[config.RawApplicationSpec]
	}{
		{name: "job", method: "GetJob", source: func(t *testing.T) sdk.DeploymentSource[config.RawApplicationSpec] {
			return fakeenv.JobSource(t, fakeenv.CommitV1, fakeenv.JobV1)
		}},
		{name: "worker pool", method: "GetWorkerPool", source: func(t *testing.T) sdk.DeploymentSource[config.RawApplicationSpec] {
			return fakeenv.PoolSource(t, fakeenv.CommitV1, fakeenv.PoolV1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.Server.InjectFault(tc.method, fakerun.Fault{Code: codes.PermissionDenied})
			resp := f.livestate(tc.source(t))
			assert.Equal(t, sdk.ApplicationSyncStateUnknown, resp.SyncState.Status)
			assert.Equal(t, "Cannot read the live state of deploy target "+f.Target.Name, resp.SyncState.ShortReason)
			assert.Contains(t, resp.SyncState.Reason, "permission denied")
			assert.Empty(t, resp.LiveState.Resources)
		})
	}
}
