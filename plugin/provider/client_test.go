package provider

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

func newTestClient(t *testing.T, opts ...fakerun.Option) (*Client, *fakerun.Server) {
	t.Helper()
	srv, err := fakerun.NewServer(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	c, err := NewClient(t.Context(), config.DeployTargetConfig{Endpoint: srv.Addr(), Insecure: true},
		WithRetry(time.Millisecond, 4*time.Millisecond, 3), WithPollInterval(5*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c, srv
}

func testService(image string) *runpb.Service {
	return &runpb.Service{
		Name:     naming.ServiceName("p", "asia-northeast1", "web"),
		Template: &runpb.RevisionTemplate{Revision: "web-" + image, Containers: []*runpb.Container{{Image: "gcr.io/p/web:" + image}}},
	}
}

func countCalls(srv *fakerun.Server, method string) int {
	n := 0
	for _, c := range srv.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}

func TestClient_ServiceLifecycle(t *testing.T) {
	t.Parallel()
	// Manual readiness keeps the revision pending until the test decides, however slow the machine is.
	c, srv := newTestClient(t, fakerun.WithManualReadiness())
	name := naming.ServiceName("p", "asia-northeast1", "web")

	_, err := c.GetService(t.Context(), name)
	require.ErrorIs(t, err, ErrNotFound)

	// The operation waits for the revision: CreateService does not.
	created, err := c.CreateService(t.Context(), testService("v1"))
	require.NoError(t, err)
	require.NotNil(t, created, "the operation's metadata describes the service being rolled out")
	assert.Equal(t, "web-v1", created.GetTemplate().GetRevision())
	assert.Zero(t, countCalls(srv, "GetOperation"), "the operation is still running and is not polled")

	rev, err := c.GetRevision(t.Context(), naming.FullRevisionName(name, "web-v1"))
	require.NoError(t, err)
	state, _ := RevisionReadiness(rev)
	assert.Equal(t, ReadinessPending, state)
	require.NoError(t, srv.SetRevisionReady("web-v1", true))

	// UpdateTraffic waits for its operation by polling.
	svc, err := c.GetService(t.Context(), name)
	require.NoError(t, err)
	updated, err := c.UpdateTraffic(t.Context(), name, svc.GetEtag(), []*runpb.TrafficTarget{
		{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: "web-v1", Percent: 100, Tag: "blue"},
	})
	require.NoError(t, err)
	require.NotNil(t, updated)
	assert.Equal(t, "web-v1", updated.GetTraffic()[0].GetRevision())

	// A stale etag is a conflict.
	_, err = c.UpdateTraffic(t.Context(), name, svc.GetEtag(), updated.GetTraffic())
	require.ErrorIs(t, err, ErrConflict)

	revs, err := c.ListRevisions(t.Context(), name)
	require.NoError(t, err)
	require.Len(t, revs, 1)

	// Deleting a revision that is gone counts as deleted.
	require.NoError(t, c.DeleteRevision(t.Context(), naming.FullRevisionName(name, "web-nope"), ""))
}

func TestClient_RetriesTransientErrorsThenGivesUp(t *testing.T) {
	t.Parallel()
	c, srv := newTestClient(t)
	name := naming.ServiceName("p", "asia-northeast1", "web")

	srv.InjectFault("GetService", fakerun.Fault{Code: codes.Unavailable, Times: 2})
	_, err := c.GetService(t.Context(), name)
	require.ErrorIs(t, err, ErrNotFound, "the third attempt reaches the service")
	assert.Equal(t, 3, countCalls(srv, "GetService"))

	srv.ResetCalls()
	srv.InjectFault("GetService", fakerun.Fault{Code: codes.ResourceExhausted})
	var notices []string
	_, err = c.GetService(WithRetryNotice(t.Context(), func(s string) { notices = append(notices, s) }), name)
	require.ErrorIs(t, err, ErrTransient)
	assert.Equal(t, 3, countCalls(srv, "GetService"))
	assert.Len(t, notices, 2)
	assert.Contains(t, notices[0], "resource exhausted")

	srv.ClearFaults()
	srv.ResetCalls()
	srv.InjectFault("GetService", fakerun.Fault{Code: codes.InvalidArgument, Times: 1})
	_, err = c.GetService(t.Context(), name)
	var perr *Error
	require.ErrorAs(t, err, &perr)
	assert.Equal(t, codes.InvalidArgument, perr.Code)
	assert.Equal(t, 1, countCalls(srv, "GetService"), "no retry for other codes")
}

func TestClient_ValidateService(t *testing.T) {
	t.Parallel()
	c, srv := newTestClient(t)
	name := naming.ServiceName("p", "asia-northeast1", "web")

	require.NoError(t, c.ValidateService(t.Context(), testService("v1"), true))
	_, err := c.GetService(t.Context(), name)
	require.ErrorIs(t, err, ErrNotFound, "validate_only creates nothing")

	err = c.ValidateService(t.Context(), testService("v1"), false)
	require.ErrorIs(t, err, ErrNotFound, "an update of a missing service is rejected")
	assert.Contains(t, err.Error(), "failed to validate the update of service "+name)

	_, err = c.CreateService(t.Context(), testService("v1"))
	require.NoError(t, err)
	require.NoError(t, c.ValidateService(t.Context(), testService("v2"), false))
	svc, err := c.GetService(t.Context(), name)
	require.NoError(t, err)
	assert.Equal(t, "web-v1", svc.GetTemplate().GetRevision(), "validate_only changes nothing")

	// Transient errors are retried like any other call.
	srv.InjectFault("UpdateService", fakerun.Fault{Code: codes.Unavailable, Times: 1})
	require.NoError(t, c.ValidateService(t.Context(), testService("v2"), false))
	require.ErrorContains(t, c.ValidateService(t.Context(), &runpb.Service{Name: "web"}, true), "web")
}

func TestClient_UnansweredCallsFailPromptly(t *testing.T) {
	t.Parallel()
	name := naming.ServiceName("p", "asia-northeast1", "web")
	testcases := []struct {
		name   string
		opts   []Option
		ctx    func(t *testing.T) context.Context
		within time.Duration
	}{
		{
			name: "fail: retry budget spent",
			opts: []Option{WithCallTimeouts(50*time.Millisecond, 50*time.Millisecond), WithRetry(10*time.Millisecond, 20*time.Millisecond, 100), WithRetryBudget(300 * time.Millisecond)},
			ctx:  func(t *testing.T) context.Context { return t.Context() }, within: time.Second,
		},
		{
			// piped gives every stage a deadline: each attempt still gets only its own timeout.
			name: "fail: retry budget spent under a distant deadline",
			opts: []Option{WithCallTimeouts(50*time.Millisecond, 50*time.Millisecond), WithRetry(10*time.Millisecond, 20*time.Millisecond, 100), WithRetryBudget(300 * time.Millisecond)},
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
				t.Cleanup(cancel)
				return ctx
			},
			within: time.Second,
		},
		{
			name: "fail: caller's deadline",
			// The retry would start after the deadline: the call fails at once with Cloud Run's answer.
			opts: []Option{WithCallTimeouts(50*time.Millisecond, 50*time.Millisecond), WithRetry(time.Second, time.Second, 100)},
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			within: 400 * time.Millisecond,
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, err := fakerun.NewServer(fakerun.WithFault("GetService", fakerun.Fault{Delay: time.Minute}))
			require.NoError(t, err)
			t.Cleanup(func() { _ = srv.Close() })
			c, err := NewClient(t.Context(), config.DeployTargetConfig{Endpoint: srv.Addr(), Insecure: true}, tc.opts...)
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })

			start := time.Now()
			_, err = c.GetService(tc.ctx(t), name)
			require.ErrorIs(t, err, ErrTransient)
			assert.Contains(t, err.Error(), "failed to get service "+name+": deadline exceeded")
			assert.Less(t, time.Since(start), tc.within)
		})
	}
}
