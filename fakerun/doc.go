// Package fakerun is an in-memory fake of Cloud Run: the Admin API v2
// (google.cloud.run.v2 Services, Revisions, Jobs, Executions and Tasks, plus
// google.longrunning.Operations), the services' URLs, and Cloud Monitoring's
// MetricService with the request metrics of what it served.
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
// jobs whose executions run tasks on the same clock, and Cloud Run's error
// codes. The same port serves the services' URLs (routed by Host to a
// revision drawn from the traffic split; see TrafficClient, TrafficHandler
// and Behavior) and Cloud Monitoring (package metrics). Test knobs (fault
// injection, readiness control, the call log and WaitForCall, state dump)
// are methods on Server. The Admin API v1 that the gcloud CLI speaks is
// served too, by Host, as a view of the same state (see GcloudEnv and
// V1ClientOptions). Where public material does not settle what Cloud Run
// does, WithCompatibility chooses. See README.md for what is not modelled.
//
// # Code map
//
// This package is only the public API; it wires the rooms under internal/,
// none of which imports it (docs/architecture.md draws the whole system):
//
//	server.go, options.go         NewServer and its options: builds and wires the rooms
//	admin.go, behaviors.go, ...    the knobs on Server, delegating to the rooms
//	gcloud.go                     V1ClientOptions and GcloudEnv: pointing v1 clients and gcloud at the fake
//	internal/listener             one port: h2c to gRPC, HTTP/1.1 to REST, v1, the data plane and /_fakerun/
//	internal/rest                 REST/JSON transcoding, Google's JSON and error shape, fields=
//	internal/knative              the Admin API v1 (Knative resources, locations, IAM) that gcloud speaks,
//	                              stateless: translated to calls of the v2 servers the root passes in
//	internal/faults               injected faults, the call log (WaitForCall), the gRPC interceptor
//	internal/rules                request rules as pure functions: names, validation, masks, etags, paging
//	internal/control              the in-memory Cloud Run behind one mutex: services, revisions, rollout,
//	                              traffic, operations, jobs, executions, tasks, IAM methods
//	internal/iam                  the IAM policies of services and jobs: etags, bindings, permissions
//	internal/dataplane            the Host router (canonical hosts: *.run.app, v1, else REST); *.run.app
//	                              requests: routing, responder, proxy; the load generator
//	internal/docker               the Docker engine: containers of revisions and of task attempts
//	internal/behavior             what a workload does (Behavior, TaskBehavior) and its JSON form
//	internal/adminapi             the /_fakerun/ HTTP admin API over the Knobs interface
//	metrics, console              Cloud Monitoring's MetricService; the web console
package fakerun
