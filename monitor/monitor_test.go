package monitor

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	testbuf "github.com/leadscore/leadscore/internal/testutil"

	"github.com/leadscore/leadscore"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// shifted are the columns leads.py --drift changes (DRIFT in
// ../shared/tools/leads.py; pages_viewed_7d is scaled with
// pages_viewed_30d).
var shifted = []string{"company_size_log", "pages_viewed_30d", "pages_viewed_7d", "email_opens_30d",
	"country_tier", "lead_source_code", "annual_revenue_log"}

// derived are unshifted columns the generator computes from shifted ones,
// so that they drift too: docs_page_views_30d and pricing_page_views_30d
// are binomial draws over pages_viewed_30d, email_clicks_30d over
// email_opens_30d, and num_locations_log, company_age_years,
// funding_stage and is_public_company depend on company_size_log.
var derived = map[string]bool{"docs_page_views_30d": true, "pricing_page_views_30d": true, "email_clicks_30d": true,
	"num_locations_log": true, "company_age_years": true, "funding_stage": true, "is_public_company": true}

func newMonitor(t *testing.T, cfg Config) *Monitor {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDriftDetected feeds the drifted leads to a monitor on the demo
// baseline: every shifted column is flagged, the others are not, except a
// few computed from shifted columns.
func TestDriftDetected(t *testing.T) {
	t.Parallel()
	base := loadDemo(t, "leads_10k.csv")
	drift := loadDemo(t, "leads_10k_drift.csv")
	b := baselineOf(t, base, 0, base.t.Rows)
	for _, n := range []int{10000, 5000} {
		m := newMonitor(t, Config{Baseline: b, Features: base.names})
		m.Capture(records(drift, 0, n, "d", t0))
		r := m.Evaluate()
		flagged := violated(r, "")
		for _, name := range shifted {
			if !flagged[name] {
				t.Errorf("%d rows: shifted %s not flagged", n, name)
			}
		}
		if !violated(r, CheckCompleteness)["annual_revenue_log"] {
			t.Errorf("%d rows: annual_revenue_log missing rate 8%% -> 25%% not a completeness violation", n)
		}
		others := 0
		for name := range flagged {
			if name == ProbabilityName || contains(shifted, name) {
				continue
			}
			others++
			if !derived[name] {
				t.Errorf("%d rows: unshifted %s flagged: %+v", n, name, r.ConstraintViolations.Violations)
			}
		}
		if others > 3 {
			t.Errorf("%d rows: %d unshifted features flagged", n, others)
		}
		for _, f := range r.Features {
			if contains(shifted, f.Name) && f.Status != StatusViolation {
				t.Errorf("%s status %s", f.Name, f.Status)
			}
		}
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestNoFalseAlarm checks held-out leads of the same distribution: a
// baseline of the first 7000 demo leads, a window of the last 3000, in
// batches as the service sends them.
func TestNoFalseAlarm(t *testing.T) {
	t.Parallel()
	d := loadDemo(t, "leads_10k.csv")
	b := baselineOf(t, d, 0, 7000)
	m := newMonitor(t, Config{Baseline: b, Features: d.names})
	for lo := 7000; lo < 10000; lo += 100 {
		m.Capture(records(d, lo, lo+100, "h", t0))
	}
	r := m.Evaluate()
	if vs := r.ConstraintViolations.Violations; len(vs) != 0 {
		t.Errorf("violations on held-out leads: %+v", vs)
	}
	if r.Window.Rows != 3000 || r.Window.Received != 3000 || r.Prediction == nil || r.Prediction.Status != StatusOK {
		t.Errorf("window %+v prediction %+v", r.Window, r.Prediction)
	}
	for _, f := range r.Features {
		if f.Status != StatusOK || float64(f.Distance) > 0.05 {
			t.Errorf("%s: %s distance %v", f.Name, f.Status, f.Distance)
		}
	}
	shares := 0.0
	for _, ts := range r.Prediction.Tiers {
		shares += float64(ts.Share)
	}
	if math.Abs(shares-1) > 1e-9 || float64(r.Prediction.TierPSI) > 0.02 {
		t.Errorf("tier shares sum %v, PSI %v", shares, r.Prediction.TierPSI)
	}
}

// TestLiveQuality sends the outcomes of the demo leads as feedback and
// checks the window's quality against a direct computation.
func TestLiveQuality(t *testing.T) {
	t.Parallel()
	d := loadDemo(t, "leads_10k.csv")
	b := baselineOf(t, d, 0, 10000)
	sink := &feedbackRecorder{}
	m := newMonitor(t, Config{Baseline: b, Features: d.names, FeedbackSink: sink, Now: func() time.Time { return t0 }})
	m.Capture(records(d, 0, 4000, "q", t0))
	var fbs []Feedback
	var rows []labeled
	for i := range 4000 {
		if i%2 == 1 { // half by inference id, half by lead id
			fbs = append(fbs, Feedback{InferenceID: "q" + itoa(i), Converted: d.labels[i] == 1})
		} else {
			fbs = append(fbs, Feedback{LeadID: "lead-" + itoa(i), Converted: d.labels[i] == 1})
		}
		rows = append(rows, labeled{float64(d.probs[i]), d.labels[i] == 1})
	}
	fbs = append(fbs, Feedback{InferenceID: "unknown"})
	res := m.Feedback(fbs)
	if res.Accepted != 4001 || res.Matched != 4000 || res.Unmatched != 1 || !res.Stored || sink.count() != 4001 {
		t.Fatalf("feedback result %+v, sink got %d", res, sink.count())
	}
	q := m.Evaluate().Quality
	if q.LabeledRows != 4000 || float64(q.BinaryClassificationMetrics.AUC.Value) != auc(rows) {
		t.Errorf("labelled %d, AUC %v want %v", q.LabeledRows, q.BinaryClassificationMetrics.AUC.Value, auc(rows))
	}
	var conv, n [6]int64
	for _, r := range rows {
		k := d.tiers.Tier(r.p)
		n[k]++
		if r.pos {
			conv[k]++
		}
	}
	for _, tq := range q.Tiers {
		if tq.Labeled != n[tq.Tier] || tq.Conversions != conv[tq.Tier] || math.IsNaN(float64(tq.BaselineConversionRate)) {
			t.Errorf("tier %+v, want %d of %d", tq, conv[tq.Tier], n[tq.Tier])
		}
	}
	if len(q.TierCutoffs) != 4 || q.TierCutoffs[3].Threshold != d.tiers[3] {
		t.Errorf("cut-offs %+v", q.TierCutoffs)
	}
	// The highest tier converts far more than the lowest.
	if !(float64(q.Tiers[4].ConversionRate) > 5*float64(q.Tiers[0].ConversionRate)) {
		t.Errorf("tier conversion rates %+v", q.Tiers)
	}
}

type feedbackRecorder struct {
	mu  sync.Mutex
	fbs []leadscore.Outcome
}

func (r *feedbackRecorder) CaptureFeedback(fb []leadscore.Outcome) {
	r.mu.Lock()
	r.fbs = append(r.fbs, fb...)
	r.mu.Unlock()
}

func (r *feedbackRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.fbs)
}

// TestWindow checks the row and age bounds of the window and the joins.
func TestWindow(t *testing.T) {
	d := loadDemo(t, "leads_10k.csv")
	b := baselineOf(t, d, 0, 1000)
	clock := &fixedClock{t: t0}
	m := newMonitor(t, Config{Baseline: b, Features: d.names, WindowRows: 100, WindowAge: time.Minute, Now: clock.Now})
	m.Capture(records(d, 0, 150, "w", t0)) // one second apart
	r := m.Evaluate()
	if r.Window.Rows != 100 || r.Window.Oldest == nil || !r.Window.Oldest.Equal(t0.Add(50*time.Second)) || r.Window.MaxRows != 100 {
		t.Fatalf("window %+v", r.Window)
	}
	// Evicted rows no longer join; lead ids of kept rows still do.
	res := m.Feedback([]Feedback{{InferenceID: "w10", Converted: true}, {LeadID: "lead-120"}})
	if res.Matched != 1 {
		t.Errorf("feedback after eviction %+v", res)
	}
	// At t0+150s, rows older than t0+90s are dropped: 90..149 remain.
	clock.Add(150 * time.Second)
	if r := m.Evaluate(); r.Window.Rows != 60 || r.Window.MaxAgeSeconds != 60 {
		t.Errorf("after a minute: window %+v", r.Window)
	}
	// Unchanged window: the cached report, with fresh counters.
	m.Capture([]leadscore.Record{{Features: []float32{1}}})
	r2 := m.Evaluate()
	if r2.Window.Rows != 60 || r2.Window.Rejected != 1 || r2.Window.Received != 151 {
		t.Errorf("rejected record: window %+v", r2.Window)
	}
	// A record with no time counts as now.
	recs := records(d, 0, 1, "z", time.Time{})
	recs[0].Time = time.Time{}
	m.Capture(recs)
	if r := m.Evaluate(); r.Window.Rows != 61 || !r.Window.Newest.Equal(clock.Now()) {
		t.Errorf("zero time: %+v", r.Window)
	}
}

// TestColumns checks a model whose inputs differ from the baseline's.
func TestColumns(t *testing.T) {
	d := loadDemo(t, "leads_10k.csv")
	b := baselineOf(t, d, 0, 1000)
	names := append([]string{"brand_new"}, d.names[1:]...) // drops company_size_log
	m := newMonitor(t, Config{Baseline: b, Features: names, Checks: Checks{MinRows: 10}})
	recs := records(d, 0, 200, "c", t0)
	r := m.Evaluate() // empty window
	if r.Window.Rows != 0 || r.Features[1].Status != StatusInsufficient {
		t.Errorf("empty window: %+v %s", r.Window, r.Features[1].Status)
	}
	m.Capture(recs)
	r = m.Evaluate()
	if !violated(r, CheckMissingCol)["company_size_log"] || !violated(r, CheckExtraCol)["brand_new"] || r.Features[0].Status != StatusMissing {
		t.Errorf("violations %+v, first feature %+v", r.ConstraintViolations.Violations, r.Features[0].Status)
	}
	data, err := json.Marshal(r)
	if err != nil || !strings.Contains(string(data), `"distance":"NaN"`) {
		t.Errorf("report JSON of a missing feature: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	d := loadDemo(t, "leads_10k.csv")
	b := baselineOf(t, d, 0, 100)
	noScores, err := ComputeBaseline(BaselineInput{Names: []string{"a"}, Values: []float32{1}, Rows: 1})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Baseline: b, Features: d.names, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{
		"no baseline":  {Features: d.names},
		"no features":  {Baseline: b},
		"window":       {Baseline: b, Features: d.names, WindowRows: -1},
		"age":          {Baseline: b, Features: d.names, WindowAge: -time.Second},
		"checks":       {Baseline: b, Features: d.names, Checks: Checks{MinRows: -5}},
		"no tiers":     {Baseline: noScores, Features: []string{"a"}},
		"bad tiers":    {Baseline: b, Features: d.names, Tiers: leadscore.Tiers{0.5, 0.4, 0.6, 0.7}},
		"twice":        {Baseline: b, Features: d.names, Registerer: reg},
		"webhook":      {Baseline: b, Features: d.names, Alerts: AlertConfig{WebhookURL: "ftp://x"}},
		"webhook, reg": {Baseline: b, Features: d.names, Alerts: AlertConfig{WebhookURL: "http://127.0.0.1:1/"}, Registerer: alertTaken(t)},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// alertTaken is a registry where the alert metrics are already taken.
func alertTaken(t *testing.T) prometheus.Registerer {
	reg := prometheus.NewRegistry()
	if err := reg.Register(prometheus.NewGauge(prometheus.GaugeOpts{Name: "leadscore_monitor_alert_last_sent_timestamp_seconds", Help: "x"})); err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestRunMetricsAlerts runs a monitor in the background: the queue drops
// what does not fit, the gauges follow the evaluations, and a drift is
// posted to the webhook once.
func TestRunMetricsAlerts(t *testing.T) {
	d := loadDemo(t, "leads_10k.csv")
	drift := loadDemo(t, "leads_10k_drift.csv")
	b := baselineOf(t, d, 0, 10000)
	posts := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		posts <- string(body)
	}))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	var logs testbuf.Buffer
	m := newMonitor(t, Config{Baseline: b, Features: d.names, Registerer: reg, QueueBatches: 2,
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
		EvalInterval: 20 * time.Millisecond, Model: ModelRef{Name: "lead-demo", Version: "1.0.0"},
		Alerts: AlertConfig{WebhookURL: srv.URL, Backoff: time.Millisecond}})
	// Not running yet: two batches fit, the third is dropped.
	for range 3 {
		m.Capture(records(drift, 0, 1000, "r", t0))
	}
	if got := testutil.ToFloat64(m.met.dropped); got != 1000 {
		t.Errorf("dropped %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	var text string
	select {
	case body := <-posts:
		var msg struct{ Text string }
		if err := json.Unmarshal([]byte(body), &msg); err != nil {
			t.Fatalf("webhook body %q: %v", body, err)
		}
		text = msg.Text
	case <-time.After(10 * time.Second):
		t.Fatal("no alert")
	}
	if !strings.HasPrefix(text, "leadscore lead-demo 1.0.0: ") || !strings.Contains(text, "email_opens_30d baseline_drift_check") {
		t.Errorf("alert text %q", text)
	}
	m.Capture(records(drift, 1000, 1100, "s", t0))
	time.Sleep(100 * time.Millisecond) // several evaluations, no new post
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-posts:
		t.Errorf("second alert for the same violations: %s", body)
	default:
	}
	if !strings.Contains(logs.String(), "records dropped") {
		t.Errorf("no warning of the drop in %q", logs.String())
	}
	if got := testutil.ToFloat64(m.met.windowRows); got != 2100 {
		t.Errorf("window rows gauge %v", got)
	}
	if got := testutil.ToFloat64(m.met.distance.WithLabelValues("email_opens_30d")); got < 0.5 {
		t.Errorf("email_opens_30d distance gauge %v", got)
	}
	if got := testutil.ToFloat64(m.met.violations.WithLabelValues(CheckDrift)); got < 7 {
		t.Errorf("drift violations gauge %v", got)
	}
	if got := testutil.ToFloat64(m.alerter.active.WithLabelValues("country_tier", CheckDrift)); got != 1 {
		t.Errorf("alert_active gauge %v", got)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n < 100 {
		t.Errorf("%d series, %v", n, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP leadscore_monitor_records_dropped_total Scored records the drift monitor dropped because its queue was full.
# TYPE leadscore_monitor_records_dropped_total counter
leadscore_monitor_records_dropped_total 1000
`), "leadscore_monitor_records_dropped_total"); err != nil {
		t.Error(err)
	}
}

// TestHandlers exercises GET /v1/monitoring and POST /v1/feedback.
func TestHandlers(t *testing.T) {
	t.Parallel()
	d := loadDemo(t, "leads_10k.csv")
	b := baselineOf(t, d, 0, 1000)
	m := newMonitor(t, Config{Baseline: b, Features: d.names})
	m.Capture(records(d, 0, 300, "h", t0))
	mux := http.NewServeMux()
	mux.Handle("/v1/monitoring", m.ReportHandler())
	mux.Handle("/v1/feedback", m.FeedbackHandler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/v1/monitoring")
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	if _, ok := get(t, r, "constraint_violations").(map[string]any)["violations"].([]any); !ok || get(t, r, "window.rows") != 300.0 {
		t.Errorf("report %v", r["window"])
	}
	get(t, r, "quality.tiers")
	get(t, r, "prediction.tiers")
	// Within a second GET returns the same evaluation, with fresh counters.
	m.Capture(records(d, 300, 310, "h", t0))
	if c := m.Report(); c.Window.Rows != 300 || c.Window.Received != 310 {
		t.Errorf("cached report: %+v", c.Window)
	}
	if e := m.Evaluate(); e.Window.Rows != 310 {
		t.Errorf("evaluation after capture: %+v", e.Window)
	}

	for _, tc := range []struct {
		name, method, ctype, body string
		status                    int
		code, field               string
	}{
		{"ok", "POST", "application/json", `[{"inference_id":"h1","converted":1},{"lead_id":"lead-2","converted":false,"time":"2025-06-02T00:00:00Z"},{"inference_id":"nope","converted":0}]`, 200, "", ""},
		{"method", "GET", "", "", 405, "method_not_allowed", ""},
		{"media", "POST", "text/plain", `{}`, 415, "unsupported_media", ""},
		{"json", "POST", "application/json; charset=utf-8", `{"inference_id":`, 400, "bad_json", ""},
		{"field", "POST", "", `[{"inference_id":"a","converted":1},{"inference_id":"b","converted":2}]`, 422, "invalid_value", "[1].converted"},
		{"unknown", "POST", "", `{"inference_id":"a","convrted":1}`, 400, "unknown_field", "convrted"},
		{"empty", "POST", "", ``, 422, "empty_batch", ""},
		{"large", "POST", "", `[` + strings.Repeat(`{"inference_id":"a","converted":1},`, MaxFeedbackBody/30) + `]`, 413, "body_too_large", ""},
	} {
		req, err := http.NewRequest(tc.method, srv.URL+"/v1/feedback", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		err = json.NewDecoder(resp.Body).Decode(&body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != tc.status {
			t.Errorf("%s: %d %v %v", tc.name, resp.StatusCode, body, err)
			continue
		}
		if tc.status == 200 {
			if body["accepted"] != 3.0 || body["matched"] != 2.0 || body["unmatched"] != 1.0 || body["stored"] != false {
				t.Errorf("%s: %v", tc.name, body)
			}
			continue
		}
		e := body["error"].(map[string]any)
		field, _ := e["field"].(string)
		if e["code"] != tc.code || field != tc.field || e["message"] == "" {
			t.Errorf("%s: error %v, want %s %q", tc.name, e, tc.code, tc.field)
		}
	}
	resp, err = http.Post(srv.URL+"/v1/monitoring", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /v1/monitoring: %s", resp.Status)
	}
	if q := m.Evaluate().Quality; q.LabeledRows != 2 {
		t.Errorf("labelled rows %d", q.LabeledRows)
	}
}
