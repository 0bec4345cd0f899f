package dataplane

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

// LoadJSON is Load's JSON form, for the admin API and the -load flag.
type LoadJSON struct {
	URL      string `json:"url"`
	Rate     int    `json:"rate"`
	Duration string `json:"duration"`
}

func (l Load) Validate() error {
	u, err := url.Parse(l.URL)
	switch {
	case err != nil || u.Scheme != "https" && u.Scheme != "http" || !IsServingHost(u.Host):
		return fmt.Errorf("field %q: want a service or tag URL that fakerun reports (https://…run.app/…), got %q", "url", l.URL)
	case l.Rate < 1 || l.Rate > maxLoadRate:
		return fmt.Errorf("field %q: want requests per second from 1 to %d, got %d", "rate", maxLoadRate, l.Rate)
	case l.Duration <= 0:
		return fmt.Errorf("field %q: must be positive, got %s", "duration", l.Duration)
	}
	return nil
}

// MarshalJSON writes the JSON form Parse reads.
func (l Load) MarshalJSON() ([]byte, error) {
	return json.Marshal(LoadJSON{URL: l.URL, Rate: l.Rate, Duration: l.Duration.String()})
}

// ParseLoad reads a Load from its JSON form,
// {"url":"https://svc-….a.run.app/","rate":20,"duration":"60s"}.
func ParseLoad(data []byte) (Load, error) {
	var in LoadJSON
	if err := behavior.StrictUnmarshal(data, &in); err != nil {
		return Load{}, err
	}
	return in.Load()
}

// Load converts and checks the JSON form.
func (in LoadJSON) Load() (Load, error) {
	if in.Duration == "" {
		return Load{}, fmt.Errorf("field %q: required; a Go duration such as \"60s\"", "duration")
	}
	d, err := behavior.ParseDuration("duration", in.Duration)
	if err != nil {
		return Load{}, err
	}
	l := Load{URL: in.URL, Rate: in.Rate, Duration: d}
	return l, l.Validate()
}

// Generator runs loads against the server's own data plane.
type Generator struct {
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	seq  int
	runs []*LoadStatus
}

func NewGenerator(client *http.Client) *Generator {
	ctx, cancel := context.WithCancel(context.Background())
	return &Generator{client: client, ctx: ctx, cancel: cancel}
}

func (g *Generator) Start(l Load) string {
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
func (g *Generator) run(ctx context.Context, l Load, st *LoadStatus) {
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
func (g *Generator) send(ctx context.Context, u string) int {
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

func (g *Generator) Statuses() []LoadStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]LoadStatus, len(g.runs))
	for i, st := range g.runs {
		out[i] = *st
		out[i].Codes = maps.Clone(st.Codes)
	}
	return out
}

// Reset stops running loads and forgets all runs.
func (g *Generator) Reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cancel()
	g.runs = nil
	g.ctx, g.cancel = context.WithCancel(context.Background())
}

// Close stops running loads and waits for them.
func (g *Generator) Close() {
	g.mu.Lock()
	g.cancel()
	g.mu.Unlock()
	g.wg.Wait()
}

// trafficTransport sends requests for service and tag URLs to the server's
// own address over plain HTTP, keeping the URL's host in the Host header, with a bearer token unless the
// request has one (the invoker check).
type trafficTransport struct {
	addr string
	base http.RoundTripper
}

func (t trafficTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !IsServingHost(r.URL.Host) {
		return nil, fmt.Errorf("fakerun: %s is not a service or tag URL of this fake (hosts end in %s)", r.URL.Host, RunHostSuffix)
	}
	out := r.Clone(r.Context())
	out.Host = r.URL.Host
	if out.Header.Get("Authorization") == "" && out.Header.Get("X-Serverless-Authorization") == "" {
		out.Header.Set("Authorization", "Bearer "+InvokerToken) // an authorised invoker, as a real client with an ID token
	}
	out.URL.Scheme, out.URL.Host = "http", t.addr
	return t.base.RoundTrip(out)
}

// NewTrafficClient returns an HTTP client that sends requests for service
// and tag URLs to addr.
func NewTrafficClient(addr string) *http.Client {
	return &http.Client{Transport: trafficTransport{addr: addr, base: &http.Transport{MaxIdleConnsPerHost: maxInFlight}}}
}
