package loadgen

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is log-linear, as in HdrHistogram: values below
// 2^(subBits+1) nanoseconds have a bucket each; above that, each power of two
// is split into 2^subBits equal buckets, so any recorded value is known to
// within 1/2^subBits (0.78%) of itself.
const (
	subBits    = 7
	subCount   = 1 << subBits     // buckets per power of two
	linearTop  = 2 * subCount     // values below this are exact
	maxExp     = 63 - subBits - 1 // largest shift for a non-negative int64
	numBuckets = linearTop + maxExp*subCount
)

// Histogram records durations in fixed memory (about 60 KB) with a relative
// error under 0.8%. The zero value is ready to use and it is safe for
// concurrent use: Record only does atomic adds, so many workers can share
// one.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64 // nanoseconds, wraps after ~584 years of latency
	max    atomic.Int64
}

// bucketOf returns the bucket index of v nanoseconds (v >= 0).
func bucketOf(v int64) int {
	if v < linearTop {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - (subBits + 1) // >= 1
	mant := int(v >> shift)                        // in [subCount, 2*subCount)
	return linearTop + (shift-1)*subCount + (mant - subCount)
}

// bucketBounds returns the smallest and largest value that fall in bucket i.
func bucketBounds(i int) (lo, hi int64) {
	if i < linearTop {
		return int64(i), int64(i)
	}
	shift := (i-linearTop)/subCount + 1
	mant := int64(subCount + (i-linearTop)%subCount)
	lo = mant << shift
	hi = lo + (int64(1) << shift) - 1
	return lo, hi
}

// Record adds one observation. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(uint64(v))
	storeMax(&h.max, v)
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Max returns the largest observation, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Mean returns the mean observation, or 0 when there is none.
func (h *Histogram) Mean() time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n) // #nosec G115 -- a mean of int64 values fits an int64
}

// Quantile returns the value at quantile q in [0, 1]: the largest value of
// the bucket holding the ceil(q*n)-th smallest observation, capped at Max. It
// never understates a percentile by more than the bucket width. It returns 0
// when the histogram is empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	q = math.Min(math.Max(q, 0), 1)
	rank := uint64(math.Ceil(q * float64(n)))
	if rank == 0 {
		rank = 1
	}
	maxV := h.max.Load()
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			_, hi := bucketBounds(i)
			return time.Duration(min(hi, maxV))
		}
	}
	return time.Duration(maxV)
}

// Percentiles is the latency summary of a run.
type Percentiles struct {
	P50, P90, P99, P999, Max, Mean time.Duration
}

// Summary returns the usual percentiles of h.
func (h *Histogram) Summary() Percentiles {
	return Percentiles{
		P50:  h.Quantile(0.50),
		P90:  h.Quantile(0.90),
		P99:  h.Quantile(0.99),
		P999: h.Quantile(0.999),
		Max:  h.Max(),
		Mean: h.Mean(),
	}
}
