package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/monitor"
)

const demoModel = "../../testdata/lead-demo/model.json"

// TestBundleInit: a notebook's model.json and its held-out data become a
// bundle whose cut-offs split the data as the demo's do (the demo bundle's
// cut-offs come from the same model and data), with TIERS.md and a
// baseline.
func TestBundleInit(t *testing.T) {
	out := filepath.Join(t.TempDir(), "b")
	code, stdout, stderr := runCLI(t, "", "bundle", "init", "--model", demoModel, "--data", demoCSV, "--out", out, "--name", "lead-x", "--version", "7")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	demo, err := bundle.Demo()
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	m := b.Manifest()
	if m.Tiers != demo.Manifest().Tiers || b.UsesDefaultTiers() || m.Name != "lead-x" || m.Version != "7" || len(m.Features) != 50 {
		t.Errorf("manifest %+v, want the demo's cut-offs %v", m, demo.Manifest().Tiers)
	}
	if f := m.Features[0]; f.Name != "company_size_log" || f.Min != 0 || f.Max != 11.8264 {
		t.Errorf("feature 0 %+v", f)
	}
	tiers, _ := os.ReadFile(filepath.Join(out, "TIERS.md"))
	for _, want := range []string{"| 5 | [0.51, 1) | 1007 | 10.1% | 723 | 71.8% | 46.2% | 4.58 |", "Overall conversion rate: 15.7% (1566 of 10000)"} {
		if !strings.Contains(string(tiers), want) {
			t.Errorf("TIERS.md lacks %q:\n%s", want, tiers)
		}
	}
	for _, f := range []string{"baseline/statistics.json", "baseline/constraints.json", "baseline/scores.json", "model.json"} {
		if !fileExists(filepath.Join(out, f)) {
			t.Errorf("no %s", f)
		}
	}
	if !strings.Contains(stdout, "AUC 0.8893") {
		t.Errorf("stdout %s", stdout)
	}
	// Writing over a bundle is refused.
	if code, _, _ := runCLI(t, "", "bundle", "init", "--model", demoModel, "--data", demoCSV, "--out", out); code != 2 {
		t.Errorf("overwrite: exit %d", code)
	}
}

