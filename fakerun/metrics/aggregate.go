package metrics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/genproto/googleapis/api/metric"
)

// minAlignmentPeriod is Cloud Monitoring's smallest alignment period.
const minAlignmentPeriod = 60 * time.Second

// qseries is a time series being answered: read from the store, aligned
// and maybe reduced. Points are oldest first until rendered.
type qseries struct {
	metricType     string
	metricLabels   map[string]string
	resourceType   string
	resourceLabels map[string]string
	kind           metric.MetricDescriptor_MetricKind
	valueType      metric.MetricDescriptor_ValueType
	unit           string
	points         []qpoint
}

// qpoint holds one value: i (INT64), f (DOUBLE) or d (DISTRIBUTION).
type qpoint struct {
	start, end int64 // unix nanoseconds
	i          int64
	f          float64
	d          *dist
}

// supported aligners and reducers, for error messages.
var (
	supportedAligners = []monitoringpb.Aggregation_Aligner{
		monitoringpb.Aggregation_ALIGN_NONE, monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_ALIGN_RATE,
		monitoringpb.Aggregation_ALIGN_SUM, monitoringpb.Aggregation_ALIGN_PERCENTILE_50,
		monitoringpb.Aggregation_ALIGN_PERCENTILE_95, monitoringpb.Aggregation_ALIGN_PERCENTILE_99,
	}
	supportedReducers = []monitoringpb.Aggregation_Reducer{
		monitoringpb.Aggregation_REDUCE_NONE, monitoringpb.Aggregation_REDUCE_SUM, monitoringpb.Aggregation_REDUCE_MEAN,
		monitoringpb.Aggregation_REDUCE_PERCENTILE_50, monitoringpb.Aggregation_REDUCE_PERCENTILE_95,
		monitoringpb.Aggregation_REDUCE_PERCENTILE_99,
	}
)

func enumNames[E fmt.Stringer](es []E) string {
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.String()
	}
	return strings.Join(names, ", ")
}

// percentileOf maps the percentile aligners and reducers to their percentile.
func percentileOf(e fmt.Stringer) (float64, bool) {
	switch s := e.String(); {
	case strings.HasSuffix(s, "_PERCENTILE_50"):
		return 50, true
	case strings.HasSuffix(s, "_PERCENTILE_95"):
		return 95, true
	case strings.HasSuffix(s, "_PERCENTILE_99"):
		return 99, true
	}
	return 0, false
}

// aggregation is a checked Aggregation.
type aggregation struct {
	aligner monitoringpb.Aggregation_Aligner
	period  int64 // nanoseconds; 0 with ALIGN_NONE
	reducer monitoringpb.Aggregation_Reducer
	groupBy []string // normalized selectors
}

