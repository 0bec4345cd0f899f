// Package dataplane serves the services' URLs: it routes each request by Host to the revision the control
// plane picks, answers for it (built-in responder, injected errors and latency, a proxied backend or a
// container), records it in the metrics store, and generates load against those URLs.
package dataplane

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/control"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/docker"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/metrics"
)

// Response headers naming the revision that answered, on every answer a
// revision gives (built-in, injected error, proxied or from a container).
const (
	HeaderService  = "X-Fakerun-Service"
	HeaderRevision = "X-Fakerun-Revision"
	HeaderImage    = "X-Fakerun-Image"
)

// Router is what the data plane asks the control plane: the revision for a request to a host, and the
// clock.
type Router interface {
	// Route picks the revision for a request to host (as CanonicalHost gives it) and reads the clock:
	// when the request started and whether the clock runs in real time (so latency is waited for rather
	// than added).
	Route(host string) (t control.Target, res control.RouteResult, start time.Time, realTime bool)
	Now() time.Time
}

// Recorder keeps the request metrics (metrics.Store).
type Recorder interface {
	Record(metrics.Request)
}

// Backends finds the container serving a docker-mode revision.
type Backends interface {
	Backend(ctx context.Context, r docker.Revision) (*url.URL, error)
}

// Handler answers requests to service and tag URLs and records them.
type Handler struct {
	router     Router
	store      Recorder
	containers Backends
	backends   *http.Transport     // to proxied backends and containers, keeping connections open between requests
	buffers    httputil.BufferPool // the proxy's copy buffers
	parsed     sync.Map            // Behavior.Backend → its *url.URL, which the proxy only reads
	// checkInvokers makes a request without a bearer token to a service that is not public a 403.
	checkInvokers bool
}

// maxIdlePerBackend is how many idle connections to one backend are kept: at least the callers of a
// busy test, so that proxied requests do not open a connection each (http.DefaultTransport keeps 2).
const maxIdlePerBackend = 64

// New returns the data plane over a control plane, a metrics store and the docker containers; with
// checkInvokers, requests to a service that is not public need a bearer token, as on Cloud Run.
func New(router Router, store Recorder, containers Backends, checkInvokers bool) *Handler {
	backends := http.DefaultTransport.(*http.Transport).Clone()
	backends.MaxIdleConnsPerHost = maxIdlePerBackend
	return &Handler{router: router, store: store, containers: containers, backends: backends, checkInvokers: checkInvokers,
		buffers: NewBufferPool()}
}

// Close closes the idle connections to backends.
func (d *Handler) Close() {
	d.backends.CloseIdleConnections()
}

// proxyBufferSize is the size of the proxy's copy buffers, httputil.ReverseProxy's default.
const proxyBufferSize = 32 << 10

// bufferPool reuses the proxy's copy buffers (httputil.BufferPool), which ReverseProxy would otherwise
// allocate for every request.
type bufferPool struct{ pool sync.Pool }

// NewBufferPool returns a pool of the proxy's copy buffers for an httputil.ReverseProxy.
func NewBufferPool() httputil.BufferPool {
	return &bufferPool{pool: sync.Pool{New: func() any { return new([proxyBufferSize]byte) }}}
}

func (p *bufferPool) Get() []byte  { return p.pool.Get().(*[proxyBufferSize]byte)[:] }
func (p *bufferPool) Put(b []byte) { p.pool.Put((*[proxyBufferSize]byte)(b)) }

