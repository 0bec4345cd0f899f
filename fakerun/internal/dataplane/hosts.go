package dataplane

import (
	"net"
	"net/http"
	"strings"
)

// RunHostSuffix ends every service and tag URL host fakerun reports.
const RunHostSuffix = ".run.app"

// IsServingHost reports whether a Host header names a service or tag URL.
func IsServingHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.HasSuffix(strings.ToLower(host), RunHostSuffix)
}

// hostRouter sends requests for service and tag URLs to the data plane and
// the rest to the API mux.
type hostRouter struct {
	serving, api http.Handler
}

func (h hostRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if IsServingHost(r.Host) {
		h.serving.ServeHTTP(w, r)
		return
	}
	h.api.ServeHTTP(w, r)
}

// NewHostRouter sends requests for service and tag URLs to serving and the rest to api.
func NewHostRouter(serving, api http.Handler) http.Handler {
	return hostRouter{serving: serving, api: api}
}
