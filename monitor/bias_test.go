package monitor

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/tabular"
	"github.com/leadscore/leadscore/xgboost"
)

// biasExpected is testdata/bias/expected.json, written by gen.py.
type biasExpected struct {
	Cutoff float64 `json:"cutoff"`
	Models map[string]struct {
		Probabilities []float64 `json:"probabilities"`
		Facets        []struct {
			Facet        string             `json:"facet"`
			FacetValue   string             `json:"facet_value"`
			PostTraining map[string]float64 `json:"post_training"`
			PreTraining  map[string]float64 `json:"pre_training"`
		} `json:"facets"`
	} `json:"models"`
}

// biasFixture is the fixture's leads scored by one of its models.
type biasFixture struct {
	names  []string
	tab    *tabular.Table
	probs  []float32
	labels []float64
	exp    biasExpected
}

func loadBiasFixture(t *testing.T, model string) *biasFixture {
	t.Helper()
	dir := filepath.Join("testdata", "bias")
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	fx := &biasFixture{names: []string{"region", "size_log", "industry", "engagement", "fit"}}
	if err := json.Unmarshal(raw, &fx.exp); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, model+".json"))
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := xgboost.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	csv, err := os.Open(filepath.Join(dir, "leads.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = csv.Close() }()
	if fx.tab, err = tabular.ReadCSV(csv, fx.names, tabular.Limits{}); err != nil {
		t.Fatal(err)
	}
	fx.probs = make([]float32, fx.tab.Rows)
	if err := f.Predict(fx.tab.Values, fx.probs); err != nil {
		t.Fatal(err)
	}
	want := fx.exp.Models[model].Probabilities
	if len(want) != fx.tab.Rows {
		t.Fatalf("%d expected probabilities for %d rows", len(want), fx.tab.Rows)
	}
	for i, p := range fx.probs {
		if math.Abs(float64(p)-want[i]) > 1e-6 {
			t.Fatalf("row %d: probability %v, XGBoost %v", i, p, want[i])
		}
	}
	fx.labels = fx.tab.Extra["converted"]
	return fx
}

func biasFixtureConfig(cutoff float64) leadscore.BiasConfig {
	three := 3.0
	return leadscore.BiasConfig{
		Facets: []leadscore.Facet{
			{Feature: "region", Groups: [][]float64{{1}, {2, 3}}},
			{Feature: "size_log", Threshold: &three},
		},
		Positive: leadscore.Positive{Probability: cutoff},
		GroupBy:  "industry",
	}
}

// checkBiasValues compares computed facet metrics with the fixture's.
func checkBiasValues(t *testing.T, fx *biasFixture, model string, got []FacetBias, pre bool) {
	t.Helper()
	exp := fx.exp.Models[model].Facets
	if len(got) != len(exp) {
		t.Fatalf("%d facet groups, want %d", len(got), len(exp))
	}
	for i, e := range exp {
		g := got[i]
		if g.Facet != e.Facet || g.FacetValue != e.FacetValue {
			t.Fatalf("group %d is %s %s, want %s %s", i, g.Facet, g.FacetValue, e.Facet, e.FacetValue)
		}
		want := e.PostTraining
		if pre {
			want = e.PreTraining
		}
		if len(g.Metrics) != len(want) {
			t.Errorf("%s %s: %d metrics, want %d", e.Facet, e.FacetValue, len(g.Metrics), len(want))
		}
		for _, m := range g.Metrics {
			w, ok := want[m.Name]
			if !ok {
				t.Errorf("%s %s: unexpected metric %s", e.Facet, e.FacetValue, m.Name)
				continue
			}
			if m.Value == nil {
				t.Errorf("%s %s %s: %s, want %v", e.Facet, e.FacetValue, m.Name, m.Status, w)
				continue
			}
			if v := float64(*m.Value); math.Abs(v-w) > 1e-9 {
				t.Errorf("%s %s %s = %.15g, numpy %.15g", e.Facet, e.FacetValue, m.Name, v, w)
			}
		}
	}
}

// TestBiasKnownAnswers computes every metric of the fixture in the
// baseline (pre- and post-training) and matches numpy's values.
func TestBiasKnownAnswers(t *testing.T) {
	for _, model := range []string{"biased", "fair"} {
		t.Run(model, func(t *testing.T) {
			fx := loadBiasFixture(t, model)
			cfg := biasFixtureConfig(fx.exp.Cutoff)
			bb, err := ComputeBiasBaseline(cfg, fx.names, fx.tab.Values, fx.tab.Rows, fx.probs, fx.labels, leadscore.Tiers{0.1, 0.2, 0.5, 0.8})
			if err != nil {
				t.Fatal(err)
			}
			checkBiasValues(t, fx, model, bb.PostTraining, false)
			checkBiasValues(t, fx, model, bb.PreTraining, true)
		})
	}
}

// liveBiasReport feeds the fixture through a live Monitor with its
// outcomes as feedback and returns the report.
func liveBiasReport(t *testing.T, fx *biasFixture, cfg leadscore.BiasConfig) *Report {
	t.Helper()
	return liveBiasReportOn(t, fx, cfg, nil)
}

// liveBiasReportOn is liveBiasReport with the monitor's metrics on reg.
func liveBiasReportOn(t *testing.T, fx *biasFixture, cfg leadscore.BiasConfig, reg prometheus.Registerer) *Report {
	t.Helper()
	in := BaselineInput{Names: fx.names, Values: fx.tab.Values, Rows: fx.tab.Rows, Probabilities: fx.probs,
		Labels: fx.labels, Tiers: leadscore.Tiers{0.1, 0.2, 0.5, 0.8}}
	base, err := ComputeBaseline(in)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Baseline: base, Features: fx.names, Bias: &cfg, WindowRows: fx.tab.Rows, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	nf := len(fx.names)
	recs := make([]leadscore.Record, fx.tab.Rows)
	fbs := make([]Feedback, fx.tab.Rows)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range recs {
		id := fmt.Sprintf("inf-%d", i)
		recs[i] = leadscore.Record{InferenceID: id, Features: fx.tab.Values[i*nf : (i+1)*nf],
			Probability: float64(fx.probs[i]), Time: now}
		fbs[i] = Feedback{InferenceID: id, Converted: fx.labels[i] == 1, Time: now}
	}
	m.Capture(recs)
	if res := m.Feedback(fbs); res.Matched != len(fbs) {
		t.Fatalf("%d of %d outcomes matched", res.Matched, len(fbs))
	}
	return m.Evaluate()
}

// TestLiveBias runs the fixture through the live monitor: the biased
// model's region groups violate DPPL, DI, RD and more with numpy's exact
// values; the fair model raises no bias violation.
func TestLiveBias(t *testing.T) {
	fx := loadBiasFixture(t, "biased")
	r := liveBiasReport(t, fx, biasFixtureConfig(fx.exp.Cutoff))
	if r.Bias == nil {
		t.Fatal("no bias section")
	}
	checkBiasValues(t, fx, "biased", r.Bias.Facets, false)
	got := map[string]bool{}
	for _, v := range r.ConstraintViolations.Violations {
		if v.ConstraintCheckType == CheckBias {
			got[v.FacetValue+" "+v.MetricName] = true
			if v.FeatureName != v.Facet || v.Description == "" {
				t.Errorf("violation %+v", v)
			}
		}
	}
	for _, want := range []string{"1 DPPL", "1 DI", "1 RD", "1 CDDPL", "1 TE", "2,3 DPPL", "2,3 DI"} {
		if !got[want] {
			t.Errorf("no bias violation %s; got %v", want, got)
		}
	}
	for k := range got {
		if k[0] == '<' || k[0] == '>' {
			t.Errorf("size_log does not change the biased model's treatment, yet %s is violated", k)
		}
	}

	fair := loadBiasFixture(t, "fair")
	r = liveBiasReport(t, fair, biasFixtureConfig(fair.exp.Cutoff))
	checkBiasValues(t, fair, "fair", r.Bias.Facets, false)
	for _, v := range r.ConstraintViolations.Violations {
		if v.ConstraintCheckType == CheckBias {
			t.Errorf("fair model: %+v", v)
		}
	}
}

// TestBiasInsufficientData reports metrics of small groups as
// insufficient_data, without a value, and raises nothing.
func TestBiasInsufficientData(t *testing.T) {
	fx := loadBiasFixture(t, "biased")
	cfg := biasFixtureConfig(fx.exp.Cutoff)
	cfg.MinGroupRows = 100
	n := 150 // region 1 has about 60 rows, the rest about 90
	sub := &biasFixture{names: fx.names, tab: &tabular.Table{Rows: n, Values: fx.tab.Values[:n*len(fx.names)],
		Extra: map[string][]float64{"converted": fx.labels[:n]}}, probs: fx.probs[:n], labels: fx.labels[:n], exp: fx.exp}
	r := liveBiasReport(t, sub, cfg)
	for _, f := range r.Bias.Facets {
		if f.Facet != "region" {
			continue
		}
		for _, m := range f.Metrics {
			if m.Status != StatusInsufficient || m.Value != nil {
				t.Errorf("region %s %s: %s %v with %d/%d rows", f.FacetValue, m.Name, m.Status, m.Value, f.Rows, f.RestRows)
			}
		}
	}
	raw, err := json.Marshal(r.Bias)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Facets []struct {
			Metrics []map[string]any `json:"metrics"`
		} `json:"facets"`
	}
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if m := back.Facets[0].Metrics[0]; m["value"] != nil || m["status"] != "insufficient_data" {
		t.Errorf("JSON of an insufficient metric: %v", m)
	}
	for _, v := range r.ConstraintViolations.Violations {
		if v.ConstraintCheckType == CheckBias && v.Facet == "region" {
			t.Errorf("violation on insufficient data: %+v", v)
		}
	}
}

