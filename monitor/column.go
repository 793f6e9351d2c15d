package monitor

import (
	"math"
	"slices"
)

// defaultBuckets is the number of histogram buckets of a feature's
// distribution, as in Model Monitor.
const defaultBuckets = 10

// column accumulates one feature's values (NaN for missing) in one pass:
// counts, moments, range, type, and either every value (exact, for the
// live window and the baseline) or a KLL sketch (for the lake, which may
// not fit in memory). When bounds are set it also counts values outside
// the baseline range and per baseline bucket.
type column struct {
	rows, present int64
	mean, m2, sum float64
	min, max      float64
	nonIntegral   int64

	exact  []float64 // nil when sketching
	sketch *Sketch   // nil when exact

	// From the baseline, when comparing: its range and bucket bounds.
	lo, hi      float64
	outOfRange  int64
	edges       []float64 // upper bounds of all buckets but the last
	bucketCount []int64
}

// newColumn returns an empty accumulator: exact, or sketching when sketch
// is true.
func newColumn(sketch bool) *column {
	c := &column{min: math.Inf(1), max: math.Inf(-1), lo: math.Inf(-1), hi: math.Inf(1)}
	if sketch {
		c.sketch = NewSketch(DefaultSketchK, DefaultSketchC)
	}
	return c
}

// against sets the baseline range and buckets to count values against.
func (c *column) against(bf *baseFeature) {
	c.lo, c.hi = bf.lo, bf.hi
	c.edges = bf.edges
	c.bucketCount = make([]int64, len(bf.shares))
}

// add records one value; NaN is missing.
func (c *column) add(x float64) {
	c.rows++
	if math.IsNaN(x) {
		return
	}
	c.present++
	c.sum += x
	d := x - c.mean
	c.mean += d / float64(c.present)
	c.m2 += d * (x - c.mean)
	c.min = math.Min(c.min, x)
	c.max = math.Max(c.max, x)
	if x != math.Trunc(x) {
		c.nonIntegral++
	}
	if x < c.lo || x > c.hi {
		c.outOfRange++
	}
	if c.bucketCount != nil {
		c.bucketCount[bucketOf(c.edges, x)]++
	}
	if c.sketch != nil {
		c.sketch.Add(x)
	} else {
		c.exact = append(c.exact, x)
	}
}

// bucketOf is the index of the bucket holding x: the first whose upper
// edge is above x, values beyond either end falling in the end buckets.
func bucketOf(edges []float64, x float64) int {
	lo, hi := 0, len(edges)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if edges[mid] <= x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// std is the population standard deviation of the present values.
func (c *column) std() float64 {
	if c.present == 0 {
		return 0
	}
	return math.Sqrt(c.m2 / float64(c.present))
}

// integral reports whether every present value is a whole number.
func (c *column) integral() bool { return c.nonIntegral == 0 }

// distribution returns the values' cdf; the exact values are sorted in
// place.
func (c *column) distribution() cdf {
	if c.sketch != nil {
		return c.sketch.cdf()
	}
	slices.Sort(c.exact)
	return cdfOfSorted(c.exact)
}

// statistics summarises the column in Model Monitor's schema, given its
// distribution d: buckets equal-width between the minimum and the maximum,
// and the column's sketch (one is built from the exact values).
func (c *column) statistics(name string, d cdf) FeatureStatistics {
	fs := FeatureStatistics{Name: name, InferredType: TypeFractional}
	if c.present > 0 && c.integral() {
		fs.InferredType = TypeIntegral
	}
	sk := c.sketch
	if sk == nil {
		sk = NewSketch(DefaultSketchK, DefaultSketchC)
		for _, x := range c.exact {
			sk.Add(x)
		}
	}
	data := sk.Data()
	for _, lvl := range data {
		for i, x := range lvl {
			lvl[i] = shortest32(x)
		}
	}
	ns := &NumericalStatistics{
		Common: CommonStatistics{NumPresent: c.present, NumMissing: c.rows - c.present},
		Mean:   finite(c.mean),
		Sum:    finite(c.sum),
		StdDev: finite(c.std()),
		Distribution: Distribution{KLL: KLL{
			Buckets: []Bucket{},
			Sketch:  SketchValues{Parameters: SketchParameters{C: sk.c, K: float64(sk.k)}, Data: data},
		}},
	}
	if c.present > 0 {
		ns.Min, ns.Max = shortest32(c.min), shortest32(c.max)
		ns.Distribution.KLL.Buckets = histogram(d, canon32(c.min), canon32(c.max), defaultBuckets)
	}
	fs.NumericalStatistics = ns
	return fs
}

// histogram counts d's weight in n equal-width buckets between lo and hi,
// [lower, upper) each but the last, which includes hi. Bounds are on the
// float32 grid; a constant feature gets one bucket.
func histogram(d cdf, lo, hi float64, n int) []Bucket {
	if !(hi > lo) {
		return []Bucket{{LowerBound: shortest32(lo), UpperBound: shortest32(hi), Count: d.total}}
	}
	bounds := make([]float64, n+1)
	bounds[0], bounds[n] = lo, hi
	w := (hi - lo) / float64(n)
	for i := 1; i < n; i++ {
		bounds[i] = canon32(lo + float64(i)*w)
	}
	out := make([]Bucket, n)
	for i := range out {
		upper := d.below(bounds[i+1])
		if i == n-1 {
			upper = d.atMost(hi)
		}
		out[i] = Bucket{LowerBound: shortest32(bounds[i]), UpperBound: shortest32(bounds[i+1]), Count: upper - d.below(bounds[i])}
	}
	return out
}
