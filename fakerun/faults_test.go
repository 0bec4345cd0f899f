package fakerun

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestFaults(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		mustCreateService(t, c, "svc", "img")
		get := func() error {
			_, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: testSvc})
			return err
		}

		// WithFault: the first UpdateService fails once with the given message.
		_, err := update(t, c, &runpb.Service{Name: testSvc, Labels: map[string]string{"a": "b"}}, "labels")
		assert.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
		assert.ErrorContains(t, err, "nope")
		_, err = update(t, c, &runpb.Service{Name: testSvc, Labels: map[string]string{"a": "b"}}, "labels")
		require.NoError(t, err)

		// The client retries UNAVAILABLE on GetService, so a single fault is invisible.
		srv.InjectFault("GetService", Fault{Code: codes.Unavailable, Times: 1})
		require.NoError(t, get())

		srv.InjectFault("GetService", Fault{Code: codes.NotFound, Message: "gone", Times: 2})
		assert.Equal(t, codes.NotFound, status.Code(get()))
		assert.Equal(t, codes.NotFound, status.Code(get()))
		require.NoError(t, get())

		srv.InjectFault("GetService", Fault{Code: codes.Internal})
		for range 3 {
			assert.Equal(t, codes.Internal, status.Code(get()))
		}
		srv.ClearFaults()
		require.NoError(t, get())

		// A delay-only fault slows the call down and a context deadline cuts it.
		srv.InjectFault("GetService", Fault{Delay: 300 * time.Millisecond, Times: 1})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err = c.services.GetService(ctx, &runpb.GetServiceRequest{Name: testSvc})
		assert.True(t, status.Code(err) == codes.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded), "%v", err)

		// Unknown methods are ignored.
		srv.InjectFault("NoSuchMethod", Fault{Code: codes.Internal})
		require.NoError(t, get())
	}, WithFault("UpdateService", Fault{Code: codes.PermissionDenied, Message: "nope", Times: 1}))
}

func TestWithFaultValidation(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name string
		opt  Option
	}{
		{name: "fail: unknown method", opt: WithFault("Deploy", Fault{Code: codes.Internal})},
		{name: "fail: negative times", opt: WithFault("GetService", Fault{Times: -1})},
		{name: "fail: negative delay", opt: WithFault("GetService", Fault{Delay: -time.Second})},
		{name: "fail: negative readiness delay", opt: WithReadinessDelay(-time.Second)},
		{name: "fail: nil clock", opt: WithClock(nil)},
		{name: "fail: empty failing image", opt: WithFailingImage("")},
		{name: "fail: zero revision cap", opt: WithRevisionCap(0)},
		{name: "fail: empty address", opt: WithAddress("")},
		{name: "fail: address in use", opt: WithAddress("256.0.0.1:1")},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, err := NewServer(tc.opt)
			assert.Error(t, err)
			assert.Nil(t, srv)
		})
	}
}

func TestCallsStateAndReset(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	mustCreateService(t, c, "svc", "img")
	_, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: testParent + "/services/nope"})
	require.Error(t, err)

	calls := srv.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, "CreateService", calls[0].Method)
	assert.Equal(t, codes.OK, calls[0].Code)
	assert.Equal(t, "svc", calls[0].Request.(*runpb.CreateServiceRequest).GetServiceId())
	assert.Equal(t, "GetService", calls[1].Method)
	assert.Equal(t, codes.NotFound, calls[1].Code)
	assert.False(t, calls[1].Time.IsZero())
	srv.ResetCalls()
	assert.Empty(t, srv.Calls())

	st := srv.State()
	require.Len(t, st.Services, 1)
	require.Len(t, st.Revisions[testSvc], 1)
	require.Len(t, st.Operations, 1)
	out, err := json.Marshal(st)
	require.NoError(t, err)
	var decoded struct {
		Services   []map[string]any            `json:"services"`
		Revisions  map[string][]map[string]any `json:"revisions"`
		Operations []map[string]any            `json:"operations"`
	}
	require.NoError(t, json.Unmarshal(out, &decoded))
	assert.Equal(t, testSvc, decoded.Services[0]["name"])
	assert.Contains(t, decoded.Services[0], "latestReadyRevision", "protojson camelCase")
	assert.Equal(t, true, decoded.Operations[0]["done"])

	srv.SetReadinessDelay(time.Hour)
	srv.Reset()
	_, err = srv.Service(testSvc)
	assert.Equal(t, codes.NotFound, status.Code(err))
	assert.Empty(t, srv.State().Services)
	mustCreateService(t, c, "svc", "img") // readiness delay is back to the option's 0
}

func TestWithClock(t *testing.T) {
	t.Parallel()
	now := epoch
	clock := func() time.Time { return now }
	srv, c := newFake(t, WithClock(clock))
	svc := mustCreateService(t, c, "svc", "img")
	assert.Equal(t, epoch, svc.GetCreateTime().AsTime())
	srv.Advance(time.Hour) // no effect with an external clock
	srv.SetNow(epoch.Add(time.Hour))
	assert.Equal(t, epoch, srv.Calls()[0].Time)
}
