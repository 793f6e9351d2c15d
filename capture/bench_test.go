package capture

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
)

// benchRecords makes n records with 50 features (the demo model's width),
// 5% of values missing, all in one hour.
func benchRecords(n int) ([]string, []leadscore.Record) {
	features := make([]string, 50)
	for i := range features {
		features[i] = fmt.Sprintf("f%02d", i)
	}
	recs := make([]leadscore.Record, n)
	start := time.Date(2025, 11, 26, 18, 0, 0, 0, time.UTC)
	for i := range recs {
		f := make([]float32, len(features))
		for j := range f {
			f[j] = float32((i*31+j*17)%1000) / 10
			if (i+j)%20 == 0 {
				f[j] = float32(math.NaN())
			}
		}
		recs[i] = leadscore.Record{
			Time: start.Add(time.Duration(i) * time.Millisecond), RequestID: fmt.Sprintf("req-%d", i/10),
			InferenceID: fmt.Sprintf("inf-%012d", i), LeadID: fmt.Sprintf("lead-%d", i),
			Model: "lead-demo", ModelVersion: "3", Features: f,
			Margin: float64(i%200)/50 - 2, Probability: float64(i%100) / 100, Tier: 1 + i%5, LatencyMS: 0.42,
		}
	}
	return features, recs
}

// BenchmarkCapture is the request path's cost per record, offered in
// batches of 10: "enqueue" is Capture alone (the queue emptied between
// rounds, no background work); "running" is against a running Writer on
// this machine's cores, which drops what it cannot keep up with (%dropped).
func BenchmarkCapture(b *testing.B) {
	features, recs := benchRecords(4096)
	b.Run("enqueue", func(b *testing.B) {
		schema, err := newLakeSchema(features)
		if err != nil {
			b.Fatal(err)
		}
		w := &Writer{cfg: Config{QueueDepth: DefaultQueueDepth, MaxLocalBytes: DefaultMaxLocalBytes}, counters: newCounters()}
		w.queue.init(DefaultQueueDepth, schema)
		w.queue.records = make([]leadscore.Record, 0, DefaultQueueDepth)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += 10 {
			if len(w.queue.records) > DefaultQueueDepth-10 {
				w.queue.records = w.queue.records[:0]
			}
			j := i % (len(recs) - 10)
			w.Capture(recs[j : j+10])
		}
	})
	b.Run("running", func(b *testing.B) {
		w, err := New(Config{Dir: b.TempDir()}, features, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += 10 {
			j := i % (len(recs) - 10)
			w.Capture(recs[j : j+10])
		}
		b.StopTimer()
		s := w.Stats()
		b.ReportMetric(float64(s.Dropped[DropQueueFull])/float64(b.N)*100, "%dropped")
		if err := w.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkLakeThroughput measures records per second from Capture to
// closed zstd Parquet files (journal and fsync included), 50 features.
func BenchmarkLakeThroughput(b *testing.B) {
	features, recs := benchRecords(100_000)
	w, err := New(Config{Dir: b.TempDir()}, features, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i += 100 {
		j := i % (len(recs) - 100)
		n := min(100, b.N-i)
		// Offer no more than the writer takes, so that nothing is dropped
		// and the number is the writer's sustained rate.
		for w.queue.len() > DefaultQueueDepth/2 {
			time.Sleep(50 * time.Microsecond)
		}
		w.Capture(recs[j : j+n])
	}
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	s := w.Stats()
	if s.Written != uint64(b.N) {
		b.Fatalf("wrote %d of %d records (%+v)", s.Written, b.N, s.Dropped)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	b.ReportMetric(float64(s.Bytes)/float64(b.N), "bytes/record")
}

// BenchmarkRowBuild is the per-record cost of gathering a record's values
// into the lake's columns (50 features).
func BenchmarkRowBuild(b *testing.B) {
	features, recs := benchRecords(1024)
	s, err := newLakeSchema(features)
	if err != nil {
		b.Fatal(err)
	}
	var cb colBuilder
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if cb.n == 256 {
			cb.reset()
		}
		cb.add(s, &recs[i%len(recs)])
	}
}
