package xgboost

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// demoRef holds the lead-demo reference outputs from XGBoost 1.7.4.
type demoRef struct {
	Inputs   [][]*float64
	Expected struct {
		Margin     []float64   `json:"margin"`
		Prediction []float64   `json:"prediction"`
		Contribs   [][]float64 `json:"contribs"`
	}
}

func loadDemoRef(t testing.TB) demoRef {
	t.Helper()
	var ref demoRef
	var in struct {
		Rows [][]*float64 `json:"rows"`
	}
	readJSONFile(t, filepath.Join("..", "testdata", "lead-demo", "inputs.json"), &in)
	ref.Inputs = in.Rows
	readJSONFile(t, filepath.Join("..", "testdata", "lead-demo", "expected.json"), &ref.Expected)
	return ref
}

func readJSONFile(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func flatRows(rows [][]*float64) []float32 {
	var out []float32
	for _, r := range rows {
		for _, v := range r {
			if v == nil {
				out = append(out, float32(math.NaN()))
			} else {
				out = append(out, float32(*v))
			}
		}
	}
	return out
}

func TestDemoParity(t *testing.T) {
	ref := loadDemoRef(t)
	rows := flatRows(ref.Inputs)
	for _, file := range []string{"model.json", "model.ubj", "model.model"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "testdata", "lead-demo", file))
			if err != nil {
				t.Fatal(err)
			}
			f, _, err := Load(data)
			if err != nil {
				t.Fatal(err)
			}
			n := len(ref.Inputs)
			margin := make([]float32, n)
			if err := f.PredictMargin(rows, margin); err != nil {
				t.Fatal(err)
			}
			pred := make([]float32, n)
			if err := f.Predict(rows, pred); err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i := range margin {
				if margin[i] != float32(ref.Expected.Margin[i]) {
					bad++
					if bad < 5 {
						t.Errorf("row %d margin %v want %v", i, margin[i], ref.Expected.Margin[i])
					}
				}
				if d := ulps(pred[i], float32(ref.Expected.Prediction[i])); d > 2 {
					t.Errorf("row %d prediction %v want %v (%d ulp)", i, pred[i], ref.Expected.Prediction[i], d)
				}
			}
			if file != "model.json" {
				return // TreeSHAP does not depend on the format
			}
			contrib := make([]float32, f.NumFeature()+1)
			worst := 0.0
			for i := 0; i < n; i += 3 { // every third row keeps the race-detector run short
				if err := f.Contributions(rows[i*50:(i+1)*50], contrib); err != nil {
					t.Fatal(err)
				}
				for j, c := range contrib {
					worst = math.Max(worst, math.Abs(float64(c)-ref.Expected.Contribs[i][j]))
				}
			}
			if worst > 1e-5 {
				t.Errorf("contributions differ by up to %g", worst)
			}
			t.Logf("%d margin mismatches, worst contribution diff %g", bad, worst)
		})
	}
}

func ulps(a, b float32) int64 {
	if a == b {
		return 0
	}
	ia, ib := int64(math.Float32bits(a)), int64(math.Float32bits(b))
	if ia > ib {
		return ia - ib
	}
	return ib - ia
}
