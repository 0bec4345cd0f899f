package metrics

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/api/metric"
)

// Metric types fakerun records.
const (
	RequestCount     = "run.googleapis.com/request_count"
	RequestLatencies = "run.googleapis.com/request_latencies"
)

// ResourceType is the monitored resource of Cloud Run revisions.
const ResourceType = "cloud_run_revision"

// DefaultRetention is how long a Store keeps points unless told otherwise.
const DefaultRetention = 24 * time.Hour

// Resource identifies a revision: the labels of cloud_run_revision.
type Resource struct {
	ProjectID, Location, ServiceName, RevisionName, ConfigurationName string
}

// labels renders r as the monitored resource's labels.
func (r Resource) labels() map[string]string {
	return map[string]string{
		"project_id": r.ProjectID, "location": r.Location, "service_name": r.ServiceName,
		"revision_name": r.RevisionName, "configuration_name": r.ConfigurationName,
	}
}

// Request is one request a revision answered.
type Request struct {
	Resource Resource
	Code     int           // HTTP status code
	Latency  time.Duration // time to answer
	Time     time.Time     // when it was answered, on fakerun's clock
}

// Store keeps per-second points of both metrics for every revision, within
// a retention window. It is safe for concurrent use.
type Store struct {
	now       func() time.Time
	retention time.Duration
	delay     atomic.Int64 // ingestion delay in nanoseconds, see SetIngestionDelay

	mu        sync.RWMutex
	series    map[seriesKey]*series
	byService map[string]map[seriesKey]*series           // the series by their resource label service_name, for queries filtered to one service
	written   map[descriptorKey]*metric.MetricDescriptor // user-defined metrics, created on first write
	records   int                                        // Record calls since the last sweep of old points
}

// sweepEvery is how many records pass between sweeps of every series.
const sweepEvery = 4096

// NewStore returns an empty store that reads time from now and drops points
// older than retention (DefaultRetention when 0).
func NewStore(now func() time.Time, retention time.Duration) (*Store, error) {
	if now == nil {
		return nil, fmt.Errorf("metrics: NewStore: clock must not be nil")
	}
	if retention < 0 {
		return nil, fmt.Errorf("metrics: NewStore: retention must not be negative, got %s", retention)
	}
	if retention == 0 {
		retention = DefaultRetention
	}
	return &Store{now: now, retention: retention, series: map[seriesKey]*series{}, byService: map[string]map[seriesKey]*series{},
		written: map[descriptorKey]*metric.MetricDescriptor{}}, nil
}

// Retention returns how long points are kept.
func (st *Store) Retention() time.Duration { return st.retention }

// SetIngestionDelay makes a point visible to queries only d after the end of its second, on the store's
// clock, as Cloud Monitoring shows Cloud Run's points up to minutes late. 0 (the default) shows every
// point at once, the current second's included; negative counts as 0.
func (st *Store) SetIngestionDelay(d time.Duration) { st.delay.Store(int64(max(d, 0))) }

// IngestionDelay returns the delay set by SetIngestionDelay.
func (st *Store) IngestionDelay() time.Duration { return time.Duration(st.delay.Load()) }

// seriesKey identifies a time series: its metric type, resource and metric
// labels (code is empty for request_latencies). A user-defined series has
// only the project in resource and its labels rendered in written.
type seriesKey struct {
	metric   string
	resource Resource
	code     string
	class    string
	written  string
}

// series is one time series. Points are in time order, one per second.
type series struct {
	key            seriesKey
	resourceType   string
	resourceLabels map[string]string
	metricLabels   map[string]string
	counts         []countPoint // request_count
	dists          []distPoint  // request_latencies
	points         []qpoint     // user-defined metrics, as written
}

// countPoint is the number of requests in the second that ends at end.
type countPoint struct {
	end int64 // unix seconds
	n   int64
}

// distPoint is the latency distribution (ms) of the second that ends at end.
type distPoint struct {
	end int64
	d   dist
}

