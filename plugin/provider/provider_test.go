package provider

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

func TestTranslate(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name      string
		code      codes.Code
		wantIs    error
		wantInMsg string
	}{
		{name: "success: not found", code: codes.NotFound, wantIs: ErrNotFound, wantInMsg: "check the project and region"},
		{name: "success: aborted is a conflict", code: codes.Aborted, wantIs: ErrConflict, wantInMsg: "run again once the other change is done"},
		{name: "success: already exists", code: codes.AlreadyExists, wantIs: ErrAlreadyExists, wantInMsg: "another template"},
		{name: "success: unavailable is transient", code: codes.Unavailable, wantIs: ErrTransient, wantInMsg: "retried with backoff"},
		{name: "success: resource exhausted is transient", code: codes.ResourceExhausted, wantIs: ErrTransient, wantInMsg: "rate limiting requests; the plugin retried with backoff"},
		{name: "success: internal", code: codes.Internal, wantIs: ErrInternal, wantInMsg: "it may pass"},
		{name: "success: permission denied", code: codes.PermissionDenied, wantInMsg: "roles/run.developer"},
		{name: "success: unauthenticated", code: codes.Unauthenticated, wantInMsg: "credentialsFile"},
		{name: "success: invalid argument", code: codes.InvalidArgument, wantInMsg: "fix the service or job manifest"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := translate("update service", "projects/p/locations/l/services/s", status.Error(tc.code, "boom"))
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.code, pe.Code)
			assert.Contains(t, err.Error(), "failed to update service projects/p/locations/l/services/s")
			assert.Contains(t, err.Error(), "boom")
			require.NotEmpty(t, tc.wantInMsg, "every case states the advice of its message")
			assert.Contains(t, err.Error(), tc.wantInMsg)
			if tc.wantIs != nil {
				assert.ErrorIs(t, err, tc.wantIs)
			}
		})
	}
}

func TestOperationFailedKeepsKind(t *testing.T) {
	t.Parallel()
	err := operationFailed("delete revision", "r", status.Error(codes.NotFound, "gone"))
	assert.ErrorIs(t, err, ErrOperationFailed)
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestSplitServiceName(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name       string
		in         string
		wantParent string
		wantID     string
		wantErr    bool
	}{
		{name: "success: full name", in: "projects/p/locations/asia-northeast1/services/web", wantParent: "projects/p/locations/asia-northeast1", wantID: "web"},
		{name: "fail: short name", in: "web", wantErr: true},
		{name: "fail: empty id", in: "projects/p/locations/l/services/", wantErr: true},
		{name: "fail: wrong collection", in: "projects/p/locations/l/jobs/web", wantErr: true},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parent, id, err := splitName(tc.in, "service", "services")
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantParent, parent)
			assert.Equal(t, tc.wantID, id)
		})
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	svc := naming.ServiceName("p", "l", "web")
	assert.Equal(t, "projects/p/locations/l/services/web", svc)
	assert.Equal(t, "projects/p/locations/l/services/web/revisions/web-1", naming.FullRevisionName(svc, "web-1"))
	assert.Equal(t, "web-1", naming.ShortName(naming.FullRevisionName(svc, "web-1")))
	assert.Equal(t, "web", naming.ShortName("web"))
}

func TestRevisionReadiness(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		rev     *runpb.Revision
		want    Readiness
		wantMsg string
	}{
		{name: "success: no conditions yet", rev: &runpb.Revision{}, want: ReadinessPending, wantMsg: "the revision has no Ready condition yet"},
		{
			name: "success: reconciling",
			rev:  &runpb.Revision{Conditions: []*runpb.Condition{{Type: "Ready", State: runpb.Condition_CONDITION_RECONCILING}}},
			want: ReadinessPending,
		},
		{
			name: "success: ready",
			rev:  &runpb.Revision{Conditions: []*runpb.Condition{{Type: "Ready", State: runpb.Condition_CONDITION_SUCCEEDED}}},
			want: ReadinessReady,
		},
		{
			name: "fail: image missing",
			rev: &runpb.Revision{Conditions: []*runpb.Condition{
				{Type: "Ready", State: runpb.Condition_CONDITION_FAILED, Message: "Image 'gcr.io/p/x:v9' not found.",
					Reasons: &runpb.Condition_RevisionReason_{RevisionReason: runpb.Condition_HEALTH_CHECK_CONTAINER_ERROR}},
				{Type: "ContainerHealthy", State: runpb.Condition_CONDITION_FAILED, Severity: runpb.Condition_ERROR, Message: "no container"},
				{Type: "Active", State: runpb.Condition_CONDITION_FAILED, Severity: runpb.Condition_INFO, Message: "retired"},
			}},
			want:    ReadinessFailed,
			wantMsg: "Image 'gcr.io/p/x:v9' not found.; ContainerHealthy: no container (reason HEALTH_CHECK_CONTAINER_ERROR)",
		},
		{
			name: "fail: no message, a common reason",
			rev: &runpb.Revision{Conditions: []*runpb.Condition{
				{Type: "Ready", State: runpb.Condition_CONDITION_FAILED, Reasons: &runpb.Condition_Reason{Reason: runpb.Condition_REVISION_FAILED}},
				{Type: "ContainerHealthy", State: runpb.Condition_CONDITION_FAILED, Severity: runpb.Condition_ERROR},
			}},
			want:    ReadinessFailed,
			wantMsg: "the revision is not ready (reason REVISION_FAILED)",
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, msg := RevisionReadiness(tc.rev)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantMsg, msg)
		})
	}
}

func TestNewClientMissingCredentialsFile(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "sa.json")
	_, err := NewClient(t.Context(), config.DeployTargetConfig{CredentialsFile: missing})
	require.ErrorContains(t, err, "credentialsFile")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestRegistryReusesClients(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	t.Cleanup(func() { assert.NoError(t, r.Close()) })
	cfg := config.DeployTargetConfig{Endpoint: "127.0.0.1:1", Insecure: true}

	results := make(chan *Client, 8)
	for range 8 {
		go func() {
			c, err := r.Client(t.Context(), "dt1", cfg)
			assert.NoError(t, err)
			results <- c
		}()
	}
	first := <-results
	for range 7 {
		assert.Same(t, first, <-results)
	}

	other, err := r.Client(t.Context(), "dt2", cfg)
	require.NoError(t, err)
	assert.NotSame(t, first, other)

	_, err = r.Client(t.Context(), "bad", config.DeployTargetConfig{CredentialsFile: filepath.Join(t.TempDir(), "missing.json")})
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrNotFound))
}
