package xgboost

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is a testdata/xgboost/<case>/expected.json written by
// gen_fixtures.py from XGBoost 1.7.4.
type fixture struct {
	Case       string       `json:"case"`
	Objective  string       `json:"objective"`
	Booster    string       `json:"booster"`
	NumGroup   int          `json:"num_group"`
	NumFeature int          `json:"num_feature"`
	Missing    *float64     `json:"missing"`
	Inputs     [][]*float64 `json:"inputs"`
	Margin     [][]number   `json:"margin"`
	Prediction [][]number   `json:"prediction"`
	Contribs   [][]number   `json:"contribs"`
}

// number is an output of the fixtures: a JSON number, or one of the strings
// "Infinity", "-Infinity" and "NaN" that gen_fixtures.py writes for the
// non-finite outputs JSON numbers cannot hold (gblinear fed +-float32 max).
type number float64

func (n *number) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"Infinity"`:
		*n = number(math.Inf(1))
	case `"-Infinity"`:
		*n = number(math.Inf(-1))
	case `"NaN"`:
		*n = number(math.NaN())
	default:
		var f float64
		if err := json.Unmarshal(b, &f); err != nil {
			return err
		}
		*n = number(f)
	}
	return nil
}

// within reports whether got is within tol of want, where a non-finite want
// needs got to be the same infinity, or NaN.
func within(got float32, want number, tol float64) bool {
	w := float64(want)
	switch {
	case math.IsNaN(w):
		return got != got
	case math.IsInf(w, 0):
		return float64(got) == w
	}
	return math.Abs(float64(got)-w) <= tol
}

// TestParity checks every model file of every fixture case against XGBoost's
// own outputs: margins bit for bit, predictions within 2 float32 ulp,
// contributions within 1e-5.
func TestParity(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "testdata", "xgboost", "*", "expected.json"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures found: %v", err)
	}
	for _, exp := range dirs {
		dir := filepath.Dir(exp)
		var fx fixture
		readJSONFile(t, exp, &fx)
		models, _ := filepath.Glob(filepath.Join(dir, "model*"))
		if len(models) == 0 {
			t.Fatalf("%s: no model files", dir)
		}
		rows := flatRows(fx.Inputs)
		if fx.Missing != nil {
			for i, v := range rows {
				if v == float32(*fx.Missing) {
					rows[i] = float32(math.NaN())
				}
			}
		}
		for _, path := range models {
			name := filepath.Base(dir) + "/" + filepath.Base(path)
			t.Run(name, func(t *testing.T) {
				checkParity(t, path, &fx, rows)
			})
		}
	}
}

func checkParity(t *testing.T, path string, fx *fixture, rows []float32) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, format, err := Load(data)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if strings.HasSuffix(path, ".model") != (format == FormatLegacy) {
		t.Errorf("detected format %s", format)
	}
	if f.NumFeature() != fx.NumFeature || f.NumGroup() != fx.NumGroup || f.Objective() != fx.Objective {
		t.Fatalf("model has %d features, %d groups, objective %s; want %d, %d, %s",
			f.NumFeature(), f.NumGroup(), f.Objective(), fx.NumFeature, fx.NumGroup, fx.Objective)
	}
	n, g := len(fx.Inputs), fx.NumGroup
	margin := make([]float32, n*g)
	if err := f.PredictMargin(rows, margin); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i := 0; i < n; i++ {
		for k := 0; k < g; k++ {
			if got, want := margin[i*g+k], float32(fx.Margin[i][k]); got != want && !(got != got && want != want) && bad < 5 {
				bad++
				t.Errorf("row %d group %d: margin %v, XGBoost %v", i, k, got, want)
			}
		}
	}
	pred := make([]float32, n*g)
	if err := f.Predict(rows, pred); err != nil {
		t.Fatal(err)
	}
	o := f.NumOutput()
	bad = 0
	for i := 0; i < n; i++ {
		for k := 0; k < o; k++ {
			got, want := pred[i*o+k], float32(fx.Prediction[i][k])
			if d := ulps(got, want); d > 2 && !(got != got && want != want) && bad < 5 {
				bad++
				t.Errorf("row %d output %d: prediction %v, XGBoost %v (%d ulp)", i, k, got, want, d)
			}
		}
	}
	// TreeSHAP does not depend on the file format, and it is slow under the
	// race detector: check it on the JSON file, for up to 48 rows.
	if fx.Contribs == nil || filepath.Base(path) != "model.json" {
		return
	}
	// The batch path (blocks of forest.ExplainBlockRows rows, tree by
	// tree, from the tables) must give every row its one-row result
	// within 1e-6 (one row takes the polynomial form for deep trees):
	// 48 rows make a full block and a partial one.
	n = min(n, 48)
	w := g * (fx.NumFeature + 1)
	batch := make([]float32, n*w)
	if err := f.ContributionsBatch(rows[:n*fx.NumFeature], batch); err != nil {
		t.Fatal(err)
	}
	contrib := make([]float32, w)
	bad = 0
	for i := 0; i < n; i++ {
		if err := f.Contributions(rows[i*fx.NumFeature:(i+1)*fx.NumFeature], contrib); err != nil {
			t.Fatal(err)
		}
		for j, c := range contrib {
			if !within(c, fx.Contribs[i][j], 1e-5) && bad < 5 {
				bad++
				t.Errorf("row %d contribution %d: %v, XGBoost %v", i, j, c, fx.Contribs[i][j])
			}
			if b := batch[i*w+j]; (!within(b, number(c), 1e-6) || !within(b, fx.Contribs[i][j], 1e-5)) && bad < 5 {
				bad++
				t.Errorf("row %d contribution %d: batch %v, one row %v, XGBoost %v", i, j, b, c, fx.Contribs[i][j])
			}
		}
	}
}
