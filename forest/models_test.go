package forest_test

import (
	"math"
	"testing"

	"github.com/leadscore/leadscore/forest"
)

// TestModelsMatchReference checks the batch kernels (blocks of eight rows,
// or of sixteen with the vector kernel, the last one partial) and the
// single-row kernel bit for bit against the per-tree reference walk, on the
// 10,000 held-out demo leads with the demo model and on 2,000 of them with
// the 1000-tree depth-8 model.
func TestModelsMatchReference(t *testing.T) {
	for _, vec := range []bool{true, false} {
		if vec && !forest.HaveVector {
			continue
		}
		t.Run(map[bool]string{true: "vector", false: "go"}[vec], func(t *testing.T) {
			defer forest.SetVector(forest.SetVector(vec))
			modelsMatchReference(t)
		})
	}
}

func modelsMatchReference(t *testing.T) {
	for _, m := range []struct {
		name string
		path []string
		rows int
	}{
		{"demo", []string{"lead-demo", "model.ubj"}, 10000},
		{"1000x8", []string{"xgboost", "bench_1000x8", "model.json"}, 2000},
	} {
		t.Run(m.name, func(t *testing.T) {
			f := loadModel(t, m.path...)
			nf, g := f.NumFeature(), f.NumGroup()
			n := m.rows - 3 // a partial last block
			rows := leads(t, f, m.rows)[:n*nf]
			batch := make([]float32, n*g)
			if err := f.PredictMargin(rows, batch); err != nil {
				t.Fatal(err)
			}
			one := make([]float32, g)
			for r := 0; r < n; r++ {
				row := rows[r*nf : (r+1)*nf]
				want := forest.ReferenceMargins(f, row)
				if err := f.PredictMargin(row, one); err != nil {
					t.Fatal(err)
				}
				for k := range want {
					if got := batch[r*g+k]; math.Float32bits(got) != math.Float32bits(want[k]) {
						t.Fatalf("row %d group %d: batch %v, reference %v", r, k, got, want[k])
					}
					if math.Float32bits(one[k]) != math.Float32bits(want[k]) {
						t.Fatalf("row %d group %d: single %v, reference %v", r, k, one[k], want[k])
					}
				}
			}
		})
	}
}
