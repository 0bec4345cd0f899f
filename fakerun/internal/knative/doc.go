// Package knative is fakerun's Cloud Run Admin API v1, the Knative-style API that `gcloud run` speaks
// (https://cloud.google.com/run/docs/reference/rest/v1/namespaces.services). It keeps no state: every
// v1 request is translated to calls of the v2 API's server interfaces, and every v1 answer is a view of
// the v2 resources, so a change made through either version is visible through the other at once.
//
// The JSON shapes are those of the v1 discovery document, through the types of
// google.golang.org/api/run/v1; the mapping between v1 annotations and v2 fields is the one Cloud Run
// documents in its YAML reference (https://cloud.google.com/run/docs/reference/yaml/v1).
package knative
