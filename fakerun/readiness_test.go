package fakerun

import (
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestReadinessDelay(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		srv.SetNow(epoch)
		op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
			Parent: testParent, ServiceId: "svc", Service: &runpb.Service{Template: template("img:1")}})
		require.NoError(t, err)
		require.False(t, op.Done(), "the revision is not ready yet")

		svc, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: testSvc})
		require.NoError(t, err)
		assert.True(t, svc.GetReconciling())
		assert.Equal(t, runpb.Condition_CONDITION_RECONCILING, svc.GetTerminalCondition().GetState())
		assert.Empty(t, svc.GetLatestReadyRevision())
		assert.Zero(t, svc.GetObservedGeneration())
		rev, err := c.revisions.GetRevision(t.Context(), &runpb.GetRevisionRequest{Name: svc.GetLatestCreatedRevision()})
		require.NoError(t, err)
		assert.True(t, rev.GetReconciling())
		assert.Equal(t, runpb.Condition_CONDITION_RECONCILING, readyState(rev))

		srv.Advance(4 * time.Second)
		_, err = op.Poll(t.Context())
		require.NoError(t, err)
		assert.False(t, op.Done())

		srv.Advance(time.Second)
		done, err := op.Poll(t.Context())
		require.NoError(t, err)
		require.True(t, op.Done())
		assert.False(t, done.GetReconciling())
		assert.Equal(t, done.GetLatestCreatedRevision(), done.GetLatestReadyRevision())
		assert.Equal(t, int64(1), done.GetObservedGeneration())
		assert.Equal(t, epoch.Add(5*time.Second), done.GetTerminalCondition().GetLastTransitionTime().AsTime())

		// Resuming the operation by name gives the same result.
		resumed := c.services.CreateServiceOperation(op.Name())
		again, err := resumed.Poll(t.Context())
		require.NoError(t, err)
		assert.True(t, proto.Equal(done, again))
	}, WithReadinessDelay(5*time.Second))
}

func TestManualReadiness(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t, WithManualReadiness())
	op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
		Parent: testParent, ServiceId: "svc", Service: &runpb.Service{Template: template("img:1")}})
	require.NoError(t, err)
	require.False(t, op.Done())
	srv.Advance(time.Hour)
	_, err = op.Poll(t.Context())
	require.NoError(t, err)
	require.False(t, op.Done(), "manual revisions wait for SetRevisionReady")

	svc, err := srv.Service(testSvc)
	require.NoError(t, err)
	require.Error(t, srv.SetRevisionReady("nope", true))
	require.NoError(t, srv.SetRevisionReady(rules.ShortName(svc.GetLatestCreatedRevision()), true))
	done, err := op.Poll(t.Context())
	require.NoError(t, err)
	require.True(t, op.Done())
	assert.Equal(t, svc.GetLatestCreatedRevision(), done.GetLatestReadyRevision())

	// A revision set not ready fails its rollout and keeps the old state.
	next := proto.Clone(done).(*runpb.Service)
	next.Template = template("img:2")
	upd, err := c.services.UpdateService(t.Context(), &runpb.UpdateServiceRequest{Service: next})
	require.NoError(t, err)
	pending, err := srv.Service(testSvc)
	require.NoError(t, err)
	require.NoError(t, srv.SetRevisionReady(pending.GetLatestCreatedRevision(), false))
	_, err = upd.Poll(t.Context())
	assert.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
	assert.ErrorContains(t, err, "is not ready and cannot serve traffic")
	after, err := srv.Service(testSvc)
	require.NoError(t, err)
	assert.Equal(t, done.GetLatestReadyRevision(), after.GetLatestReadyRevision())
	assert.Equal(t, runpb.Condition_CONDITION_FAILED, after.GetTerminalCondition().GetState())
}

func TestFailingImage(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		first := mustCreateService(t, c, "svc", "img:1")
		srv.AddFailingImage("img:late")

		testcases := []struct {
			name    string
			image   string
			traffic []*runpb.TrafficTarget
		}{
			{name: "fail: bad image with LATEST traffic", image: "img:bad"},
			{name: "fail: bad image with pinned traffic", image: "img:late", traffic: []*runpb.TrafficTarget{revisionTarget(rules.ShortName(first.GetLatestReadyRevision()), 100, "")}},
		}
		for _, tc := range testcases {
			next := proto.Clone(first).(*runpb.Service)
			next.Etag = ""
			next.Template = template(tc.image)
			if tc.traffic != nil {
				next.Traffic = tc.traffic
			}
			_, err := update(t, c, next)
			require.Error(t, err, tc.name)
			assert.Equal(t, codes.FailedPrecondition, status.Code(err), "%s: %v", tc.name, err)
			assert.ErrorContains(t, err, "Image '"+tc.image+"' not found.", tc.name)

			svc, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: testSvc})
			require.NoError(t, err)
			assert.Equal(t, first.GetLatestReadyRevision(), svc.GetLatestReadyRevision(), tc.name)
			assert.NotEqual(t, first.GetLatestCreatedRevision(), svc.GetLatestCreatedRevision(), tc.name)
			assert.Equal(t, first.GetObservedGeneration(), svc.GetObservedGeneration(), tc.name)
			assert.True(t, proto.Equal(first.GetTrafficStatuses()[0], svc.GetTrafficStatuses()[0]), tc.name)
			assert.Equal(t, runpb.Condition_CONDITION_FAILED, svc.GetTerminalCondition().GetState(), tc.name)
			assert.False(t, svc.GetReconciling(), tc.name)

			rev, err := c.revisions.GetRevision(t.Context(), &runpb.GetRevisionRequest{Name: svc.GetLatestCreatedRevision()})
			require.NoError(t, err)
			assert.Equal(t, runpb.Condition_CONDITION_FAILED, readyState(rev), tc.name)
			assert.Equal(t, runpb.Condition_CONTAINER_MISSING, rev.GetConditions()[0].GetReason(), tc.name)
		}
	}, WithFailingImage("img:bad"))
}

