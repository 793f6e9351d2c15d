package httpapi

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStatsMatchMetrics scores, fails and sheds requests, and checks that
// /v1/stats reports the same totals as /metrics.
func TestStatsMatchMetrics(t *testing.T) {
	s, _ := testServer(t, 3, func(c *Config) { c.Source = func() string { return "test source" } })
	for i := 0; i < 7; i++ {
		if w := do(s, "POST", "/score", "application/json", "[[0.1,0.2,0.3],[0.9,0.8,0.7]]"); w.Code != 200 {
			t.Fatalf("score: %d %s", w.Code, w.Body)
		}
	}
	for i := 0; i < 3; i++ {
		if w := do(s, "POST", "/score", "application/json", "[[1,2]]"); w.Code != 422 {
			t.Fatalf("bad row: %d", w.Code)
		}
	}
	do(s, "GET", "/healthz", "", "") // not scoring traffic
	w := do(s, "GET", "/v1/stats", "", "")
	if w.Code != 200 || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("stats: %d %v %s", w.Code, w.Header(), w.Body)
	}
	var st statsJSON
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Totals.Requests != 10 || st.Totals.Leads != 14 || st.Totals.ClientErrors != 3 || st.Totals.ServerErrors != 0 {
		t.Errorf("totals %+v, want 10 requests, 14 leads, 3 client errors", st.Totals)
	}
	if st.Totals.Rejections["wrong_feature_count"] != 3 {
		t.Errorf("rejections %v, want wrong_feature_count: 3", st.Totals.Rejections)
	}
	var tiers int64
	for _, n := range st.Totals.Tiers {
		tiers += n
	}
	if tiers != 14 {
		t.Errorf("tiers %v sum to %d, want 14", st.Totals.Tiers, tiers)
	}
	if st.Model.Name == "" || len(st.Model.Features) != 3 || st.Model.Source != "test source" || len(st.Model.TierCutoffs) != 4 {
		t.Errorf("model %+v", st.Model)
	}
	if st.Latency.Requests != 10 || st.Latency.P50ms == nil || st.Latency.P99ms == nil || *st.Latency.P99ms < *st.Latency.P50ms {
		t.Errorf("latency %+v", st.Latency)
	}
	if st.Lake != nil || st.Drift != nil || st.Routes.Monitoring {
		t.Errorf("no lake or monitor configured, got lake %v drift %v routes %+v", st.Lake, st.Drift, st.Routes)
	}
	// The same counters in /metrics.
	m := do(s, "GET", "/metrics", "", "").Body.String()
	for _, want := range []string{
		`leadscore_http_requests_total{code="200",route="/score"} 7`,
		`leadscore_http_requests_total{code="422",route="/score"} 3`,
		`leadscore_rows_scored_total 14`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestStatsSeries checks rates between snapshots and the history bounds.
func TestStatsSeries(t *testing.T) {
	s, _ := testServer(t, 1, func(c *Config) { c.StatsInterval = time.Second })
	t0 := time.Now()
	if _, err := s.stats.sample(t0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		do(s, "POST", "/score", "application/json", "[[1],[2]]")
	}
	samples, err := s.stats.sample(t0.Add(2 * time.Second))
	if err != nil || len(samples) != 2 {
		t.Fatalf("samples %d %v", len(samples), err)
	}
	st := s.buildStats(t0.Add(2*time.Second), samples)
	if len(st.Series) != 1 || st.Series[0].RequestsPerSecond != 10 || st.Series[0].LeadsPerSecond != 20 {
		t.Fatalf("series %+v, want one point at 10 req/s and 20 leads/s", st.Series)
	}
	// A snapshot less than an interval after the previous pair replaces
	// the newest, so totals stay current without crowding the history.
	samples, _ = s.stats.sample(t0.Add(2500 * time.Millisecond))
	if len(samples) != 3 {
		t.Fatalf("%d samples, want 3", len(samples))
	}
	samples, _ = s.stats.sample(t0.Add(2700 * time.Millisecond))
	if len(samples) != 3 || !samples[2].at.Equal(t0.Add(2700*time.Millisecond)) {
		t.Fatalf("%d samples, newest at %v: want the newest replaced", len(samples), samples[len(samples)-1].at)
	}
	// History is bounded in time.
	samples, _ = s.stats.sample(t0.Add(statsHistory + 10*time.Second))
	for _, sm := range samples {
		if t0.Add(statsHistory+10*time.Second).Sub(sm.at) > statsHistory {
			t.Errorf("sample at %v kept past the history span", sm.at)
		}
	}
}

func TestStatsQuantile(t *testing.T) {
	to := &statsSample{bounds: []float64{0.001, 0.01, 0.1, math.Inf(1)}, counts: []float64{50, 90, 100, 100}}
	for _, tc := range []struct{ q, want float64 }{{0.5, 0.001}, {0.25, 0.0005}, {0.7, 0.0055}, {0.95, 0.055}} {
		if got := quantile(tc.q, nil, to); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("q%v = %v, want %v", tc.q, got, tc.want)
		}
	}
	from := &statsSample{bounds: to.bounds, counts: []float64{50, 50, 50, 50}}
	if got := quantile(0.5, from, to); math.Abs(got-0.006625) > 1e-12 { // 40 in (1ms,10ms], 10 in (10ms,100ms]: 25 of 40 into the first
		t.Errorf("windowed median %v, want 0.006625", got)
	}
	if got := quantile(0.5, to, to); !math.IsNaN(got) {
		t.Errorf("no requests: %v, want NaN", got)
	}
	over := &statsSample{bounds: to.bounds, counts: []float64{0, 0, 0, 10}}
	if got := quantile(0.99, nil, over); got != 0.1 {
		t.Errorf("all above the last bound: %v, want 0.1", got)
	}
}

// TestStatsAuth: /v1/stats sits behind the keys of scoring.
func TestStatsAuth(t *testing.T) {
	k, err := ParseAPIKey("ops:" + HashKey("secret"))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := testServer(t, 1, func(c *Config) { c.APIKeys = []APIKey{k}; c.RequireAPIKey = true })
	if w := do(s, "GET", "/v1/stats", "", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("without a key: %d", w.Code)
	}
	if w := do(s, "GET", "/v1/stats", "", "", "Authorization", "Bearer secret"); w.Code != 200 {
		t.Errorf("with the key: %d %s", w.Code, w.Body)
	}
	if w := do(s, "POST", "/v1/stats", "", "", "Authorization", "Bearer secret"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
}

// TestConsoleRoutes: the console's paths go to Config.Console without a
// key, and are 404 without one.
func TestConsoleRoutes(t *testing.T) {
	off, _ := testServer(t, 1, nil)
	for _, p := range []string{"/", "/docs", "/ui/console.js"} {
		if w := do(off, "GET", p, "", ""); w.Code != 404 {
			t.Errorf("console off: GET %s = %d", p, w.Code)
		}
	}
	k, _ := ParseAPIKey("ops:" + HashKey("secret"))
	var got []string
	on, _ := testServer(t, 1, func(c *Config) {
		c.APIKeys, c.RequireAPIKey = []APIKey{k}, true
		c.Console = http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = append(got, r.URL.Path) })
	})
	for _, p := range []string{"/", "/docs", "/ui/console.js"} {
		if w := do(on, "GET", p, "", ""); w.Code != 200 {
			t.Errorf("console on: GET %s = %d", p, w.Code)
		}
	}
	if w := do(on, "POST", "/", "", ""); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d", w.Code)
	}
	if strings.Join(got, " ") != "/ /docs /ui/console.js" {
		t.Errorf("console saw %v", got)
	}
}
