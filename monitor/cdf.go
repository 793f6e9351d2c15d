package monitor

import (
	"math"
	"slices"
	"sort"
)

// weighted is a value standing for w observations.
type weighted struct {
	x, w float64
}

// cdf is an empirical cumulative distribution: distinct values ascending
// and, for each, the total weight of the values at or below it.
type cdf struct {
	xs    []float64
	cum   []float64
	total float64
}

// newCDF builds a cdf from weighted values in any order (it sorts them).
func newCDF(items []weighted) cdf {
	slices.SortFunc(items, func(a, b weighted) int {
		switch {
		case a.x < b.x:
			return -1
		case a.x > b.x:
			return 1
		}
		return 0
	})
	c := cdf{xs: make([]float64, 0, len(items)), cum: make([]float64, 0, len(items))}
	for _, it := range items {
		c.total += it.w
		if n := len(c.xs); n > 0 && c.xs[n-1] == it.x {
			c.cum[n-1] = c.total
			continue
		}
		c.xs = append(c.xs, it.x)
		c.cum = append(c.cum, c.total)
	}
	return c
}

// cdfOfSorted builds the exact cdf of ascending values, each of weight 1.
func cdfOfSorted(sorted []float64) cdf {
	c := cdf{xs: make([]float64, 0, len(sorted)), cum: make([]float64, 0, len(sorted))}
	for i, x := range sorted {
		if n := len(c.xs); n > 0 && c.xs[n-1] == x {
			c.cum[n-1] = float64(i + 1)
			continue
		}
		c.xs = append(c.xs, x)
		c.cum = append(c.cum, float64(i+1))
	}
	c.total = float64(len(sorted))
	return c
}

// cdfOfBuckets approximates a distribution known only by its histogram:
// each bucket's count sits at its upper bound. Distances against it are
// only measured at the bucket bounds (see distanceAt).
func cdfOfBuckets(bs []Bucket) cdf {
	items := make([]weighted, 0, len(bs))
	for _, b := range bs {
		if b.Count > 0 {
			items = append(items, weighted{canon32(b.UpperBound), b.Count})
		}
	}
	return newCDF(items)
}

// atMost is the weight of the values <= x.
func (c cdf) atMost(x float64) float64 {
	i := sort.Search(len(c.xs), func(i int) bool { return c.xs[i] > x })
	if i == 0 {
		return 0
	}
	return c.cum[i-1]
}

// below is the weight of the values < x.
func (c cdf) below(x float64) float64 {
	i := sort.Search(len(c.xs), func(i int) bool { return c.xs[i] >= x })
	if i == 0 {
		return 0
	}
	return c.cum[i-1]
}

// distance is the largest gap between the two cumulative distributions,
// sup_x |F_a(x) - F_b(x)| (the two-sample Kolmogorov-Smirnov statistic, and
// Model Monitor's baseline drift distance). Both being step functions, the
// supremum is reached at one of their values, so a merge walk is exact.
func distance(a, b cdf) float64 {
	if a.total == 0 || b.total == 0 {
		return 0
	}
	d := 0.0
	i, j := 0, 0
	for i < len(a.xs) || j < len(b.xs) {
		var x float64
		switch {
		case j >= len(b.xs) || (i < len(a.xs) && a.xs[i] <= b.xs[j]):
			x = a.xs[i]
		default:
			x = b.xs[j]
		}
		for i < len(a.xs) && a.xs[i] <= x {
			i++
		}
		for j < len(b.xs) && b.xs[j] <= x {
			j++
		}
		fa, fb := 0.0, 0.0
		if i > 0 {
			fa = a.cum[i-1] / a.total
		}
		if j > 0 {
			fb = b.cum[j-1] / b.total
		}
		d = math.Max(d, math.Abs(fa-fb))
	}
	return d
}

// distanceAt is the largest gap between the two distributions over the
// given points only.
func distanceAt(points []float64, a, b cdf) float64 {
	if a.total == 0 || b.total == 0 {
		return 0
	}
	d := 0.0
	for _, x := range points {
		d = math.Max(d, math.Abs(a.atMost(x)/a.total-b.atMost(x)/b.total))
	}
	return d
}

// ksCritical is the two-sample Kolmogorov-Smirnov critical value at
// significance 0.01 for samples of n and m values: a distance below it is
// within sampling noise.
func ksCritical(n, m float64) float64 {
	if n <= 0 || m <= 0 {
		return math.Inf(1)
	}
	const c01 = 1.6276 // sqrt(-ln(0.01/2)/2)
	return c01 * math.Sqrt((n+m)/(n*m))
}

// psiFloor is the smallest share a bucket counts with in PSI, so that an
// empty bucket does not make the index infinite.
const psiFloor = 1e-4

// psi is the population stability index of current shares against
// baseline shares over the same buckets: sum (c - b) * ln(c / b), with each
// share floored at psiFloor.
func psi(baseline, current []float64) float64 {
	s := 0.0
	for i := range baseline {
		b, c := math.Max(baseline[i], psiFloor), math.Max(current[i], psiFloor)
		s += (c - b) * math.Log(c/b)
	}
	return s
}
