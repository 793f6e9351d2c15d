package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore/capture"
	"github.com/leadscore/leadscore/httpapi"
	"github.com/leadscore/leadscore/internal/testutil"
	"github.com/leadscore/leadscore/lake"
)

// TestServeInProcess runs serve itself (not the binary): start, score,
// reload on a model change, drain on cancel.
func TestServeInProcess(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model.ubj")
	copyFile(t, filepath.Join("..", "..", "bundle", "demo", "model.ubj"), model)
	c, err := parseServeConfig([]string{"--listen", "127.0.0.1:0", "--model", model, "--watch-interval", "20ms", "--lake-dir", filepath.Join(dir, "lake")},
		mapEnv(map[string]string{"SM_MODEL_DIR": filepath.Join(dir, "none")}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, c, &out, func() {}) }()
	var addr string
	testutil.EventuallyState(t, 20*time.Second, "serve to listen", func() (bool, string) {
		addr = logAddr(out.String(), "listening")
		return addr != "", out.String()
	})
	body := "[[" + strings.TrimSuffix(strings.Repeat("0,", 50), ",") + "]]"
	if r := send(t, nil, "POST", "http://"+addr+"/score", "application/json", body); r.status != 200 {
		t.Fatalf("score: %d %s", r.status, r.body)
	}
	// Touch the model: the watch reloads it.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(model, later, later); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyState(t, 20*time.Second, "a reload", func() (bool, string) {
		return strings.Contains(out.String(), `"trigger":"file changed"`), out.String()
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if !strings.Contains(out.String(), `"msg":"stopped"`) || !strings.Contains(out.String(), `"route":"/score"`) {
		t.Errorf("logs: %s", out.String())
	}
}

// TestServeBinary checks every contract of
// `leadscore serve` against the running binary on 127.0.0.1.
func TestServeBinary(t *testing.T) {
	bin := testBinary(t)
	for _, tc := range []struct {
		name string
		test func(*testing.T, string)
	}{
		{"ScoreContract", testServeScoreContract},
		{"StartFailures", testServeStartFailures},
		{"SageMaker", testServeSageMaker},
		{"KServeV2", testServeKServeV2},
		{"Metrics", testServeMetrics},
		{"Security", testServeSecurity},
		{"InFlightCap", testServeInFlightCap},
		{"Reload", testServeReload},
		{"GracefulShutdown", testServeGracefulShutdown},
		{"RemoteBackend", testServeRemoteBackend},
		{"Registry", testServeRegistry},
		{"Monitoring", testServeMonitoring},
		{"Lake", testServeLake},
		{"Profiler", testServeProfiler},
		{"ReloadMonitor", testServeReloadMonitor},
		{"ReloadLake", testServeReloadLake},
		{"Variants", testServeVariants},
		{"VariantsRegistry", testServeVariantsRegistry},
		{"VariantsDriftReload", testServeVariantsDriftReload},
		{"VariantsDriftAddRemove", testServeVariantsDriftAddRemove},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, bin) })
	}
}

