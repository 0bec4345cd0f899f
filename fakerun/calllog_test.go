package fakerun

import (
	"context"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
)

// cancelled is a context that has already ended: a wait given it returns at once unless the call is
// already logged.
func cancelled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

func TestWaitForCallReturnsACallAlreadyLogged(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	mustCreateService(t, c, "svc", "img")

	call, err := srv.WaitForCall(cancelled(t), "CreateService")
	require.NoError(t, err)
	assert.Equal(t, "CreateService", call.Method)
	assert.Equal(t, codes.OK, call.Code)
	assert.Equal(t, uint64(1), call.Seq)
	assert.Equal(t, "svc", call.Request.(*runpb.CreateServiceRequest).GetServiceId())

	_, err = srv.WaitForCall(cancelled(t), "UpdateService")
	assert.ErrorIs(t, err, context.Canceled, "no UpdateService was answered")
}

func TestWaitForCallBlocksUntilTheCallIsAnswered(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	mustCreateService(t, c, "svc", "img")

	waited := make(chan Call, 1)
	go func() {
		call, err := srv.WaitForCall(t.Context(), "UpdateService")
		assert.NoError(t, err)
		waited <- call
	}()
	_, err := update(t, c, &runpb.Service{Name: testSvc, Labels: map[string]string{"a": "b"}}, "labels")
	require.NoError(t, err)

	call := <-waited
	assert.Equal(t, "UpdateService", call.Method)
	assert.Equal(t, map[string]string{"a": "b"}, call.Request.(*runpb.UpdateServiceRequest).GetService().GetLabels())
}

func TestWaitForCallAfterAMarkSkipsEarlierCallsAndCountsLaterOnes(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	mustCreateService(t, c, "svc", "img")
	label := func(v string) {
		t.Helper()
		_, err := update(t, c, &runpb.Service{Name: testSvc, Labels: map[string]string{"n": v}}, "labels")
		require.NoError(t, err)
	}
	label("1")
	mark := srv.CallMark()
	_, err := srv.WaitForCallAfter(cancelled(t), mark, "UpdateService")
	assert.ErrorIs(t, err, context.Canceled, "the UpdateService before the mark does not count")

	// Acting before waiting cannot miss the call: it is in the log after the mark.
	label("2")
	label("3")
	second, err := srv.WaitForCallAfter(cancelled(t), mark, "UpdateService")
	require.NoError(t, err)
	assert.Equal(t, "2", second.Request.(*runpb.UpdateServiceRequest).GetService().GetLabels()["n"])
	third, err := srv.WaitForCallAfter(cancelled(t), second.Seq, "UpdateService")
	require.NoError(t, err)
	assert.Equal(t, "3", third.Request.(*runpb.UpdateServiceRequest).GetService().GetLabels()["n"])
	assert.Greater(t, third.Seq, second.Seq)
}

func TestCallSeqSurvivesResets(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	mustCreateService(t, c, "svc", "img")
	mark := srv.CallMark()
	require.Equal(t, uint64(1), mark)

	srv.ResetCalls()
	assert.Equal(t, mark, srv.CallMark(), "emptying the log does not rewind Seq")
	srv.Reset()
	assert.Equal(t, mark, srv.CallMark(), "neither does Reset")
	_, err := srv.WaitForCall(cancelled(t), "CreateService")
	assert.ErrorIs(t, err, context.Canceled, "the emptied log has no CreateService")

	mustCreateService(t, c, "svc", "img")
	call, err := srv.WaitForCallAfter(cancelled(t), mark, "CreateService")
	require.NoError(t, err)
	assert.Equal(t, mark+1, call.Seq)
	assert.Equal(t, []uint64{mark + 1}, seqs(srv.Calls()))
}

func seqs(calls []Call) []uint64 {
	out := make([]uint64, 0, len(calls))
	for _, c := range calls {
		out = append(out, c.Seq)
	}
	return out
}
