package metrics

import (
	"maps"
	"math"
	"time"

	"google.golang.org/genproto/googleapis/api/metric"
)

// Snapshot is a copy of one time series of the store, for queries in other languages than Cloud
// Monitoring's filters (package promql).
type Snapshot struct {
	MetricType     string
	Kind           metric.MetricDescriptor_MetricKind
	ResourceType   string
	ResourceLabels map[string]string
	MetricLabels   map[string]string
	// Points are oldest first.
	Points []SnapshotPoint
}

// SnapshotPoint is one point: Value for numbers, Histogram for distributions.
type SnapshotPoint struct {
	End       time.Time
	Value     float64
	Histogram *Histogram
}

// Histogram is a distribution point: Counts[i] values fell in bucket i, whose upper bound is Bounds[i]
// (milliseconds; the last bucket, the overflow, has the bound +Inf).
type Histogram struct {
	Count  int64
	Sum    float64
	Bounds []float64
	Counts []int64
}

// Snapshots copies every series of project with its points that end in (start, end] and have arrived
// (see SetIngestionDelay), within the retention.
func (st *Store) Snapshots(project string, start, end time.Time) []Snapshot {
	now := st.now() // before locking: the clock has its own lock
	from, to := max(start.UnixNano(), now.Add(-st.retention).UnixNano()), end.UnixNano()
	if delay := st.IngestionDelay(); delay > 0 {
		to = min(to, now.Add(-delay).UnixNano())
	}
	in := func(endNano int64) bool { return endNano > from && endNano <= to }
	st.mu.RLock()
	defer st.mu.RUnlock()
	var out []Snapshot
	for _, s := range st.series {
		if s.key.resource.ProjectID != project {
			continue
		}
		snap := Snapshot{MetricType: s.key.metric, Kind: metric.MetricDescriptor_DELTA, ResourceType: s.resourceType,
			ResourceLabels: maps.Clone(s.resourceLabels), MetricLabels: maps.Clone(s.metricLabels)}
		if d := descriptor(s.key.metric); d != nil {
			snap.Kind = d.GetMetricKind()
		} else if d := st.written[descriptorKey{project, s.key.metric}]; d != nil {
			snap.Kind = d.GetMetricKind()
		}
		for _, p := range s.counts {
			if e := p.end * int64(time.Second); in(e) {
				snap.Points = append(snap.Points, SnapshotPoint{End: time.Unix(0, e), Value: float64(p.n)})
			}
		}
		for _, p := range s.dists {
			if e := p.end * int64(time.Second); in(e) {
				snap.Points = append(snap.Points, SnapshotPoint{End: time.Unix(0, e), Histogram: p.d.histogram()})
			}
		}
		for _, p := range s.points {
			if in(p.end) {
				snap.Points = append(snap.Points, SnapshotPoint{End: time.Unix(0, p.end), Value: float64(p.i) + p.f})
			}
		}
		if len(snap.Points) > 0 {
			out = append(out, snap)
		}
	}
	return out
}

// histogram copies d with the upper bounds of its buckets.
func (d *dist) histogram() *Histogram {
	h := &Histogram{Count: d.count, Sum: d.mean * float64(d.count), Counts: append([]int64(nil), d.buckets...)}
	for i := range d.buckets {
		_, hi := bucketBounds(i)
		if i > numFiniteBuckets {
			hi = math.Inf(1)
		}
		h.Bounds = append(h.Bounds, hi)
	}
	return h
}
