package monitor

import (
	"context"
	"testing"
	"time"
)

// BenchmarkCapture is the request path's cost of feeding the monitor:
// one 10-lead batch per call, processed by Run in the background.
func BenchmarkCapture(b *testing.B) {
	d := loadDemo(b, "leads_10k.csv")
	m, err := New(Config{Baseline: baselineOf(b, d, 0, 1000), Features: d.names, EvalInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	recs := records(d, 0, 1000, "b", t0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := (i % 100) * 10
		m.Capture(recs[k : k+10])
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEvaluate checks a full 10,000-row window of the demo model.
func BenchmarkEvaluate(b *testing.B) {
	d := loadDemo(b, "leads_10k.csv")
	m, err := New(Config{Baseline: baselineOf(b, d, 0, 10000), Features: d.names})
	if err != nil {
		b.Fatal(err)
	}
	m.Capture(records(d, 0, 10000, "e", t0))
	b.ReportAllocs()
	for b.Loop() {
		m.mu.Lock()
		m.win.version++ // defeat the cache
		m.mu.Unlock()
		m.Evaluate()
	}
}

func BenchmarkSketchAdd(b *testing.B) {
	s := NewSketch(DefaultSketchK, DefaultSketchC)
	x := 0.5
	b.ReportAllocs()
	for b.Loop() {
		x = x*3.9*(1-x) + 1e-9
		s.Add(x)
	}
}
