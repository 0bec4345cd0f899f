// Package metrics is fakerun's stand-in for Cloud Monitoring: it stores the
// request metrics of Cloud Run revisions (run.googleapis.com/request_count
// and run.googleapis.com/request_latencies on the cloud_run_revision
// monitored resource) and the points of user-defined metrics written with
// CreateTimeSeries, and answers google.monitoring.v3.MetricService's
// ListTimeSeries, GetMetricDescriptor and ListMetricDescriptors, so that the
// official cloud.google.com/go/monitoring/apiv3/v2 client reads them.
//
// A Store records one point per Cloud Run series and second, and written
// points as written; Service serves it.
// fakerun's README lists which Cloud Monitoring behaviours are modelled.
package metrics
