package fakerun

import (
	"fmt"
	"net/http"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/dataplane"
)

// Load is a run of the built-in load generator: Rate requests per second
// (real time) to URL, a service or tag URL fakerun reports, for Duration.
type Load = dataplane.Load

// LoadStatus is the progress of a load run: ID, Load, Sent, Codes (answers by
// HTTP status), Errs (requests that got no answer) and Done.
type LoadStatus = dataplane.LoadStatus

// ParseLoad reads a Load from its JSON form,
// {"url":"https://svc-….a.run.app/","rate":20,"duration":"60s"}.
func ParseLoad(data []byte) (Load, error) {
	return dataplane.ParseLoad(data)
}

// Response headers naming the revision that answered, on every answer a
// revision gives (built-in, injected error, proxied or from a container).
const (
	HeaderService  = dataplane.HeaderService
	HeaderRevision = dataplane.HeaderRevision
	HeaderImage    = dataplane.HeaderImage
)

// StartLoad starts sending l in the background and returns its ID; Loads
// reports its progress. Runs stop at Close or Reset.
func (s *Server) StartLoad(l Load) (string, error) {
	if err := l.Validate(); err != nil {
		return "", fmt.Errorf("fakerun: StartLoad: %w", err)
	}
	return s.loads.Start(l), nil
}

// Loads returns the load runs, oldest first.
func (s *Server) Loads() []LoadStatus {
	return s.loads.Statuses()
}

// TrafficClient returns the server's HTTP client for the service and tag
// URLs it reports (https://…run.app): it sends them to this server over
// plain HTTP with the URL's host as Host, as curl -H 'Host: …' http://ADDR/
// does. Other URLs fail. It is shared; do not close its idle connections.
func (s *Server) TrafficClient() *http.Client { return s.trafficClient }

// TrafficHandler returns the data plane: an http.Handler that answers
// requests to service and tag URLs by their Host header. The server's own
// port serves it already (for hosts ending in .run.app); use it to embed
// the data plane in another server.
func (s *Server) TrafficHandler() http.Handler { return s.serving }
