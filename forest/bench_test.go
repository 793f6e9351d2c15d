package forest_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/leadscore/leadscore/forest"
	"github.com/leadscore/leadscore/xgboost"
)

func loadDemo(tb testing.TB) *forest.Forest {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "lead-demo", "model.ubj"))
	if err != nil {
		tb.Fatal(err)
	}
	f, _, err := xgboost.Load(data)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// demoRows returns n pseudo-random rows shaped like leads (about 10% missing).
func demoRows(f *forest.Forest, n int) []float32 {
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]float32, n*f.NumFeature())
	for i := range rows {
		rows[i] = float32(rng.NormFloat64()*3 + 2)
		if rng.IntN(10) == 0 {
			rows[i] = float32(nan())
		}
	}
	return rows
}

func nan() float64 { var z float64; return z / z }

func BenchmarkPredictBatch(b *testing.B) {
	f := loadDemo(b)
	const n = 1024
	rows := demoRows(f, n)
	out := make([]float32, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := f.Predict(rows, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkPredictSingle(b *testing.B) {
	f := loadDemo(b)
	rows := demoRows(f, 1)
	out := make([]float32, 1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := f.Predict(rows, out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkContributions(b *testing.B) {
	f := loadDemo(b)
	rows := demoRows(f, 1)
	out := make([]float32, f.NumFeature()+1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := f.Contributions(rows, out); err != nil {
			b.Fatal(err)
		}
	}
}
