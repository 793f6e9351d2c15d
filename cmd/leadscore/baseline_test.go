package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/monitor"
)

// TestBaselineDemo makes the demo baseline from the held-out leads: the
// files are those the demo bundle embeds, and the summary is the golden
// one.
func TestBaselineDemo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "base")
	code, stdout, stderr := runCLI(t, "", "baseline", "--data", filepath.Join("..", "..", "testdata", "lead-demo", "leads_10k.csv"), "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "baseline-demo/stdout", strings.ReplaceAll(stdout, out, "OUT"))
	b, err := bundle.Demo()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{monitor.StatisticsFile, monitor.ConstraintsFile, monitor.ScoresFile, monitor.BiasFile, monitor.AttributionFile} {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := b.ReadBaseline(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from bundle/demo/baseline/%s: regenerate it with leadscore baseline", name, name)
		}
	}
}

// TestBaselineParquet reads the baseline data from Parquet, with a bare
// model file and the Simple method.
func TestBaselineParquet(t *testing.T) {
	dir := t.TempDir()
	demo, err := bundle.Demo()
	if err != nil {
		t.Fatal(err)
	}
	g := parquet.Group{"converted": parquet.Int(32)}
	for _, name := range demo.FeatureNames() {
		g[name] = parquet.Optional(parquet.Leaf(parquet.FloatType))
	}
	schema := parquet.NewSchema("lead", g)
	f, err := os.Create(filepath.Join(dir, "leads.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewWriter(f, schema)
	var rows []parquet.Row
	for r := range 300 {
		var pr parquet.Row
		for c, path := range schema.Columns() {
			if path[0] == "converted" {
				pr = append(pr, parquet.Int32Value(int32(r%5/4)).Level(0, 0, c))
				continue
			}
			if r%10 == 0 && path[0] == "annual_revenue_log" {
				pr = append(pr, parquet.NullValue().Level(0, 0, c))
				continue
			}
			pr = append(pr, parquet.FloatValue(float32((r*7+c)%13)).Level(0, 1, c))
		}
		rows = append(rows, pr)
	}
	if _, err := w.WriteRows(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	model := filepath.Join("..", "..", "testdata", "lead-demo", "model.json")
	out := filepath.Join(dir, "base")
	code, stdout, stderr := runCLI(t, "", "baseline", "--data", filepath.Join(dir, "leads.parquet"), "--model", model,
		"--out", out, "--method", "Simple", "--threshold", "0.2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "baseline of 300 rows, 50 features (50 Integral, 0 Fractional)") ||
		!strings.Contains(stdout, "label converted: 60 of 300 converted") || !strings.Contains(stdout, "model model ") {
		t.Errorf("stdout:\n%s", stdout)
	}
	b, err := monitor.LoadBaseline(out)
	if err != nil {
		t.Fatal(err)
	}
	dc := b.Constraints.MonitoringConfig.DistributionConstraints
	if dc.ComparisonMethod != "Simple" || dc.ComparisonThreshold != 0.2 || *b.Constraints.Features[1].Completeness != 0.9 {
		t.Errorf("constraints %+v %v", dc, *b.Constraints.Features[1].Completeness)
	}
}

func TestBaselineErrors(t *testing.T) {
	dir := t.TempDir()
	leads := filepath.Join("..", "..", "testdata", "lead-demo", "leads_10k.csv")
	badLabel := filepath.Join(dir, "bad.csv")
	data, err := os.ReadFile(leads)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(data), "\n", 4)
	// The label is the last column: make the first row's 3.
	lines[1] = lines[1][:strings.LastIndexByte(lines[1], ',')] + ",3"
	if err := os.WriteFile(badLabel, []byte(strings.Join(lines[:3], "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.csv")
	if err := os.WriteFile(empty, []byte(lines[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	multi := filepath.Join("..", "..", "testdata", "xgboost", "obj_multi_softmax", "model.json")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--out", dir}, 2, "needs --data"},
		{[]string{"--data", leads}, 2, "needs --data"},
		{[]string{"--data", leads, "--out", dir, "--threshold", "2"}, 2, "--threshold"},
		{[]string{"--data", leads, "--out", dir, "--method", "Exact"}, 2, "--method"},
		{[]string{"--data", filepath.Join(dir, "nope.csv"), "--out", dir}, 2, "no such file"},
		{[]string{"--data", badLabel, "--out", dir}, 2, "label converted is 3"},
		{[]string{"--data", empty, "--out", dir}, 2, "no rows"},
		{[]string{"--data", leads, "--out", dir, "--model", multi}, 2, "binary classifier"},
		{[]string{"--data", leads, "--out", dir, "--model", filepath.Join(dir, "nope")}, 2, "model"},
		{[]string{"--data", leads, "--out", dir, "--format", "xml"}, 2, "--format"},
		{[]string{"--data", leads, "--out", filepath.Join(os.DevNull, "x")}, 1, "write baseline"},
		{[]string{"-h"}, 0, ""},
	} {
		code, _, stderr := runCLI(t, "", append([]string{"baseline"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, stderr)
		}
	}
	// --label "" leaves the quality figures out.
	out := filepath.Join(dir, "nolabel")
	if code, _, stderr := runCLI(t, "", "baseline", "--data", badLabel, "--out", out, "--label", ""); code != 0 {
		t.Fatalf("--label '': %s", stderr)
	}
	var sc map[string]any
	raw, err := os.ReadFile(filepath.Join(out, monitor.ScoresFile))
	if err != nil || json.Unmarshal(raw, &sc) != nil {
		t.Fatal(err)
	}
	if _, ok := sc["binary_classification_metrics"]; ok {
		t.Error("quality figures without a label")
	}
}

// TestBaselineFacets: `leadscore baseline` takes the facets from flags
// and writes bias.json with Clarify's pre-training metrics of the labels
// (CI, DPL, KL, JS, KS) and the model's post-training metrics on the data,
// matching numpy's values of the facet fixture within 1e-9.
func TestBaselineFacets(t *testing.T) {
	out := filepath.Join(t.TempDir(), "baseline")
	args := append([]string{"baseline", "--model", filepath.Join(biasFixtureDir, "biased.json"),
		"--data", filepath.Join(biasFixtureDir, "leads.csv"), "--out", out, "--attribution-rows", "0"}, biasFacetFlags...)
	code, stdout, stderr := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "bias: 4 facet groups, positive probability>=0.3") {
		t.Errorf("stdout: %s", stdout)
	}
	raw, err := os.ReadFile(filepath.Join(biasFixtureDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp fixtureExpected
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	base, err := monitor.LoadBaseline(out)
	if err != nil {
		t.Fatal(err)
	}
	if base.Bias == nil || base.Bias.Config.GroupBy != "industry" || len(base.Bias.Config.Facets) != 2 {
		t.Fatalf("bias.json config %+v", base.Bias)
	}
	checkFixtureMetrics(t, exp, "biased", base.Bias.PreTraining, true)
	checkFixtureMetrics(t, exp, "biased", base.Bias.PostTraining, false)

	for _, bad := range [][]string{{"--facet", "no_such=1"}, {"--facet", "region=1", "--positive", "tier>=9"}, {"--facet", "region<x"},
		{"--facet", "region=1", "--group-by", "no_such"}} {
		args := append([]string{"baseline", "--model", filepath.Join(biasFixtureDir, "biased.json"),
			"--data", filepath.Join(biasFixtureDir, "leads.csv"), "--out", t.TempDir()}, bad...)
		if code, _, stderr := runCLI(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage): %s", bad, code, stderr)
		}
	}
}
