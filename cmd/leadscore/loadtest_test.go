package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadscore/leadscore/loadgen"
)

// loadtestReport is a fixed report for the output tests.
func loadtestReport(rate float64, p99 time.Duration) loadgen.Report {
	return loadgen.Report{
		URL: "http://127.0.0.1:8080/score", Rate: rate, Batch: 100, Connections: 64,
		Scheduled: 10000, Sent: 9990, OK: 9970, Failed: 20, Late: 12, Missed: 10,
		Errors:     map[string]int64{"HTTP 503": 15, "timeout": 3, "connection reset": 2},
		FirstError: `Post "http://127.0.0.1:8080/score": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
		Elapsed:    10*time.Second + 2*time.Millisecond,
		Latency: loadgen.Percentiles{
			P50: 412 * time.Microsecond, P90: 690 * time.Microsecond, P99: p99,
			P999: 3001 * time.Microsecond, Max: 10 * time.Second, Mean: 450 * time.Microsecond,
		},
		Lag: loadgen.Percentiles{
			P50: 9 * time.Microsecond, P90: 20 * time.Microsecond, P99: 55 * time.Microsecond,
			P999: 120 * time.Microsecond, Max: 2 * time.Millisecond, Mean: 11 * time.Microsecond,
		},
	}
}

func TestLoadtestTableOutput(t *testing.T) {
	var out bytes.Buffer
	if err := writeRunTable(&out, loadtestReport(1000, 1210*time.Microsecond)); err != nil {
		t.Fatal(err)
	}
	golden(t, "loadtest/table/stdout", out.String())
}

func TestLoadtestSearchOutput(t *testing.T) {
	var out bytes.Buffer
	cfg := loadgen.Config{URL: "http://127.0.0.1:8080/score", Batch: 100, Connections: 64, Duration: 2 * time.Second}
	if err := writeSearchHeader(&out, cfg); err != nil {
		t.Fatal(err)
	}
	ok := loadtestReport(1000, time.Millisecond)
	ok.Failed, ok.Missed = 0, 0
	res := loadgen.SearchResult{Best: 0, Steps: []loadgen.Step{
		{Report: ok, Sustained: true},
		{Report: loadtestReport(1500, 40*time.Millisecond), Sustained: false},
	}}
	for _, s := range res.Steps {
		if err := writeSearchStep(&out, s.Report, s.Sustained); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeSearchSummary(&out, res, 25*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	golden(t, "loadtest/search/stdout", out.String())
}

// loadtestServer stands in for POST /score on 127.0.0.1. It checks the
// API key and that each body is a JSON array of rows, records the first
// row it sees, and answers 503 once it has answered okLimit requests.
type loadtestServer struct {
	*httptest.Server
	requests atomic.Int64
	rows     atomic.Int64
	mu       sync.Mutex
	firstRow []*float64
}

func newLoadtestServer(t *testing.T, okLimit int64) *loadtestServer {
	t.Helper()
	s := &loadtestServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.requests.Add(1)
		if r.Header.Get("Authorization") != "Bearer k1" {
			http.Error(w, `{"error":{"code":"unauthorized"}}`, http.StatusUnauthorized)
			return
		}
		var rows [][]*float64
		if err := json.NewDecoder(r.Body).Decode(&rows); err != nil || len(rows) == 0 {
			http.Error(w, `{"error":{"code":"bad_json"}}`, http.StatusBadRequest)
			return
		}
		s.rows.Add(int64(len(rows)))
		s.mu.Lock()
		if s.firstRow == nil {
			s.firstRow = rows[0]
		}
		s.mu.Unlock()
		if n > okLimit {
			http.Error(w, `{"error":{"code":"overloaded"}}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprint(w, `{"results":[]}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func runLoadtestArgs(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errw bytes.Buffer
	err = runLoadtest(args, &out, &errw)
	return out.String(), errw.String(), err
}

func TestLoadtestRunJSON(t *testing.T) {
	srv := newLoadtestServer(t, 30)
	stdout, stderr, err := runLoadtestArgs(t, "--url", srv.URL+"/score", "--rate", "1000", "--max-requests", "40",
		"--batch", "3", "--connections", "4", "--api-key", "k1", "--json")
	if err != nil {
		t.Fatalf("loadtest: %v\n%s", err, stderr)
	}
	var got runJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if got.Scheduled != 40 || got.Sent != 40 || got.OK != 30 || got.Failed != 10 || got.Missed != 0 {
		t.Errorf("scheduled %d, sent %d, ok %d, failed %d, missed %d; want 40, 40, 30, 10, 0",
			got.Scheduled, got.Sent, got.OK, got.Failed, got.Missed)
	}
	if len(got.Errors) != 1 || got.Errors["HTTP 503"] != 10 {
		t.Errorf("errors %v, want HTTP 503: 10", got.Errors)
	}
	if got.Batch != 3 || srv.rows.Load() != 120 {
		t.Errorf("batch %d, server saw %d rows; want 3 and 120", got.Batch, srv.rows.Load())
	}
	if got.LatencyMS.P99 <= 0 || got.LatencyMS.Max < got.LatencyMS.P99 || math.Abs(got.LeadsRate-3*got.OKRate) > 1e-9*got.LeadsRate {
		t.Errorf("latency %+v, ok rate %v, leads rate %v", got.LatencyMS, got.OKRate, got.LeadsRate)
	}
}

func TestLoadtestRunTableAndInput(t *testing.T) {
	srv := newLoadtestServer(t, 1000)
	input := filepath.Join(t.TempDir(), "leads.csv")
	if err := os.WriteFile(input, []byte("a,b,converted\n1.5,,1\n2,3,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(apiKeyEnv, "k1")
	stdout, stderr, err := runLoadtestArgs(t, "--url", srv.URL, "--rate", "500", "--duration", "20ms", "--input", input)
	if err != nil {
		t.Fatalf("loadtest: %v\n%s", err, stderr)
	}
	for _, want := range []string{"requests  10 scheduled, 10 sent, 10 ok, 0 failed", "errors    none", "latency"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	// Requests run concurrently, so the first to arrive may carry either
	// input row; both must arrive intact (the empty field as null).
	r := srv.firstRow
	first := len(r) == 2 && r[0] != nil && *r[0] == 1.5 && r[1] == nil
	second := len(r) == 2 && r[0] != nil && *r[0] == 2 && r[1] != nil && *r[1] == 3
	if !first && !second {
		t.Errorf("first row sent: %v, want [1.5 null] or [2 3]", r)
	}
}

func TestLoadtestSearch(t *testing.T) {
	// 30 good answers, then 503s: steps of 100ms at 100/s (10 requests)
	// and 150/s (15) are sustained, 225/s (23) and the bisection steps
	// after it are not.
	srv := newLoadtestServer(t, 30)
	stdout, stderr, err := runLoadtestArgs(t, "--url", srv.URL, "--search", "--rate", "100", "--duration", "100ms",
		"--max-p99", "10s", "--api-key", "k1", "--json")
	if err != nil {
		t.Fatalf("loadtest --search: %v\n%s", err, stderr)
	}
	var got searchJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	var rates []float64
	for _, s := range got.Steps {
		rates = append(rates, s.TargetRate)
	}
	want := []float64{100, 150, 225, 187.5, 168.75, 159.375}
	if fmt.Sprint(rates) != fmt.Sprint(want) {
		t.Errorf("rates tried %v, want %v", rates, want)
	}
	if got.MaxRate != 150 || got.Best == nil || got.Best.TargetRate != 150 || got.MaxP99MS != 10000 {
		t.Errorf("max rate %v, best %+v, max p99 %vms; want 150 and its step, 10000ms", got.MaxRate, got.Best, got.MaxP99MS)
	}
}

func TestLoadtestFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/score"
	_ = ln.Close()
	always503 := newLoadtestServer(t, 0)

	tests := []struct {
		name string
		args []string
		is   error // nil: any error
		msg  string
	}{
		{"help", []string{"-h"}, errHelp, ""},
		{"stray argument", []string{"now"}, errUsage, "unexpected argument"},
		{"zero rate", []string{"--rate", "0"}, errUsage, "--rate"},
		{"unbounded", []string{"--duration", "0"}, errUsage, "--duration"},
		{"batch", []string{"--batch", "0"}, errUsage, "--batch"},
		{"connections", []string{"--connections", "0"}, errUsage, "--connections"},
		{"bad url", []string{"--url", "127.0.0.1:8080/score"}, errUsage, "url"},
		{"missing input", []string{"--input", "/nonexistent/leads.csv"}, errInput, "no such file"},
		{"refused", []string{"--url", closed, "--max-requests", "3", "--rate", "100"}, nil, "no request succeeded (connection refused: 3)"},
		{"all 503", []string{"--url", always503.URL, "--max-requests", "2", "--rate", "100", "--api-key", "k1"}, nil, "HTTP 503: 2"},
		{"search finds nothing", []string{"--url", always503.URL, "--search", "--rate", "20", "--duration", "100ms", "--api-key", "k1"}, nil, "no rate tried was sustained"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runLoadtestArgs(t, tt.args...)
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want %v containing %q", err, tt.is, tt.msg)
			}
		})
	}
}

func TestLoadtestExitStatus(t *testing.T) {
	var out, errw bytes.Buffer
	if got := run([]string{"loadtest", "--rate", "-1"}, nil, &out, &errw); got != 2 {
		t.Errorf("exit status %d for a bad flag, want 2 (stderr %q)", got, errw.String())
	}
	errw.Reset()
	if got := run([]string{"loadtest", "-h"}, nil, &out, &errw); got != 0 || !strings.Contains(out.String(), "open loop") {
		t.Errorf("exit status %d for -h, want 0 and the usage on stdout, got %q", got, out.String())
	}
}

// histRelErrTest is loadgen's histogram precision: values within 1/1024.
const histRelErrTest = 1.0 / 1024

// hgrmFile is a parsed HdrHistogram percentile file (.hgrm).
type hgrmFile struct {
	rows []hgrmRow
	// The footer: #[Mean ...], #[Max ..., Total count ...].
	mean, stdDev, max float64
	total             int64
}

type hgrmRow struct {
	value, percentile float64
	count             int64
}

// parseHgrm reads the format HdrHistogram's plotters read: the header
// line, a blank line, rows of value, percentile, total count and
// 1/(1-percentile) ("inf" on the last), and the three #[...] footer lines.
func parseHgrm(t *testing.T, text string) hgrmFile {
	t.Helper()
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) < 6 || strings.Join(strings.Fields(lines[0]), " ") != "Value Percentile TotalCount 1/(1-Percentile)" || lines[1] != "" {
		t.Fatalf("no .hgrm header:\n%s", text)
	}
	var f hgrmFile
	body, footer := lines[2:len(lines)-3], lines[len(lines)-3:]
	for i, line := range body {
		fs := strings.Fields(line)
		if len(fs) != 4 {
			t.Fatalf("row %d: %q: want 4 fields", i, line)
		}
		var r hgrmRow
		var err1, err2, err3 error
		r.value, err1 = strconv.ParseFloat(fs[0], 64)
		r.percentile, err2 = strconv.ParseFloat(fs[1], 64)
		r.count, err3 = strconv.ParseInt(fs[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil || r.percentile < 0 || r.percentile > 1 {
			t.Fatalf("row %d: %q: %v", i, line, err)
		}
		if inv := fs[3]; (r.percentile == 1) != (inv == "inf") {
			t.Errorf("row %d: %q: 1/(1-percentile) is %s", i, line, inv)
		} else if inv != "inf" {
			// The percentile is printed to 6 decimals: allow for that.
			if v, err := strconv.ParseFloat(inv, 64); err != nil || math.Abs(v-1/(1-r.percentile)) > 0.01+v*v*1e-6 {
				t.Errorf("row %d: %q: 1/(1-percentile) is %s", i, line, inv)
			}
		}
		if n := len(f.rows); n > 0 {
			if p := f.rows[n-1]; r.value < p.value || r.percentile < p.percentile || r.count < p.count {
				t.Errorf("row %d: %q goes down", i, line)
			}
		}
		f.rows = append(f.rows, r)
	}
	var buckets, subBuckets int
	_, err1 := fmt.Sscanf(footer[0], "#[Mean = %f, StdDeviation = %f]", &f.mean, &f.stdDev)
	_, err2 := fmt.Sscanf(footer[1], "#[Max = %f, Total count = %d]", &f.max, &f.total)
	_, err3 := fmt.Sscanf(footer[2], "#[Buckets = %d, SubBuckets = %d]", &buckets, &subBuckets)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatalf("footer %q: %v", footer, err)
	}
	return f
}

// TestLoadtestHgrm: --hgrm writes the 2xx latency distribution as an
// .hgrm file that parses (header, percentile rows, footer), covers every
// 2xx response, and agrees with the printed percentiles: the row at 50% is
// the printed p50, and the printed p99 lies between the rows either side
// of the 99th percentile's rank by their TotalCount (the rows are at
// HdrHistogram's reporting ticks, not at 99% itself).
func TestLoadtestHgrm(t *testing.T) {
	srv := newLoadtestServer(t, 180)
	file := filepath.Join(t.TempDir(), "latency.hgrm")
	stdout, stderr, err := runLoadtestArgs(t, "--url", srv.URL, "--rate", "2000", "--max-requests", "200",
		"--connections", "8", "--api-key", "k1", "--json", "--hgrm", file)
	if err != nil {
		t.Fatalf("loadtest: %v\n%s", err, stderr)
	}
	var got runJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout: %v\n%s", err, stdout)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	h := parseHgrm(t, string(raw))
	last := h.rows[len(h.rows)-1]
	if got.OK != 180 || h.total != got.OK || last.count != got.OK || last.percentile != 1 {
		t.Fatalf("ok %d, file total %d, last row %+v; want 180 everywhere", got.OK, h.total, last)
	}
	const tol = 0.0011 // ms: the file rounds to µs, the JSON truncates
	lat := got.LatencyMS
	if math.Abs(h.max-lat.Max) > lat.Max*histRelErrTest+tol || math.Abs(h.mean-lat.Mean) > lat.Mean*histRelErrTest+tol {
		t.Errorf("file max %v mean %v, printed max %v mean %v", h.max, h.mean, lat.Max, lat.Mean)
	}
	// The 99th percentile is the value of rank 0.99*OK, rounded one way or
	// the other: a row with fewer responses is at or below it, a row with
	// at least that many at or above it.
	lo, hi := int64(math.Floor(0.99*float64(got.OK))), int64(math.Ceil(0.99*float64(got.OK)))
	var p50 *hgrmRow
	below, above := h.rows[0], last
	for i := range h.rows {
		r := h.rows[i]
		if r.percentile == 0.5 && p50 == nil {
			p50 = &h.rows[i]
		}
		if r.count < lo {
			below = r
		} else if r.count >= hi && above == last {
			above = r
		}
	}
	if p50 == nil {
		t.Fatal("no row at 50%")
	}
	if want := math.Min(p50.value, lat.Max); math.Abs(lat.P50-want) > tol {
		t.Errorf("printed p50 %v ms, the file's 50%% row %v ms", lat.P50, p50.value)
	}
	if lat.P99 < below.value-tol || lat.P99 > above.value+tol {
		t.Errorf("printed p99 %v ms is not between the file's rows of %d (%v ms) and %d (%v ms) responses",
			lat.P99, below.count, below.value, above.count, above.value)
	}
}
