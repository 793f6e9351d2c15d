package loadgen

import (
	"sync"
	"testing"
	"time"
)

// TestHistogramPrecision: a percentile is never below the true value and
// never above it by more than histRelErr, from nanoseconds to an hour;
// longer values count as an hour in the percentiles, exactly in Max.
func TestHistogramPrecision(t *testing.T) {
	for _, v := range []time.Duration{1, 127, 2047, 2048, 2049, 1_000_007, 123_456_789, 59 * time.Minute} {
		var h Histogram
		h.Record(v)
		h.Record(2 * v) // so that the cap at Max does not hide the error
		got := h.Quantile(0.5)
		if got < v || float64(got-v) > float64(v)*histRelErr {
			t.Errorf("median of {%d, %d} = %d, want %d within 1/1024 above", v, 2*v, got, v)
		}
	}
	var h Histogram
	h.Record(2 * time.Hour)
	h.Record(3 * time.Hour)
	if got := h.Quantile(0.5); got < time.Hour || float64(got-time.Hour) > float64(time.Hour)*histRelErr {
		t.Errorf("median of {2h, 3h} = %v, want an hour (the top of the range)", got)
	}
	if h.Max() != 3*time.Hour {
		t.Errorf("Max = %v, want exactly 3h", h.Max())
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
		// Never below the true value, never above it by more than
		// HdrHistogram's precision.
		if got < tt.want || float64(got-tt.want) > float64(tt.want)*histRelErr {
			t.Errorf("Quantile(%v) = %v, want %v within 1/1024 above", tt.q, got, tt.want)
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
	// The top value's bucket is capped at the exact maximum.
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
