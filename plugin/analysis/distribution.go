package analysis

import (
	"cmp"
	"math"
	"slices"
	"time"

	"google.golang.org/genproto/googleapis/api/distribution"
)

// Distribution is a histogram of latencies in milliseconds, merged from the points of Cloud Monitoring's
// run.googleapis.com/request_latencies, whatever their bucket layout.
type Distribution struct {
	buckets []bucket
	count   int64
}

// bucket holds n values in [lo, hi).
type bucket struct {
	lo, hi float64
	n      int64
}

// Count is how many values the distribution holds.
func (d *Distribution) Count() int64 { return d.count }

// Add merges one point's distribution into d.
func (d *Distribution) Add(p *distribution.Distribution) {
	if p.GetCount() == 0 {
		return
	}
	d.count += p.GetCount()
	if len(p.GetBucketCounts()) == 0 {
		d.buckets = append(d.buckets, bucket{lo: p.GetMean(), hi: p.GetMean(), n: p.GetCount()})
		return
	}
	for i, n := range p.GetBucketCounts() {
		if n == 0 {
			continue
		}
		lo, hi := bounds(p.GetBucketOptions(), i)
		d.buckets = append(d.buckets, bucket{lo: lo, hi: hi, n: n})
	}
}

// Merge adds every value of o to d.
func (d *Distribution) Merge(o *Distribution) {
	d.buckets = append(d.buckets, o.buckets...)
	d.count += o.count
}

// Percentile estimates the p-th percentile (0-100) by finding the bucket that holds its rank and
// interpolating linearly inside it, as Cloud Monitoring's percentile aligners do. ok is false when d is empty.
func (d *Distribution) Percentile(p float64) (v time.Duration, ok bool) {
	if d.count == 0 {
		return 0, false
	}
	// The points of one layout (one per alignment period, one per revision) hold the same ranges: a range
	// is one bucket with all their values, or the interpolation inside it would depend on the points' order.
	merged := map[[2]float64]int64{}
	for _, b := range d.buckets {
		merged[[2]float64{b.lo, b.hi}] += b.n
	}
	bs := make([]bucket, 0, len(merged))
	for r, n := range merged {
		bs = append(bs, bucket{lo: r[0], hi: r[1], n: n})
	}
	slices.SortFunc(bs, func(a, b bucket) int { return cmp.Or(cmp.Compare(a.lo, b.lo), cmp.Compare(a.hi, b.hi)) })
	rank := p / 100 * float64(d.count)
	var seen float64
	ms := bs[len(bs)-1].hi
	for _, b := range bs {
		if seen+float64(b.n) >= rank {
			ms = b.lo + (b.hi-b.lo)*(rank-seen)/float64(b.n)
			break
		}
		seen += float64(b.n)
	}
	return time.Duration(ms * float64(time.Millisecond)), true
}

// bounds returns the range of bucket i of a layout: bucket 0 is the underflow (from 0, as latencies are
// never negative), the last one the overflow (which ends where it starts).
func bounds(o *distribution.Distribution_BucketOptions, i int) (lo, hi float64) {
	edge := func(int) float64 { return 0 } // the lower edge of finite bucket k (1-based), i.e. the bound k-1
	n := 0                                 // finite buckets
	switch {
	case o.GetLinearBuckets() != nil:
		l := o.GetLinearBuckets()
		n = int(l.GetNumFiniteBuckets())
		edge = func(k int) float64 { return l.GetOffset() + l.GetWidth()*float64(k-1) }
	case o.GetExponentialBuckets() != nil:
		e := o.GetExponentialBuckets()
		n = int(e.GetNumFiniteBuckets())
		edge = func(k int) float64 { return e.GetScale() * math.Pow(e.GetGrowthFactor(), float64(k-1)) }
	case o.GetExplicitBuckets() != nil:
		b := o.GetExplicitBuckets().GetBounds()
		n = max(len(b)-1, 0)
		edge = func(k int) float64 {
			if k > len(b) {
				return 0
			}
			return b[k-1]
		}
	}
	switch {
	case i == 0:
		return 0, max(edge(1), 0)
	case i > n:
		return edge(n + 1), edge(n + 1)
	}
	return edge(i), edge(i + 1)
}