// TestParseFacetFlags reads the flag syntax of facets and outcomes.
func TestParseFacetFlags(t *testing.T) {
	f, err := leadscore.ParseFacet("country_tier=1;2,3")
	if err != nil || f.Feature != "country_tier" || len(f.Groups) != 2 || f.Groups[1][1] != 3 {
		t.Fatalf("%+v %v", f, err)
	}
	f, err = leadscore.ParseFacet("company_size_log<3")
	if err != nil || f.Threshold == nil || *f.Threshold != 3 {
		t.Fatalf("%+v %v", f, err)
	}
	gs := f.FacetGroups()
	if gs[0].Value != "<3" || !gs[0].Contains(2.9) || gs[0].Contains(3) || !gs[1].Contains(3) {
		t.Fatalf("%+v", gs)
	}
	for _, bad := range []string{"x", "=1", "x=a", "x<", "x<NaN"} {
		if _, err := leadscore.ParseFacet(bad); err == nil {
			t.Errorf("ParseFacet(%q) accepted", bad)
		}
	}
	p, err := leadscore.ParsePositive("tier>=4")
	if err != nil || p.Tier != 4 || !p.Predicted(0.6, leadscore.Tiers{0.1, 0.2, 0.5, 0.8}) || p.Predicted(0.3, leadscore.Tiers{0.1, 0.2, 0.5, 0.8}) {
		t.Fatalf("%+v %v", p, err)
	}
	for _, bad := range []string{"tier>=1", "tier>=6", "probability>=1", "p>0.3"} {
		if _, err := leadscore.ParsePositive(bad); err == nil {
			t.Errorf("ParsePositive(%q) accepted", bad)
		}
	}
}

