package main

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/leadscore/leadscore/monitor"
)

// biasFixtureDir holds the facet fixture of issue 17: leads whose outcome
// does not depend on region, a model trained on labels with most region-1
// conversions erased (biased.json) and one trained on the true labels
// (fair.json), and Clarify's metrics of both computed with numpy
// (expected.json, written by gen.py).
var biasFixtureDir = filepath.Join("..", "..", "monitor", "testdata", "bias")

// biasFacetFlags declare the fixture's facets as `bundle init` takes them.
var biasFacetFlags = []string{"--facet", "region=1;2,3", "--facet", "size_log<3", "--positive", "probability>=0.3",
	"--group-by", "industry"}

// fixtureExpected is expected.json.
type fixtureExpected struct {
	Cutoff float64 `json:"cutoff"`
	Models map[string]struct {
		Facets []struct {
			Facet        string             `json:"facet"`
			FacetValue   string             `json:"facet_value"`
			PostTraining map[string]float64 `json:"post_training"`
			PreTraining  map[string]float64 `json:"pre_training"`
		} `json:"facets"`
	} `json:"models"`
}

// readFixtureLeads returns the fixture's leads as /score JSON objects with
// ids L-<row>, and their outcomes.
func readFixtureLeads(t *testing.T) (leads []string, converted []bool) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(biasFixtureDir, "leads.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	head := strings.Split(lines[0], ",")
	for i, l := range lines[1:] {
		f := strings.Split(l, ",")
		var kv []string
		for j, name := range head[:len(head)-1] {
			kv = append(kv, fmt.Sprintf("%q:%s", name, f[j]))
		}
		leads = append(leads, fmt.Sprintf(`{"id":"L-%d","features":{%s}}`, i, strings.Join(kv, ",")))
		converted = append(converted, f[len(f)-1] == "1")
	}
	return leads, converted
}

// serveFixtureLake serves bundle dir with the real binary, scores the
// fixture's leads, posts their outcomes to /v1/feedback by lead id and
// stops the server, which closes the lake it wrote; it returns the lake.
func serveFixtureLake(t *testing.T, bin, dir string) string {
	t.Helper()
	lake := filepath.Join(t.TempDir(), "lake")
	s := startServer(t, bin, []string{"LEADSCORE_LAKE_DIR=" + lake}, "--model", dir, "--monitor-attribution-share", "0")
	leads, converted := readFixtureLeads(t)
	for i := 0; i < len(leads); i += 500 {
		r := send(t, nil, "POST", s.url+"/score", "application/json", `{"leads":[`+strings.Join(leads[i:min(i+500, len(leads))], ",")+`]}`)
		if r.status != http.StatusOK {
			t.Fatalf("score: %d %s", r.status, r.body)
		}
	}
	for i := 0; i < len(leads); i += 500 {
		var outs []string
		for j := i; j < min(i+500, len(leads)); j++ {
			c := 0
			if converted[j] {
				c = 1
			}
			outs = append(outs, fmt.Sprintf(`{"lead_id":"L-%d","converted":%d}`, j, c))
		}
		r := send(t, nil, "POST", s.url+"/v1/feedback", "application/json", "["+strings.Join(outs, ",")+"]")
		if r.status/100 != 2 {
			t.Fatalf("feedback: %d %s", r.status, r.body)
		}
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exit %d", code)
	}
	return lake
}

