package forest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/leadscore/leadscore/forest"
	"github.com/leadscore/leadscore/internal/cputime"
	"github.com/leadscore/leadscore/tabular"
	"github.com/leadscore/leadscore/xgboost"
)

// loadModel compiles a model from the repository's testdata.
func loadModel(tb testing.TB, parts ...string) *forest.Forest {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{"..", "testdata"}, parts...)...))
	if err != nil {
		tb.Fatal(err)
	}
	f, _, err := xgboost.Load(data)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// leads returns the first n held-out demo leads.
func leads(tb testing.TB, f *forest.Forest, n int) []float32 {
	tb.Helper()
	in, err := os.Open(filepath.Join("..", "testdata", "lead-demo", "leads_10k.csv"))
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = in.Close() }()
	t, err := tabular.ReadCSV(in, f.FeatureNames(), tabular.Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	return t.Values[:n*f.NumFeature()]
}

// benchBatch scores n demo leads per call. Besides ns/op it reports
// ns/tree-row and the process's CPU ns/tree-row (the figure to read on a
// busy host).
func benchBatch(b *testing.B, f *forest.Forest, n int) {
	rows := leads(b, f, n)
	out := make([]float32, n*f.NumGroup())
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		if err := f.Predict(rows, out); err != nil {
			b.Fatal(err)
		}
	}
	cpu := cputime.Process() - c0
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
	tr := float64(b.N * n * f.NumTrees())
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/tr, "ns/tree-row")
	b.ReportMetric(float64(cpu.Nanoseconds())/tr, "cpu-ns/tree-row")
}

// benchBatches runs benchBatch on batches of 1000 and 100 rows with the
// vector kernel (where the CPU has it) and with the pure-Go walk.
func benchBatches(b *testing.B, f *forest.Forest) {
	for _, n := range []int{1000, 100} {
		for _, k := range []struct {
			name string
			on   bool
		}{{"vector", true}, {"go", false}} {
			if k.on && !forest.HaveVector {
				continue
			}
			b.Run(fmt.Sprintf("rows=%d/kernel=%s", n, k.name), func(b *testing.B) {
				defer forest.SetVector(forest.SetVector(k.on))
				benchBatch(b, f, n)
			})
		}
	}
}

func BenchmarkDemoBatch(b *testing.B) {
	benchBatches(b, loadModel(b, "lead-demo", "model.ubj"))
}

func Benchmark1000x8Batch(b *testing.B) {
	benchBatches(b, loadModel(b, "xgboost", "bench_1000x8", "model.json"))
}

func BenchmarkDemoSingle(b *testing.B) {
	f := loadModel(b, "lead-demo", "model.ubj")
	rows := leads(b, f, 256)
	out := make([]float32, 1)
	nf := f.NumFeature()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := i % 256
		if err := f.Predict(rows[r*nf:(r+1)*nf], out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDemoContributions(b *testing.B) {
	benchContributions(b, loadModel(b, "lead-demo", "model.ubj"))
}

func Benchmark1000x8Contributions(b *testing.B) {
	benchContributions(b, loadModel(b, "xgboost", "bench_1000x8", "model.json"))
}

// benchContributions explains 256 demo leads in turn; the tables are built
// before the timer starts.
func benchContributions(b *testing.B, f *forest.Forest) {
	const n = 256
	rows := leads(b, f, n)
	nf := f.NumFeature()
	out := make([]float32, f.NumGroup()*(nf+1))
	if err := f.Contributions(rows[:nf], out); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		r := i % n
		if err := f.Contributions(rows[r*nf:(r+1)*nf], out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cputime.Process()-c0).Nanoseconds())/float64(b.N), "cpu-ns/row")
}

func BenchmarkDemoContributionsBatch(b *testing.B) {
	benchContributionsBatch(b, loadModel(b, "lead-demo", "model.ubj"))
}

func Benchmark1000x8ContributionsBatch(b *testing.B) {
	benchContributionsBatch(b, loadModel(b, "xgboost", "bench_1000x8", "model.json"))
}

// benchContributionsBatch explains 256 demo leads in one call; ns/op is
// per call, ns/row per lead.
func benchContributionsBatch(b *testing.B, f *forest.Forest) {
	const n = 256
	rows := leads(b, f, n)
	nf := f.NumFeature()
	out := make([]float32, n*f.NumGroup()*(nf+1))
	if err := f.ContributionsBatch(rows, out); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		if err := f.ContributionsBatch(rows, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
	b.ReportMetric(float64((cputime.Process()-c0).Nanoseconds())/float64(b.N*n), "cpu-ns/row")
}
