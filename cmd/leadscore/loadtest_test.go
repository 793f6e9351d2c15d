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