// TestBundleInitSageMakerLayout: label first, no header (--label 0), and a
// model without feature names.
func TestBundleInitSageMakerLayout(t *testing.T) {
	raw, err := os.ReadFile(demoCSV)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	label := len(recs[0]) - 1
	if recs[0][label] != "converted" {
		t.Fatalf("last column %q", recs[0][label])
	}
	var sb strings.Builder
	w := csv.NewWriter(&sb)
	for _, r := range recs[1:] {
		_ = w.Write(append([]string{r[label]}, r[:label]...))
	}
	w.Flush()
	data := writeFile(t, "train.csv", sb.String())
	// The model as SageMaker's container saves it: no feature names.
	var model map[string]any
	mraw, _ := os.ReadFile(demoModel)
	if err := json.Unmarshal(mraw, &model); err != nil {
		t.Fatal(err)
	}
	learner := model["learner"].(map[string]any)
	delete(learner, "feature_names")
	delete(learner, "feature_types")
	nameless, _ := json.Marshal(model)
	modelPath := writeFile(t, "xgboost-model", string(nameless))

	out := filepath.Join(t.TempDir(), "b")
	code, stdout, stderr := runCLI(t, "", "bundle", "init", "--model", modelPath, "--data", data, "--label", "0", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum bundleInitJSON
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Cutoffs != (leadscore.Tiers{0.018, 0.081, 0.25, 0.51}) || sum.Rows != 10000 || sum.AUC == nil || *sum.AUC < 0.88 ||
		sum.Tiers[0].Conversions != 723 {
		t.Errorf("summary %+v", sum)
	}
	b, err := bundle.Load(out)
	if err != nil || b.Manifest().Features[3].Name != "f3" {
		t.Errorf("bundle: %v", err)
	}

	// A headed CSV gives a nameless model its feature names.
	out2 := filepath.Join(t.TempDir(), "b2")
	if code, _, stderr := runCLI(t, "", "bundle", "init", "--model", modelPath, "--data", demoCSV, "--out", out2); code != 0 {
		t.Fatalf("headed: exit %d: %s", code, stderr)
	}
	if b, err := bundle.Load(out2); err != nil || b.Manifest().Features[0].Name != "company_size_log" {
		t.Errorf("headed bundle: %v", err)
	}
}

func TestBundleInitErrors(t *testing.T) {
	rows := firstRows(t, 50)
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--data", rows, "--out", t.TempDir() + "/x"}, "needs --model"},
		{[]string{"--model", demoModel, "--data", rows, "--out", t.TempDir() + "/x", "--label", "won"}, `no label column "won"`},
		{[]string{"--model", demoModel, "--data", rows, "--out", t.TempDir() + "/x", "--tier-shares", "50,50,10,10,10"}, "add up to"},
		{[]string{"--model", demoModel, "--data", rows, "--out", t.TempDir() + "/x", "--tiers", "0.5,0.4,0.6,0.7"}, "--tiers"},
		{[]string{"--model", demoModel, "--data", writeFile(t, "h.csv", "a,b,converted\n1,2,0\n"), "--out", t.TempDir() + "/x"}, "features have no column"},
	} {
		code, _, errOut := runCLI(t, "", append([]string{"bundle", "init"}, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%v: exit %d %q, want 2 with %q", tt.args, code, errOut, tt.msg)
		}
	}
}

// TestServeWarnsOnDefaultTiers: a bare model is served with a warning that
// its cut-offs are the defaults; a bundle from bundle init is not.
func TestServeWarnsOnDefaultTiers(t *testing.T) {
	bin := testBinary(t)
	s := startServer(t, bin, nil, "--model", demoModel, "--lake=false")
	s.waitLog(`no tier cut-offs of its own`)
	s.stop(os.Interrupt)

	out := filepath.Join(t.TempDir(), "b")
	if code, _, stderr := runCLI(t, "", "bundle", "init", "--model", demoModel, "--data", firstRows(t, 2000), "--out", out); code != 0 {
		t.Fatalf("bundle init: %s", stderr)
	}
	s = startServer(t, bin, nil, "--model", out, "--lake=false")
	s.stop(os.Interrupt)
	if strings.Contains(s.output(), "no tier cut-offs") {
		t.Error("warned about a bundle with its own cut-offs")
	}
}

// TestBundleInitFacets: --facet, --positive and --group-by go into the
// manifest's bias section, and the baseline gets bias.json and
// attribution.json, which a served bundle monitors against.
func TestBundleInitFacets(t *testing.T) {
	out := filepath.Join(t.TempDir(), "b")
	code, _, stderr := runCLI(t, "", "bundle", "init", "--model", demoModel, "--data", demoCSV, "--out", out,
		"--facet", "country_tier=1;2,3", "--facet", "company_size_log<3", "--positive", "probability>=0.3", "--group-by", "industry_code")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := bundle.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	bc := b.Manifest().Bias
	if bc == nil || len(bc.Facets) != 2 || bc.Facets[1].Threshold == nil || *bc.Facets[1].Threshold != 3 ||
		bc.Positive.Probability != 0.3 || bc.GroupBy != "industry_code" {
		t.Fatalf("manifest bias %+v", bc)
	}
	base, err := monitor.LoadBaseline(filepath.Join(out, "baseline"))
	if err != nil {
		t.Fatal(err)
	}
	if base.Bias == nil || len(base.Bias.PreTraining) != 4 || base.Attribution == nil {
		t.Fatalf("baseline bias %v, attribution %v", base.Bias != nil, base.Attribution != nil)
	}
	if code, _, errOut := runCLI(t, "", "bundle", "init", "--model", demoModel, "--data", demoCSV, "--out", filepath.Join(t.TempDir(), "c"),
		"--facet", "no_such=1"); code != 2 || !strings.Contains(errOut, "no_such") {
		t.Errorf("unknown facet feature: exit %d %s", code, errOut)
	}
}
