package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
)

func TestHealth(t *testing.T) {
	s, _ := testServer(t, 1, nil)
	for _, p := range []string{"/healthz", "/readyz", "/ping"} {
		w := do(s, "GET", p, "", "")
		if w.Code != 200 || !json.Valid(w.Body.Bytes()) {
			t.Errorf("GET %s: %d %s", p, w.Code, w.Body.String())
		}
		if w := do(s, "HEAD", p, "", ""); w.Code != 200 {
			t.Errorf("HEAD %s: %d", p, w.Code)
		}
		if w := do(s, "POST", p, "", ""); w.Code != 405 {
			t.Errorf("POST %s: %d", p, w.Code)
		}
	}
	if w := do(s, "GET", "/readyz", "", ""); !strings.Contains(w.Body.String(), `"model":{"name":"fake","version":"1"}`) {
		t.Errorf("readyz body %s", w.Body.String())
	}
	s.Drain()
	for p, want := range map[string]int{"/healthz": 200, "/readyz": 503, "/ping": 503} {
		if w := do(s, "GET", p, "", ""); w.Code != want {
			t.Errorf("draining GET %s: %d, want %d", p, w.Code, want)
		}
	}
	// Scoring continues while draining: in-flight and late requests finish.
	if w := do(s, "POST", "/score", "application/json", "[[1]]"); w.Code != 200 {
		t.Errorf("draining score: %d", w.Code)
	}
}

func TestNewErrors(t *testing.T) {
	good := func() (leadscore.Scorer, error) { return newFake(1), nil }
	key, _ := NewAPIKey("a", HashKey("s"), false)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no loader", Config{}},
		{"loader fails", Config{Loader: func() (leadscore.Scorer, error) { return nil, errBroken }}},
		{"nil model", Config{Loader: func() (leadscore.Scorer, error) { return nil, nil }}},
		{"keys required but none", Config{Loader: good, RequireAPIKey: true}},
		{"duplicate key names", Config{Loader: good, APIKeys: []APIKey{key, key}}},
		{"negative rate", Config{Loader: good, RateLimit: -1}},
		{"registerer not gatherer", Config{Loader: good, Registerer: prometheus.WrapRegistererWithPrefix("x_", prometheus.NewRegistry())}},
	}
	for _, tt := range tests {
		if _, err := New(context.Background(), tt.cfg); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
	// Registering twice on one registry fails cleanly.
	reg := prometheus.NewRegistry()
	if _, err := New(context.Background(), Config{Loader: good, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), Config{Loader: good, Registerer: reg}); err == nil {
		t.Error("second New on one registry succeeded")
	}
	// A nil registerer gets a private registry; limits take defaults.
	s, err := New(context.Background(), Config{Loader: good, MaxInFlight: -1})
	if err != nil {
		t.Fatal(err)
	}
	if s.maxBatch != DefaultMaxBatch || s.maxBody != DefaultMaxBody || s.maxInFlight != 0 {
		t.Errorf("defaults: %d %d %d", s.maxBatch, s.maxBody, s.maxInFlight)
	}
}

func TestModelChecks(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(f *fakeScorer)
	}{
		{"no features", func(f *fakeScorer) { f.nf = 0 }},
		{"bad tiers", func(f *fakeScorer) { f.tiers = leadscore.Tiers{0.5, 0.4, 0.6, 0.8} }},
		{"fails to score", func(f *fakeScorer) { f.err = errBroken }},
		{"panics", func(f *fakeScorer) { f.panicMsg = "corrupt" }},
	}
	for _, tt := range tests {
		f := newFake(2)
		tt.mutate(f)
		_, err := New(context.Background(), Config{Loader: func() (leadscore.Scorer, error) { return f, nil }})
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	_, err := newServed(context.Background(), dupScorer{newFake(2)})
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate names: %v", err)
	}
	_, err = newServed(context.Background(), nanScorer{newFake(2)})
	if err == nil {
		t.Error("NaN probability accepted")
	}
}

