package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leadscore/leadscore/httpapi"
)

// testHostileSmallItems holds finding 6's smaller items (issue 10) that
// need the binary, each a subtest.
func testHostileSmallItems(t *testing.T, bin string) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, string)
	}{
		{"MetricsRequireKey", testHostileMetricsKey},
		{"DebugListen", testHostileDebugListen},
		{"LogsBounded", testHostileLogsBounded},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, bin) })
	}
}

// testHostileMetricsKey: /metrics carries the drift and AUC figures that
// /v1/monitoring keeps behind a key. It stays open by default (scrapers
// hold no key; SECURITY.md says to keep the port private), and
// --metrics-require-key puts it behind a valid key.
func testHostileMetricsKey(t *testing.T, bin string) {
	const secret = "scrape-secret"
	keys := "prom:" + httpapi.HashKey(secret)
	open := startServer(t, bin, nil, "--api-keys", keys)
	if r := send(t, nil, "GET", open.url+"/metrics", "", ""); r.status != 200 || !strings.Contains(string(r.body), "leadscore_") {
		t.Errorf("/metrics by default: %d", r.status)
	}
	s := startServer(t, bin, nil, "--api-keys", keys, "--metrics-require-key")
	for _, h := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"X-API-Key", "wrong"}} {
		r := send(t, nil, "GET", s.url+"/metrics", "", "", h...)
		var e apiErrorBody
		if r.status != 401 || json.Unmarshal(r.body, &e) != nil || e.Error.Code != "unauthorized" || strings.Contains(string(r.body), "leadscore_") {
			t.Errorf("/metrics with %v under --metrics-require-key: %d %s", h, r.status, firstLine(r.body))
		}
	}
	for _, h := range [][]string{{"Authorization", "Bearer " + secret}, {"X-API-Key", secret}} {
		if r := send(t, nil, "GET", s.url+"/metrics", "", "", h...); r.status != 200 || !strings.Contains(string(r.body), "leadscore_") {
			t.Errorf("/metrics with a valid key: %d", r.status)
		}
	}
	code, stderr := serveExit(t, bin, nil, "--metrics-require-key")
	if code != 2 || !strings.Contains(stderr, "--metrics-require-key needs --api-keys") {
		t.Errorf("--metrics-require-key without keys: exit %d, %q", code, stderr)
	}
}

// testHostileDebugListen: --debug-listen accepted any address, and
// /debug/pprof/cmdline printed every flag (a webhook URL among them). A
// non-loopback address is now refused unless --debug-listen-remote, and
// cmdline shows the program's name only.
func testHostileDebugListen(t *testing.T, bin string) {
	// Ephemeral ports: a binary that does not refuse them (the code before
	// the fix) binds one briefly, and serveExit stops it.
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "example.com:0"} {
		code, stderr := serveExit(t, bin, nil, "--debug-listen", addr)
		if code != 2 || !strings.Contains(stderr, "not a loopback address") || !strings.Contains(stderr, "--debug-listen-remote") {
			t.Errorf("--debug-listen %s: exit %d, %q; want 2 naming --debug-listen-remote", addr, code, stderr)
		}
	}
	const hook = "http://127.0.0.1:9/hooks/T000/B000/webhook-secret-token"
	s := startServer(t, bin, nil, "--debug-listen", "127.0.0.1:0", "--monitor-webhook-url", hook, "--api-keys", "ops:"+httpapi.HashKey("k"))
	defer s.stop(syscall.SIGTERM)
	addr := logAddr(s.output(), "profiler listening")
	if addr == "" {
		t.Fatalf("no profiler line:\n%s", s.output())
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(body), "secret") || strings.Contains(string(body), "--") || string(body) != "leadscore" {
		t.Errorf("/debug/pprof/cmdline: %d %q, want the program name alone", resp.StatusCode, body)
	}
	// The profiles themselves are still served.
	resp, err = http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("goroutine profile: %d", resp.StatusCode)
	}
}

// testHostileLogsBounded: a warning printed a caller's 64 KB inference
// id. Long caller strings in every place a request can carry them (ids,
// headers, path, query, key, variant, feedback) never reach the log: no
// line holds them, and no line is longer than a few KiB.
func testHostileLogsBounded(t *testing.T, bin string) {
	s := startServer(t, bin, nil, "--api-keys", "crm:"+httpapi.HashKey("k"), "--log-level", "debug")
	f := loadFixture(t)
	row := f.rowsJSON(f.Rows[:1])
	long := strings.Repeat("Z", 32<<10)
	lead := `{"leads":[{"id":"` + long + `","features":` + row[1:len(row)-1] + `}]}`
	const j = "application/json"
	for _, tc := range []struct {
		method, path, ctype, body string
		headers                   []string
	}{
		{"POST", "/score", j, row, []string{"X-Amzn-SageMaker-Inference-Id", long}},
		{"POST", "/invocations", "text/csv", "1,2\n", []string{"X-Amzn-SageMaker-Inference-Id", long}},
		{"POST", "/score", j, row, []string{"X-Request-Id", long}},
		{"POST", "/score", j, lead, nil},
		{"POST", "/score", j, row, []string{"Authorization", "Bearer " + long}},
		{"POST", "/score", j, row, []string{"X-Amzn-SageMaker-Target-Variant", long}},
		{"POST", "/score?explain=" + long[:4096], j, row, nil},
		{"GET", "/" + long[:4096], "", "", nil},
		{"POST", "/v1/feedback", j, `{"inference_id":"` + long + `","converted":1}`, nil},
		{"POST", "/v1/feedback", j, `{"lead_id":"` + long + `","converted":1}`, nil},
		{"POST", "/v2/models/lead-demo/infer", j, `{"id":"` + long + `","inputs":[]}`, nil},
		{"POST", "/v2/models/" + long[:4096] + "/infer", j, `{"inputs":[]}`, nil},
	} {
		r := send(t, nil, tc.method, s.url+tc.path, tc.ctype, tc.body, tc.headers...)
		if r.status >= 500 { // refused (4xx), or the header ignored (an X-Request-Id is replaced)
			t.Errorf("%s %.40s: %d", tc.method, tc.path, r.status)
		}
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for i, line := range strings.Split(s.output(), "\n") {
		if strings.Contains(line, "ZZZZZZZZZZZZZZZZ") || len(line) > 4096 {
			t.Errorf("log line %d (%d bytes) carries a caller's string: %.300s", i, len(line), line)
		}
	}
}

// serveExit runs `leadscore serve args` expecting it to exit before
// listening, and returns its exit code and stderr; one still running after
// 10 s is killed (exit -1).
func serveExit(t *testing.T, bin string, env []string, args ...string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...) //nolint:gosec // G702: the binary this test built
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "SM_MODEL_DIR=" + filepath.Join(dir, "none"),
		"LEADSCORE_LAKE_DIR=" + filepath.Join(dir, "lake")}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if ctx.Err() != nil {
		return -1, "still running after 10 s: " + stderr.String()
	}
	if errors.As(err, &ee) {
		return ee.ExitCode(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stderr.String()
}