// checkFixtureMetrics compares facet groups' metrics with numpy's.
func checkFixtureMetrics(t *testing.T, exp fixtureExpected, model string, got []monitor.FacetBias, pre bool) {
	t.Helper()
	want := exp.Models[model].Facets
	if len(got) != len(want) {
		t.Fatalf("%s: %d facet groups, want %d", model, len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Facet != w.Facet || g.FacetValue != w.FacetValue {
			t.Fatalf("%s: group %d is %s %s, want %s %s", model, i, g.Facet, g.FacetValue, w.Facet, w.FacetValue)
		}
		values := w.PostTraining
		if pre {
			values = w.PreTraining
		}
		if len(g.Metrics) != len(values) {
			t.Errorf("%s %s %s: %d metrics, want %d", model, w.Facet, w.FacetValue, len(g.Metrics), len(values))
		}
		for _, m := range g.Metrics {
			v, ok := values[m.Name]
			switch {
			case !ok:
				t.Errorf("%s %s %s: unexpected metric %s", model, w.Facet, w.FacetValue, m.Name)
			case m.Value == nil:
				t.Errorf("%s %s %s %s: %s, numpy %v", model, w.Facet, w.FacetValue, m.Name, m.Status, v)
			case math.Abs(float64(*m.Value)-v) > 1e-9:
				t.Errorf("%s %s %s %s = %.15g, numpy %.15g", model, w.Facet, w.FacetValue, m.Name, float64(*m.Value), v)
			}
		}
	}
}

// monitorRun is a `leadscore monitor` run: its report and output folder.
type monitorRun struct {
	monitor.Report
	out string
}

// runMonitorBinary runs the binary's `leadscore monitor` with args and a
// fresh --out, and returns the report and the combined output.
func runMonitorBinary(t *testing.T, bin string, args ...string) (monitorRun, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	stdout, err := exec.Command(bin, append([]string{"monitor", "--out", out}, args...)...).CombinedOutput() //nolint:gosec // G204: the binary this test built
	if err != nil {
		t.Fatalf("monitor: %v\n%s", err, stdout)
	}
	r, _ := readReport(t, out)
	return monitorRun{Report: r, out: out}, string(stdout)
}

// reportSection returns the <section id="id"> of out/report.html.
func reportSection(t *testing.T, out, id string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	i := strings.Index(page, `<section id="`+id+`">`)
	if i < 0 {
		t.Fatalf("report.html has no %s section", id)
	}
	j := strings.Index(page[i:], "</section>")
	return page[i : i+j]
}

// TestMonitorLakeBias runs issue 17's facet test through the real binary:
// `bundle init` makes a bundle of the fair model with the facets from
// flags (its bias.json has the labels' pre-training metrics, matched with
// numpy); `serve` scores the fixture's leads with the biased model, then
// with the fair one, and takes their outcomes on /v1/feedback into the
// lake; `leadscore monitor` over each lake, against the fair bundle,
// reports every post-training metric (DPPL, DI, CDDPL from the predicted
// labels, DCA, DCR, RD, DAR, DRR, AD, TE joined with the ground truth)
// within 1e-9 of numpy's, bias violations for the biased model's region
// groups, none for the fair model, and "insufficient data" once
// --min-group-rows exceeds the groups.
func TestMonitorLakeBias(t *testing.T) {
	bin := testBinary(t)
	var exp fixtureExpected
	raw, err := os.ReadFile(filepath.Join(biasFixtureDir, "expected.json"))
	if err != nil || json.Unmarshal(raw, &exp) != nil {
		t.Fatalf("expected.json: %v", err)
	}
	bundles := map[string]string{}
	for _, model := range []string{"fair", "biased"} {
		dir := filepath.Join(t.TempDir(), model)
		args := append([]string{"bundle", "init", "--model", filepath.Join(biasFixtureDir, model+".json"),
			"--data", filepath.Join(biasFixtureDir, "leads.csv"), "--out", dir, "--name", model}, biasFacetFlags...)
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil { //nolint:gosec // G204: the binary this test built
			t.Fatalf("bundle init: %v\n%s", err, out)
		}
		bundles[model] = dir
	}
	base, err := monitor.LoadBaseline(filepath.Join(bundles["fair"], "baseline"))
	if err != nil {
		t.Fatal(err)
	}
	if base.Bias == nil {
		t.Fatal("bundle init --facet wrote no bias.json")
	}
	checkFixtureMetrics(t, exp, "fair", base.Bias.PreTraining, true)
	checkFixtureMetrics(t, exp, "fair", base.Bias.PostTraining, false)

	monitorLake := func(t *testing.T, lake string, extra ...string) (monitorRun, string) {
		t.Helper()
		return runMonitorBinary(t, bin, append([]string{"--lake", lake, "--baseline", bundles["fair"]}, extra...)...)
	}
	for _, model := range []string{"biased", "fair"} {
		t.Run(model, func(t *testing.T) {
			lake := serveFixtureLake(t, bin, bundles[model])
			r, stdout := monitorLake(t, lake)
			t.Logf("leadscore monitor:\n%s", stdout)
			if !strings.Contains(stdout, "read 4000 rows") || !strings.Contains(stdout, "4000 labelled rows") {
				t.Errorf("stdout: %s", stdout)
			}
			if r.Bias == nil {
				t.Fatalf("no bias section:\n%s", stdout)
			}
			if r.Bias.Positive != "probability>=0.3" || r.Bias.GroupBy != "industry" {
				t.Errorf("bias config %s %s", r.Bias.Positive, r.Bias.GroupBy)
			}
			checkFixtureMetrics(t, exp, model, r.Bias.Facets, false)
			got := map[string]bool{}
			for _, v := range r.ConstraintViolations.Violations {
				if v.ConstraintCheckType == monitor.CheckBias {
					got[v.Facet+" "+v.FacetValue+" "+v.MetricName] = true
				}
			}
			if model == "fair" {
				if len(got) > 0 {
					t.Errorf("the fair model raises bias violations: %v", got)
				}
				return
			}
			for _, want := range []string{"region 1 DPPL", "region 1 DI", "region 1 RD", "region 2,3 DPPL", "region 2,3 DI"} {
				if !got[want] {
					t.Errorf("no violation %s; got %v", want, got)
				}
			}
			for k := range got {
				if strings.HasPrefix(k, "size_log") {
					t.Errorf("size_log does not change the biased model's treatment, yet %s is violated", k)
				}
			}
			if !strings.Contains(stdout, "bias_drift_check") {
				t.Errorf("stdout lists no bias violation:\n%s", stdout)
			}
			// The HTML report's bias section shows the figures.
			page := reportSection(t, r.out, "bias")
			page, _, _ = strings.Cut(page, "Pre-training") // the lake's metrics, not the baseline's
			for _, f := range r.Bias.Facets {
				if !strings.Contains(page, html.EscapeString(f.Facet+" "+f.FacetValue)) {
					t.Errorf("report.html: no facet group %s %s", f.Facet, f.FacetValue)
				}
				for _, m := range f.Metrics {
					if want := ">" + strconv.FormatFloat(float64(*m.Value), 'g', 4, 64) + "<"; !strings.Contains(page, want) {
						t.Errorf("report.html: no %s of %s %s (%s)", m.Name, f.Facet, f.FacetValue, want)
					}
				}
			}
			if n := strings.Count(page, `<td class="violation">violation</td>`); n != len(got) {
				t.Errorf("report.html: %d violated metrics, want %d", n, len(got))
			}

			// Groups smaller than --min-group-rows: no value, no violation.
			r, _ = monitorLake(t, lake, "--min-group-rows", "5000", "--facet", "region=1;2,3", "--positive", "probability>=0.3")
			for _, f := range r.Bias.Facets {
				for _, m := range f.Metrics {
					if m.Status != monitor.StatusInsufficient || m.Value != nil {
						t.Errorf("min 5000 rows: %s %s %s: %s %v", f.Facet, f.FacetValue, m.Name, m.Status, m.Value)
					}
				}
			}
			for _, v := range r.ConstraintViolations.Violations {
				if v.ConstraintCheckType == monitor.CheckBias {
					t.Errorf("violation on insufficient data: %+v", v)
				}
			}
		})
	}
}

// TestMonitorLakeAttribution: `leadscore monitor` explains a sample of
// the lake's rows with the bundle's TreeSHAP. A lake of the demo leads
// ranks the features as the baseline does (NDCG 1, in the monitor-clean
// golden output); a lake where an upstream fault swapped two columns
// (intent score arriving as 30-day page views and back) drops NDCG below
// 0.9, a feature_attribution_drift_check violation naming the two
// features first. The HTML report shows both sections with the report's
// figures, in headless Chromium too.
func TestMonitorLakeAttribution(t *testing.T) {
	bin := testBinary(t)
	lake := t.TempDir()
	writeLakeFileWith(t, filepath.Join(lake, "dt=2025-06-01", "hour=10", "part-0.parquet"), "leads_10k.csv", 0, 3000,
		time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC), func(names []string, row []float32) {
			i, j := slices.Index(names, "pages_viewed_30d"), slices.Index(names, "intent_score_3p")
			row[i], row[j] = row[j], row[i]
		})
	r, stdout := runMonitorBinary(t, bin, "--lake", lake, "--until", "2025-06-01T11:00:00Z", "--since", "1h")
	a := r.Attribution
	if a == nil {
		t.Fatalf("no attribution section:\n%s", stdout)
	}
	t.Logf("swapped columns: NDCG %.4f over %d sampled rows; moved most %v", float64(a.NDCG), a.Samples, a.MovedMost)
	if a.Status != monitor.StatusViolation || float64(a.NDCG) >= 0.9 || a.Samples != 2000 || a.Explained != 2000 {
		t.Fatalf("attribution %s, NDCG %v, %d samples", a.Status, a.NDCG, a.Samples)
	}
	if len(a.MovedMost) < 2 || !slices.Contains(a.MovedMost[:2], "intent_score_3p") || !slices.Contains(a.MovedMost[:2], "pages_viewed_30d") {
		t.Errorf("moved most: %v", a.MovedMost)
	}
	var listed bool
	for _, v := range r.ConstraintViolations.Violations {
		listed = listed || (v.ConstraintCheckType == monitor.CheckAttribution && strings.Contains(v.Description, "intent_score_3p"))
	}
	if !listed {
		t.Errorf("no feature_attribution_drift_check violation naming the features: %+v", r.ConstraintViolations.Violations)
	}
	line := fmt.Sprintf("attribution: TreeSHAP on 2000 sampled rows, NDCG %.4f (threshold 0.9), violation; moved most: %s",
		float64(a.NDCG), strings.Join(a.MovedMost, ", "))
	if !strings.Contains(stdout, line) {
		t.Errorf("stdout lacks %q:\n%s", line, stdout)
	}
	// The same run again gives the same sample and figures.
	again, _ := runMonitorBinary(t, bin, "--lake", lake, "--until", "2025-06-01T11:00:00Z", "--since", "1h")
	if again.Attribution.NDCG != a.NDCG {
		t.Errorf("a second run: NDCG %v, then %v", a.NDCG, again.Attribution.NDCG)
	}

	ndcg := strconv.FormatFloat(float64(a.NDCG), 'f', 4, 64)
	page := reportSection(t, r.out, "attribution")
	for _, want := range []string{`NDCG <b class="violation">` + ndcg + "</b>", "<b>" + a.MovedMost[0] + "</b>", "<svg", ">pages_viewed_30d<"} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html: the attribution section lacks %q", want)
		}
	}
	if r.Bias == nil || len(r.Bias.Facets) == 0 {
		t.Fatal("the demo bundle's facet gives no bias section")
	}
	dppl := r.Bias.Facets[0].Metrics[0]
	if dppl.Name != "DPPL" || dppl.Value == nil {
		t.Fatalf("first bias metric %+v", dppl)
	}
	dpplText := strconv.FormatFloat(float64(*dppl.Value), 'g', 4, 64)

	// What a reader sees, in headless Chromium: the page loads nothing
	// (no failed or remote request, no error) and shows the figures.
	br := newBrowser(t)
	ctx := br.tab(nil)
	cdp(ctx, t, chromedp.Navigate("file://"+filepath.Join(r.out, "report.html")), chromedp.WaitVisible(chromedp.CSS(`#attribution`)))
	text := get(ctx, t, chromedp.Evaluate[[]string](`['#bias', '#attribution'].map((s) => document.querySelector(s).innerText)`))
	for _, want := range []string{"Bias", "country_tier 1", "DPPL", dpplText, "Positive prediction: tier>=4"} {
		if !strings.Contains(text[0], want) {
			t.Errorf("Chromium: the bias section lacks %q:\n%s", want, text[0])
		}
	}
	for _, want := range []string{"Feature attribution", "NDCG " + ndcg + " violation", "Moved most: " + a.MovedMost[0] + ", " + a.MovedMost[1],
		"intent_score_3p"} {
		if !strings.Contains(text[1], want) {
			t.Errorf("Chromium: the attribution section lacks %q:\n%s", want, text[1])
		}
	}
	if !regexp.MustCompile(`[+]\d+\.\d\d pp`).MatchString(text[1]) {
		t.Errorf("Chromium: no positive share change shown:\n%s", text[1])
	}
	svgs := get(ctx, t, chromedp.Evaluate[int](`document.querySelectorAll('#attribution svg rect').length`))
	if svgs != 20 { // ten features, baseline and current
		t.Errorf("Chromium: %d bars in the attribution chart", svgs)
	}
	br.check()
}
