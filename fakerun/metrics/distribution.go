package metrics

import (
	"math"

	"google.golang.org/genproto/googleapis/api/distribution"
)

// Latency buckets: exponential, bucket 0 is the underflow (< bucketScale ms),
// bucket i in 1..numFiniteBuckets is [scale·growth^(i-1), scale·growth^i), and
// the last bucket is the overflow. 100 buckets of growth 1.4 reach ~4e14 ms.
const (
	numFiniteBuckets = 100
	bucketGrowth     = 1.4
	bucketScale      = 1.0 // ms
)

// bucketOptions describes the latency buckets in API responses.
var bucketOptions = &distribution.Distribution_BucketOptions{
	Options: &distribution.Distribution_BucketOptions_ExponentialBuckets{
		ExponentialBuckets: &distribution.Distribution_BucketOptions_Exponential{
			NumFiniteBuckets: numFiniteBuckets, GrowthFactor: bucketGrowth, Scale: bucketScale,
		},
	},
}

// dist is a distribution of values with exponential buckets. buckets is
// trimmed after the last non-empty bucket to keep points small.
type dist struct {
	count   int64
	mean    float64
	ssd     float64 // sum of squared deviations from the mean
	buckets []int64
}

// bucketIndex returns the bucket of v.
func bucketIndex(v float64) int {
	if v < bucketScale {
		return 0
	}
	i := int(math.Floor(math.Log(v/bucketScale)/math.Log(bucketGrowth))) + 1
	return min(i, numFiniteBuckets+1)
}

// bucketBounds returns the lower and upper bound of bucket i (the underflow
// bucket starts at 0; the overflow bucket ends at its lower bound).
func bucketBounds(i int) (lo, hi float64) {
	switch {
	case i == 0:
		return 0, bucketScale
	case i > numFiniteBuckets:
		lo = bucketScale * math.Pow(bucketGrowth, numFiniteBuckets)
		return lo, lo
	default:
		return bucketScale * math.Pow(bucketGrowth, float64(i-1)), bucketScale * math.Pow(bucketGrowth, float64(i))
	}
}

// add records one value (Welford's update keeps mean and ssd exact enough).
func (d *dist) add(v float64) {
	d.count++
	delta := v - d.mean
	d.mean += delta / float64(d.count)
	d.ssd += delta * (v - d.mean)
	i := bucketIndex(v)
	if i >= len(d.buckets) {
		d.buckets = append(d.buckets, make([]int64, i+1-len(d.buckets))...)
	}
	d.buckets[i]++
}

// merge adds o into d (Chan et al.'s parallel update of mean and ssd).
func (d *dist) merge(o *dist) {
	if o.count == 0 {
		return
	}
	n := d.count + o.count
	delta := o.mean - d.mean
	d.ssd += o.ssd + delta*delta*float64(d.count)*float64(o.count)/float64(n)
	d.mean += delta * float64(o.count) / float64(n)
	d.count = n
	if len(o.buckets) > len(d.buckets) {
		d.buckets = append(d.buckets, make([]int64, len(o.buckets)-len(d.buckets))...)
	}
	for i, c := range o.buckets {
		d.buckets[i] += c
	}
}

// clone returns a copy of d that shares nothing with it.
func (d *dist) clone() *dist {
	c := *d
	c.buckets = append([]int64(nil), d.buckets...)
	return &c
}

// percentile estimates the p-th percentile (0-100) by locating the bucket
// holding that rank and interpolating linearly inside it.
func (d *dist) percentile(p float64) float64 {
	if d.count == 0 {
		return 0
	}
	rank := p / 100 * float64(d.count)
	var seen float64
	for i, c := range d.buckets {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo, hi := bucketBounds(i)
			return lo + (hi-lo)*(rank-seen)/float64(c)
		}
		seen += float64(c)
	}
	lo, _ := bucketBounds(len(d.buckets) - 1)
	return lo
}

// proto renders d as a google.api.Distribution.
func (d *dist) proto() *distribution.Distribution {
	return &distribution.Distribution{
		Count:                 d.count,
		Mean:                  d.mean,
		SumOfSquaredDeviation: d.ssd,
		BucketOptions:         bucketOptions,
		BucketCounts:          append([]int64(nil), d.buckets...),
	}
}

// Percentile estimates the p-th percentile (0-100) of the merged
// distributions, as ListTimeSeries' percentile aligners and reducers do. The
// distributions must come from this package's points (its bucket options);
// it returns 0 when they hold no values.
func Percentile(ds []*distribution.Distribution, p float64) float64 {
	merged := &dist{}
	for _, d := range ds {
		merged.merge(&dist{count: d.GetCount(), mean: d.GetMean(), ssd: d.GetSumOfSquaredDeviation(), buckets: d.GetBucketCounts()})
	}
	return merged.percentile(p)
}