// checkAggregation validates agg for a metric of the given value type; the
// error names the field at fault.
func checkAggregation(agg *monitoringpb.Aggregation, kind metric.MetricDescriptor_MetricKind, valueType metric.MetricDescriptor_ValueType) (aggregation, string, error) {
	a := aggregation{aligner: agg.GetPerSeriesAligner(), reducer: agg.GetCrossSeriesReducer()}
	if a.aligner != monitoringpb.Aggregation_ALIGN_NONE && kind != metric.MetricDescriptor_DELTA {
		switch {
		case kind == metric.MetricDescriptor_CUMULATIVE:
			return a, "aggregation.per_series_aligner", fmt.Errorf("fakerun aligns only DELTA and GAUGE metrics; read this CUMULATIVE metric with ALIGN_NONE")
		case a.aligner == monitoringpb.Aggregation_ALIGN_DELTA || a.aligner == monitoringpb.Aggregation_ALIGN_RATE:
			return a, "aggregation.per_series_aligner", fmt.Errorf("%s is not valid for GAUGE metrics", a.aligner)
		}
	}
	if !slices.Contains(supportedAligners, a.aligner) {
		return a, "aggregation.per_series_aligner", fmt.Errorf("%s is not supported by fakerun; supported: %s", a.aligner, enumNames(supportedAligners))
	}
	if !slices.Contains(supportedReducers, a.reducer) {
		return a, "aggregation.cross_series_reducer", fmt.Errorf("%s is not supported by fakerun; supported: %s", a.reducer, enumNames(supportedReducers))
	}
	isDist := valueType == metric.MetricDescriptor_DISTRIBUTION
	if _, pct := percentileOf(a.aligner); pct && !isDist {
		return a, "aggregation.per_series_aligner", fmt.Errorf("%s is valid only for DISTRIBUTION metrics; this metric is %s", a.aligner, valueType)
	}
	if a.aligner == monitoringpb.Aggregation_ALIGN_RATE && isDist {
		return a, "aggregation.per_series_aligner", fmt.Errorf("ALIGN_RATE is valid only for numeric metrics; this metric is DISTRIBUTION")
	}
	if a.aligner == monitoringpb.Aggregation_ALIGN_NONE {
		if a.reducer != monitoringpb.Aggregation_REDUCE_NONE {
			return a, "aggregation.per_series_aligner", fmt.Errorf("a cross_series_reducer (%s) needs a per_series_aligner other than ALIGN_NONE", a.reducer)
		}
		return a, "", nil
	}
	p := agg.GetAlignmentPeriod()
	if p == nil {
		return a, "aggregation.alignment_period", fmt.Errorf("required with per_series_aligner %s", a.aligner)
	}
	if err := p.CheckValid(); err != nil {
		return a, "aggregation.alignment_period", err
	}
	if d := p.AsDuration(); d < minAlignmentPeriod || d%time.Second != 0 {
		return a, "aggregation.alignment_period", fmt.Errorf("must be a whole number of seconds, at least 60s, got %s", d)
	}
	a.period = int64(p.AsDuration())
	if a.reducer == monitoringpb.Aggregation_REDUCE_NONE {
		return a, "", nil
	}
	for i, f := range agg.GetGroupByFields() {
		sel, err := normalizeSelector(f)
		if err != nil || sel == "project" {
			return a, fmt.Sprintf("aggregation.group_by_fields[%d]", i), fmt.Errorf("cannot group by %q; allowed: metric.labels.KEY, resource.labels.KEY, resource.type, metric.type", f)
		}
		a.groupBy = append(a.groupBy, sel)
	}
	return a, "", nil
}

// align reads s's points in (start, end] and applies the aligner.
// Must be called with the store's lock held (for reading).
func (a aggregation) align(s *series, start, end int64, desc *metric.MetricDescriptor) *qseries {
	q := &qseries{metricType: s.key.metric, metricLabels: s.metricLabels, resourceType: s.resourceType, resourceLabels: s.resourceLabels,
		kind: desc.GetMetricKind(), valueType: desc.GetValueType(), unit: desc.GetUnit()}
	var cur qpoint
	curK := int64(-1)
	flush := func() {
		if curK >= 0 {
			q.points = append(q.points, a.finish(cur))
		}
	}
	visit := func(p qpoint) {
		if p.end <= start || p.end > end {
			return
		}
		if a.aligner == monitoringpb.Aggregation_ALIGN_NONE {
			if p.d != nil {
				p.d = p.d.clone()
			}
			q.points = append(q.points, p)
			return
		}
		if k := (end - p.end) / a.period; k != curK {
			flush()
			curK = k
			cur = qpoint{end: end - k*a.period}
			cur.start = cur.end - a.period
			if p.d != nil {
				cur.d = &dist{}
			}
		}
		cur.i += p.i
		cur.f += p.f
		if p.d != nil {
			cur.d.merge(p.d)
		}
	}
	second := int64(time.Second)
	// The per-second points are in time order: start at the first one inside the interval, so that a
	// query costs what its interval holds, not what the retention holds.
	firstSecond := start/second + 1 // the first end, in seconds, after start
	from, _ := slices.BinarySearchFunc(s.counts, firstSecond, func(p countPoint, end int64) int { return cmp.Compare(p.end, end) })
	for _, p := range s.counts[from:] {
		visit(qpoint{start: (p.end - 1) * second, end: p.end * second, i: p.n})
	}
	from, _ = slices.BinarySearchFunc(s.dists, firstSecond, func(p distPoint, end int64) int { return cmp.Compare(p.end, end) })
	for i := from; i < len(s.dists); i++ {
		visit(qpoint{start: (s.dists[i].end - 1) * second, end: s.dists[i].end * second, d: &s.dists[i].d})
	}
	for _, p := range s.points {
		visit(p)
	}
	flush()
	if _, pct := percentileOf(a.aligner); pct {
		q.kind, q.valueType = metric.MetricDescriptor_GAUGE, metric.MetricDescriptor_DOUBLE
	} else if a.aligner == monitoringpb.Aggregation_ALIGN_RATE {
		q.kind, q.valueType, q.unit = metric.MetricDescriptor_GAUGE, metric.MetricDescriptor_DOUBLE, "1/s"
	}
	return q
}

