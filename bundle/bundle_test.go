package bundle

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/xgboost"
)

// demoInputs returns reference rows and XGBoost 1.7.4's probabilities for
// them.
func demoInputs(t *testing.T) ([]float32, []float64) {
	t.Helper()
	var in struct {
		Rows [][]*float64 `json:"rows"`
	}
	var exp struct {
		Prediction []float64 `json:"prediction"`
	}
	for path, v := range map[string]any{"inputs.json": &in, "expected.json": &exp} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "lead-demo", path))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatal(err)
		}
	}
	var rows []float32
	for _, r := range in.Rows {
		for _, v := range r {
			if v == nil {
				rows = append(rows, float32(math.NaN()))
			} else {
				rows = append(rows, float32(*v))
			}
		}
	}
	return rows, exp.Prediction
}

func TestDemoScores(t *testing.T) {
	b, err := Demo()
	if err != nil {
		t.Fatal(err)
	}
	info := b.Info()
	if info.Name != "lead-demo" || info.Version == "" || len(info.Features) != 50 || b.NumFeature() != 50 {
		t.Fatalf("info %+v", info)
	}
	if err := info.Tiers.Validate(); err != nil {
		t.Fatal(err)
	}
	rows, want := demoInputs(t)
	n := len(want)
	out := make([]leadscore.Result, n)
	if err := b.Score(context.Background(), rows, 0, out); err != nil {
		t.Fatal(err)
	}
	for i, r := range out {
		if float32(r.Probability) != float32(want[i]) && math.Abs(r.Probability-want[i]) > 1e-7 {
			t.Errorf("row %d: probability %v, XGBoost %v", i, r.Probability, want[i])
		}
		if r.Score != info.Tiers.Tier(r.Probability) || r.Reasons != nil {
			t.Errorf("row %d: %+v", i, r)
		}
	}
	// Reason codes name features and carry the lead's values.
	one := make([]leadscore.Result, 1)
	if err := b.Score(context.Background(), rows[:50], 3, one); err != nil {
		t.Fatal(err)
	}
	if len(one[0].Reasons) == 0 || len(one[0].Reasons) > 6 {
		t.Fatalf("reasons %+v", one[0].Reasons)
	}
	for _, r := range one[0].Reasons {
		j := indexOf(b.FeatureNames(), r.Feature)
		if j < 0 || (r.Value != nil && float32(*r.Value) != rows[j]) {
			t.Errorf("reason %+v does not match the lead", r)
		}
	}
	// A multi-lead request is explained in one batch call: each lead's
	// reasons are those it gets alone.
	k := min(n, 40)
	many := make([]leadscore.Result, k)
	if err := b.Score(context.Background(), slices.Clone(rows[:k*50]), 3, many); err != nil {
		t.Fatal(err)
	}
	for i := range many {
		if err := b.Score(context.Background(), slices.Clone(rows[i*50:(i+1)*50]), 3, one); err != nil {
			t.Fatal(err)
		}
		got, alone := many[i].Reasons, one[0].Reasons
		if len(got) != len(alone) {
			t.Fatalf("lead %d: %d reasons in the batch, %d alone", i, len(got), len(alone))
		}
		for j := range got {
			if got[j].Feature != alone[j].Feature || math.Abs(got[j].Contribution-alone[j].Contribution) > 1e-6 {
				t.Errorf("lead %d reason %d: %+v in the batch, %+v alone", i, j, got[j], alone[j])
			}
		}
	}
	if b.Format() != "ubjson" || !strings.HasPrefix(b.Source(), "embedded") || b.Forest() == nil || b.Manifest().Model != "model.ubj" {
		t.Error("accessors")
	}
	if data, err := b.ReadBaseline("statistics.json"); err != nil || len(data) == 0 {
		t.Errorf("demo baseline: %v", err)
	}
	if _, err := b.ReadBaseline("absent.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent baseline file: %v", err)
	}
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

