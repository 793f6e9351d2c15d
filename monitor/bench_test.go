package monitor

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
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

// BenchmarkCaptureDrain is the monitor's whole cost per record, on the
// request path and off it, as `leadscore serve` feeds it: 100-lead
// batches captured as the HTTP server hands them over (inference ids cut
// from one string per request), drained every 64 batches (6,400 records,
// what one drain interval gathers on a busy server) into a full window of
// 10,000 rows, with the demo baseline's attribution sampler on (its
// explainer is not running: the sampled leads are shed, as the rate cap
// would). One op is one batch; ns/record is the figure that matters, and
// B/op is the steady state's garbage per batch (0 is the goal).
func BenchmarkCaptureDrain(b *testing.B) {
	const batch, drainEvery = 100, 64
	bd, base := demoBaseline(b)
	d := loadDemo(b, "leads_10k.csv")
	m, err := New(Config{Baseline: base, Features: d.names, EvalInterval: time.Hour,
		Attribution: AttributionConfig{Explain: bd.Forest().ContributionsBatch}})
	if err != nil {
		b.Fatal(err)
	}
	nf := len(d.names)
	// 256 requests as the HTTP server hands them over: one string of ids
	// per request, each record's id a piece of it; the features are in
	// the request's buffer.
	reqs := make([][]leadscore.Record, 256)
	now := time.Now()
	for k := range reqs {
		all := ""
		var at []int
		for i := range batch {
			at = append(at, len(all))
			all += "0f8fad5b-d9cb-469f-a165-" + itoa(700000+k) + "-" + itoa(i)
		}
		at = append(at, len(all))
		feats := make([]float32, batch*nf)
		reqs[k] = make([]leadscore.Record, batch)
		for i := range batch {
			row := (k*batch + i) % d.t.Rows
			f := feats[i*nf : (i+1)*nf : (i+1)*nf]
			copy(f, d.t.Values[row*nf:(row+1)*nf])
			p := float64(d.probs[row])
			reqs[k][i] = leadscore.Record{Time: now.Add(time.Duration(k) * time.Millisecond), RequestID: "r",
				InferenceID: all[at[i]:at[i+1]], Model: "lead-demo", ModelVersion: "1.0.0", Features: f,
				FeatureNames: d.names, Probability: p, Margin: math.Log(p / (1 - p)), Tier: d.tiers.Tier(p)}
		}
	}
	capture := func(k int) {
		m.Capture(reqs[k%len(reqs)])
		if (k+1)%drainEvery == 0 {
			m.drain()
		}
	}
	// Fill the window and let the queue's buffers settle.
	k := 0
	for ; k < 4*drainEvery*(DefaultWindowRows/batch/drainEvery+1); k++ {
		capture(k)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		capture(k)
		k++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/record")
}
