package dataplane

import (
	"net"
	"net/http"
	"strings"
)

// RunHostSuffix ends every service and tag URL host fakerun reports.
const RunHostSuffix = ".run.app"

// CanonicalHost is a Host header as DNS compares it: lower case, without the port and the trailing dot
// of a fully qualified name.
func CanonicalHost(host string) string {
	if strings.IndexByte(host, ':') >= 0 { // SplitHostPort allocates an error for a host without a port
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// IsServingHost reports whether a Host header names a service or tag URL.
func IsServingHost(host string) bool {
	return strings.HasSuffix(CanonicalHost(host), RunHostSuffix)
}

// HostAPI is an API chosen by a request's host and path, as the Admin API v1 is.
type HostAPI interface {
	http.Handler
	// Serves reports whether a request for host (as CanonicalHost gives it) and path is the API's.
	Serves(host, path string) bool
}

// hostRouter sends requests for service and tag URLs to the data plane, those the v1 API serves
// ({region}-run.googleapis.com, and run.googleapis.com/v1/) to it, and the rest to the API mux. A
// *.run.app host never reaches an API, however it is spelt.
type hostRouter struct {
	serving http.Handler
	v1      HostAPI
	api     http.Handler
}

func (h hostRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := CanonicalHost(r.Host)
	switch {
	case strings.HasSuffix(host, RunHostSuffix):
		h.serving.ServeHTTP(w, r)
	case h.v1.Serves(host, r.URL.Path):
		h.v1.ServeHTTP(w, r)
	default:
		h.api.ServeHTTP(w, r)
	}
}

// NewHostRouter sends requests for service and tag URLs to serving, those v1 serves to v1, and the rest
// to api.
func NewHostRouter(serving http.Handler, v1 HostAPI, api http.Handler) http.Handler {
	return hostRouter{serving: serving, v1: v1, api: api}
}
