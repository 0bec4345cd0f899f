package fakerun

import (
	"errors"
	"testing"
	"time"

	lroauto "cloud.google.com/go/longrunning/autogen"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestOperations(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		srv.SetNow(epoch)
		op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
			Parent: testParent, ServiceId: "svc", Service: &runpb.Service{Template: template("img:1")}})
		require.NoError(t, err)
		assert.Regexp(t, `^`+testParent+`/operations/[0-9a-f-]{36}$`, op.Name())
		meta, err := op.Metadata()
		require.NoError(t, err)
		assert.Equal(t, testSvc, meta.GetName(), "metadata is the service")

		got, err := c.services.GetOperation(t.Context(), &longrunningpb.GetOperationRequest{Name: op.Name()})
		require.NoError(t, err)
		assert.False(t, got.GetDone())

		// WaitOperation returns the pending operation when its timeout passes.
		waited, err := c.services.WaitOperation(t.Context(), &longrunningpb.WaitOperationRequest{Name: op.Name(), Timeout: durationpb.New(20 * time.Millisecond)})
		require.NoError(t, err)
		assert.False(t, waited.GetDone())

		srv.Advance(time.Minute)
		waited, err = c.services.WaitOperation(t.Context(), &longrunningpb.WaitOperationRequest{Name: op.Name()})
		require.NoError(t, err)
		assert.True(t, waited.GetDone())
		assert.NotNil(t, waited.GetResponse())

		it := c.services.ListOperations(t.Context(), &longrunningpb.ListOperationsRequest{Name: testParent})
		var names []string
		for {
			o, err := it.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			require.NoError(t, err)
			names = append(names, o.GetName())
		}
		assert.Equal(t, []string{op.Name()}, names)

		require.NoError(t, c.services.DeleteOperation(t.Context(), &longrunningpb.DeleteOperationRequest{Name: op.Name()}))
		_, err = c.services.GetOperation(t.Context(), &longrunningpb.GetOperationRequest{Name: op.Name()})
		assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)
		_, err = c.services.GetOperation(t.Context(), &longrunningpb.GetOperationRequest{Name: "bogus"})
		wantCode := codes.InvalidArgument
		if c.transport == "rest" {
			wantCode = codes.NotFound // no HTTP route matches /v2/bogus
		}
		assert.Equal(t, wantCode, status.Code(err), "%v", err)
	}, WithReadinessDelay(time.Second))
}

// TestOperationsClientPolling checks that op.Wait polls GetOperation on the
// same connection until the revision is ready, with a real clock.
func TestOperationsClientPolling(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
			Parent: testParent, ServiceId: "svc", Service: &runpb.Service{Template: template("img:1")}})
		require.NoError(t, err)
		require.False(t, op.Done())
		svc, err := op.Wait(t.Context())
		require.NoError(t, err)
		assert.Equal(t, svc.GetLatestCreatedRevision(), svc.GetLatestReadyRevision())
		polls := 0
		for _, call := range srv.Calls() {
			if call.Method == "GetOperation" {
				polls++
			}
		}
		assert.Positive(t, polls)
	}, WithReadinessDelay(50*time.Millisecond))
}

// TestOperationsClient uses the generic longrunning client, as piped tools might.
func TestOperationsClient(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	mustCreateService(t, c, "svc", "img")
	oc, err := lroauto.NewOperationsClient(t.Context(), srv.ClientOptions()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = oc.Close() })
	op, err := oc.ListOperations(t.Context(), &longrunningpb.ListOperationsRequest{Name: testParent}).Next()
	require.NoError(t, err)
	assert.True(t, op.GetDone())
	err = oc.CancelOperation(t.Context(), &longrunningpb.CancelOperationRequest{Name: op.GetName()})
	assert.Equal(t, codes.Unimplemented, status.Code(err))
	_, err = oc.ListOperations(t.Context(), &longrunningpb.ListOperationsRequest{Name: testParent, Filter: "done=true"}).Next()
	assert.Equal(t, codes.InvalidArgument, status.Code(err))
}

func TestDeleteServiceDuringRollout(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t, WithManualReadiness())
	op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
		Parent: testParent, ServiceId: "svc", Service: &runpb.Service{Template: template("img")}})
	require.NoError(t, err)
	require.False(t, op.Done())
	del, err := c.services.DeleteService(t.Context(), &runpb.DeleteServiceRequest{Name: testSvc})
	require.NoError(t, err)
	assert.True(t, del.Done())
	_, err = op.Poll(t.Context())
	assert.Equal(t, codes.Aborted, status.Code(err), "%v", err)
	assert.Empty(t, srv.State().Services)
}
