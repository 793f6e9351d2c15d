package main

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/forest"
	"github.com/leadscore/leadscore/monitor"
	"github.com/leadscore/leadscore/tabular"
)

// writeLakeFile writes rows [lo, hi) of a lead-demo CSV, scored by the
// demo model, as one capture file: event_time (TIMESTAMP millis) from
// start a second apart, ids, model, one nullable FLOAT column per feature,
// margin, probability, tier and latency_ms, zstd-compressed.
func writeLakeFile(t *testing.T, path, csvName string, lo, hi int, start time.Time) {
	t.Helper()
	writeLakeFileWith(t, path, csvName, lo, hi, start, nil)
}

// writeLakeFileWith is writeLakeFile with each row's features changed by
// modify (when not nil) before the demo model scores them, as an upstream
// fault would.
func writeLakeFileWith(t *testing.T, path, csvName string, lo, hi int, start time.Time, modify func(names []string, row []float32)) {
	t.Helper()
	b, tab, probs := scoredLeads(t, csvName)
	names := b.FeatureNames()
	if modify != nil {
		vals := append([]float32(nil), tab.Values...)
		for i := range tab.Rows {
			modify(names, vals[i*len(names):(i+1)*len(names)])
		}
		probs = make([]float32, tab.Rows)
		if err := b.Forest().Predict(vals, probs); err != nil {
			t.Fatal(err)
		}
		tab = &tabular.Table{Rows: tab.Rows, Values: vals}
	}
	g := parquet.Group{
		"event_time": parquet.Timestamp(parquet.Millisecond), "request_id": parquet.String(), "inference_id": parquet.String(),
		"lead_id": parquet.Optional(parquet.String()), "model_name": parquet.String(), "model_version": parquet.String(),
		"margin": parquet.Leaf(parquet.DoubleType), "probability": parquet.Leaf(parquet.DoubleType),
		"tier": parquet.Int(32), "latency_ms": parquet.Leaf(parquet.DoubleType),
	}
	index := map[string]int{}
	for i, n := range names {
		g[n] = parquet.Optional(parquet.Leaf(parquet.FloatType))
		index[n] = i
	}
	schema := parquet.NewSchema("lead", g)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewWriter(f, schema, parquet.Compression(&zstd.Codec{}))
	var rows []parquet.Row
	for i := lo; i < hi; i++ {
		p := float64(probs[i])
		var row parquet.Row
		for c, col := range schema.Columns() {
			var v parquet.Value
			def := 0
			switch col[0] {
			case "event_time":
				v = parquet.Int64Value(start.Add(time.Duration(i-lo) * time.Second).UnixMilli())
			case "request_id", "inference_id", "lead_id":
				v = parquet.ByteArrayValue([]byte(col[0] + strconv.Itoa(i)))
				if col[0] == "lead_id" {
					def = 1
				}
			case "model_name":
				v = parquet.ByteArrayValue([]byte("lead-demo"))
			case "model_version":
				v = parquet.ByteArrayValue([]byte("1.0.0"))
			case "margin":
				v = parquet.DoubleValue(math.Log(p / (1 - p)))
			case "probability":
				v = parquet.DoubleValue(p)
			case "tier":
				v = parquet.Int32Value(int32(b.Manifest().Tiers.Tier(p)))
			case "latency_ms":
				v = parquet.DoubleValue(0.25)
			default:
				x := tab.Values[i*len(names)+index[col[0]]]
				if math.IsNaN(float64(x)) {
					row = append(row, parquet.NullValue().Level(0, 0, c))
					continue
				}
				v, def = parquet.FloatValue(x), 1
			}
			row = append(row, v.Level(0, def, c))
		}
		rows = append(rows, row)
	}
	if _, err := w.WriteRows(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

var (
	leadsMu    sync.Mutex
	leadsCache = map[string]*tabular.Table{}
	probsCache = map[string][]float32{}
)

// scoredLeads reads a lead-demo CSV and scores it with the demo model,
// once per file.
func scoredLeads(t *testing.T, csvName string) (*bundle.Bundle, *tabular.Table, []float32) {
	t.Helper()
	b, err := bundle.Demo()
	if err != nil {
		t.Fatal(err)
	}
	leadsMu.Lock()
	defer leadsMu.Unlock()
	if tab, ok := leadsCache[csvName]; ok {
		return b, tab, probsCache[csvName]
	}
	in, err := os.Open(filepath.Join("..", "..", "testdata", "lead-demo", csvName))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = in.Close() }()
	tab, err := tabular.ReadCSV(in, b.FeatureNames(), tabular.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	probs := make([]float32, tab.Rows)
	forest.ReplaceMissing(tab.Values, float32(math.NaN()))
	if err := b.Forest().Predict(tab.Values, probs); err != nil {
		t.Fatal(err)
	}
	leadsCache[csvName], probsCache[csvName] = tab, probs
	return b, tab, probs
}

// testLake holds clean leads at 10:00 and drifted ones at 11:00 on
// 2025-06-01.
func testLake(t *testing.T) string {
	lake := t.TempDir()
	day := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	writeLakeFile(t, filepath.Join(lake, "dt=2025-06-01", "hour=10", "part-0.parquet"), "leads_10k.csv", 0, 3000, day.Add(10*time.Hour))
	writeLakeFile(t, filepath.Join(lake, "dt=2025-06-01", "hour=11", "part-0.parquet"), "leads_10k_drift.csv", 0, 3000, day.Add(11*time.Hour))
	return lake
}

// TestMonitorLake runs `leadscore monitor` on the clean hour and on the
// drifted one.
func TestMonitorLake(t *testing.T) {
	lake := testLake(t)
	out := filepath.Join(t.TempDir(), "clean")
	code, stdout, stderr := runCLI(t, "", "monitor", "--lake", lake, "--until", "2025-06-01T11:00:00Z", "--since", "1h", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "monitor-clean/stdout", strings.NewReplacer(lake, "LAKE", out, "OUT").Replace(stdout))

	out = filepath.Join(t.TempDir(), "drift")
	code, stdout, stderr = runCLI(t, "", "monitor", "--lake", lake, "--until", "2025-06-01T12:00:00Z", "--since", "1h",
		"--out", out, "--baseline", filepath.Join("..", "..", "bundle", "demo", "baseline"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "monitor-drift/stdout", strings.NewReplacer(lake, "LAKE", out, "OUT").Replace(stdout))
	var vs monitor.Violations
	raw, err := os.ReadFile(filepath.Join(out, monitor.ViolationsFile))
	if err != nil || json.Unmarshal(raw, &vs) != nil {
		t.Fatalf("%s: %v", monitor.ViolationsFile, err)
	}
	flagged := map[string]bool{}
	for _, v := range vs.Violations {
		flagged[v.FeatureName] = true
	}
	for _, name := range []string{"company_size_log", "country_tier", "email_opens_30d", "lead_source_code", "annual_revenue_log", "pages_viewed_30d"} {
		if !flagged[name] {
			t.Errorf("%s not flagged", name)
		}
	}
	var stats monitor.Statistics
	raw, err = os.ReadFile(filepath.Join(out, monitor.StatisticsFile))
	if err != nil || json.Unmarshal(raw, &stats) != nil || stats.Dataset.ItemCount != 3000 || len(stats.Features) != 50 {
		t.Errorf("%s: %v %+v", monitor.StatisticsFile, err, stats.Dataset)
	}
	var report monitor.Report
	raw, err = os.ReadFile(filepath.Join(out, "monitoring.json"))
	if err != nil || json.Unmarshal(raw, &report) != nil || report.Window.Rows != 3000 || report.Model.Name != "lead-demo" {
		t.Errorf("monitoring.json: %v %+v", err, report.Window)
	}
	// --json prints that same report on stdout.
	code, stdout, _ = runCLI(t, "", "monitor", "--lake", lake, "--until", "2025-06-01T12:00:00Z", "--since", "1h",
		"--out", t.TempDir(), "--baseline", filepath.Join("..", "..", "bundle", "demo", "baseline"), "--json")
	var printed monitor.Report
	if code != 0 || json.Unmarshal([]byte(stdout), &printed) != nil || printed.Window.Rows != 3000 ||
		len(printed.ConstraintViolations.Violations) != len(vs.Violations) {
		t.Errorf("--json: exit %d, %.200s", code, stdout)
	}
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil || !strings.Contains(string(page), "<svg") || !strings.Contains(string(page), "email_opens_30d") {
		t.Errorf("report.html: %v", err)
	}

	// --fail-on-violation, and a webhook.
	var mu sync.Mutex
	var texts []string
	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg struct{ Text string }
		_ = json.Unmarshal(body, &msg)
		mu.Lock()
		texts = append(texts, msg.Text)
		mu.Unlock()
	}))
	defer hook.Close()
	t.Setenv("LEADSCORE_MONITOR_WEBHOOK_URL", hook.URL)
	code, _, stderr = runCLI(t, "", "monitor", "--lake", lake, "--until", "2025-06-01T12:00:00Z", "--since", "1h",
		"--out", out, "--fail-on-violation", "--baseline", "demo")
	if code != 3 || !strings.Contains(stderr, "constraints violated") {
		t.Errorf("--fail-on-violation: exit %d, %s", code, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(texts) != 1 || !strings.HasPrefix(texts[0], "leadscore monitor "+lake+": ") {
		t.Errorf("webhook got %q", texts)
	}
}

func TestMonitorErrors(t *testing.T) {
	lake := t.TempDir()
	bundleDir := t.TempDir() // a bundle without a baseline
	model, err := os.ReadFile(filepath.Join("..", "..", "testdata", "lead-demo", "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundleDir, "model.json"), model, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundleDir, "manifest.json"), []byte(`{"model":"model.json"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	badBundle := t.TempDir()
	if err := os.WriteFile(filepath.Join(badBundle, "manifest.json"), []byte(`{`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "needs --lake"},
		{[]string{"--lake", lake, "--since", "-1h"}, 2, "--since"},
		{[]string{"--lake", lake, "--until", "yesterday"}, 2, "--until"},
		{[]string{"--lake", "s3://"}, 2, "names no bucket"},
		{[]string{"--lake", filepath.Join(lake, "nope")}, 2, "no such file"},
		{[]string{"--lake", lake, "--baseline", t.TempDir()}, 2, "baseline"},
		{[]string{"--lake", lake, "--baseline", bundleDir}, 2, "baseline of"},
		{[]string{"--lake", lake, "--baseline", badBundle}, 2, "baseline"},
		{[]string{"--lake", lake, "--out", filepath.Join(os.DevNull, "x")}, 1, "not a directory"},
		{[]string{"--lake", "x", "extra"}, 2, "unexpected argument"},
		{[]string{"-h"}, 0, ""},
	} {
		code, _, stderr := runCLI(t, "", append([]string{"monitor"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, stderr)
		}
	}
	// A lake with violations and a webhook that is not a URL.
	full := testLake(t)
	code, _, stderr := runCLI(t, "", "monitor", "--lake", full, "--until", "2025-06-01T12:00:00Z", "--out", t.TempDir(), "--webhook", "nope")
	if code != 2 || !strings.Contains(stderr, "--monitor-webhook-url") {
		t.Errorf("bad webhook: exit %d, %s", code, stderr)
	}
	// A webhook that refuses (a 4xx is not retried).
	gone := httptest.NewServer(http.NotFoundHandler())
	defer gone.Close()
	code, _, stderr = runCLI(t, "", "monitor", "--lake", full, "--until", "2025-06-01T12:00:00Z", "--out", t.TempDir(), "--webhook", gone.URL)
	if code != 1 || !strings.Contains(stderr, "alert webhook: webhook answered 404") {
		t.Errorf("refusing webhook: exit %d, %s", code, stderr)
	}
}
