package fakerun

import (
	"context"
	"testing"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

const (
	testParent = "projects/p/locations/us-central1"
	testSvc    = testParent + "/services/svc"
)

// clients is one transport's pair of official clients.
type clients struct {
	transport string
	services  *run.ServicesClient
	revisions *run.RevisionsClient
}

// newFake starts a server for the test and returns it with gRPC clients.
func newFake(t *testing.T, opts ...Option) (*Server, clients) {
	t.Helper()
	srv, err := NewServer(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv, grpcClients(t, srv)
}

func grpcClients(t *testing.T, srv *Server) clients {
	t.Helper()
	ctx := context.Background()
	sc, err := run.NewServicesClient(ctx, srv.ClientOptions()...)
	require.NoError(t, err)
	rc, err := run.NewRevisionsClient(ctx, srv.ClientOptions()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sc.Close(); _ = rc.Close() })
	return clients{transport: "grpc", services: sc, revisions: rc}
}

func restClients(t *testing.T, srv *Server) clients {
	t.Helper()
	ctx := context.Background()
	sc, err := run.NewServicesRESTClient(ctx, srv.RESTClientOptions()...)
	require.NoError(t, err)
	rc, err := run.NewRevisionsRESTClient(ctx, srv.RESTClientOptions()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sc.Close(); _ = rc.Close() })
	return clients{transport: "rest", services: sc, revisions: rc}
}

// bothTransports runs f once over gRPC and once over REST, each against its own server.
func bothTransports(t *testing.T, f func(t *testing.T, srv *Server, c clients), opts ...Option) {
	t.Helper()
	for _, transport := range []string{"grpc", "rest"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			srv, c := newFake(t, opts...)
			if transport == "rest" {
				c = restClients(t, srv)
			}
			f(t, srv, c)
		})
	}
}

func template(image string) *runpb.RevisionTemplate {
	return &runpb.RevisionTemplate{Containers: []*runpb.Container{{Image: image}}}
}

func mustCreateService(t *testing.T, c clients, id, image string) *runpb.Service {
	t.Helper()
	op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
		Parent: testParent, ServiceId: id, Service: &runpb.Service{Template: template(image)},
	})
	require.NoError(t, err)
	svc, err := op.Wait(t.Context())
	require.NoError(t, err)
	return svc
}

// update sends an UpdateService and waits for its operation.
func update(t *testing.T, c clients, svc *runpb.Service, paths ...string) (*runpb.Service, error) {
	t.Helper()
	req := &runpb.UpdateServiceRequest{Service: svc}
	if len(paths) > 0 {
		req.UpdateMask = &fieldmaskpb.FieldMask{Paths: paths}
	}
	op, err := c.services.UpdateService(t.Context(), req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	return op.Wait(ctx)
}

func revisionTarget(rev string, percent int32, tag string) *runpb.TrafficTarget {
	return &runpb.TrafficTarget{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: rev, Percent: percent, Tag: tag}
}

func latestTarget(percent int32, tag string) *runpb.TrafficTarget {
	return &runpb.TrafficTarget{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: percent, Tag: tag}
}

func fieldMask(paths ...string) *fieldmaskpb.FieldMask {
	return &fieldmaskpb.FieldMask{Paths: paths}
}
