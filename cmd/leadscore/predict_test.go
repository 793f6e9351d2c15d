package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// runCLI runs the leadscore command in-process.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n got: %s\nwant: %s", name, got, want)
	}
}

// demoRef is the lead-demo reference: input rows and XGBoost's outputs.
type demoRef struct {
	rows       string // JSON array of the first n rows
	csv        string // the same rows as CSV with a shuffled header
	margin     []float64
	prediction []float64
	contribs   [][]float64
}

func loadRef(t *testing.T, n int) demoRef {
	t.Helper()
	var in struct {
		Names []string     `json:"feature_names"`
		Rows  [][]*float64 `json:"rows"`
	}
	var exp struct {
		Margin     []float64   `json:"margin"`
		Prediction []float64   `json:"prediction"`
		Contribs   [][]float64 `json:"contribs"`
	}
	for file, v := range map[string]any{"inputs.json": &in, "expected.json": &exp} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "lead-demo", file))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := json.Marshal(in.Rows[:n])
	if err != nil {
		t.Fatal(err)
	}
	// CSV with the columns in reverse order, to check header matching.
	var b strings.Builder
	for j := len(in.Names) - 1; j >= 0; j-- {
		b.WriteString(in.Names[j])
		if j > 0 {
			b.WriteByte(',')
		}
	}
	b.WriteString(",converted\n")
	for _, r := range in.Rows[:n] {
		for j := len(r) - 1; j >= 0; j-- {
			if r[j] != nil {
				b.WriteString(fmtFloat(*r[j]))
			}
			if j > 0 {
				b.WriteByte(',')
			}
		}
		b.WriteString(",0\n")
	}
	return demoRef{rows: string(rows), csv: b.String(), margin: exp.Margin[:n], prediction: exp.Prediction[:n], contribs: exp.Contribs[:n]}
}

func fmtFloat(v float64) string {
	data, _ := json.Marshal(v)
	return string(data)
}

func decodeNumbers(t *testing.T, s string) []float64 {
	t.Helper()
	var v []float64
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output %q: %v", s, err)
	}
	return v
}

func TestPredictMatchesXGBoost(t *testing.T) {
	ref := loadRef(t, 25)
	for _, c := range []struct {
		name  string
		stdin string
		args  []string
		want  []float64
	}{
		{"json prediction", ref.rows, []string{"predict"}, ref.prediction},
		{"json margin", ref.rows, []string{"predict", "--output", "margin"}, ref.margin},
		{"csv prediction", ref.csv, []string{"predict", "--format", "csv"}, ref.prediction},
		{"legacy model", ref.rows, []string{"predict", "--model", "../../testdata/lead-demo/model.model", "--output", "margin"}, ref.margin},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, c.stdin, c.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			got := decodeNumbers(t, out)
			if len(got) != len(c.want) {
				t.Fatalf("%d values, want %d", len(got), len(c.want))
			}
			for i := range got {
				if float32(got[i]) != float32(c.want[i]) {
					t.Errorf("row %d: %v, XGBoost %v", i, got[i], c.want[i])
				}
			}
		})
	}
	code, out, _ := runCLI(t, ref.rows, "predict", "--output", "contribs")
	var contribs [][]float64
	if code != 0 || json.Unmarshal([]byte(out), &contribs) != nil || len(contribs) != 25 {
		t.Fatalf("contribs: exit %d, %q", code, out)
	}
	for i, row := range contribs {
		for j, v := range row {
			if math.Abs(v-ref.contribs[i][j]) > 1e-5 {
				t.Errorf("contribution [%d][%d] = %v, XGBoost %v", i, j, v, ref.contribs[i][j])
			}
		}
	}
	code, out, _ = runCLI(t, ref.rows, "predict", "--output", "tier")
	tiers := decodeNumbers(t, out)
	if code != 0 || len(tiers) != 25 {
		t.Fatalf("tiers: %q", out)
	}
	for _, v := range tiers {
		if v < 1 || v > 5 || v != math.Trunc(v) {
			t.Errorf("tier %v", v)
		}
	}
}

