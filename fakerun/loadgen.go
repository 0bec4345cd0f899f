package fakerun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/behavior"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/control"
)

// Load is a run of the built-in load generator: Rate requests per second
// (real time) to URL, a service or tag URL fakerun reports, for Duration.
type Load struct {
	URL      string
	Rate     int
	Duration time.Duration
}

// maxLoadRate bounds Load.Rate; maxInFlight bounds concurrent requests of a run.
const (
	maxLoadRate = 10000
	maxInFlight = 64
)

// LoadStatus is the progress of a load run.
type LoadStatus struct {
	ID    string      `json:"id"`
	Load  Load        `json:"load"`
	Sent  int         `json:"sent"`
	Codes map[int]int `json:"codes"`            // answers by HTTP status
	Errs  int         `json:"errors,omitempty"` // requests that got no answer
	Done  bool        `json:"done"`
}

// loadJSON is Load's JSON form, for the admin API and the -load flag.
type loadJSON struct {
	URL      string `json:"url"`
	Rate     int    `json:"rate"`
	Duration string `json:"duration"`
}

func (l Load) validate() error {
	u, err := url.Parse(l.URL)
	switch {
	case err != nil || u.Scheme != "https" && u.Scheme != "http" || !control.IsServingHost(u.Host):
		return fmt.Errorf("field %q: want a service or tag URL that fakerun reports (https://…run.app/…), got %q", "url", l.URL)
	case l.Rate < 1 || l.Rate > maxLoadRate:
		return fmt.Errorf("field %q: want requests per second from 1 to %d, got %d", "rate", maxLoadRate, l.Rate)
	case l.Duration <= 0:
		return fmt.Errorf("field %q: must be positive, got %s", "duration", l.Duration)
	}
	return nil
}

// MarshalJSON writes the JSON form ParseLoad reads.
func (l Load) MarshalJSON() ([]byte, error) {
	return json.Marshal(loadJSON{URL: l.URL, Rate: l.Rate, Duration: l.Duration.String()})
}

// ParseLoad reads a Load from its JSON form,
// {"url":"https://svc-….a.run.app/","rate":20,"duration":"60s"}.
func ParseLoad(data []byte) (Load, error) {
	var in loadJSON
	if err := behavior.StrictUnmarshal(data, &in); err != nil {
		return Load{}, err
	}
	return in.load()
}

// load converts and checks the JSON form.
func (in loadJSON) load() (Load, error) {
	if in.Duration == "" {
		return Load{}, fmt.Errorf("field %q: required; a Go duration such as \"60s\"", "duration")
	}
	d, err := behavior.ParseDuration("duration", in.Duration)
	if err != nil {
		return Load{}, err
	}
	l := Load{URL: in.URL, Rate: in.Rate, Duration: d}
	return l, l.validate()
}

// loadGenerator runs loads against the server's own data plane.
type loadGenerator struct {
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	seq  int
	runs []*LoadStatus
}

func newLoadGenerator(client *http.Client) *loadGenerator {
	ctx, cancel := context.WithCancel(context.Background())
	return &loadGenerator{client: client, ctx: ctx, cancel: cancel}
}

// StartLoad starts sending l in the background and returns its ID; Loads
// reports its progress. Runs stop at Close or Reset.
func (s *Server) StartLoad(l Load) (string, error) {
	if err := l.validate(); err != nil {
		return "", fmt.Errorf("fakerun: StartLoad: %w", err)
	}
	return s.loads.start(l), nil
}

// Loads returns the load runs, oldest first.
func (s *Server) Loads() []LoadStatus {
	return s.loads.statuses()
}

func (g *loadGenerator) start(l Load) string {
	g.mu.Lock()
	g.seq++
	st := &LoadStatus{ID: strconv.Itoa(g.seq), Load: l, Codes: map[int]int{}}
	g.runs = append(g.runs, st)
	ctx := g.ctx
	g.mu.Unlock()
	g.wg.Go(func() { g.run(ctx, l, st) })
	return st.ID
}

// run sends request i at start + i/Rate, so a run sends Rate×Duration requests.
func (g *loadGenerator) run(ctx context.Context, l Load, st *LoadStatus) {
	total := int(int64(l.Rate) * int64(l.Duration) / int64(time.Second))
	interval := time.Second / time.Duration(l.Rate)
	sem := make(chan struct{}, maxInFlight)
	var inflight sync.WaitGroup
	start := time.Now()
	for i := 0; i < total; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		inflight.Go(func() {
			defer func() { <-sem }()
			code := g.send(ctx, l.URL)
			g.mu.Lock()
			st.Sent++
			if code == 0 {
				st.Errs++
			} else {
				st.Codes[code]++
			}
			g.mu.Unlock()
		})
	}
	inflight.Wait()
	g.mu.Lock()
	st.Done = true
	g.mu.Unlock()
}

// send makes one request and returns its status (0: no answer).
func (g *loadGenerator) send(ctx context.Context, u string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("User-Agent", "fakerun-load")
	resp, err := g.client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func (g *loadGenerator) statuses() []LoadStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]LoadStatus, len(g.runs))
	for i, st := range g.runs {
		out[i] = *st
		out[i].Codes = maps.Clone(st.Codes)
	}
	return out
}

// reset stops running loads and forgets all runs.
func (g *loadGenerator) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cancel()
	g.runs = nil
	g.ctx, g.cancel = context.WithCancel(context.Background())
}

// close stops running loads and waits for them.
func (g *loadGenerator) close() {
	g.mu.Lock()
	g.cancel()
	g.mu.Unlock()
	g.wg.Wait()
}

// trafficTransport sends requests for service and tag URLs to the server's
// own address over plain HTTP, keeping the URL's host in the Host header.
type trafficTransport struct {
	addr string
	base http.RoundTripper
}

func (t trafficTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !control.IsServingHost(r.URL.Host) {
		return nil, fmt.Errorf("fakerun: %s is not a service or tag URL of this fake (hosts end in %s)", r.URL.Host, control.RunHostSuffix)
	}
	out := r.Clone(r.Context())
	out.Host = r.URL.Host
	out.URL.Scheme, out.URL.Host = "http", t.addr
	return t.base.RoundTrip(out)
}

// newTrafficClient returns an HTTP client that sends requests for service
// and tag URLs to addr.
func newTrafficClient(addr string) *http.Client {
	return &http.Client{Transport: trafficTransport{addr: addr, base: &http.Transport{MaxIdleConnsPerHost: maxInFlight}}}
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

// Response headers naming the revision that answered, on every answer a
// revision gives (built-in, injected error, proxied or from a container).
const (
	HeaderService  = control.HeaderService
	HeaderRevision = control.HeaderRevision
	HeaderImage    = control.HeaderImage
)
