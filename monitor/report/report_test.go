package report

import (
	"bytes"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/monitor"
)

// sample is a report of two features, one drifted, with a name that needs
// escaping.
func sample(t *testing.T) *monitor.Report {
	t.Helper()
	names := []string{"steady", "<b>moved</b>"}
	const n = 1000
	vals := make([]float32, 0, 2*n)
	probs := make([]float32, 0, n)
	for i := range n {
		vals = append(vals, float32(i%10), float32(i%100)/100)
		probs = append(probs, float32(i%97)/100+0.01)
	}
	tiers := leadscore.Tiers{0.2, 0.4, 0.6, 0.8}
	b, err := monitor.ComputeBaseline(monitor.BaselineInput{Names: names, Values: vals, Rows: n, Probabilities: probs,
		Tiers: tiers, Model: monitor.ModelRef{Name: "demo", Version: "2"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := monitor.New(monitor.Config{Baseline: b, Features: names, Model: monitor.ModelRef{Name: "demo", Version: "2"}})
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]leadscore.Record, 0, n)
	for i := range n {
		recs = append(recs, leadscore.Record{Time: time.Unix(int64(i), 0), Features: []float32{float32(i % 10), float32(i%100)/200 + 0.5},
			Probability: float64(i%97) / 100, InferenceID: "i"})
	}
	m.Capture(recs)
	return m.Evaluate()
}

func TestWrite(t *testing.T) {
	r := sample(t)
	if len(r.ConstraintViolations.Violations) == 0 {
		t.Fatal("the sample has no violation")
	}
	var buf bytes.Buffer
	if err := Write(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{"<!doctype html>", "Monitoring report: demo 2", "&lt;b&gt;moved&lt;/b&gt;", "baseline_drift_check",
		"<svg", "<rect", "Tiers", "steady"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "<b>moved</b>") {
		t.Error("a feature name is not escaped")
	}
	// Self-contained: no scripts, links or remote resources; the only URL
	// is the SVG namespace.
	for _, bad := range []string{"<script", "<link", "src=", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	for _, u := range regexp.MustCompile(`https?://[^"' )]+`).FindAllString(page, -1) {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("the page refers to %s", u)
		}
	}
	if got := strings.Count(page, "<svg"); got != 4 { // two features, probability, tiers
		t.Errorf("%d charts", got)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{num(0.123456), "0.1235"}, {num(monitor.Float(math.NaN())), "–"}, {num(int64(7)), "7"}, {num(3), "3"}, {num("x"), "x"},
		{pct(0.1234), "12.3%"}, {fix(monitor.Float(0.000012)), "0.0000"}, {fix(monitor.Float(math.NaN())), "–"}, {pct(monitor.Float(math.Inf(1))), "–"}, {pct("x"), "x"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if bucketChart(nil) != nil {
		t.Error("chart of no buckets")
	}
	c := bars([]float64{0, 0}, []float64{0, 0}, []string{"a", "b"})
	if len(c.Bars) != 2 || c.Bars[0].BaseH != 0 {
		t.Errorf("empty bars %+v", c.Bars)
	}
	if finite(math.NaN()) != 0 || finite(2) != 2 {
		t.Error("finite")
	}
}

// TestWriteBiasAttribution renders the bias and attribution sections with
// their figures, escaped, and the attribution chart.
func TestWriteBiasAttribution(t *testing.T) {
	r := sample(t)
	f := func(v float64) *monitor.Float { x := monitor.Float(v); return &x }
	r.Bias = &monitor.BiasReport{Positive: "tier>=4", GroupBy: "industry_code", MinGroupRows: 100, Tolerance: 0.1,
		Facets: []monitor.FacetBias{{Facet: "country_tier", FacetValue: "<1>", Rows: 1500, RestRows: 2500, Labeled: 900, RestLabeled: 1200,
			Metrics: []monitor.BiasMetric{
				{Name: "DPPL", Value: f(0.444399), Status: monitor.StatusViolation, Allowed: [2]monitor.Float{-0.1, 0.1003}, Baseline: f(0.0003)},
				{Name: "RD", Status: monitor.StatusInsufficient, Allowed: [2]monitor.Float{-0.1, 0.1}},
			}}},
		PreTraining: []monitor.FacetBias{{Facet: "country_tier", FacetValue: "2,3", Metrics: []monitor.BiasMetric{
			{Name: "CI", Value: f(-0.0166), Status: monitor.StatusOK, Allowed: [2]monitor.Float{-0.1, 0.1}}}}},
	}
	r.Attribution = &monitor.AttributionReport{Method: "tree_shap", Samples: 2000, SampleShare: 0.5, NDCG: 0.81234,
		Threshold: 0.9, MinRows: 100, Status: monitor.StatusViolation, MovedMost: []string{"intent_score_3p", "pages_viewed_30d"},
		Features: []monitor.FeatureAttribution{
			{Name: "pages_viewed_30d", Baseline: 0.34, Current: 0.02, BaselineRank: 1, CurrentRank: 3, ShareChange: -0.31},
			{Name: "intent_score_3p", Baseline: 0.17, Current: 0.5, BaselineRank: 2, CurrentRank: 1, ShareChange: 0.29},
			{Name: "demo_requested", Baseline: 0.1, Current: 0.1, BaselineRank: 3, CurrentRank: 2, ShareChange: 0.02},
		}}
	var buf bytes.Buffer
	if err := Write(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	bias := page[strings.Index(page, `<section id="bias">`):]
	bias = bias[:strings.Index(bias, "</section>")]
	for _, want := range []string{"Positive prediction: tier&gt;=4", "stratified by industry_code", "country_tier &lt;1&gt;", "1500 rows vs 2500",
		">DPPL<", ">0.4444<", "[-0.1, 0.1003]", ">0.0003<", `class="violation"`, ">RD<", "insufficient_data", "Pre-training", ">-0.0166<"} {
		if !strings.Contains(bias, want) {
			t.Errorf("the bias section lacks %q", want)
		}
	}
	attr := page[strings.Index(page, `<section id="attribution">`):]
	attr = attr[:strings.Index(attr, "</section>")]
	for _, want := range []string{"NDCG <b class=\"violation\">0.8123</b>", "below 0.9", "2000 rows explained", "50.0%",
		"Moved most: <b>intent_score_3p</b>, <b>pages_viewed_30d</b>", "<svg", ">-31.00 pp<", "43;29.00 pp<"} {
		if !strings.Contains(attr, want) {
			t.Errorf("the attribution section lacks %q", want)
		}
	}
	if strings.Contains(page, "<1>") {
		t.Error("a facet value is not escaped")
	}
	if got := strings.Count(page, "<svg"); got != 5 { // two features, probability, tiers, attribution
		t.Errorf("%d charts", got)
	}
	for _, bad := range []string{"<script", "<link", "src=", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
}