type dupScorer struct{ *fakeScorer }

func (d dupScorer) Info() leadscore.ModelInfo {
	i := d.fakeScorer.Info()
	i.Features[1].Name = i.Features[0].Name
	return i
}

type nanScorer struct{ *fakeScorer }

func (n nanScorer) Score(_ context.Context, _ []float32, _ int, out []leadscore.Result) error {
	out[0] = leadscore.Result{Score: 1, Probability: math.NaN()}
	return nil
}

func TestAPIKeys(t *testing.T) {
	crm, err := ParseAPIKey("crm:" + HashKey("crm-secret"))
	if err != nil {
		t.Fatal(err)
	}
	ops, err := ParseAPIKey(" ops:" + strings.ToUpper(HashKey("ops-secret")) + ":admin ")
	if err != nil || !ops.Admin || ops.Name != "ops" {
		t.Fatalf("admin key %+v %v", ops, err)
	}
	for _, bad := range []string{"", "x", ":" + HashKey("a"), "x:zz", "x:" + HashKey("a") + ":root", "a:b:c:d", "x:abcd"} {
		if _, err := ParseAPIKey(bad); err == nil {
			t.Errorf("ParseAPIKey(%q) succeeded", bad)
		}
	}
	if _, err := NewAPIKey("", HashKey("a"), false); err == nil {
		t.Error("NewAPIKey without name succeeded")
	}
	if _, err := NewAPIKey("n", "nothex", false); err == nil {
		t.Error("NewAPIKey with bad hash succeeded")
	}

	keys := []APIKey{crm, ops}
	required, _ := testServer(t, 1, func(c *Config) { c.APIKeys = keys; c.RequireAPIKey = true })
	optional, _ := testServer(t, 1, func(c *Config) { c.APIKeys = keys })
	tests := []struct {
		name    string
		s       *Server
		headers []string
		status  int
	}{
		{"required, none", required, nil, 401},
		{"required, bearer", required, []string{"Authorization", "Bearer crm-secret"}, 200},
		{"required, bearer lower case", required, []string{"Authorization", "bearer ops-secret"}, 200},
		{"required, x-api-key", required, []string{"X-API-Key", "ops-secret"}, 200},
		{"required, wrong", required, []string{"X-API-Key", "nope"}, 401},
		{"required, basic auth", required, []string{"Authorization", "Basic Y3JtOmNybQ=="}, 401},
		{"required, the stored hash as the key", required, []string{"Authorization", "Bearer " + HashKey("crm-secret")}, 401},
		{"optional, none", optional, nil, 200},
		{"optional, right", optional, []string{"Authorization", "Bearer crm-secret"}, 200},
		{"optional, wrong", optional, []string{"Authorization", "Bearer crm-secreT"}, 401},
	}
	for _, tt := range tests {
		w := do(tt.s, "POST", "/score", "application/json", "[[1]]", tt.headers...)
		if w.Code != tt.status {
			t.Errorf("%s: %d, want %d (%s)", tt.name, w.Code, tt.status, w.Body.String())
		}
		if w.Code == 401 {
			if decodeError(t, w).Error.Code != codeUnauthorized || w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("%s: %s %v", tt.name, w.Body.String(), w.Header())
			}
		}
	}
	// Health, readiness and metrics stay open for probes and scrapers.
	for _, p := range []string{"/healthz", "/readyz", "/ping", "/metrics", "/v2/health/ready"} {
		if w := do(required, "GET", p, "", ""); w.Code != 200 {
			t.Errorf("GET %s with keys required: %d", p, w.Code)
		}
	}
	for _, p := range []string{"/invocations", "/v2/models/fake/infer"} {
		if w := do(required, "POST", p, "application/json", "[[1]]"); w.Code != 401 {
			t.Errorf("POST %s without key: %d", p, w.Code)
		}
	}
}