// finish turns a window's sum into the aligner's value.
func (a aggregation) finish(p qpoint) qpoint {
	if pct, ok := percentileOf(a.aligner); ok {
		p.f, p.d, p.start = p.d.percentile(pct), nil, p.end
	} else if a.aligner == monitoringpb.Aggregation_ALIGN_RATE {
		p.f, p.start = (float64(p.i)+p.f)/time.Duration(a.period).Seconds(), p.end
	}
	return p
}

// reduce combines aligned series by the reducer, grouped by groupBy.
func (a aggregation) reduce(in []*qseries) []*qseries {
	if a.reducer == monitoringpb.Aggregation_REDUCE_NONE {
		return in
	}
	type group struct {
		out    *qseries
		points map[int64][]qpoint // by window end
	}
	groups := map[string]*group{}
	var order []string
	for _, s := range in {
		out := &qseries{metricType: s.metricType, metricLabels: map[string]string{}, resourceType: s.resourceType, resourceLabels: map[string]string{},
			kind: s.kind, valueType: s.valueType, unit: s.unit}
		var key strings.Builder
		for _, sel := range a.groupBy {
			if k, ok := strings.CutPrefix(sel, "metric.labels."); ok {
				if v, ok := s.metricLabels[k]; ok {
					out.metricLabels[k] = v
				}
			} else if k, ok := strings.CutPrefix(sel, "resource.labels."); ok {
				if v, ok := s.resourceLabels[k]; ok {
					out.resourceLabels[k] = v
				}
			}
			v, _ := selectorValue(s.metricType, s.resourceType, s.metricLabels, s.resourceLabels, sel)
			key.WriteString(v + "\x00")
		}
		g := groups[key.String()]
		if g == nil {
			g = &group{out: out, points: map[int64][]qpoint{}}
			groups[key.String()] = g
			order = append(order, key.String())
		}
		for _, p := range s.points {
			g.points[p.end] = append(g.points[p.end], p)
		}
	}
	result := make([]*qseries, 0, len(groups))
	for _, k := range order {
		g := groups[k]
		ends := make([]int64, 0, len(g.points))
		for e := range g.points {
			ends = append(ends, e)
		}
		slices.Sort(ends)
		for _, e := range ends {
			g.out.points = append(g.out.points, a.combine(g.out, g.points[e]))
		}
		if a.reducer != monitoringpb.Aggregation_REDUCE_SUM {
			g.out.kind, g.out.valueType = metric.MetricDescriptor_GAUGE, metric.MetricDescriptor_DOUBLE
		}
		result = append(result, g.out)
	}
	return result
}

// combine reduces the values of one window across the series of a group.
func (a aggregation) combine(s *qseries, ps []qpoint) qpoint {
	out := qpoint{start: ps[0].start, end: ps[0].end}
	if s.valueType == metric.MetricDescriptor_DISTRIBUTION {
		merged := &dist{}
		for _, p := range ps {
			merged.merge(p.d)
		}
		switch a.reducer {
		case monitoringpb.Aggregation_REDUCE_SUM:
			out.d = merged
		case monitoringpb.Aggregation_REDUCE_MEAN:
			out.f, out.start = merged.mean, out.end
		default:
			pct, _ := percentileOf(a.reducer)
			out.f, out.start = merged.percentile(pct), out.end
		}
		return out
	}
	values := make([]float64, len(ps))
	for i, p := range ps {
		out.i += p.i
		values[i] = p.f
		if s.valueType == metric.MetricDescriptor_INT64 {
			values[i] = float64(p.i)
		}
	}
	switch a.reducer {
	case monitoringpb.Aggregation_REDUCE_SUM:
		var sum float64
		for _, v := range values {
			sum += v
		}
		out.f = sum
	case monitoringpb.Aggregation_REDUCE_MEAN:
		var sum float64
		for _, v := range values {
			sum += v
		}
		out.f, out.start = sum/float64(len(values)), out.end
	default:
		pct, _ := percentileOf(a.reducer)
		out.f, out.start = percentileOfValues(values, pct), out.end
	}
	return out
}

// percentileOfValues interpolates linearly between the closest ranks.
func percentileOfValues(values []float64, pct float64) float64 {
	slices.Sort(values)
	rank := pct / 100 * float64(len(values)-1)
	lo := int(math.Floor(rank))
	hi := min(lo+1, len(values)-1)
	return values[lo] + (values[hi]-values[lo])*(rank-float64(lo))
}