func TestPredictMultiClassAndMissing(t *testing.T) {
	code, out, errOut := runCLI(t, `[[1,2,3,4,5,6],[null,null,null,null,null,null]]`,
		"predict", "--model", "../../testdata/xgboost/obj_multi_softprob/model.json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var probs [][]float64
	if err := json.Unmarshal([]byte(out), &probs); err != nil || len(probs) != 2 || len(probs[0]) != 4 {
		t.Fatalf("softprob output %q", out)
	}
	sum := 0.0
	for _, p := range probs[0] {
		sum += p
	}
	if math.Abs(sum-1) > 1e-5 {
		t.Errorf("probabilities sum to %v", sum)
	}
	// --missing 0: zeros score exactly like nulls.
	zeros := "[[" + strings.TrimSuffix(strings.Repeat("0,", 50), ",") + "],[" + strings.TrimSuffix(strings.Repeat("null,", 50), ",") + "]]"
	_, out, _ = runCLI(t, zeros, "predict", "--missing", "0")
	if v := decodeNumbers(t, out); len(v) != 2 || v[0] != v[1] {
		t.Errorf("--missing 0: %v", v)
	}
	_, out, _ = runCLI(t, zeros, "predict")
	if v := decodeNumbers(t, out); len(v) != 2 || v[0] == v[1] {
		t.Errorf("zeros are not missing by default: %v", v)
	}
}

func TestPredictErrors(t *testing.T) {
	for _, c := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"short row", `[[1,2,3]]`, []string{"predict"}, "row 0: has 3 values"},
		{"not a number", `[[` + strings.Repeat("1,", 49) + `"x"]]`, []string{"predict"}, "row 0, column 49"},
		{"csv column", "1,2\n", []string{"predict", "--format", "csv"}, "row 0: has 2 fields"},
		{"bad output", `[]`, []string{"predict", "--output", "leaves"}, "--output"},
		{"bad format", `[]`, []string{"predict", "--format", "xml"}, "--format"},
		{"bad missing", `[]`, []string{"predict", "--missing", "zero"}, "--missing"},
		{"absent model", `[]`, []string{"predict", "--model", "/nonexistent/model.json"}, "model"},
		{"absent input", ``, []string{"predict", "--data", "/nonexistent/rows.json"}, "rows.json"},
		{"tier multi", `[]`, []string{"predict", "--model", "../../testdata/xgboost/obj_multi_softprob/model.json", "--output", "tier"}, "tier"},
		{"unknown command", ``, []string{"frobnicate"}, "unknown command"},
		{"bad flag", ``, []string{"predict", "--nope"}, "nope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, c.stdin, c.args...)
			if code != 2 || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 && c.name != "bad flag" && c.name != "unknown command" {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line with %q", code, errOut, c.want)
			}
		})
	}
}

func TestModelInspect(t *testing.T) {
	code, out, errOut := runCLI(t, "", "model", "inspect", "demo")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "inspect-demo/stdout", out)
	code, out, _ = runCLI(t, "", "model", "inspect", "../../testdata/xgboost/cat_partition/model.json", "--json")
	var r modelReport
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("inspect --json: exit %d %q", code, out)
	}
	if r.Format != "json" || r.Objective != "binary:logistic" || r.Trees == 0 || r.Features != 4 || r.XGBoostVersion != "1.7.4" || r.Trees == r.PerfectTrees+r.FlatTrees {
		t.Errorf("report %+v", r)
	}
	if code, _, _ := runCLI(t, "", "model", "inspect"); code != 2 {
		t.Error("inspect without a path")
	}
	if code, _, _ := runCLI(t, "", "model", "push"); code != 2 {
		t.Error("unknown model command")
	}
}

func TestBench(t *testing.T) {
	code, out, errOut := runCLI(t, "", "bench", "--rows", "200", "--batch", "64", "--threads", "2", "--repeats", "1", "--single", "50", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.RowsPerSec <= 0 || r.SingleP50us <= 0 || r.SingleP99us < r.SingleP50us || r.Threads != 2 {
		t.Errorf("result %+v", r)
	}
	code, out, _ = runCLI(t, "", "bench", "--input", "../../testdata/lead-demo/leads_10k.csv", "--rows", "100", "--repeats", "1", "--single", "10")
	if code != 0 || !strings.Contains(out, "rows/s") {
		t.Errorf("table: exit %d %q", code, out)
	}
	if code, _, _ := runCLI(t, "", "bench", "--rows", "0"); code != 2 {
		t.Error("--rows 0 accepted")
	}
	code, out, errOut = runCLI(t, "", "bench", "--rows", "100", "--repeats", "1", "--single", "10", "--explain", "5", "--json")
	if code != 0 {
		t.Fatalf("--explain: exit %d: %s", code, errOut)
	}
	r = benchResult{}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.ExplainRows != 5 || r.ExplainUsPerRow <= 0 || r.ExplainP99us <= 0 {
		t.Errorf("--explain result %+v", r)
	}
	if code, _, _ := runCLI(t, "", "bench", "--explain", "-1"); code != 2 {
		t.Error("--explain -1 accepted")
	}
	code, out, errOut = runCLI(t, "", "bench", "--rows", "100", "--repeats", "1", "--single", "10", "--explain", "7", "--explain-batch", "3", "--json")
	if code != 0 {
		t.Fatalf("--explain-batch: exit %d: %s", code, errOut)
	}
	r = benchResult{}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.ExplainRows != 7 || r.ExplainBatch != 3 || r.ExplainBatchUsPerRow <= 0 || r.ExplainBatchCPUUsPerRow < 0 {
		t.Errorf("--explain-batch result %+v", r)
	}
	if code, _, _ := runCLI(t, "", "bench", "--explain", "5", "--explain-batch", "-1"); code != 2 {
		t.Error("--explain-batch -1 accepted")
	}
}

func TestVersionAndHelp(t *testing.T) {
	if code, out, _ := runCLI(t, "", "version"); code != 0 || !strings.HasPrefix(out, "leadscore ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, "", "help"); code != 0 || !strings.Contains(out, "predict") {
		t.Errorf("help: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, "", "predict", "-h"); code != 0 || !strings.Contains(out, "--output") {
		t.Errorf("predict -h: %d %q", code, out)
	}
}