// Record adds one request to request_count and request_latencies.
func (st *Store) Record(r Request) {
	end := r.Time.Unix() + 1
	code, class := codeLabels(r.Code)
	ms := float64(r.Latency) / float64(time.Millisecond)
	cutoff := st.now().Add(-st.retention).Unix() // before locking: the clock has its own lock
	st.mu.Lock()
	defer st.mu.Unlock()
	if end <= cutoff {
		return
	}
	cs := st.seriesLocked(seriesKey{metric: RequestCount, resource: r.Resource, code: code, class: class})
	i := pointIndex(cs.counts, end, func(p countPoint) int64 { return p.end })
	if i == len(cs.counts) || cs.counts[i].end != end {
		cs.counts = slices.Insert(cs.counts, i, countPoint{end: end})
	}
	cs.counts[i].n++
	ls := st.seriesLocked(seriesKey{metric: RequestLatencies, resource: r.Resource, class: class})
	i = pointIndex(ls.dists, end, func(p distPoint) int64 { return p.end })
	if i == len(ls.dists) || ls.dists[i].end != end {
		ls.dists = slices.Insert(ls.dists, i, distPoint{end: end})
	}
	ls.dists[i].d.add(ms)

	if st.records++; st.records >= sweepEvery {
		st.records = 0
		st.sweepLocked(cutoff)
	}
}

// codeLabel and classLabel hold the response_code and response_code_class labels of the status codes
// 0–599, so that recording a request formats neither.
var codeLabel, classLabel = func() (codes, classes [600]string) {
	for c := range codes {
		codes[c], classes[c] = strconv.Itoa(c), strconv.Itoa(c/100)+"xx"
	}
	return codes, classes
}()

// codeLabels returns the response_code and response_code_class labels of status code c.
func codeLabels(c int) (code, class string) {
	if c >= 0 && c < len(codeLabel) {
		return codeLabel[c], classLabel[c]
	}
	return strconv.Itoa(c), strconv.Itoa(c/100) + "xx"
}

// pointIndex finds where a point ending at end is or belongs; points
// usually arrive in order, so the last one is checked first.
func pointIndex[P any](points []P, end int64, endOf func(P) int64) int {
	if n := len(points); n == 0 || endOf(points[n-1]) < end {
		return n
	} else if endOf(points[n-1]) == end {
		return n - 1
	}
	i, _ := slices.BinarySearchFunc(points, end, func(p P, e int64) int { return int(endOf(p) - e) })
	return i
}

// seriesLocked returns the series for k, creating it. Must be called with st.mu held.
func (st *Store) seriesLocked(k seriesKey) *series {
	if s := st.series[k]; s != nil {
		return s
	}
	s := &series{key: k, resourceType: ResourceType, resourceLabels: k.resource.labels(), metricLabels: map[string]string{"response_code_class": k.class}}
	if k.code != "" {
		s.metricLabels["response_code"] = k.code
	}
	st.addSeriesLocked(s)
	return s
}

// addSeriesLocked stores s and indexes it. Must be called with st.mu held.
func (st *Store) addSeriesLocked(s *series) {
	st.series[s.key] = s
	service := s.resourceLabels["service_name"]
	if st.byService[service] == nil {
		st.byService[service] = map[seriesKey]*series{}
	}
	st.byService[service][s.key] = s
}

// candidatesLocked returns the series a filter restricted to service (none: "") may match.
// Must be called with st.mu held.
func (st *Store) candidatesLocked(service string) map[seriesKey]*series {
	if service == "" {
		return st.series
	}
	return st.byService[service]
}

// sweepLocked drops points ending at or before cutoff, and empty series.
// Must be called with st.mu held.
func (st *Store) sweepLocked(cutoff int64) {
	for k, s := range st.series {
		s.counts = dropBefore(s.counts, cutoff, func(p countPoint) int64 { return p.end })
		s.dists = dropBefore(s.dists, cutoff, func(p distPoint) int64 { return p.end })
		s.points = dropBefore(s.points, cutoff*int64(time.Second), func(p qpoint) int64 { return p.end })
		if len(s.counts) == 0 && len(s.dists) == 0 && len(s.points) == 0 {
			delete(st.series, k)
			service := s.resourceLabels["service_name"]
			if delete(st.byService[service], k); len(st.byService[service]) == 0 {
				delete(st.byService, service)
			}
		}
	}
}

// dropBefore removes the points ending at or before cutoff.
func dropBefore[P any](points []P, cutoff int64, endOf func(P) int64) []P {
	i := 0
	for i < len(points) && endOf(points[i]) <= cutoff {
		i++
	}
	if i == 0 {
		return points
	}
	return slices.Clone(points[i:])
}

// Reset drops every point.
func (st *Store) Reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.series = map[seriesKey]*series{}
	st.byService = map[string]map[seriesKey]*series{}
	st.written = map[descriptorKey]*metric.MetricDescriptor{}
	st.records = 0
}

// timeOf converts unix nanoseconds to a time.
func timeOf(ns int64) time.Time { return time.Unix(0, ns).UTC() }
