// Package fakerun is an in-memory fake of the Cloud Run Admin API v2
// (google.cloud.run.v2 Services and Revisions plus google.longrunning.Operations).
//
// One Server answers gRPC and REST (HTTP/JSON, transcoded from the protos'
// google.api.http rules) on a single loopback port, so both
// run.NewServicesClient and run.NewServicesRESTClient from
// cloud.google.com/go/run/apiv2 can talk to it:
//
//	srv, err := fakerun.NewServer()
//	if err != nil { ... }
//	defer srv.Close()
//	services, err := run.NewServicesClient(ctx, srv.ClientOptions()...)
//	// or: run.NewServicesRESTClient(ctx, srv.RESTClientOptions()...)
//
// The fake models revisions created from template changes, traffic splits
// with tags, revision readiness measured on an injectable clock, long-running
// operations that stay pending until the revisions they wait for are ready,
// and Cloud Run's error codes. The same port serves the services' URLs
// (routed by Host to a revision drawn from the traffic split; see
// TrafficClient, TrafficHandler and Behavior) and Cloud Monitoring's
// MetricService with the request metrics of what it served (package
// metrics). Test knobs (fault injection, readiness
// control, call log, state dump) are methods on Server. The Admin API v1 that
// the gcloud CLI speaks is served too, as a view of the same state (see
// GcloudEnv and V1ClientOptions). Where public
// material does not settle what Cloud Run does, WithCompatibility chooses.
// See README.md for what is not modelled.
package fakerun