func testServeScoreContract(t *testing.T, bin string) {
	f := loadFixture(t)
	s := startServer(t, bin, []string{"LEADSCORE_MAX_BATCH=100"}, "--max-body", "128KiB")
	shapes := map[string]string{
		"rows":      f.rowsJSON(f.Rows),
		"instances": `{"instances":` + f.rowsJSON(f.Rows) + `}`,
		"leads":     f.leadsJSON(true),
	}
	for name, body := range shapes {
		r := send(t, nil, "POST", s.url+"/score", "application/json", body)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
		var sr scoreResponse
		r.json(t, &sr)
		if sr.Model.Name != "lead-demo" || sr.Model.Version == "" || sr.RequestID == "" || len(sr.Results) != len(f.Rows) {
			t.Fatalf("%s: %+v", name, sr)
		}
		if _, ok := sr.Latency["total_ms"]; !ok {
			t.Errorf("%s: latency %v", name, sr.Latency)
		}
		if _, ok := sr.Latency["model_ms"]; !ok {
			t.Errorf("%s: latency %v", name, sr.Latency)
		}
		if !strings.Contains(r.header.Get("Server-Timing"), "model;dur=") {
			t.Errorf("%s: Server-Timing %q", name, r.header.Get("Server-Timing"))
		}
		for i, res := range sr.Results {
			if !closeTo(res.Probability, f.Prediction[i]) {
				t.Errorf("%s row %d: probability %v, XGBoost %v", name, i, res.Probability, f.Prediction[i])
			}
			if res.Score < 1 || res.Score > 5 {
				t.Errorf("%s row %d: score %d", name, i, res.Score)
			}
			if name == "leads" && res.ID != "lead-"+strconv.Itoa(i) {
				t.Errorf("row %d: id %q", i, res.ID)
			}
		}
	}

	// ?explain=k adds reason codes.
	r := send(t, nil, "POST", s.url+"/score?explain=3", "application/json", f.rowsJSON(f.Rows[:2]))
	var sr scoreResponse
	r.json(t, &sr)
	for i, res := range sr.Results {
		if len(res.Reasons) == 0 || len(res.Reasons) > 6 {
			t.Errorf("row %d: %d reasons", i, len(res.Reasons))
		}
		for _, rs := range res.Reasons {
			if (rs.Direction == "up") != (rs.Contribution > 0) || rs.Feature == "" {
				t.Errorf("row %d: reason %+v", i, rs)
			}
		}
	}

	row := func(vals ...string) string {
		cells := make([]string, 50)
		for i := range cells {
			cells[i] = "0"
		}
		copy(cells, vals)
		return "[" + strings.Join(cells, ",") + "]"
	}
	tooMany := "[" + strings.TrimSuffix(strings.Repeat(row()+",", 101), ",") + "]"
	errs := []struct {
		name, ct, body string
		status         int
		code, feature  string
		row            int
	}{
		{"short row", "application/json", "[[1,2,3]]", 422, "wrong_feature_count", "", 0},
		// NaN (and null) mean missing, as Python's json.dumps writes them;
		// Infinity stays refused, as XGBoost refuses it.
		{"Infinity", "application/json", "[" + row() + "," + row("1", "Infinity") + "]", 422, "invalid_value", "annual_revenue_log", 1},
		{"overflow", "application/json", "[" + row("1e400") + "]", 422, "invalid_value", "company_size_log", 0},
		{"string", "application/json", "[" + row(`"3"`) + "]", 422, "invalid_value", "company_size_log", 0},
		{"unknown feature", "application/json", `{"leads":[{"features":{"shoe_size":9}}]}`, 422, "unknown_feature", "shoe_size", 0},
		{"batch limit", "application/json", tooMany, 413, "batch_too_large", "", -1},
		{"body limit", "application/json", "[" + strings.Repeat(" ", 130<<10) + "]", 413, "body_too_large", "", -1},
		{"content type", "text/plain", "[" + row() + "]", 415, "unsupported_media", "", -1},
		{"bad json", "application/json", "[[", 400, "bad_json", "", -1},
	}
	for _, tt := range errs {
		r := send(t, nil, "POST", s.url+"/score", tt.ct, tt.body)
		if r.status != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, r.status, tt.status, r.body)
			continue
		}
		var e errorResponse
		r.json(t, &e)
		if e.Error.Code != tt.code || e.Error.Message == "" {
			t.Errorf("%s: %s", tt.name, r.body)
		}
		if tt.feature != "" && (e.Error.Feature == nil || *e.Error.Feature != tt.feature) {
			t.Errorf("%s: feature %v, want %s", tt.name, e.Error.Feature, tt.feature)
		}
		if tt.row >= 0 && (e.Error.Row == nil || *e.Error.Row != tt.row) {
			t.Errorf("%s: row %v, want %d", tt.name, e.Error.Row, tt.row)
		}
	}
	// Garbage never gets a 5xx, and the server stays up.
	for _, body := range []string{"", "null", "{", `{"leads":null}`, "[[" + strings.Repeat("[", 10000), "\x00\xff", `[{"features":{"\ud800":1}}]`} {
		if r := send(t, nil, "POST", s.url+"/score", "application/json", body); r.status < 400 || r.status >= 500 {
			t.Errorf("body %.30q: status %d", body, r.status)
		}
	}
	if r := send(t, nil, "GET", s.url+"/healthz", "", ""); r.status != 200 {
		t.Errorf("healthz after garbage: %d", r.status)
	}
	// Logs are JSON with request ids and never the lead ids or values.
	s.waitLog(`"route":"/score"`)
	logs := s.output()
	if strings.Contains(logs, "lead-1") || strings.Contains(logs, "shoe_size") {
		t.Errorf("logs leak lead data:\n%s", logs)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

func testServeStartFailures(t *testing.T, bin string) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(broken, []byte(`{"learner": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing model", []string{"--model", filepath.Join(dir, "none.json")}, 2, "none.json"},
		{"broken model", []string{"--model", broken}, 2, "broken.json"},
		{"bad flag", []string{"--max-batch", "x"}, 2, "max-batch"},
		{"missing certificate", []string{"--tls-cert", filepath.Join(dir, "c.pem"), "--tls-key", filepath.Join(dir, "k.pem")}, 2, "TLS"},
		{"lake in use", []string{"--listen", "127.0.0.1:0", "--lake-dir", filepath.Join(dir, "held")}, 1, "is in use by another leadscore serve"},
		{"port in use", nil, 1, "the port is in use"},
	}
	held, err := capture.New(capture.Config{Dir: filepath.Join(dir, "held")}, []string{"x"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.Close(context.Background()) }()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = busy.Close() }()
	tests[len(tests)-1].args = []string{"--listen", busy.Addr().String()}
	for _, tt := range tests {
		cmd := exec.Command(bin, append([]string{"serve"}, tt.args...)...) //nolint:gosec // G702: the binary this test built, with the table's arguments
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SM_MODEL_DIR=" + filepath.Join(dir, "none"), "LEADSCORE_LAKE_DIR=" + filepath.Join(dir, "lake")}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != tt.code || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%s: %v, stderr %q; want exit %d mentioning %q", tt.name, err, stderr.String(), tt.code, tt.want)
		}
	}
}

func testServeSageMaker(t *testing.T, bin string) {
	f := loadFixture(t)
	modelDir := t.TempDir()
	// The built-in XGBoost container's artifact: a bare model file.
	copyFile(t, filepath.Join("..", "..", "bundle", "demo", "model.ubj"), filepath.Join(modelDir, "xgboost-model"))
	port := freePort(t)
	s := startServer(t, bin, []string{"SAGEMAKER_BIND_TO_PORT=" + port, "SM_MODEL_DIR=" + modelDir})
	if !strings.HasSuffix(s.url, ":"+port) {
		t.Fatalf("listening at %s, want port %s", s.url, port)
	}
	start := time.Now()
	if r := send(t, nil, "GET", s.url+"/ping", "", ""); r.status != 200 || time.Since(start) > 2*time.Second {
		t.Fatalf("ping: %d after %v", r.status, time.Since(start))
	}
	r := send(t, nil, "POST", s.url+"/invocations", "text/csv", f.csv(), "X-Amzn-SageMaker-Inference-Id", "abc-123")
	if r.status != 200 || r.header.Get("Content-Type") != "text/csv" || r.header.Get("X-Amzn-SageMaker-Inference-Id") != "abc-123" {
		t.Fatalf("csv: %d %v %s", r.status, r.header, r.body)
	}
	// Real time, as SageMaker's XGBoost container: one comma-joined line
	// (one value per line is for Batch Transform, SAGEMAKER_BATCH).
	body := strings.TrimSpace(string(r.body))
	if strings.Contains(body, "\n") {
		t.Fatalf("real-time CSV answer has several lines: %q", body)
	}
	lines := strings.Split(body, ",")
	if len(lines) != len(f.Rows) {
		t.Fatalf("%d values for %d rows", len(lines), len(f.Rows))
	}
	for i, l := range lines {
		p, err := strconv.ParseFloat(l, 64)
		if err != nil || !closeTo(p, f.Prediction[i]) {
			t.Errorf("line %d: %q, XGBoost %v", i, l, f.Prediction[i])
		}
	}
	// Accept: application/json answers as the container does; leadscore's
	// own answer (tiers, reasons) is asked for by its own media type.
	r = send(t, nil, "POST", s.url+"/invocations", "application/json", f.rowsJSON(f.Rows[:3]), "Accept", "application/json")
	var preds struct {
		Predictions []struct {
			Score float64 `json:"score"`
		} `json:"predictions"`
	}
	r.json(t, &preds)
	if len(preds.Predictions) != 3 || !closeTo(preds.Predictions[2].Score, f.Prediction[2]) {
		t.Errorf("json invocation: %s", r.body)
	}
	r = send(t, nil, "POST", s.url+"/invocations", "application/json", f.rowsJSON(f.Rows[:3]), "Accept", "application/vnd.leadscore+json")
	var sr scoreResponse
	r.json(t, &sr)
	if len(sr.Results) != 3 || !closeTo(sr.Results[2].Probability, f.Prediction[2]) {
		t.Errorf("leadscore json invocation: %s", r.body)
	}
	if r := send(t, nil, "POST", s.url+"/invocations", "text/csv", "1,2,3\n"); r.status != 422 {
		t.Errorf("short csv row: %d %s", r.status, r.body)
	}
	if r := send(t, nil, "POST", s.url+"/invocations", "application/x-npy", "x"); r.status != 415 {
		t.Errorf("npy: %d", r.status)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func testServeKServeV2(t *testing.T, bin string) {
	f := loadFixture(t)
	s := startServer(t, bin, nil)
	for _, p := range []string{"/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/lead-demo", "/v2/models/lead-demo/ready"} {
		if r := send(t, nil, "GET", s.url+p, "", ""); r.status != 200 || !json.Valid(r.body) {
			t.Errorf("GET %s: %d %s", p, r.status, r.body)
		}
	}
	var flat []any
	for _, r := range f.Rows[:4] {
		for _, v := range r {
			if v == nil {
				flat = append(flat, nil)
			} else {
				flat = append(flat, *v)
			}
		}
	}
	for name, data := range map[string]any{"nested": f.Rows[:4], "flat": flat} {
		req, _ := json.Marshal(map[string]any{"id": "req-9", "inputs": []any{map[string]any{
			"name": "input-0", "shape": []int{4, 50}, "datatype": "FP32", "data": data}}})
		r := send(t, nil, "POST", s.url+"/v2/models/lead-demo/infer", "application/json", string(req))
		var out struct {
			ID      string `json:"id"`
			Name    string `json:"model_name"`
			Outputs []struct {
				Name string    `json:"name"`
				Data []float64 `json:"data"`
			} `json:"outputs"`
		}
		r.json(t, &out)
		if r.status != 200 || out.ID != "req-9" || out.Name != "lead-demo" || len(out.Outputs) < 1 || len(out.Outputs[0].Data) != 4 {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
		for i, p := range out.Outputs[0].Data {
			if !closeTo(p, f.Prediction[i]) {
				t.Errorf("%s row %d: %v, XGBoost %v", name, i, p, f.Prediction[i])
			}
		}
	}
	r := send(t, nil, "POST", s.url+"/v2/models/lead-demo/infer", "application/json",
		`{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}`)
	var e struct {
		Error string `json:"error"`
	}
	r.json(t, &e)
	if r.status != 400 || e.Error == "" {
		t.Errorf("bad shape: %d %s", r.status, r.body)
	}
	if r := send(t, nil, "GET", s.url+"/v2/models/other", "", ""); r.status != 404 {
		t.Errorf("other model: %d", r.status)
	}
}

func testServeMetrics(t *testing.T, bin string) {
	f := loadFixture(t)
	s := startServer(t, bin, nil)
	send(t, nil, "POST", s.url+"/score", "application/json", f.rowsJSON(f.Rows[:5]))
	send(t, nil, "POST", s.url+"/score", "application/json", "[[1]]")
	r := send(t, nil, "GET", s.url+"/metrics", "", "")
	if r.status != 200 {
		t.Fatalf("/metrics: %d", r.status)
	}
	m := string(r.body)
	for _, want := range []string{
		`leadscore_http_requests_total{code="200",route="/score"} 1`,
		`leadscore_http_requests_total{code="422",route="/score"} 1`,
		`leadscore_http_request_duration_seconds_bucket{route="/score",le=`,
		`leadscore_rows_scored_total 5`,
		`leadscore_scores_total{score=`,
		`leadscore_http_in_flight_requests`,
		`leadscore_http_rejections_total{reason="wrong_feature_count"} 1`,
		`leadscore_model_info{name="lead-demo",version=`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed: skipping promtool check metrics")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(r.body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func testServeSecurity(t *testing.T, bin string) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSignedCert(t, dir)
	keys := "crm:" + httpapi.HashKey("crm-secret") + ",ops:" + httpapi.HashKey("ops-secret") + ":admin"
	// The webhook URL is a secret: it must not reach the output either.
	const hook = "http://127.0.0.1:1/services/webhook-secret-path-5e1d"
	s := startServer(t, bin, []string{"LEADSCORE_API_KEYS=" + keys, "LEADSCORE_REQUIRE_API_KEY=true", "LEADSCORE_MONITOR_WEBHOOK_URL=" + hook},
		"--tls-cert", certFile, "--tls-key", keyFile, "--rate-limit", "0.2", "--rate-burst", "2")
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("not TLS: %s", s.url)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	body := "[[" + strings.TrimSuffix(strings.Repeat("0,", 50), ",") + "]]"
	if r := send(t, client, "POST", s.url+"/score", "application/json", body); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("no key: %d", r.status)
	}
	if r := send(t, client, "POST", s.url+"/score", "application/json", body, "X-API-Key", "wrong"); r.status != 401 {
		t.Errorf("wrong key: %d", r.status)
	}
	for i := 0; i < 2; i++ {
		if r := send(t, client, "POST", s.url+"/score", "application/json", body, "Authorization", "Bearer crm-secret"); r.status != 200 {
			t.Fatalf("crm %d: %d %s", i, r.status, r.body)
		}
	}
	r := send(t, client, "POST", s.url+"/score", "application/json", body, "Authorization", "Bearer crm-secret")
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Errorf("over the rate: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	if r := send(t, client, "POST", s.url+"/score", "application/json", body, "X-API-Key", "ops-secret"); r.status != 200 {
		t.Errorf("other key: %d", r.status)
	}
	if r := send(t, client, "POST", s.url+"/admin/reload", "", "", "X-API-Key", "crm-secret"); r.status != 403 {
		t.Errorf("reload as crm: %d", r.status)
	}
	if r := send(t, client, "POST", s.url+"/admin/reload", "", "", "X-API-Key", "ops-secret"); r.status != 200 {
		t.Errorf("reload as ops: %d %s", r.status, r.body)
	}
	if r := send(t, client, "GET", s.url+"/readyz", "", ""); r.status != 200 {
		t.Errorf("readyz without key: %d", r.status)
	}
	// Plain HTTP to the TLS port fails.
	if resp, err := http.Get(strings.Replace(s.url, "https://", "http://", 1) + "/healthz"); err == nil {
		if resp.StatusCode < 400 {
			t.Errorf("plain HTTP on the TLS port: %d", resp.StatusCode)
		}
		_ = resp.Body.Close()
	}
	if strings.Contains(s.output(), "crm-secret") {
		t.Error("logs contain a key")
	}
	if strings.Contains(s.output(), "webhook-secret-path") {
		t.Error("logs contain the webhook URL")
	}
	// The startup log counts the keys, and names none.
	if out := s.output(); !strings.Contains(out, `"api_keys":2`) || strings.Contains(out, httpapi.HashKey("crm-secret")) {
		t.Errorf("the startup log should count 2 keys and print no hash:\n%s", firstLine([]byte(out)))
	}
	// TLS 1.2 at least: a client that offers at most TLS 1.1 gets no
	// connection. HTTP/2 is negotiated.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}} //nolint:gosec // G402: the test checks that the server refuses old TLS
	if resp, err := old.Get(s.url + "/healthz"); err == nil {
		_ = resp.Body.Close()
		t.Errorf("a TLS 1.1 client was served: %s", resp.Proto)
	}
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}}
	resp, err := h2.Get(s.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("over TLS: %s, TLS version %#x; want HTTP/2 over TLS 1.2 or later", resp.Proto, resp.TLS.Version)
	}
}

func testServeInFlightCap(t *testing.T, bin string) {
	s := startServer(t, bin, nil, "--max-in-flight", "1")
	// A request whose body is still arriving is in flight.
	conn := stallRequest(t, s.url)
	defer func() { _ = conn.Close() }()
	testutil.EventuallyState(t, 5*time.Second, "a request to be shed", func() (bool, string) {
		start := time.Now()
		r := send(t, nil, "POST", s.url+"/score", "application/json", "[[1]]")
		if r.status != 503 {
			return false, fmt.Sprintf("status %d", r.status)
		}
		if r.header.Get("Retry-After") == "" || time.Since(start) > time.Second {
			t.Errorf("shed without Retry-After or slowly (%v)", time.Since(start))
		}
		var e errorResponse
		r.json(t, &e)
		if e.Error.Code != "overloaded" {
			t.Errorf("code %q", e.Error.Code)
		}
		return true, ""
	})
	if r := send(t, nil, "GET", s.url+"/ping", "", ""); r.status != 200 {
		t.Errorf("ping while full: %d", r.status)
	}
}

func testServeReload(t *testing.T, bin string) {
	bundleDir, setVersion := demoBundleCopy(t, false)
	s := startServer(t, bin, []string{"LEADSCORE_API_KEYS=ops:" + httpapi.HashKey("ops") + ":admin"},
		"--model", bundleDir, "--watch-interval", "50ms")
	version := func() string {
		var r struct {
			Model struct{ Version string } `json:"model"`
		}
		send(t, nil, "GET", s.url+"/readyz", "", "").json(t, &r)
		return r.Model.Version
	}
	waitVersion := func(want string) {
		t.Helper()
		testutil.EventuallyState(t, 20*time.Second, "version "+want, func() (bool, string) {
			v := version()
			return v == want, "version " + v
		})
	}
	if v := version(); v != "1.0.0" {
		t.Fatalf("version %q", v)
	}
	// A changed file is picked up by polling.
	setVersion("2.0.0")
	waitVersion("2.0.0")
	s.waitLog(`"trigger":"file changed"`)
	// A broken model is rejected with a reason and the old one serves on.
	if err := os.WriteFile(filepath.Join(bundleDir, "model.ubj"), []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.waitLog("model reload rejected")
	if v := version(); v != "2.0.0" {
		t.Errorf("after a broken model: %q", v)
	}
	body := "[[" + strings.TrimSuffix(strings.Repeat("0,", 50), ",") + "]]"
	if r := send(t, nil, "POST", s.url+"/score", "application/json", body); r.status != 200 {
		t.Errorf("score after a broken model: %d", r.status)
	}
	r := send(t, nil, "POST", s.url+"/admin/reload", "", "", "X-API-Key", "ops")
	if r.status != 422 || !strings.Contains(string(r.body), "model_rejected") {
		t.Errorf("admin reload of a broken model: %d %s", r.status, r.body)
	}
	// Fixed again: SIGHUP and the admin route both reload.
	copyFile(t, filepath.Join("..", "..", "bundle", "demo", "model.ubj"), filepath.Join(bundleDir, "model.ubj"))
	setVersion("3.0.0")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitVersion("3.0.0")
	if r := send(t, nil, "POST", s.url+"/admin/reload", "", "", "Authorization", "Bearer ops"); r.status != 200 {
		t.Errorf("admin reload: %d %s", r.status, r.body)
	}
	var sr scoreResponse
	send(t, nil, "POST", s.url+"/score", "application/json", body).json(t, &sr)
	if sr.Model.Version != "3.0.0" {
		t.Errorf("responses show version %q", sr.Model.Version)
	}
	if m := string(send(t, nil, "GET", s.url+"/metrics", "", "").body); !strings.Contains(m, `version="3.0.0"`) {
		t.Error("metrics do not show the version in use")
	}
}

func testServeGracefulShutdown(t *testing.T, bin string) {
	s := startServer(t, bin, nil)
	body := "[[" + strings.TrimSuffix(strings.Repeat("0,", 50), ",") + "]]"
	conn, rest := stallRequestBody(t, s.url, body)
	defer func() { _ = conn.Close() }()
	time.Sleep(100 * time.Millisecond) // the request is in the handler
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.waitLog("shutting down")
	// New connections are refused while the old request finishes.
	host := strings.TrimPrefix(s.url, "http://")
	if c, err := net.DialTimeout("tcp", host, time.Second); err == nil {
		_ = c.Close()
		t.Error("accepted a new connection while draining")
	}
	if _, err := conn.Write([]byte(rest)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("in-flight request: %d", resp.StatusCode)
	}
	if code := s.wait(); code != 0 {
		t.Errorf("exit %d", code)
	}
	s.waitLog(`"msg":"stopped"`)

	// A request that never finishes is cut off at the drain timeout: exit 1.
	s = startServer(t, bin, nil, "--shutdown-timeout", "300ms")
	conn2 := stallRequest(t, s.url)
	defer func() { _ = conn2.Close() }()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if code := s.stop(syscall.SIGINT); code != 1 {
		t.Errorf("exit %d after a drain timeout, want 1", code)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("drain took %v", d)
	}
}

// testServeProfiler checks --debug-listen (Go's profiler on its own
// listener, not on the scoring port) and the memory limit's log line.
func testServeProfiler(t *testing.T, bin string) {
	s := startServer(t, bin, nil, "--debug-listen", "127.0.0.1:0", "--memory-limit", "96MiB")
	defer s.stop(syscall.SIGTERM)
	addr := logAddr(s.output(), "profiler listening")
	if addr == "" {
		t.Fatalf("no profiler listening line:\n%s", s.output())
	}
	if !strings.Contains(s.output(), `"msg":"memory limit","bytes":100663296,"source":"--memory-limit"`) {
		t.Errorf("no memory limit line for 96MiB:\n%s", s.output())
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile") {
		t.Fatalf("profiler: %d %.200s", resp.StatusCode, body)
	}
	// The scoring port does not serve it.
	resp, err = http.Get(s.url + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the scoring port answered /debug/pprof/ with %d", resp.StatusCode)
	}
}

// testServeReloadMonitor checks that drift monitoring follows a reloaded
// model: /v1/monitoring names the new version and starts a new window.
func testServeReloadMonitor(t *testing.T, bin string) {
	dir, setVersion := demoBundleCopy(t, true)
	s := startServer(t, bin, nil, "--model", dir, "--watch-interval", "50ms")
	defer s.stop(syscall.SIGTERM)
	type report struct {
		Model  struct{ Version string } `json:"model"`
		Window struct{ Rows int64 }     `json:"window"`
	}
	monitoring := func() report {
		var r report
		resp := send(t, nil, "GET", s.url+"/v1/monitoring", "", "")
		if resp.status != 200 {
			t.Fatalf("GET /v1/monitoring: %d", resp.status)
		}
		resp.json(t, &r)
		return r
	}
	body := "[" + strings.TrimSuffix(strings.Repeat("["+strings.TrimSuffix(strings.Repeat("1,", 50), ",")+"],", 5), ",") + "]"
	if r := send(t, nil, "POST", s.url+"/score", "application/json", body); r.status != 200 {
		t.Fatalf("score: %d", r.status)
	}
	testutil.EventuallyState(t, 10*time.Second, "version 1.0.0 with 5 rows before the reload", func() (bool, string) {
		r := monitoring()
		return r.Model.Version == "1.0.0" && r.Window.Rows == 5, fmt.Sprintf("%+v", r)
	})
	setVersion("2.0.0")
	s.waitLog("drift monitor follows the reloaded model")
	if r := monitoring(); r.Model.Version != "2.0.0" || r.Window.Rows != 0 {
		t.Fatalf("monitoring after the reload: %+v, want version 2.0.0 and a new window", r)
	}
}

// testServeReloadLake checks that the lake follows a reloaded model with
// other inputs: its rows go to new files with the new columns, and no row
// of either model is lost.
func testServeReloadLake(t *testing.T, bin string) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model.json")
	lakeDir := filepath.Join(dir, "lake")
	copyFile(t, filepath.Join("..", "..", "testdata", "xgboost", "depth6_hist", "model.json"), model) // 50 inputs
	s := startServer(t, bin, []string{"LEADSCORE_LAKE_DIR=" + lakeDir}, "--model", model, "--watch-interval", "50ms")
	rows := func(n, width int) string {
		row := "[" + strings.TrimSuffix(strings.Repeat("0.5,", width), ",") + "]"
		return "[" + strings.TrimSuffix(strings.Repeat(row+",", n), ",") + "]"
	}
	if r := send(t, nil, "POST", s.url+"/score", "application/json", rows(2, 50)); r.status != 200 {
		t.Fatalf("score 50 inputs: %d %s", r.status, r.body)
	}
	// A model that loads but fails the server's checks (a regression model:
	// an all-missing lead "scores" 2.65, not a probability) is rejected,
	// and the lake keeps the serving model's columns.
	next := filepath.Join(dir, "next.json")
	copyFile(t, filepath.Join("..", "..", "testdata", "xgboost", "bs_squarederror_3", "model.json"), next)
	if err := os.Rename(next, model); err != nil {
		t.Fatal(err)
	}
	s.waitLog(`"msg":"model reload rejected"`)
	if r := send(t, nil, "POST", s.url+"/score", "application/json", rows(2, 50)); r.status != 200 {
		t.Fatalf("score 50 inputs after a rejected reload: %d %s", r.status, r.body)
	}
	// The same path, now a valid model of 6 inputs.
	copyFile(t, filepath.Join("..", "..", "testdata", "xgboost", "obj_binary_logistic", "model.json"), next)
	if err := os.Rename(next, model); err != nil {
		t.Fatal(err)
	}
	s.waitLog(`"msg":"model reloaded"`)
	if r := send(t, nil, "POST", s.url+"/score", "application/json", rows(3, 6)); r.status != 200 {
		t.Fatalf("score 6 inputs after the reload: %d %s", r.status, r.body)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	widths := map[int]int64{} // columns -> rows
	walkParquet(t, lakeDir, func(_ string, pf *parquet.File) {
		widths[len(pf.Schema().Fields())] += pf.NumRows()
	})
	fixed := len(lake.LeadColumns) + len(lake.TailColumns)
	if widths[50+fixed] != 4 || widths[6+fixed] != 3 || len(widths) != 2 {
		t.Fatalf("lake rows by column count %v, want 4 rows of %d columns and 3 of %d", widths, 50+fixed, 6+fixed)
	}
}
