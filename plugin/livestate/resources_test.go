package livestate

import (
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"

	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

func TestConditionsHealth(t *testing.T) {
	t.Parallel()
	ready := &runpb.Condition{Type: "Ready", State: runpb.Condition_CONDITION_SUCCEEDED}
	testcases := []struct {
		name     string
		terminal *runpb.Condition
		conds    []*runpb.Condition
		want     sdk.ResourceHealthStatus
		wantDesc string
	}{
		{name: "success: ready", terminal: ready, want: sdk.ResourceHealthStateHealthy, wantDesc: "Ready"},
		{
			name: "success: a failed condition of severity info is no failure", terminal: ready,
			conds: []*runpb.Condition{{Type: "RoutesReady", State: runpb.Condition_CONDITION_FAILED, Severity: runpb.Condition_INFO, Message: "retired"}},
			want:  sdk.ResourceHealthStateHealthy, wantDesc: "Ready",
		},
		{
			name: "fail: a failed condition names itself and its message", terminal: ready,
			conds: []*runpb.Condition{{Type: "ContainerHealthy", State: runpb.Condition_CONDITION_FAILED, Severity: runpb.Condition_ERROR, Message: "probe failed"}},
			want:  sdk.ResourceHealthStateUnhealthy, wantDesc: "Not ready: ContainerHealthy: probe failed",
		},
		{
			name: "fail: a failed condition without a message", terminal: ready,
			conds: []*runpb.Condition{{Type: "ContainerHealthy", State: runpb.Condition_CONDITION_FAILED, Severity: runpb.Condition_ERROR}},
			want:  sdk.ResourceHealthStateUnhealthy, wantDesc: "Not ready: ContainerHealthy: failed",
		},
		{name: "fail: the last rollout failed", terminal: &runpb.Condition{Type: "Ready", State: runpb.Condition_CONDITION_FAILED},
			want: sdk.ResourceHealthStateUnhealthy, wantDesc: "Not ready: the last rollout failed"},
		{name: "success: reconciling", terminal: &runpb.Condition{Type: "Ready", State: runpb.Condition_CONDITION_RECONCILING, Message: "Deploying revision web-2"},
			want: sdk.ResourceHealthStateUnknown, wantDesc: "Reconciling: Deploying revision web-2"},
		{name: "success: no condition yet", want: sdk.ResourceHealthStateUnknown, wantDesc: "Cloud Run reports no Ready condition yet"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, desc := conditionsHealth(tc.terminal, tc.conds)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantDesc, desc)
		})
	}
}

func TestServiceStateNamesItsURL(t *testing.T) {
	t.Parallel()
	svc := &runpb.Service{Name: "projects/p/locations/l/services/web", TerminalCondition: &runpb.Condition{State: runpb.Condition_CONDITION_SUCCEEDED}}
	shares := []traffic.Share{{Revision: "web-1", Percent: 100}}
	assert.Equal(t, "Ready; traffic: web-1 100%", serviceState("dt", svc, shares).HealthDescription, "no URL yet")
	svc.Uri = "https://web-abc.a.run.app"
	assert.Equal(t, "Ready; traffic: web-1 100%; https://web-abc.a.run.app", serviceState("dt", svc, shares).HealthDescription)
}

func TestDescribeRevision(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "0% of the traffic", describeRevision(traffic.Share{Revision: "web-1"}, nil), "a revision that cannot be read has no image")
	assert.Equal(t, "requested in the traffic but not serving, tag blue, image gcr.io/p/web:v1",
		describeRevision(traffic.Share{Revision: "web-1", Pending: true, Tags: []string{"blue"}},
			&runpb.Revision{Containers: []*runpb.Container{{Image: "gcr.io/p/web:v1"}}}))
}

func TestWithoutEmptyKeepsAZeroPercent(t *testing.T) {
	t.Parallel()
	assert.Equal(t, map[string]string{"percent": "0", "uri": "https://x"},
		withoutEmpty(map[string]string{"percent": "0", "generation": "0", "tags": "", "uri": "https://x"}))
}

// A pool whose template names no revision (gcloud lets Cloud Run name it) runs git's template as its latest
// created revision.
func TestPoolSyncWithoutRevisionName(t *testing.T) {
	t.Parallel()
	pool := func() *runpb.WorkerPool {
		return &runpb.WorkerPool{
			Name:                  "projects/p/locations/l/workerPools/consumer",
			Template:              &runpb.WorkerPoolRevisionTemplate{Containers: []*runpb.Container{{Image: "gcr.io/p/consumer:v1"}}},
			LatestCreatedRevision: "projects/p/locations/l/workerPools/consumer/revisions/consumer-00001-abc",
		}
	}
	got := poolSync("dt", "1111111", pool(), pool(), []traffic.Share{{Revision: "consumer-00001-abc", Percent: 100}})
	assert.Equal(t, sdk.ApplicationSyncStateSynced, got.status, got.reason)
	assert.Equal(t, "Worker pool consumer runs git's revision consumer-00001-abc with all the instances", got.short)
}
