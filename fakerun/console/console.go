// Package console is fakerun's web console: read-only pages listing each
// project and region's services and, per service, its URLs, traffic,
// revisions, last operations, injected faults and live per-revision request
// charts. It is plain HTML, CSS and a little JavaScript embedded in the
// binary, so it works offline. Each page updates itself over server-sent
// events, which are computed only while a page is open.
package console

import (
	"context"
	"embed"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/run/apiv2/runpb"
)

// Prefix is the path under which Handler serves the console.
const Prefix = "/_fakerun/console/"

// Source is what the console reads; fakerun's Server provides it.
type Source interface {
	// Snapshot returns the state to show.
	Snapshot() Snapshot
	// ListTimeSeries answers as Cloud Monitoring's MetricService does; the
	// charts read request_count and request_latencies through it.
	ListTimeSeries(ctx context.Context, req *monitoringpb.ListTimeSeriesRequest) (*monitoringpb.ListTimeSeriesResponse, error)
	// TrafficHandler answers requests to service and tag URLs by their Host.
	TrafficHandler() http.Handler
}

// Snapshot is the state the console shows.
type Snapshot struct {
	// Now is the server's clock, which metrics are recorded on.
	Now        time.Time
	Services   []*runpb.Service             // by name
	Revisions  map[string][]*runpb.Revision // by service name, newest first
	Operations []*longrunningpb.Operation   // oldest first
	Faults     []Fault
	// LatestReady is, by service name, the revision (short name) a LATEST traffic target sends requests to.
	LatestReady map[string]string
	// WorkerPools are by name, PoolRevisions by pool name (newest first), and Instances by pool name then
	// short revision name: the instances each revision runs.
	WorkerPools   []*runpb.WorkerPool
	PoolRevisions map[string][]*runpb.Revision
	Instances     map[string]map[string]int32
}

// Fault is an injected fault.
type Fault struct {
	Method, Code, Message string
	// Times is how many calls it still affects; 0 means every call.
	Times int
	Delay time.Duration
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"time":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"window": func() string { return strconv.Itoa(chartSeconds/60) + " min" }, // what the charts cover
}).ParseFS(templateFS, "templates/*.html"))

// contentSecurityPolicy lets pages load only the console's own CSS and
// JavaScript: no inline scripts or styles, nothing from elsewhere.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler returns the console, serving GET requests under Prefix:
//
//	/_fakerun/console/                                           projects and regions
//	/_fakerun/console/events                                     their live updates (text/event-stream)
//	/_fakerun/console/projects/P/locations/L/                    the services of a region
//	/_fakerun/console/projects/P/locations/L/events              their live updates
//	/_fakerun/console/projects/P/locations/L/services/S          a service
//	/_fakerun/console/projects/P/locations/L/services/S/events   its live updates
//	/_fakerun/console/projects/P/locations/L/workerPools/W       a worker pool: its instance split and instances
//	/_fakerun/console/projects/P/locations/L/workerPools/W/events its live updates
//	/_fakerun/console/visit/HOST/PATH                            a request to a service or tag URL
func Handler(src Source) http.Handler {
	c := &console{src: src}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"{$}", c.locations)
	mux.HandleFunc("GET "+Prefix+"events", events(c.locationsLive))
	mux.HandleFunc("GET "+Prefix+"projects/{project}/locations/{location}/{$}", c.services)
	mux.HandleFunc("GET "+Prefix+"projects/{project}/locations/{location}/events", events(c.servicesLive))
	mux.HandleFunc("GET "+Prefix+"projects/{project}/locations/{location}/services/{service}", c.service)
	mux.HandleFunc("GET "+Prefix+"projects/{project}/locations/{location}/services/{service}/events", events(c.serviceLive))
	mux.HandleFunc("GET "+Prefix+"projects/{project}/locations/{location}/workerPools/{pool}", c.workerPool)
	mux.HandleFunc("GET "+Prefix+"projects/{project}/locations/{location}/workerPools/{pool}/events", events(c.workerPoolLive))
	mux.HandleFunc("GET "+Prefix+"visit/{host}/{path...}", c.visit)
	mux.Handle("GET "+Prefix+"static/", http.StripPrefix(Prefix, http.FileServerFS(staticFS)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	})
}

// console serves the pages from a Source.
type console struct {
	src Source
}

func (c *console) locations(w http.ResponseWriter, _ *http.Request) {
	render(w, http.StatusOK, "locations.html", locationsOf(c.src.Snapshot()))
}

func (c *console) locationsLive(*http.Request) (string, any) {
	return "locations-live", locationsOf(c.src.Snapshot())
}

func (c *console) services(w http.ResponseWriter, r *http.Request) {
	render(w, http.StatusOK, "services.html", servicesOf(c.src.Snapshot(), locationName(r)))
}

func (c *console) servicesLive(r *http.Request) (string, any) {
	return "services-live", servicesOf(c.src.Snapshot(), locationName(r))
}

func (c *console) service(w http.ResponseWriter, r *http.Request) {
	page, ok := c.servicePage(r)
	status := http.StatusOK
	if !ok {
		status = http.StatusNotFound // the page still waits for the service to appear
	}
	render(w, status, "service.html", page)
}

func (c *console) serviceLive(r *http.Request) (string, any) {
	page, _ := c.servicePage(r) // a missing service shows that it is missing
	return "service-live", page.Live
}

// servicePage reads the service the request names; ok is false when it does not exist.
func (c *console) servicePage(r *http.Request) (page servicePage, ok bool) {
	name := locationName(r) + "/services/" + r.PathValue("service")
	return serviceOf(r.Context(), c.src, c.src.Snapshot(), name)
}

// locationName is the projects/P/locations/L the request's path names.
func locationName(r *http.Request) string {
	return "projects/" + r.PathValue("project") + "/locations/" + r.PathValue("location")
}

// visit sends a request to a service or tag URL through fakerun's router,
// so that the console's links to them open in a browser, with a bearer token (the invoker check).
func (c *console) visit(w http.ResponseWriter, r *http.Request) {
	host := r.PathValue("host")
	if !strings.HasSuffix(host, ".run.app") {
		http.Error(w, "not a service or tag URL host (they end in .run.app): "+host, http.StatusNotFound)
		return
	}
	out := r.Clone(r.Context())
	out.Host = host
	out.URL.Path = "/" + r.PathValue("path")
	out.URL.RawPath = ""
	out.Header.Set("Authorization", "Bearer console") // the console's user invokes as an authorised invoker would
	c.src.TrafficHandler().ServeHTTP(w, out)
}

// visitPath is the console path that opens a service or tag URL.
func visitPath(url string) string {
	host, ok := strings.CutPrefix(url, "https://")
	if !ok {
		return ""
	}
	return Prefix + "visit/" + host + "/"
}

// render writes a page with status, or a 500 naming the template error.
func render(w http.ResponseWriter, status int, name string, data any) {
	var b strings.Builder
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "rendering "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}
