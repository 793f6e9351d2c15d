package xgboost

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/leadscore/leadscore/forest"
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
	checkBatchMatchesRows(t, f)
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

// checkBatchMatchesRows scores 19 rows (a block of 16 and a partial one:
// the vector walk where the CPU has it) in one batch and one by one (the
// scalar single-row walk): the margins must agree bit for bit.
func checkBatchMatchesRows(t *testing.T, f *forest.Forest) {
	nf, g := f.NumFeature(), f.NumGroup()
	if nf > 1<<12 {
		return
	}
	const n = 19
	vals := []float32{float32(math.NaN()), 0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.MaxFloat32, -math.MaxFloat32, 0.5, -1, 1e30, 3}
	rows := make([]float32, n*nf)
	for i := range rows {
		rows[i] = vals[(i*7+i/nf)%len(vals)]
	}
	batch := make([]float32, n*g)
	if err := f.PredictMargin(rows, batch); err != nil {
		t.Fatalf("batch margins on a valid model: %v", err)
	}
	one := make([]float32, g)
	for r := 0; r < n; r++ {
		if err := f.PredictMargin(rows[r*nf:(r+1)*nf], one); err != nil {
			t.Fatalf("row margins on a valid model: %v", err)
		}
		for k := range one {
			if b := batch[r*g+k]; math.Float32bits(b) != math.Float32bits(one[k]) {
				t.Fatalf("row %d group %d: batch %v, one row %v", r, k, b, one[k])
			}
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
