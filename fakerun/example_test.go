package fakerun_test

import (
	"context"
	"fmt"
	"log"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

func ExampleNewServer() {
	ctx := context.Background()
	srv, err := fakerun.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = srv.Close() }()

	// The official client, over gRPC; use run.NewServicesRESTClient with
	// srv.RESTClientOptions() for REST.
	client, err := run.NewServicesClient(ctx, srv.ClientOptions()...)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = client.Close() }()

	op, err := client.CreateService(ctx, &runpb.CreateServiceRequest{
		Parent:    "projects/my-project/locations/us-central1",
		ServiceId: "hello",
		Service: &runpb.Service{Template: &runpb.RevisionTemplate{
			Containers: []*runpb.Container{{Image: "us-docker.pkg.dev/cloudrun/container/hello"}},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := op.Wait(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(svc.GetName())
	fmt.Println(svc.GetTrafficStatuses()[0].GetType(), svc.GetTrafficStatuses()[0].GetPercent())
	// Output:
	// projects/my-project/locations/us-central1/services/hello
	// TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST 100
}
