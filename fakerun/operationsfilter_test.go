package fakerun

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestListOperationsFilterAndPages checks the filters and page size that
// the discovery document gives ListOperations, and that a validate_only
// operation is not kept.
func TestListOperationsFilterAndPages(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		srv.SetNow(epoch)
		create := func(id string) {
			_, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
				Parent: testParent, ServiceId: id, Service: &runpb.Service{Template: template("img:1")}})
			require.NoError(t, err)
		}
		create("done")
		srv.Advance(time.Minute) // its revision becomes ready
		create("pending")
		vo, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
			Parent: testParent, ServiceId: "dry", Service: &runpb.Service{Template: template("img:1")}, ValidateOnly: true})
		require.NoError(t, err)
		assert.Equal(t, testParent+"/operations/validate-only", vo.Name())
		_, err = c.services.GetOperation(t.Context(), &longrunningpb.GetOperationRequest{Name: vo.Name()})
		assert.Equal(t, codes.NotFound, status.Code(err), "a validate_only operation cannot be read back: %v", err)

		list := func(filter string) ([]string, error) {
			var names []string
			it := c.services.ListOperations(t.Context(), &longrunningpb.ListOperationsRequest{Name: testParent, Filter: filter})
			for {
				op, err := it.Next()
				if errors.Is(err, iterator.Done) {
					return names, nil
				}
				if err != nil {
					return nil, err
				}
				names = append(names, fmt.Sprintf("%s done=%t", rules.ShortName(op.GetMetadata().GetTypeUrl()), op.GetDone()))
			}
		}
		all, err := list("")
		require.NoError(t, err)
		assert.Len(t, all, 2)
		done, err := list("done:true")
		require.NoError(t, err)
		assert.Equal(t, []string{"google.cloud.run.v2.Service done=true"}, done)
		open, err := list("done: false")
		require.NoError(t, err)
		assert.Equal(t, []string{"google.cloud.run.v2.Service done=false"}, open)
		_, err = list("metadata.target:web")
		assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	}, WithReadinessDelay(time.Second))
}

func TestListOperationsPageSize(t *testing.T) {
	t.Parallel()
	_, c := newFake(t)
	for i := range 101 {
		_, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
			Parent: testParent, ServiceId: fmt.Sprintf("s%d", i), Service: &runpb.Service{Template: template("img:1")}})
		require.NoError(t, err)
	}
	for _, size := range []int32{0, -1, 100, 500} {
		it := c.services.ListOperations(t.Context(), &longrunningpb.ListOperationsRequest{Name: testParent, PageSize: size})
		_, err := it.Next()
		require.NoError(t, err, "page size %d", size)
		assert.Len(t, it.Response.(*longrunningpb.ListOperationsResponse).GetOperations(), 100, "page size %d: at most and by default 100", size)
	}
	it := c.services.ListOperations(t.Context(), &longrunningpb.ListOperationsRequest{Name: testParent, PageSize: 7})
	_, err := it.Next()
	require.NoError(t, err)
	assert.Len(t, it.Response.(*longrunningpb.ListOperationsResponse).GetOperations(), 7)
}