// TestBiasConstraints: a metric's range in Constraints replaces the
// default band (and the baseline widening); Tolerance widens the others.
func TestBiasConstraints(t *testing.T) {
	fx := loadBiasFixture(t, "fair")
	cfg := biasFixtureConfig(fx.exp.Cutoff)
	cfg.Constraints = map[string][2]float64{MetricDPPL: {-0.001, 0.001}}
	cfg.Tolerance = 0.5
	r := liveBiasReport(t, fx, cfg)
	var dppl int
	for _, f := range r.Bias.Facets {
		for _, m := range f.Metrics {
			switch m.Name {
			case MetricDPPL:
				if m.Allowed != [2]Float{-0.001, 0.001} {
					t.Errorf("%s %s DPPL allowed %v", f.Facet, f.FacetValue, m.Allowed)
				}
				if v := float64(*m.Value); (v < -0.001 || v > 0.001) != (m.Status == StatusViolation) {
					t.Errorf("%s %s DPPL %v: %s", f.Facet, f.FacetValue, v, m.Status)
				}
				if m.Status == StatusViolation {
					dppl++
				}
			case MetricRD:
				if m.Allowed != [2]Float{-0.5, 0.5} {
					t.Errorf("%s %s RD allowed %v with tolerance 0.5", f.Facet, f.FacetValue, m.Allowed)
				}
			}
		}
	}
	var listed int
	for _, v := range r.ConstraintViolations.Violations {
		if v.ConstraintCheckType == CheckBias {
			if v.MetricName != MetricDPPL {
				t.Errorf("tolerance 0.5: %+v", v)
			}
			listed++
		}
	}
	if dppl == 0 || listed != dppl {
		t.Errorf("%d DPPL violations, %d listed", dppl, listed)
	}
}

// TestBiasGauges: every bias metric of the window is a
// leadscore_monitor_bias_metric gauge in /metrics, NaN when insufficient.
func TestBiasGauges(t *testing.T) {
	fx := loadBiasFixture(t, "biased")
	reg := prometheus.NewRegistry()
	r := liveBiasReportOn(t, fx, biasFixtureConfig(fx.exp.Cutoff), reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "leadscore_monitor_bias_metric" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			got[l["facet"]+" "+l["facet_value"]+" "+l["metric"]] = m.GetGauge().GetValue()
		}
	}
	n := 0
	for _, f := range r.Bias.Facets {
		for _, m := range f.Metrics {
			n++
			g, ok := got[f.Facet+" "+f.FacetValue+" "+m.Name]
			if !ok || float64(*m.Value) != g {
				t.Errorf("%s %s %s: gauge %v (%v), report %v", f.Facet, f.FacetValue, m.Name, g, ok, *m.Value)
			}
		}
	}
	if n != 40 || len(got) != n {
		t.Errorf("%d metrics, %d gauges", n, len(got))
	}
}
