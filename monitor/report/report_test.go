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