func TestScoreErrors(t *testing.T) {
	b, err := Demo()
	if err != nil {
		t.Fatal(err)
	}
	if b.Score(context.Background(), make([]float32, 49), 0, make([]leadscore.Result, 1)) == nil {
		t.Error("partial row accepted")
	}
	if b.Score(context.Background(), make([]float32, 100), 0, make([]leadscore.Result, 1)) == nil {
		t.Error("short output accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if b.Score(ctx, make([]float32, 50), 0, make([]leadscore.Result, 1)) == nil {
		t.Error("cancelled context scored")
	}
}

// writeBundle writes a bundle directory with the demo model and manifest m.
func writeBundle(t *testing.T, m string) string {
	t.Helper()
	dir := t.TempDir()
	model, err := os.ReadFile(filepath.Join("..", "testdata", "lead-demo", "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.json"), model, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(m), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoad(t *testing.T) {
	dir := writeBundle(t, `{"name":"acme","version":"7","model":"model.json","tiers":[0.1,0.2,0.3,0.4],"missing":0,"baseline":"base"}`)
	if err := os.Mkdir(filepath.Join(dir, "base"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "base", "statistics.json"), []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Info().Name != "acme" || b.Info().Version != "7" || b.Info().Features[0].Name != "company_size_log" {
		t.Errorf("info %+v", b.Info())
	}
	if data, err := b.ReadBaseline("statistics.json"); err != nil || string(data) != "{}" {
		t.Errorf("baseline %q %v", data, err)
	}
	// missing: 0 makes zeros missing: an all-zero lead scores as all-missing.
	zero, nan := make([]float32, 50), make([]float32, 50)
	for i := range nan {
		nan[i] = float32(math.NaN())
	}
	out := make([]leadscore.Result, 2)
	if err := b.Score(context.Background(), append(zero, nan...), 0, out); err != nil {
		t.Fatal(err)
	}
	if out[0].Probability != out[1].Probability {
		t.Errorf("zeros %v, missing %v", out[0].Probability, out[1].Probability)
	}

	bare, err := Load(filepath.Join("..", "testdata", "lead-demo", "model.model"))
	if err != nil {
		t.Fatal(err)
	}
	if bare.Info().Name != "model" || bare.Info().Tiers != DefaultTiers || bare.Info().Features[3].Name != "f3" {
		t.Errorf("bare info %+v", bare.Info())
	}
}

func TestLoadErrors(t *testing.T) {
	cases := map[string]string{
		"unknown field":   `{"model":"model.json","tier":[0.1,0.2,0.3,0.4]}`,
		"no model":        `{"name":"x"}`,
		"escaping path":   `{"model":"../model.json"}`,
		"absolute path":   `{"model":"/etc/passwd"}`,
		"escaping base":   `{"model":"model.json","baseline":"../x"}`,
		"absent model":    `{"model":"nope.json"}`,
		"bad tiers":       `{"model":"model.json","tiers":[0.5,0.4,0.3,0.2]}`,
		"feature count":   `{"model":"model.json","features":[{"name":"a"}]}`,
		"not json":        `{"model":`,
		"renamed feature": `{"model":"model.json","features":[` + strings.Repeat(`{"name":"x"},`, 49) + `{"name":"y"}]}`,
	}
	for name, m := range cases {
		if _, err := Load(writeBundle(t, m)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("absent path loaded")
	}
	// A multi-class model cannot be a scoring bundle.
	if _, err := Load(filepath.Join("..", "testdata", "xgboost", "obj_multi_softprob", "model.json")); err == nil {
		t.Error("multi-class model loaded as a bundle")
	}
	garbage := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(garbage, []byte(`{"learner":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(garbage); err == nil {
		t.Error("garbage model loaded")
	}
}

// TestModelOverOneGiBRefused: SECURITY.md promises that model files over
// xgboost.MaxModelBytes (1 GiB) are refused before they are read, as a
// bare model file and as a bundle's model. The files are sparse: nothing
// is written or read.
func TestModelOverOneGiBRefused(t *testing.T) {
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.json")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(xgboost.MaxModelBytes + 1); err != nil {
		t.Skipf("cannot make a sparse file: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(huge); err == nil || !strings.Contains(err.Error(), "more than the 1073741824 allowed") {
		t.Errorf("bare model of 1 GiB + 1 byte: %v", err)
	}
	manifest := `{"name": "huge", "version": "1", "model": "huge.json"}`
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "more than the 1073741824 allowed") {
		t.Errorf("bundle with a model of 1 GiB + 1 byte: %v", err)
	}
}
