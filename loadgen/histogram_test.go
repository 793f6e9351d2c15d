package loadgen

import (
	"sync"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 127, 255, 256, 257, 511, 512, 1000, 1 << 20, 123456789, 1<<62 + 12345, 1<<63 - 1} {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of [0, %d)", v, i, numBuckets)
		}
		if i < prev {
			t.Errorf("bucketOf(%d) = %d, below the previous value's %d", v, i, prev)
		}
		prev = i
		lo, hi := bucketBounds(i)
		if v < lo || v > hi {
			t.Errorf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
		if float64(hi-lo) > float64(lo)/subCount {
			t.Errorf("bucket %d = [%d, %d] is wider than 1/%d of its value", i, lo, hi, subCount)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Errorf("bucket %d bounds [%d, %d] map to %d and %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
	}
	// Buckets tile the number line: each starts right after the last.
	for i := 1; i < numBuckets; i++ {
		_, prevHi := bucketBounds(i - 1)
		lo, _ := bucketBounds(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ends at %d", i, lo, prevHi)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	// 1µs .. 10,000µs, once each: the q-quantile is q*10,000µs.
	for v := 1; v <= 10000; v++ {
		h.Record(time.Duration(v) * time.Microsecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0, 1 * time.Microsecond},
		{0.5, 5000 * time.Microsecond},
		{0.9, 9000 * time.Microsecond},
		{0.99, 9900 * time.Microsecond},
		{0.999, 9990 * time.Microsecond},
		{1, 10000 * time.Microsecond},
	}
	for _, tt := range tests {
		got := h.Quantile(tt.q)
		// Never below the true value, never above it by more than a
		// bucket's width.
		if got < tt.want || float64(got-tt.want) > float64(tt.want)/subCount {
			t.Errorf("Quantile(%v) = %v, want %v within 1/%d above", tt.q, got, tt.want, subCount)
		}
	}
	s := h.Summary()
	if s.Max != 10*time.Millisecond {
		t.Errorf("Max = %v, want exactly 10ms", s.Max)
	}
	if want := 5000500 * time.Nanosecond; s.Mean != want {
		t.Errorf("Mean = %v, want %v", s.Mean, want)
	}
	if h.Count() != 10000 {
		t.Errorf("Count = %d, want 10000", h.Count())
	}
}

func TestHistogramEdgeCases(t *testing.T) {
	var empty Histogram
	if s := empty.Summary(); s != (Percentiles{}) {
		t.Errorf("empty summary = %+v, want zeros", s)
	}
	var h Histogram
	h.Record(-time.Second) // counts as zero
	h.Record(3 * time.Second)
	if got := h.Quantile(0.5); got != 0 {
		t.Errorf("median of {0, 3s} = %v, want 0", got)
	}
	// The top bucket's upper bound is capped at the exact maximum.
	if got := h.Quantile(0.99); got != 3*time.Second {
		t.Errorf("p99 of {0, 3s} = %v, want 3s", got)
	}
	if got := h.Quantile(7); got != 3*time.Second {
		t.Errorf("Quantile(7) = %v, want the maximum", got)
	}
}

func TestHistogramConcurrent(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				h.Record(time.Duration(w*1000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if h.Count() != 8000 {
		t.Fatalf("Count = %d, want 8000", h.Count())
	}
	if h.Max() != 7999*time.Microsecond {
		t.Errorf("Max = %v, want 7.999ms", h.Max())
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i&0xfffff) * time.Microsecond)
	}
}