func TestAdminReload(t *testing.T) {
	crm, _ := NewAPIKey("crm", HashKey("crm-secret"), false)
	ops, _ := NewAPIKey("ops", HashKey("ops-secret"), true)
	var version atomic.Int64
	version.Store(1)
	var broken atomic.Bool
	loader := func() (leadscore.Scorer, error) {
		if broken.Load() {
			return nil, errBroken
		}
		f := newFake(1)
		f.version = strconv.FormatInt(version.Load(), 10)
		return f, nil
	}
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	s, err := New(context.Background(), Config{Loader: loader, APIKeys: []APIKey{crm, ops}, Registerer: reg, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	if w := do(s, "POST", "/admin/reload", "", ""); w.Code != 401 {
		t.Errorf("no key: %d", w.Code)
	}
	if w := do(s, "POST", "/admin/reload", "", "", "X-API-Key", "crm-secret"); w.Code != 403 {
		t.Errorf("non-admin key: %d", w.Code)
	}
	if w := do(s, "GET", "/admin/reload", "", "", "X-API-Key", "ops-secret"); w.Code != 405 {
		t.Errorf("GET: %d", w.Code)
	}
	version.Store(2)
	w := do(s, "POST", "/admin/reload", "", "", "Authorization", "Bearer ops-secret")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"version":"2"`) {
		t.Fatalf("admin reload: %d %s", w.Code, w.Body.String())
	}
	if b := decodeScore(t, do(s, "POST", "/score", "application/json", "[[1]]")); b.Model.Version != "2" {
		t.Errorf("score after reload uses version %q", b.Model.Version)
	}
	broken.Store(true)
	w = do(s, "POST", "/admin/reload", "", "", "X-API-Key", "ops-secret")
	if w.Code != 422 || decodeError(t, w).Error.Code != codeModelRejected || !strings.Contains(w.Body.String(), "still serving fake 2") {
		t.Fatalf("broken reload: %d %s", w.Code, w.Body.String())
	}
	if b := decodeScore(t, do(s, "POST", "/score", "application/json", "[[1]]")); b.Model.Version != "2" {
		t.Errorf("after a rejected reload the version is %q", b.Model.Version)
	}
	if !strings.Contains(logs.String(), `"msg":"model reload rejected"`) || !strings.Contains(logs.String(), "broken model file") {
		t.Errorf("rejection not logged: %s", logs.String())
	}
	m := do(s, "GET", "/metrics", "", "").Body.String()
	for _, want := range []string{
		`leadscore_model_info{name="fake",version="2"} 1`,
		`leadscore_model_reloads_total{result="ok"} 1`,
		`leadscore_model_reloads_total{result="rejected"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, `version="1"`) {
		t.Error("metrics still show version 1")
	}

	// Without an admin key configured the route is off.
	plain, _ := testServer(t, 1, func(c *Config) { c.APIKeys = []APIKey{crm} })
	if w := do(plain, "POST", "/admin/reload", "", "", "X-API-Key", "crm-secret"); w.Code != 403 {
		t.Errorf("admin API off: %d", w.Code)
	}
}

func TestReloadUnderLoad(t *testing.T) {
	var version atomic.Int64
	loader := func() (leadscore.Scorer, error) {
		f := newFake(2)
		f.version = strconv.FormatInt(version.Add(1), 10)
		return f, nil
	}
	s, err := New(context.Background(), Config{Loader: loader})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var failures atomic.Int64
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if w := do(s, "POST", "/score", "application/json", "[[1,2]]"); w.Code != 200 {
					failures.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		if err := s.Reload(context.Background(), "test"); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d requests failed during reloads", failures.Load())
	}
	if v := s.Model().Version; v != "51" {
		t.Errorf("version %s after 50 reloads", v)
	}
}

func TestInFlightCap(t *testing.T) {
	s, f := testServer(t, 1, func(c *Config) { c.MaxInFlight = 1 })
	f.block = make(chan struct{})
	f.entered = make(chan struct{}, 1)
	done := make(chan int)
	go func() { done <- do(s, "POST", "/score", "application/json", "[[1]]").Code }()
	<-f.entered
	start := time.Now()
	w := do(s, "POST", "/score", "application/json", "[[1]]")
	if w.Code != 503 || w.Header().Get("Retry-After") != "1" || decodeError(t, w).Error.Code != codeOverloaded {
		t.Fatalf("second request: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("shedding took %v", d)
	}
	// Probes are not counted against the cap.
	if w := do(s, "GET", "/ping", "", ""); w.Code != 200 {
		t.Errorf("ping while full: %d", w.Code)
	}
	if got := s.InFlight(); got != 1 {
		t.Errorf("in flight %d", got)
	}
	close(f.block)
	if code := <-done; code != 200 {
		t.Errorf("first request: %d", code)
	}
	f.entered = nil
	if w := do(s, "POST", "/score", "application/json", "[[1]]"); w.Code != 200 {
		t.Errorf("after the first finished: %d", w.Code)
	}
}

func TestCanceledWhileScoring(t *testing.T) {
	s, f := testServer(t, 1, nil)
	f.block = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := newRequest("POST", "/score", "application/json", "[[1]]").WithContext(ctx)
	w := record(s, r)
	if w.Code != 503 || decodeError(t, w).Error.Code != codeUnavailable {
		t.Fatalf("canceled: %d %s", w.Code, w.Body.String())
	}
}

func TestRateLimit(t *testing.T) {
	crm, _ := NewAPIKey("crm", HashKey("crm-secret"), false)
	erp, _ := NewAPIKey("erp", HashKey("erp-secret"), false)
	s, _ := testServer(t, 1, func(c *Config) {
		c.APIKeys = []APIKey{crm, erp}
		c.RateLimit = 0.5 // one token every 2 s
		c.RateBurst = 2
	})
	send := func(key, addr string) *httpRecorder {
		r := newRequest("POST", "/score", "application/json", "[[1]]")
		if key != "" {
			r.Header.Set("X-API-Key", key)
		}
		r.RemoteAddr = addr
		return record(s, r)
	}
	for i := 0; i < 2; i++ {
		if w := send("crm-secret", "10.0.0.1:1"); w.Code != 200 {
			t.Fatalf("crm request %d: %d", i, w.Code)
		}
	}
	w := send("crm-secret", "10.0.0.2:1")
	if w.Code != 429 || decodeError(t, w).Error.Code != codeRateLimited {
		t.Fatalf("crm over limit: %d %s", w.Code, w.Body.String())
	}
	if ra, _ := strconv.Atoi(w.Header().Get("Retry-After")); ra < 1 || ra > 2 {
		t.Errorf("Retry-After %q", w.Header().Get("Retry-After"))
	}
	if w := send("erp-secret", "10.0.0.1:1"); w.Code != 200 {
		t.Errorf("another key shares the bucket: %d", w.Code)
	}
	// Anonymous clients get a bucket per address.
	for i := 0; i < 2; i++ {
		if w := send("", "192.0.2.1:5000"); w.Code != 200 {
			t.Fatalf("anonymous %d: %d", i, w.Code)
		}
	}
	if w := send("", "192.0.2.1:6000"); w.Code != 429 {
		t.Errorf("anonymous over limit: %d", w.Code)
	}
	// X-Forwarded-For is not trusted: it does not buy a fresh bucket.
	xff := newRequest("POST", "/score", "application/json", "[[1]]")
	xff.RemoteAddr = "192.0.2.1:7000"
	xff.Header.Set("X-Forwarded-For", "198.51.100.7")
	if w := record(s, xff); w.Code != 429 {
		t.Errorf("anonymous over limit behind a forged X-Forwarded-For: %d", w.Code)
	}
	if w := send("", "192.0.2.2:5000"); w.Code != 200 {
		t.Errorf("other address: %d", w.Code)
	}
	if w := send("", "not-an-address"); w.Code != 200 {
		t.Errorf("odd remote address: %d", w.Code)
	}
}

func TestAnonymousBucketsBounded(t *testing.T) {
	l := newLimiters(1000, 1, nil)
	now := time.Now()
	for i := 0; i < maxAnonymous+10; i++ {
		l.allow(nil, "10.1."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250)+":1", now)
	}
	if len(l.ips) > maxAnonymous || l.lru.Len() != len(l.ips) {
		t.Fatalf("%d buckets kept (%d in the LRU list)", len(l.ips), l.lru.Len())
	}
	// Idle buckets (full again) make room for new addresses.
	l = newLimiters(1000, 1, nil)
	for i := 0; i < maxAnonymous; i++ {
		l.allow(nil, "10.2."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250)+":1", now)
	}
	later := now.Add(time.Second)
	for i := range 100 {
		if ok, _ := l.allow(nil, "10.3.0."+strconv.Itoa(i)+":1", later); !ok {
			t.Fatalf("new address %d after the others went idle: limited", i)
		}
	}
	if _, ok := l.ips["10.3.0.99"]; !ok || len(l.ips) != maxAnonymous {
		t.Fatalf("new addresses not tracked in place of idle ones (%d buckets)", len(l.ips))
	}
	if newLimiters(0, 5, nil) != nil {
		t.Error("zero rate builds limiters")
	}
	if l := newLimiters(2.5, 0, nil); l.burst != 3 {
		t.Errorf("default burst %d", l.burst)
	}
}

// TestAnonymousBucketsCannotBeReset is issue 10, finding 6: once 10,000
// addresses were tracked the limiter cleared every bucket, so a client
// cycling through addresses reset everyone's limit (its own included). A
// bucket in debt is now never dropped: the victim stays limited, and the
// cycling client's new addresses share one overflow bucket.
func TestAnonymousBucketsCannotBeReset(t *testing.T) {
	s, _ := testServer(t, 1, func(c *Config) {
		c.RateLimit = 0.01 // one token every 100 s: nothing refills during the test
		c.RateBurst = 2
	})
	send := func(addr string) int {
		r := newRequest("POST", "/score", "application/json", "[[1]]")
		r.RemoteAddr = addr
		return record(s, r).Code
	}
	const victim = "192.0.2.7:4000"
	for range 2 {
		if code := send(victim); code != 200 {
			t.Fatalf("victim within its burst: %d", code)
		}
	}
	if code := send(victim); code != 429 {
		t.Fatalf("victim over its limit: %d", code)
	}
	// The attacker cycles through more addresses than the table holds,
	// each sending its burst.
	limited := 0
	for i := range maxAnonymous + 500 {
		addr := "10." + strconv.Itoa(i/65536) + "." + strconv.Itoa(i/256%256) + "." + strconv.Itoa(i%256) + ":1"
		for range 2 {
			if send(addr) == 429 {
				limited++
			}
		}
	}
	if code := send(victim); code != 429 {
		t.Fatalf("after %d addresses cycled, the victim's bucket was reset: %d", maxAnonymous+500, code)
	}
	if limited < 500 {
		t.Errorf("the addresses beyond the table were limited %d times; want them to share one bucket", limited)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	s, _ := testServer(t, 2, func(c *Config) { c.MaxBatch = 1 })
	do(s, "POST", "/score", "application/json", "[[5,5],[0,0]]")
	do(s, "POST", "/score", "application/json", "[[5,5]]")
	do(s, "POST", "/score", "application/json", "[[-5,-5]]")
	do(s, "POST", "/score", "application/json", "[[1,Infinity]]")
	w := do(s, "GET", "/metrics", "", "")
	if w.Code != 200 {
		t.Fatalf("/metrics: %d", w.Code)
	}
	m := w.Body.String()
	for _, want := range []string{
		`leadscore_http_requests_total{code="200",route="/score"} 2`,
		`leadscore_http_requests_total{code="413",route="/score"} 1`,
		`leadscore_http_requests_total{code="422",route="/score"} 1`,
		`leadscore_http_request_duration_seconds_bucket{route="/score",le="+Inf"} 4`,
		`leadscore_rows_scored_total 2`,
		`leadscore_scores_total{score="5"} 1`,
		`leadscore_scores_total{score="1"} 1`,
		`leadscore_http_rejections_total{reason="batch_too_large"} 1`,
		`leadscore_http_rejections_total{reason="invalid_value"} 1`,
		`leadscore_http_in_flight_requests 0`,
		`leadscore_model_info{name="fake",version="1"} 1`,
		`leadscore_batch_rows_count 2`,
		`leadscore_model_duration_seconds_count 2`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if w := do(s, "POST", "/metrics", "", ""); w.Code != 405 {
		t.Errorf("POST /metrics: %d", w.Code)
	}
	// Odd status codes still count.
	s.metrics.observe(routeOther, 999, 0.001)
}

func TestAccessLog(t *testing.T) {
	logs := &logBuffer{}
	key, _ := NewAPIKey("crm", HashKey("crm-secret"), false)
	s, _ := testServer(t, 3, func(c *Config) {
		c.Logger = logs.logger()
		c.AccessLog = true
		c.APIKeys = []APIKey{key}
	})
	w := do(s, "POST", "/score", "application/json",
		`{"leads":[{"id":"lead-secret-42","features":{"f0":12345.678,"f1":-98.765}}]}`, "X-API-Key", "crm-secret")
	if w.Code != 200 {
		t.Fatal(w.Body.String())
	}
	do(s, "POST", "/score", "application/json", `{"leads":[{"id":"lead-secret-43","features":{"f0":"4242.4242"}}]}`)
	out := logs.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines: %s", len(lines), out)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"request_id", "latency_us", "route", "status", "rows", "key", "remote", "time", "level", "msg"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("log line lacks %q: %s", k, lines[0])
		}
	}
	if rec["request_id"] != w.Header().Get("X-Request-Id") || rec["key"] != "crm" || rec["rows"] != 1.0 {
		t.Errorf("log line %s", lines[0])
	}
	if !strings.Contains(lines[1], `"error":"invalid_value"`) {
		t.Errorf("error log line %s", lines[1])
	}
	for _, secret := range []string{"lead-secret", "12345", "98.765", "4242", "crm-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q: %s", secret, out)
		}
	}
	// Lead ids only when asked.
	asked := &logBuffer{}
	s3, _ := testServer(t, 1, func(c *Config) { c.Logger = asked.logger(); c.AccessLog = true; c.LogLeadIDs = true })
	do(s3, "POST", "/score", "application/json", `{"leads":[{"id":"a-1","features":[1]},{"features":[2]},{"id":7,"features":[3]}]}`)
	if !strings.Contains(asked.String(), `"lead_ids":["a-1",null,7]`) {
		t.Errorf("lead ids not logged when asked: %s", asked.String())
	}
	// Server errors log at error level.
	s2, f := testServer(t, 1, func(c *Config) { c.Logger = logs.logger(); c.AccessLog = true })
	f.err = errors.New("boom")
	do(s2, "POST", "/score", "application/json", "[[1]]")
	if !strings.Contains(logs.String(), `"level":"ERROR","msg":"request"`) {
		t.Errorf("5xx not logged as error: %s", logs.String())
	}
}

