package control

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/behavior"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/metrics"
)

// Response headers naming the revision that answered, on every answer a
// revision gives (built-in, injected error, proxied or from a container).
const (
	HeaderService  = "X-Fakerun-Service"
	HeaderRevision = "X-Fakerun-Revision"
	HeaderImage    = "X-Fakerun-Image"
)

// dataPlane answers requests to service and tag URLs and records them in
// the metrics store.
type dataPlane struct {
	impl       *Server
	store      *metrics.Store
	containers *ContainerManager
}

// ServeHTTP routes one request to a revision and answers for it.
func (d *dataPlane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.impl.mu.Lock()
	tgt, res := d.impl.routeLocked(r.Host)
	start := d.impl.nowLocked()
	realTime := d.impl.cfg.Clock == nil && !d.impl.ownFrozen
	d.impl.mu.Unlock()
	switch res {
	case routeNotFound:
		errorPage(w, http.StatusNotFound, "The requested URL "+html.EscapeString(r.URL.Path)+" was not found on this server.")
		return
	case routeNoRevision:
		errorPage(w, http.StatusServiceUnavailable, "The service has no ready revision to serve this request.")
		return
	}

	h := w.Header()
	h.Set(HeaderService, tgt.resource.ServiceName)
	h.Set(HeaderRevision, tgt.resource.RevisionName)
	h.Set(HeaderImage, tgt.image)
	if realTime && tgt.latency > 0 {
		t := time.NewTimer(tgt.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	code := d.answer(w, r, tgt)

	d.impl.mu.Lock()
	end := d.impl.nowLocked()
	d.impl.mu.Unlock()
	latency := end.Sub(start)
	if !realTime {
		latency += tgt.latency // not waited for: the clock does not run
	}
	d.store.Record(metrics.Request{Resource: tgt.resource, Code: code, Latency: max(latency, 0), Time: end})
}

// answer answers for tgt and returns the status it answered with.
func (d *dataPlane) answer(w http.ResponseWriter, r *http.Request, tgt target) int {
	switch {
	case tgt.fail:
		return errorPage(w, tgt.errorCode(), "fakerun: injected error (behavior.Behavior.ErrorRate)")
	case tgt.behavior.Backend != "":
		backend, err := url.Parse(tgt.behavior.Backend)
		if err != nil { // validated when set
			return errorPage(w, http.StatusInternalServerError, err.Error())
		}
		return proxy(w, r, tgt, backend)
	case tgt.behavior.Docker:
		backend, err := d.containers.backend(r.Context(), tgt)
		if err != nil {
			return errorPage(w, http.StatusServiceUnavailable, fmt.Sprintf("fakerun: revision %s has no container: %v", tgt.resource.RevisionName, err))
		}
		return proxy(w, r, tgt, backend)
	default:
		return hello(w, tgt)
	}
}

// errorCode is the status of an injected error.
func (t target) errorCode() int {
	if t.behavior.ErrorCode == 0 {
		return http.StatusInternalServerError
	}
	return t.behavior.ErrorCode
}

// hello answers like Google's hello sample container: 200 and a short text
// naming the service, revision and image.
func hello(w http.ResponseWriter, t target) int {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprintf(w, "Hello from fakerun! It's running.\nservice: %s\nrevision: %s\nimage: %s\n",
		t.resource.ServiceName, t.resource.RevisionName, t.image)
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
func proxy(w http.ResponseWriter, r *http.Request, t target, backend *url.URL) int {
	code := http.StatusServiceUnavailable
	rp := &httputil.ReverseProxy{
		ModifyResponse: func(resp *http.Response) error {
			code = resp.StatusCode
			return nil
		},
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(backend)
			pr.Out.Host = pr.In.Host // Cloud Run passes the service's host on
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Forwarded-Proto", "https") // fakerun stands in for TLS termination
			if pr.In.Header.Get("X-Cloud-Trace-Context") == "" {
				pr.Out.Header.Set("X-Cloud-Trace-Context", t.trace)
			}
			pr.Out.Header.Set("X-Fakerun-K-Service", t.resource.ServiceName)
			pr.Out.Header.Set("X-Fakerun-K-Revision", t.resource.RevisionName)
			pr.Out.Header.Set("X-Fakerun-K-Configuration", t.resource.ConfigurationName)
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			code = errorPage(w, http.StatusServiceUnavailable, fmt.Sprintf("fakerun: the backend %s of revision %s did not answer: %v", backend, t.resource.RevisionName, err))
		},
	}
	rp.ServeHTTP(w, r)
	return code
}

// drawLatencyLocked draws the modelled latency of one request.
// Must be called with s.mu held.
func (s *Server) drawLatencyLocked(b behavior.Behavior) time.Duration {
	d := b.Latency
	if b.Jitter > 0 {
		d += time.Duration(s.serveRng.Int64N(int64(b.Jitter)))
	}
	if ps := b.LatencyPercentiles; len(ps) > 0 {
		d += behavior.SamplePercentiles(ps, s.serveRng.Float64()*100)
	}
	return d
}

// newTraceLocked returns an X-Cloud-Trace-Context value: TRACE_ID/SPAN_ID;o=1.
// Must be called with s.mu held.
func (s *Server) newTraceLocked() string {
	return fmt.Sprintf("%016x%016x/%s;o=1", s.serveRng.Uint64(), s.serveRng.Uint64(), strconv.FormatUint(s.serveRng.Uint64()>>1, 10))
}