// ServeHTTP routes one request to a revision and answers for it.
func (d *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tgt, res, start, realTime := d.router.Route(CanonicalHost(r.Host))
	switch res {
	case control.RouteNotFound:
		errorPage(w, http.StatusNotFound, "The requested URL "+html.EscapeString(r.URL.Path)+" was not found on this server.")
		return
	case control.RouteNoRevision:
		errorPage(w, http.StatusServiceUnavailable, "The service has no ready revision to serve this request.")
		return
	}
	if d.checkInvokers && !tgt.Invokable && !hasBearer(r) {
		forbidden(w, r) // refused in front of the service: no revision answers, nothing is recorded
		return
	}

	h := w.Header()
	named := []string{tgt.Resource.ServiceName, tgt.Resource.RevisionName, tgt.Image} // one allocation for the three
	h[HeaderService], h[HeaderRevision], h[HeaderImage] = named[0:1:1], named[1:2:2], named[2:3:3]
	if realTime && tgt.Latency > 0 {
		t := time.NewTimer(tgt.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	code := d.answer(w, r, tgt)

	end := d.router.Now()
	latency := end.Sub(start)
	if !realTime {
		latency += tgt.Latency // not waited for: the clock does not run
	}
	d.store.Record(metrics.Request{Resource: tgt.Resource, Code: code, Latency: max(latency, 0), Time: end})
}

// answer answers for tgt and returns the status it answered with.
func (d *Handler) answer(w http.ResponseWriter, r *http.Request, tgt control.Target) int {
	switch {
	case tgt.Fail:
		return errorPage(w, errorCode(tgt), "fakerun: injected error (Behavior.ErrorRate)")
	case tgt.Behavior.Backend != "":
		backend, err := d.backendURL(tgt.Behavior.Backend)
		if err != nil { // validated when set
			return errorPage(w, http.StatusInternalServerError, err.Error())
		}
		return d.proxy(w, r, tgt, backend)
	case tgt.Behavior.Docker:
		backend, err := d.containers.Backend(r.Context(), tgt.DockerRevision())
		if err != nil {
			return errorPage(w, http.StatusServiceUnavailable, fmt.Sprintf("fakerun: revision %s has no container: %v", tgt.Resource.RevisionName, err))
		}
		return d.proxy(w, r, tgt, backend)
	default:
		return hello(w, tgt)
	}
}

// backendURL returns the parsed Behavior.Backend, parsing each backend once.
func (d *Handler) backendURL(backend string) (*url.URL, error) {
	if u, ok := d.parsed.Load(backend); ok {
		return u.(*url.URL), nil
	}
	u, err := url.Parse(backend)
	if err != nil {
		return nil, err
	}
	d.parsed.Store(backend, u)
	return u, nil
}

// errorCode is the status of an injected error.
func errorCode(t control.Target) int {
	if t.Behavior.ErrorCode == 0 {
		return http.StatusInternalServerError
	}
	return t.Behavior.ErrorCode
}

// textPlain is hello's Content-Type header value, shared by every answer (net/http only reads it).
var textPlain = []string{"text/plain; charset=utf-8"}

// hello answers like Google's hello sample container: 200 and a short text
// naming the service, revision and image.
func hello(w http.ResponseWriter, t control.Target) int {
	w.Header()["Content-Type"] = textPlain
	w.WriteHeader(http.StatusOK)
	body := make([]byte, 0, 64+len(t.Resource.ServiceName)+len(t.Resource.RevisionName)+len(t.Image))
	body = append(body, "Hello from fakerun! It's running.\nservice: "...)
	body = append(append(body, t.Resource.ServiceName...), "\nrevision: "...)
	body = append(append(body, t.Resource.RevisionName...), "\nimage: "...)
	_, _ = w.Write(append(append(body, t.Image...), '\n'))
	return http.StatusOK
}

// errorPage writes a small HTML error page, as Google's front end does.
func errorPage(w http.ResponseWriter, code int, msg string) int {
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, "<!DOCTYPE html>\n<html lang=en><title>Error %d (%s)</title>\n<p><b>%d.</b> <ins>That’s an error.</ins>\n<p>%s\n",
		code, http.StatusText(code), code, msg)
	return code
}

// proxy forwards r to backend with the headers Cloud Run's front end adds
// and the container contract as X-Fakerun-K-* headers, and returns the
// backend's status (503 when it does not answer).
func (d *Handler) proxy(w http.ResponseWriter, r *http.Request, t control.Target, backend *url.URL) int {
	code := http.StatusServiceUnavailable
	rp := &httputil.ReverseProxy{
		Transport:  d.backends,
		BufferPool: d.buffers,
		ModifyResponse: func(resp *http.Response) error {
			code = resp.StatusCode
			return nil
		},
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(backend)
			pr.Out.Host = pr.In.Host // Cloud Run passes the service's host on
			pr.SetXForwarded()
			// One allocation for the values; the keys are canonical.
			vals := []string{"https", t.Resource.ServiceName, t.Resource.RevisionName, t.Resource.ConfigurationName, t.Trace}
			h := pr.Out.Header
			h["X-Forwarded-Proto"] = vals[0:1:1] // fakerun stands in for TLS termination
			h["X-Fakerun-K-Service"], h["X-Fakerun-K-Revision"], h["X-Fakerun-K-Configuration"] = vals[1:2:2], vals[2:3:3], vals[3:4:4]
			if pr.In.Header.Get("X-Cloud-Trace-Context") == "" {
				h["X-Cloud-Trace-Context"] = vals[4:5:5]
			}
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			code = errorPage(w, http.StatusServiceUnavailable, fmt.Sprintf("fakerun: the backend %s of revision %s did not answer: %v", backend, t.Resource.RevisionName, err))
		},
	}
	rp.ServeHTTP(w, r)
	return code
}