// TestRouteNames: every route has its own name, so none is left blank
// when a route is added.
func TestRouteNames(t *testing.T) {
	seen := map[string]route{}
	for r := range numRoutes {
		name := routeNames[r]
		if name == "" {
			t.Errorf("route %d has no name", r)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("routes %d and %d are both named %q", prev, r, name)
		}
		seen[name] = r
	}
}

// TestAccessLogTo: the access log lines written directly (AccessLogTo)
// are those slog's JSONHandler writes for the same requests, byte for
// byte but the time and the latency; lines slog must escape, and lines
// with lead ids, still go through the Logger.
func TestAccessLogTo(t *testing.T) {
	key, _ := NewAPIKey("crm", HashKey("crm-secret"), false)
	viaSlog, direct, directSlog := &logBuffer{}, &logBuffer{}, &logBuffer{}
	a, _ := testServer(t, 2, func(c *Config) {
		c.Logger, c.AccessLog, c.APIKeys = viaSlog.logger(), true, []APIKey{key}
	})
	b, _ := testServer(t, 2, func(c *Config) {
		c.Logger, c.AccessLog, c.APIKeys, c.AccessLogTo = directSlog.logger(), true, []APIKey{key}, direct
	})
	requests := []struct{ target, body, reqID, key string }{
		{"/score", `[[1,2]]`, "req-1", ""},
		{"/score", `[[1,2],[3,4]]`, "req-2", "crm-secret"},
		{"/score", `[[1]]`, "req-3", ""},           // 422 with an error code
		{"/nowhere", ``, "req-4", ""},              // 404
		{"/score", `[[1,2]]`, "weird\u2028id", ""}, // replaced by a generated id: plain
		{"/score", `{"leads":[{"id":"x","features":[1,2]}]}`, "req-6", ""},
	}
	for _, s := range []http.Handler{a, b} {
		for _, rq := range requests {
			h := []string{"X-Request-Id", rq.reqID}
			if rq.key != "" {
				h = append(h, "X-API-Key", rq.key)
			}
			do(s, "POST", rq.target, "application/json", rq.body, h...)
		}
	}
	norm := regexp.MustCompile(`"time":"[^"]*"|"latency_us":\d+|"request_id":"[0-9a-f]{8}-[0-9a-f]{16}"`)
	want := norm.ReplaceAllString(viaSlog.String(), "")
	if n := strings.Count(want, "\n"); n != len(requests) {
		t.Fatalf("slog wrote %d lines for %d requests", n, len(requests))
	}
	got := norm.ReplaceAllString(direct.String(), "")
	if got != want {
		t.Errorf("direct access log lines differ from slog's:\ndirect:\n%s\nslog:\n%s", got, want)
	}
	if directSlog.String() != "" {
		t.Errorf("plain lines went through the Logger: %s", directSlog.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(direct.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("direct line is not JSON: %s", line)
		}
		if _, err := time.Parse(time.RFC3339Nano, rec["time"].(string)); err != nil {
			t.Errorf("time %v: %v", rec["time"], err)
		}
	}
	// Lead ids and strings slog would escape go through the Logger.
	viaLogger, direct2 := &logBuffer{}, &logBuffer{}
	c, _ := testServer(t, 1, func(c *Config) {
		c.Logger, c.AccessLog, c.LogLeadIDs, c.AccessLogTo = viaLogger.logger(), true, true, direct2
	})
	do(c, "POST", "/score", "application/json", `{"leads":[{"id":"a-1","features":[1]}]}`)
	r := newRequest("POST", "/score", "application/json", `[[1]]`)
	r.RemoteAddr = "caf\u00e9:1"
	record(c, r)
	if !strings.Contains(viaLogger.String(), `"lead_ids":["a-1"]`) || !strings.Contains(viaLogger.String(), `"remote":"café:1"`) || direct2.String() != "" {
		t.Errorf("lines slog must write went elsewhere:\nLogger: %s\ndirect: %s", viaLogger.String(), direct2.String())
	}
	// Levels the Logger leaves out are left out.
	quiet := &logBuffer{}
	d, _ := testServer(t, 1, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
		c.AccessLog, c.AccessLogTo = true, quiet
	})
	do(d, "POST", "/score", "application/json", `[[1]]`)
	if quiet.String() != "" {
		t.Errorf("info line written below the Logger's level: %s", quiet.String())
	}
}
