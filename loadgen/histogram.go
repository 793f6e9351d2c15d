package loadgen

import (
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Range and precision of a Histogram: nanoseconds from 0 to an hour, three
// significant digits (HdrHistogram keeps every value within 1/1024 of
// itself at that setting).
const (
	histMax     = int64(time.Hour)
	histSigFigs = 3
	// histRelErr bounds how far above the true value a percentile may be
	// reported.
	histRelErr = 1.0 / 1024
)

// Histogram records durations in an HdrHistogram
// (github.com/HdrHistogram/hdrhistogram-go), so that a run's latency
// distribution can be written in the standard .hgrm form that HdrHistogram's
// plotters read (WritePercentiles). Max and Mean are kept exactly beside it.
// The zero value is ready to use and it is safe for concurrent use.
type Histogram struct {
	mu  sync.Mutex
	h   *hdrhistogram.Histogram // nil until the first Record
	sum int64                   // nanoseconds; clamped values count as histMax
	max int64                   // exact, not clamped
}

// Record adds one observation. Negative durations count as zero; durations
// over an hour count as an hour in the percentiles (Max stays exact).
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h == nil {
		h.h = hdrhistogram.New(1, histMax, histSigFigs)
	}
	clamped := min(v, histMax)
	_ = h.h.RecordValue(clamped) // in range by construction
	h.sum += clamped
	h.max = max(h.max, v)
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h == nil {
		return 0
	}
	return uint64(h.h.TotalCount()) // #nosec G115 -- a count is never negative
}

// Max returns the largest observation, exactly.
func (h *Histogram) Max() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return time.Duration(h.max)
}

// Mean returns the mean observation, or 0 when there is none.
func (h *Histogram) Mean() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h == nil || h.h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(h.sum / h.h.TotalCount())
}

// Quantile returns the value at quantile q in [0, 1], as HdrHistogram
// reports it (the highest value equivalent to the one at that rank),
// capped at Max: never below the true value, never above it by more than
// 1/1024. It returns 0 when the histogram is empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h == nil || h.h.TotalCount() == 0 {
		return 0
	}
	q = math.Min(math.Max(q, 0), 1)
	// At least the first observation: HdrHistogram's quantile 0 is the
	// bottom of the range, not the smallest value.
	pct := math.Max(q*100, 100/float64(h.h.TotalCount()))
	return time.Duration(min(h.h.ValueAtQuantile(pct), h.max))
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

// WritePercentiles writes the distribution in HdrHistogram's percentile
// form (.hgrm), values in milliseconds: a header line, one row per
// reported percentile (value, percentile, total count, 1/(1-percentile)),
// five rows per halving of the distance to 100%, and the #[Mean ...],
// #[Max ...] and #[Buckets ...] footer. HdrHistogram's plotter and the
// tools built on its format read it.
func (h *Histogram) WritePercentiles(w io.Writer) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	hh := h.h
	if hh == nil {
		hh = hdrhistogram.New(1, histMax, histSigFigs)
	}
	if _, err := hh.PercentilesPrint(w, 5, float64(time.Millisecond)); err != nil {
		return fmt.Errorf("write percentiles: %w", err)
	}
	return nil
}
