package xgboost

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds returns small real models in every format, whole and cut short.
func fuzzSeeds(f *testing.F, pattern string) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "xgboost", "*", pattern))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) > 64<<10 {
			continue
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte(`{"learner":{"learner_model_param":{"num_feature":"2","base_score":"[5E-1]"},"objective":{"name":"reg:squarederror"},` +
		`"gradient_booster":{"name":"gbtree","model":{"trees":[{"left_children":[1,-1,-1],"right_children":[2,-1,-1],` +
		`"split_indices":[0,0,0],"split_conditions":[0.5,NaN,2],"default_left":[true,false,false],"sum_hessian":[2,1,1]}],"tree_info":[0]}}}}`))
}

// checkLoad loads data and, if it is a valid model, scores a few rows and
// explains one: nothing may panic or hang.
func checkLoad(t *testing.T, data []byte) {
	f, _, err := Load(data)
	if err != nil {
		return
	}
	nf := f.NumFeature()
	if nf > 1<<16 {
		return
	}
	rows := make([]float32, 3*nf)
	for i := range rows[:nf] {
		rows[i] = float32(math.NaN())
	}
	for i := nf; i < 2*nf; i++ {
		rows[i] = float32(i%7) - 3
	}
	out := make([]float32, 3*f.NumGroup())
	if err := f.Predict(rows, out); err != nil {
		t.Fatalf("predict on a valid model: %v", err)
	}
	contrib := make([]float32, f.NumGroup()*(nf+1))
	if err := f.Contributions(rows[nf:2*nf], contrib); err != nil {
		t.Fatalf("contributions on a valid model: %v", err)
	}
	// The batch path gives every row its one-row result (within 1e-6 of
	// its size: one row may take the polynomial form, the batch tables).
	batch := make([]float32, 3*len(contrib))
	if err := f.ContributionsBatch(rows, batch); err != nil {
		t.Fatalf("batch contributions on a valid model: %v", err)
	}
	for j, c := range contrib {
		b := batch[len(contrib)+j]
		if d := math.Abs(float64(b) - float64(c)); !(d <= 1e-6*math.Max(1, math.Abs(float64(c)))) && !(b != b && c != c) && b != c {
			t.Fatalf("contribution %d: batch %v, one row %v", j, b, c)
		}
	}
}

func FuzzReadJSON(f *testing.F) {
	fuzzSeeds(f, "*.json")
	f.Fuzz(checkLoad)
}

func FuzzReadUBJSON(f *testing.F) {
	fuzzSeeds(f, "*.ubj")
	f.Fuzz(checkLoad)
}
