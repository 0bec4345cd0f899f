package fakerun

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentRollouts overlaps template and traffic updates on one
// service while revisions take a moment to become ready; in the end the
// newest generation is published.
func TestConcurrentRollouts(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t, WithReadinessDelay(5*time.Millisecond))
	op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
		Parent: testParent, ServiceId: "svc", Service: &runpb.Service{Template: template("img:0")}})
	require.NoError(t, err)

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 5 {
				req := &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: testSvc, Template: template(fmt.Sprintf("img:%d-%d", w, i))}}
				if i%2 == 1 {
					req = &runpb.UpdateServiceRequest{
						Service:    &runpb.Service{Name: testSvc, Traffic: []*runpb.TrafficTarget{latestTarget(100, fmt.Sprintf("tag-%d-%d", w, i))}},
						UpdateMask: fieldMask("traffic"),
					}
				}
				upd, err := c.services.UpdateService(t.Context(), req)
				if !assert.NoError(t, err) {
					return
				}
				// WaitOperation blocks on the server until the operation is done, instead of op.Wait's polling
				// with a one-second backoff.
				waited, err := c.services.WaitOperation(t.Context(), &longrunningpb.WaitOperationRequest{Name: upd.Name()})
				if assert.NoError(t, err) {
					assert.True(t, waited.GetDone(), "operation %s", upd.Name())
				}
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = op.Wait(ctx)
	require.NoError(t, err)

	svc, err := srv.Service(testSvc)
	require.NoError(t, err)
	assert.Equal(t, svc.GetGeneration(), svc.GetObservedGeneration())
	assert.False(t, svc.GetReconciling())
	assert.Equal(t, svc.GetLatestCreatedRevision(), svc.GetLatestReadyRevision())
	assert.Len(t, srv.Revisions(testSvc), 1+4*3)
	assert.Equal(t, svc.GetTraffic()[0].GetTag(), svc.GetTrafficStatuses()[0].GetTag())
}