func TestSupersededRollout(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t, WithReadinessDelay(time.Second))
	srv.SetNow(epoch)
	op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
		Parent: testParent, ServiceId: "svc", Service: &runpb.Service{Template: template("img:1")}})
	require.NoError(t, err)
	// A traffic-only update while the first revision is pending follows it.
	upd, err := c.services.UpdateService(t.Context(), &runpb.UpdateServiceRequest{
		Service:    &runpb.Service{Name: testSvc, Traffic: []*runpb.TrafficTarget{latestTarget(100, "live")}},
		UpdateMask: fieldMask("traffic"),
	})
	require.NoError(t, err)
	require.False(t, upd.Done())
	srv.Advance(time.Second)
	first, err := op.Poll(t.Context())
	require.NoError(t, err)
	require.True(t, op.Done())
	assert.Equal(t, int64(2), first.GetGeneration())
	second, err := upd.Poll(t.Context())
	require.NoError(t, err)
	require.True(t, upd.Done())
	assert.Equal(t, int64(2), second.GetObservedGeneration())
	assert.Equal(t, "live", second.GetTrafficStatuses()[0].GetTag())
	assert.Equal(t, second.GetLatestCreatedRevision(), second.GetLatestReadyRevision())
}

func TestSetManualReadinessAndAccessors(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	srv.SetReadinessDelay(0)
	srv.SetManualReadiness(true)
	delay, manual := srv.Readiness()
	assert.Equal(t, time.Duration(0), delay)
	assert.True(t, manual)

	op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
		Parent: testParent, ServiceId: "svc", Service: &runpb.Service{Template: template("img:1")}})
	require.NoError(t, err)
	svc, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: testSvc})
	require.NoError(t, err)
	assert.Empty(t, svc.GetLatestReadyRevision(), "a manual revision waits for SetRevisionReady")
	require.NoError(t, srv.SetRevisionReady(svc.GetLatestCreatedRevision(), true))
	_, err = op.Wait(t.Context())
	require.NoError(t, err)

	srv.SetManualReadiness(false)
	_, manual = srv.Readiness()
	assert.False(t, manual)

	srv.InjectFault("UpdateService", Fault{Code: codes.Unavailable, Times: 2})
	srv.InjectFault("UpdateService", Fault{Delay: time.Millisecond})
	_, err = c.services.UpdateService(t.Context(), &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: testSvc}})
	require.Equal(t, codes.Unavailable, status.Code(err))
	assert.Equal(t, map[string][]Fault{"UpdateService": {{Code: codes.Unavailable, Times: 1}, {Delay: time.Millisecond}}}, srv.Faults())

	srv.AddFailingImage("b:1")
	srv.AddFailingImage("a:1")
	assert.Equal(t, []string{"a:1", "b:1"}, srv.FailingImages())

	srv.SetNow(epoch)
	assert.Equal(t, ClockStatus{Now: epoch, Frozen: true}, srv.Clock())
	injected, _ := newFake(t, WithClock(func() time.Time { return epoch }))
	assert.Equal(t, ClockStatus{Now: epoch, Injected: true}, injected.Clock())
}

func TestBehaviorReadinessDelay(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t, WithManualReadiness(), WithBehaviors(Behaviors{Images: map[string]Behavior{
		"img:slow": {ReadinessDelay: 3 * time.Second},
		"img:bad":  {ReadinessDelay: 2 * time.Second, Fail: true},
	}}))
	srv.SetNow(epoch)
	op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
		Parent: testParent, ServiceId: "svc", Service: &runpb.Service{Template: template("img:slow")}})
	require.NoError(t, err)
	srv.Advance(2 * time.Second)
	_, err = op.Poll(t.Context())
	require.NoError(t, err)
	assert.False(t, op.Done(), "img:slow is ready 3s after its creation, manual readiness or not")
	srv.Advance(time.Second)
	svc, err := op.Poll(t.Context())
	require.NoError(t, err)
	require.True(t, op.Done())
	assert.Equal(t, epoch.Add(3*time.Second), svc.GetTerminalCondition().GetLastTransitionTime().AsTime())

	svc.Template = template("img:bad")
	bad, err := c.services.UpdateService(t.Context(), &runpb.UpdateServiceRequest{Service: svc})
	require.NoError(t, err)
	srv.Advance(2 * time.Second)
	_, err = bad.Poll(t.Context())
	assert.ErrorContains(t, err, "Image 'img:bad' not found", "img:bad fails 2s after its creation")
	assert.Equal(t, epoch.Add(5*time.Second), srv.Revisions(testSvc)[0].GetConditions()[0].GetLastTransitionTime().AsTime())

	bs, err := ParseBehaviors([]byte(`{"images":{"img":{"readinessDelay":"1h"}}}`))
	require.NoError(t, err)
	assert.Equal(t, time.Hour, bs.Images["img"].ReadinessDelay)
	_, err = ParseBehaviors([]byte(`{"images":{"img":{"readinessDelay":"-1s"}}}`))
	assert.ErrorContains(t, err, `"readinessDelay"`)
}
