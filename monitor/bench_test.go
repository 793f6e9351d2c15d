package monitor

import (
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/internal/cputime"
)

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

// captureBench is a monitor fed as `leadscore serve` feeds it, for
// BenchmarkCapture and BenchmarkCaptureDrain: 256 100-lead requests built
// as the HTTP server builds them (inference ids cut from one string per
// request, features in the request's buffer), each a leadscore.Batch that
// the producer holds for good (so that the benchmark may hand it again),
// into a full window of 10,000 rows with the demo baseline's attribution
// sampler on (its explainer is not running: the sampled leads are shed,
// as the rate cap would).
type captureBench struct {
	m    *Monitor
	reqs []*leadscore.Batch
	take int // requests a drain takes
	// capture hands request k to the monitor: by copy (Capture) or by
	// reference (leadscore.CaptureBatch, which is Capture for a sink that
	// is not a leadscore.BatchSink).
	capture func(k int)
}

const benchBatch = 100

// benchVariants are the ways BenchmarkCapture and BenchmarkCaptureDrain
// feed the monitor: by copy or by reference, in takes of 64 requests
// (6,400 records, what one drain interval gathers on a busy server) or of
// 192 (19,200: a saturated server's goroutine running late, above what
// the copying queue's buffers were kept at).
var benchVariants = []struct {
	name  string
	byRef bool
	take  int
}{
	{"copy/take=64", false, 64}, {"batch/take=64", true, 64},
	{"copy/take=192", false, 192}, {"batch/take=192", true, 192},
}

func newCaptureBench(b *testing.B, byRef bool, take int) *captureBench {
	bd, base := demoBaseline(b)
	d := loadDemo(b, "leads_10k.csv")
	m, err := New(Config{Baseline: base, Features: d.names, EvalInterval: time.Hour,
		Attribution: AttributionConfig{Explain: bd.Forest().ContributionsBatch}})
	if err != nil {
		b.Fatal(err)
	}
	nf := len(d.names)
	cb := &captureBench{m: m, reqs: make([]*leadscore.Batch, 256), take: take}
	now := time.Now()
	for k := range cb.reqs {
		all := ""
		var at []int
		for i := range benchBatch {
			at = append(at, len(all))
			all += "0f8fad5b-d9cb-469f-a165-" + itoa(700000+k) + "-" + itoa(i)
		}
		at = append(at, len(all))
		feats := make([]float32, benchBatch*nf)
		recs := make([]leadscore.Record, benchBatch)
		for i := range benchBatch {
			row := (k*benchBatch + i) % d.t.Rows
			f := feats[i*nf : (i+1)*nf : (i+1)*nf]
			copy(f, d.t.Values[row*nf:(row+1)*nf])
			p := float64(d.probs[row])
			recs[i] = leadscore.Record{Time: now.Add(time.Duration(k) * time.Millisecond), RequestID: "r",
				InferenceID: all[at[i]:at[i+1]], Model: "lead-demo", ModelVersion: "1.0.0", Features: f,
				FeatureNames: d.names, Probability: p, Margin: math.Log(p / (1 - p)), Tier: d.tiers.Tier(p)}
		}
		cb.reqs[k] = leadscore.NewBatch(recs)
	}
	cb.capture = func(k int) { m.Capture(cb.reqs[k%len(cb.reqs)].Records) }
	if byRef {
		cb.capture = func(k int) { leadscore.CaptureBatch(m, cb.reqs[k%len(cb.reqs)]) }
	}
	// Fill the window and let the queue settle.
	for k := range 4 * cb.take * (DefaultWindowRows/benchBatch/cb.take + 1) {
		cb.capture(k)
		if (k+1)%cb.take == 0 {
			m.drain()
		}
	}
	return cb
}

// BenchmarkCapture is the request path's cost of feeding the monitor,
// per 100-lead request: Capture (copy) or CaptureBatch (batch). The
// queue is drained every take (64 or 192 requests), as the goroutine would,
// but outside the figure: ns/op counts the capture calls only (timed in
// runs of a take), cpu-ns/op their thread's CPU time (Linux; steadier on
// a busy host), drain-ns/op the drains.
func BenchmarkCapture(b *testing.B) {
	for _, v := range benchVariants {
		b.Run(v.name, func(b *testing.B) {
			cb := newCaptureBench(b, v.byRef, v.take)
			runtime.LockOSThread() // for threadCPU
			defer runtime.UnlockOSThread()
			var captures, capturesCPU, drains time.Duration
			k := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if k%cb.take == 0 {
					t, c := time.Now(), threadCPU()
					for j := range cb.take {
						cb.capture(k + j)
					}
					t1, c1 := time.Now(), threadCPU()
					cb.m.drain()
					captures, capturesCPU = captures+t1.Sub(t), capturesCPU+c1-c
					drains += time.Since(t1)
				}
				k++
			}
			// b.Loop ran the requests in runs of a take: per request.
			n := float64((k + cb.take - 1) / cb.take * cb.take)
			b.ReportMetric(float64(captures.Nanoseconds())/n, "ns/op")
			b.ReportMetric(float64(capturesCPU.Nanoseconds())/n, "cpu-ns/op")
			b.ReportMetric(float64(drains.Nanoseconds())/n, "drain-ns/op")
			if got := cb.m.dropped.Load(); got != 0 {
				b.Fatalf("%d records dropped", got)
			}
		})
	}
}

// BenchmarkCaptureDrain is the monitor's whole cost per record, on the
// request path and off it: 100-lead requests captured by copy (copy) or
// by reference (batch), drained every take into the full window,
// on one goroutine. One op is one request; ns/record is the figure that
// matters, cpu-ns/op the process's CPU time (the collector's workers
// included), and B/op the steady state's garbage per request (0 is the
// goal).
func BenchmarkCaptureDrain(b *testing.B) {
	for _, v := range benchVariants {
		b.Run(v.name, func(b *testing.B) {
			cb := newCaptureBench(b, v.byRef, v.take)
			k := 0
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cputime.Process()
			for b.Loop() {
				cb.capture(k)
				if k++; k%cb.take == 0 {
					cb.m.drain()
				}
			}
			cpu = cputime.Process() - cpu
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/record")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			if got := cb.m.dropped.Load(); got != 0 {
				b.Fatalf("%d records dropped", got)
			}
		})
	}
}
