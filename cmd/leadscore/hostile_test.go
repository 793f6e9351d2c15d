package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/leadscore/leadscore/httpapi"
	"github.com/leadscore/leadscore/loadgen"
)

// Bounds of TestServeHostile. They are generous on purpose: CI runs on a
// shared 2-core machine where other jobs steal the CPU, and the bounds are
// there to catch a server that stalls or leaks, not to benchmark it.
const (
	// hostileServerP99 bounds the p99 of the server's own latency (its
	// access log's latency_us) for the valid single-lead requests sent
	// while the hostile ones run. Unloaded, they take well under 1 ms.
	hostileServerP99 = 50 * time.Millisecond
	// hostileClientP99 bounds the same requests' p99 as the test's client
	// sees them: that includes both processes waiting for a core, which on
	// a shared 2-core machine with a load average near 10 reaches 100 ms
	// now and then without the server being at fault.
	hostileClientP99 = 250 * time.Millisecond
	// hostileMaxRSS bounds the server's resident memory throughout.
	hostileMaxRSS = 200 << 20
	// hostileProbeEvery is the pace of the valid requests.
	hostileProbeEvery = 20 * time.Millisecond
	// hostileSlack is added to the server's timeouts before a slow-loris
	// connection that is still open counts as a failure.
	hostileSlack = 3 * time.Second
	// hostileReadHeaderTimeout and hostileReadTimeout are the server's.
	hostileReadHeaderTimeout = time.Second
	hostileReadTimeout       = 2 * time.Second
)

// Sentinels that must reach the server but never its logs: a lead id and a
// feature name (the service logs neither without --log-lead-ids).
const (
	hostileIDSentinel      = "pii-sentinel-lead-4b1d"
	hostileFeatureSentinel = "pii_sentinel_feature_9c2e"
	// hostileValueSentinel is a feature value sent as a string where a
	// number belongs (error messages must not quote it), and
	// hostileNumberSentinel one sent in a valid lead.
	hostileValueSentinel  = "pii-sentinel-value-7f3a"
	hostileNumberSentinel = "42424242.25"
)

// hostileCase is one malformed or abusive request sent with net/http's
// client, and the refusal it must get.
type hostileCase struct {
	name    string
	method  string // default POST
	path    string
	ctype   string
	headers []string // name, value pairs
	body    string
	chunked bool // send the body with Transfer-Encoding: chunked
	status  int
	code    string // the error code for non-V2 routes ("" when any will do)
}

// rawCase is a request written straight to a TCP connection, for what
// net/http's client refuses to send or sends too politely. send writes the
// request and returns when it is done or the connection failed.
type rawCase struct {
	name string
	send func(conn net.Conn) error
	// status is the answer wanted.
	status int
	// cut marks a slow client the server must cut by a timeout: it may
	// close the connection without an answer or answer with a 4xx.
	cut  bool
	code string
	// plain marks answers net/http gives before the handler runs (431,
	// a malformed request line): text/plain, not the JSON error shape.
	plain bool
	// v2 marks a V2 route: the error is {"error": "..."}.
	v2 bool
	// within bounds the time to the answer or the close.
	within time.Duration
}

// TestServeHostile sends malformed and abusive requests to the real binary
// while a background client sends valid single leads. Every hostile
// request must be refused with a 4xx and the route's JSON error shape
// (except what net/http answers itself before the handler: 431 for
// oversized headers, 400 for a malformed request, and the two 5xx the
// HTTP RFCs prescribe, see rawCases), slow clients must be cut by the
// server's timeouts, the valid
// requests must all succeed with a bounded p99, the server's resident
// memory must stay bounded, and the server must still be healthy after.
func TestServeHostile(t *testing.T) {
	bin := testBinary(t)
	f := loadFixture(t)
	const crmKey, opsKey = "hostile-test-crm", "hostile-test-ops"
	// Settings the test does not exercise go through the environment, which
	// a build without them ignores: prediction capture (on by default) into
	// a temporary lake rather than the working directory.
	env := []string{"LEADSCORE_LAKE_DIR=" + filepath.Join(t.TempDir(), "lake")}
	s := startServer(t, bin, env,
		"--max-body", "1MiB", "--max-batch", "1000", "--max-in-flight", "256",
		"--read-timeout", hostileReadTimeout.String(), "--read-header-timeout", hostileReadHeaderTimeout.String(),
		"--api-keys", "crm:"+httpapi.HashKey(crmKey)+",ops:"+httpapi.HashKey(opsKey)+":admin")
	pid := s.cmd.Process.Pid
	addr := strings.TrimPrefix(s.url, "http://")
	valid := f.rowsJSON(f.Rows[:1])

	// Every body is built before the probe starts, so building them does
	// not compete with it for the CPU.
	cases := hostileCases(f, crmKey)
	raw := rawCases(addr)
	slow := slowLorisCases(addr)
	// The feedback route exists while drift monitoring is on (the demo
	// bundle has a baseline); a build or model without it answers 404.
	feedback := feedbackCases()
	if r := send(t, nil, "GET", s.url+"/v1/monitoring", "", ""); r.status != http.StatusOK {
		t.Logf("GET /v1/monitoring: %d: monitoring is off, the %d feedback cases are not sent", r.status, len(feedback))
		feedback = nil
	}
	cases = append(cases, feedback...)
	probe := startHostileProbe(s.url, pid, valid)

	// Slow clients run alongside the fast cases, as they would in life.
	type rawResult struct {
		rc      rawCase
		status  int
		ctype   string
		body    []byte
		elapsed time.Duration
		err     error
	}
	slowResults := make([]rawResult, len(slow))
	var wg sync.WaitGroup
	for i, rc := range slow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rawResult{rc: rc}
			r.status, r.ctype, r.body, r.elapsed, r.err = rawExchange(addr, rc.send)
			slowResults[i] = r
		}()
	}

	client := &http.Client{
		Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4},
		Timeout:   20 * time.Second,
	}
	defer client.CloseIdleConnections()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, ctype, body, err := hostileDo(client, s.url, tc)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.method, tc.path, err)
			}
			t.Logf("%d %s", status, firstLine(body))
			if status != tc.status {
				t.Errorf("status %d, want %d: %s", status, tc.status, body)
			}
			checkErrorShape(t, tc.path, status, ctype, body, tc.code)
			if bytes.Contains(body, []byte(hostileValueSentinel)) || bytes.Contains(body, []byte(hostileNumberSentinel)) {
				t.Errorf("the error quotes a feature value: %s", body)
			}
		})
	}
	for _, rc := range raw {
		t.Run(rc.name, func(t *testing.T) {
			status, ctype, body, elapsed, err := rawExchange(addr, rc.send)
			checkRaw(t, rc, status, ctype, body, elapsed, err)
		})
	}
	wg.Wait()
	for _, r := range slowResults {
		t.Run(r.rc.name, func(t *testing.T) { checkRaw(t, r.rc, r.status, r.ctype, r.body, r.elapsed, r.err) })
	}
	t.Logf("%d hostile requests: %d through net/http's client, %d raw, %d slow", len(cases)+len(raw)+len(slow),
		len(cases), len(raw), len(slow))

	// Keep the valid traffic going a little after the storm.
	time.Sleep(time.Second)
	st := probe.stop()
	t.Logf("valid requests: %d sent, p50 %v, p99 %v, max %v; server RSS %d MiB at start, %d MiB max, %d MiB at end",
		st.sent, st.p50, st.p99, st.max, st.startRSS>>20, st.maxRSS>>20, st.endRSS>>20)
	for _, e := range st.failures {
		t.Errorf("valid request failed: %s", e)
	}
	if st.sent < 50 {
		t.Errorf("only %d valid requests were sent", st.sent)
	}
	if st.p99 > hostileClientP99 {
		t.Errorf("p99 of valid requests seen by the client %v, want at most %v", st.p99, hostileClientP99)
	}
	if st.maxRSS > hostileMaxRSS {
		t.Errorf("server RSS reached %d MiB, want at most %d MiB", st.maxRSS>>20, hostileMaxRSS>>20)
	}

	// Still alive and serving, nothing answered with a 5xx, nothing
	// panicked, no lead id or feature name in the logs.
	select {
	case <-s.done:
		t.Fatalf("the server exited: %v", s.err)
	default:
	}
	if r := send(t, nil, "GET", s.url+"/healthz", "", ""); r.status != 200 {
		t.Errorf("/healthz after the hostile set: %d", r.status)
	}
	if r := send(t, nil, "POST", s.url+"/score", "application/json",
		`{"leads":[{"id":"`+hostileIDSentinel+`","features":{"demo_requested":1,"annual_revenue_log":`+hostileNumberSentinel+`}}]}`); r.status != 200 {
		t.Errorf("valid lead after the hostile set: %d %s", r.status, r.body)
	}
	metrics := send(t, nil, "GET", s.url+"/metrics", "", "")
	for _, line := range strings.Split(string(metrics.body), "\n") {
		if strings.HasPrefix(line, "leadscore_http_requests_total{") && strings.Contains(line, `code="5`) {
			t.Errorf("a request was answered with a 5xx: %s", line)
		}
	}
	time.Sleep(200 * time.Millisecond) // the log sink flushes every 100 ms
	logs := s.output()
	served := probeLatencies(logs)
	if len(served) < st.sent-st.sent/10 {
		t.Errorf("the access log has %d of the %d valid requests", len(served), st.sent)
	} else {
		p50, p99 := percentile(served, 0.50), percentile(served, 0.99)
		t.Logf("valid requests in the server: p50 %v, p99 %v, max %v", p50, p99, served[len(served)-1])
		if p99 > hostileServerP99 {
			t.Errorf("p99 of valid requests in the server %v, want at most %v", p99, hostileServerP99)
		}
	}
	for _, bad := range []string{"panic", hostileIDSentinel, hostileFeatureSentinel, hostileValueSentinel, hostileNumberSentinel} {
		if strings.Contains(logs, bad) {
			t.Errorf("the server's output contains %q", bad)
		}
	}
}

// TestServeOverload is the short version of bench/overload.sh, run only
// with LEADSCORE_LONG=1 (about 20 s of load on top of the build). It finds
// the binary's capacity for 100-lead requests with a modest in-flight cap
// and prediction capture off,
// drives three times that rate, and checks that the excess is shed with
// fast 503s and nothing else, that accepted requests stay bounded in the
// server, that memory stays bounded, and that the server serves normally
// afterwards. The bounds are loose: on a shared 2-core machine the
// generator and the server compete for the same cores.
func TestServeOverload(t *testing.T) {
	if os.Getenv("LEADSCORE_LONG") != "1" {
		t.Skip("set LEADSCORE_LONG=1 to run (about 20 s of load)")
	}
	bin := testBinary(t)
	// Prediction capture is off: this test is about shedding in the HTTP
	// service. The lake's memory under overload is measured by
	// bench/overload.sh (LAKE=on, its default) and reported in
	// bench/RESULTS.md.
	env := []string{"LEADSCORE_LAKE=false", "LEADSCORE_LAKE_DIR=" + filepath.Join(t.TempDir(), "lake")}
	s := startServer(t, bin, env, "--max-in-flight", "4")
	pid := s.cmd.Process.Pid
	rows, err := loadgen.DemoRows()
	if err != nil {
		t.Fatal(err)
	}
	const batch = 100
	bodies, err := loadgen.Bodies(rows, batch)
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadgen.Config{URL: s.url + "/score", Bodies: bodies, Batch: batch, Connections: 64, Duration: time.Second}
	ctx := t.Context()
	if _, err := loadgen.Run(ctx, loadgen.Config{URL: cfg.URL, Bodies: bodies, Batch: batch, Rate: 50, Duration: time.Second}); err != nil {
		t.Fatal(err)
	}
	rssStart, err := vmRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	// The p99 limit is loose, as in bench/overload.sh: a tight one over
	// one-second steps measures the machine's scheduling stalls.
	res, err := loadgen.Search(ctx, loadgen.SearchConfig{Start: 100, MaxP99: 100 * time.Millisecond, MaxSteps: 8, Refine: 1, Pause: 250 * time.Millisecond},
		func(ctx context.Context, rate float64) (loadgen.Report, error) {
			c := cfg
			c.Rate = rate
			return loadgen.Run(ctx, c)
		})
	if err != nil {
		t.Fatal(err)
	}
	capacity := res.MaxRate()
	if capacity == 0 {
		t.Fatalf("no rate was sustained in %d steps: the machine is too busy to measure", len(res.Steps))
	}
	time.Sleep(300 * time.Millisecond) // the search's last access log lines
	mark := len(s.output())
	c := cfg
	c.Rate, c.Duration = 3*capacity, 5*time.Second
	rep, err := loadgen.Run(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the access log is flushed every 100 ms
	rssEnd, err := vmRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	accepted, shed := serverLatencies(s.output()[mark:])
	t.Logf("capacity %.0f req/s (%.0f leads/s); at %.0f req/s: %d sent, %d ok, %d missed, errors %v; accepted p99 %v from due time",
		capacity, capacity*batch, c.Rate, rep.Sent, rep.OK, rep.Missed, rep.Errors, rep.Latency.P99)
	t.Logf("in the server: %d accepted, p99 %v; %d shed, p99 %v; RSS %d MiB before, %d MiB after",
		len(accepted), pctOrZero(accepted, 0.99), len(shed), pctOrZero(shed, 0.99), rssStart>>20, rssEnd>>20)
	for kind, n := range rep.Errors {
		if kind != "HTTP 503" {
			t.Errorf("%d requests failed with %s, want only 503s", n, kind)
		}
	}
	if p := pctOrZero(shed, 0.99); p > 20*time.Millisecond {
		t.Errorf("p99 of shed requests in the server %v, want at most 20ms", p)
	}
	if p := pctOrZero(accepted, 0.99); p > time.Second {
		t.Errorf("p99 of accepted requests in the server %v, want at most 1s", p)
	}
	if rssEnd > hostileMaxRSS || rssEnd > rssStart+64<<20 {
		t.Errorf("RSS grew from %d MiB to %d MiB", rssStart>>20, rssEnd>>20)
	}
	if r := send(t, nil, "POST", s.url+"/score", "application/json", string(bodies[0])); r.status != 200 {
		t.Errorf("a request after the overload: %d %s", r.status, r.body)
	}
}

// serverLatencies returns, sorted, the latencies the access log holds for
// /score requests answered 200 and 503.
func serverLatencies(logs string) (ok, shed []time.Duration) {
	for _, line := range strings.Split(logs, "\n") {
		var rec struct {
			Msg       string `json:"msg"`
			Route     string `json:"route"`
			Status    int    `json:"status"`
			LatencyUS int64  `json:"latency_us"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "request" || rec.Route != "/score" {
			continue
		}
		d := time.Duration(rec.LatencyUS) * time.Microsecond
		switch rec.Status {
		case http.StatusOK:
			ok = append(ok, d)
		case http.StatusServiceUnavailable:
			shed = append(shed, d)
		}
	}
	slices.Sort(ok)
	slices.Sort(shed)
	return ok, shed
}

func pctOrZero(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return percentile(sorted, q)
}

// hostileCases returns the requests sent with net/http's client.
func hostileCases(f fixture, crmKey string) []hostileCase {
	nf := len(f.Names)
	// rowAt is lead i of the fixture as a JSON row, [...].
	rowAt := func(i int) string {
		k := i % len(f.Rows)
		r := f.rowsJSON(f.Rows[k : k+1])
		return r[1 : len(r)-1]
	}
	oneRow := rowAt(0)
	one := "[" + oneRow + "]"
	rows := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = rowAt(i)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	// withValue is a one-row body whose first value is v.
	withValue := func(v string) string {
		_, rest, _ := strings.Cut(oneRow[1:], ",")
		return "[[" + v + "," + rest + "]"
	}
	zeros := func(n int) string { return strings.TrimSuffix(strings.Repeat("0,", n), ",") }
	csvRow := strings.NewReplacer("null", "", "[", "", "]", "").Replace(oneRow)
	tensor := func(shape, datatype, data string) string {
		return `{"name":"input-0","shape":` + shape + `,"datatype":"` + datatype + `","data":` + data + `}`
	}
	v2 := func(shape, datatype, data string) string { return `{"inputs":[` + tensor(shape, datatype, data) + `]}` }
	flat := oneRow
	lead := func(features string) string { return `{"leads":[{"id":"l1","features":` + features + `}]}` }
	const j = "application/json"
	const infer = "/v2/models/lead-demo/infer"

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zeroBlock := make([]byte, 1<<20)
	for range 64 { // 64 MiB of zeros in about 64 KiB: a gzip bomb if it were inflated
		_, _ = zw.Write(zeroBlock)
	}
	_ = zw.Close()
	var small bytes.Buffer
	zw = gzip.NewWriter(&small)
	_, _ = zw.Write([]byte(one))
	_ = zw.Close()

	utf16Body := func(s string) string {
		var b []byte
		for _, u := range utf16.Encode([]rune(s)) {
			b = append(b, byte(u), byte(u>>8))
		}
		return "\xff\xfe" + string(b)
	}

	return []hostileCase{
		// Broken JSON.
		{name: "truncated_array", path: "/score", ctype: j, body: one[:len(one)/2], status: 400, code: "bad_json"},
		{name: "truncated_string", path: "/score", ctype: j, body: `{"leads":[{"id":"abc`, status: 400, code: "bad_json"},
		{name: "truncated_object", path: "/score", ctype: j, body: `{"leads":`, status: 400, code: "bad_request"},
		{name: "truncated_escape", path: "/score", ctype: j, body: `{"leads":[{"id":"\u12`, status: 400, code: "bad_json"},
		{name: "deep_nesting_100k_brackets", path: "/score", ctype: j, body: strings.Repeat("[", 100000), status: 400, code: "bad_json"},
		{name: "deep_nesting_objects", path: "/score", ctype: j, body: "[[" + strings.Repeat(`{"a":`, 50000), status: 400, code: "bad_json"},
		{name: "deep_nesting_in_wrapper", path: "/score", ctype: j, body: `{"instances":[[` + strings.Repeat("[", 100000) + "]]}", status: 400, code: "bad_json"},
		{name: "trailing_garbage", path: "/score", ctype: j, body: one + "xyz", status: 400, code: "bad_json"},
		{name: "two_documents", path: "/score", ctype: j, body: one + one, status: 400, code: "bad_json"},
		{name: "nul_byte", path: "/score", ctype: j, body: "[[1,\x00]]", status: 400, code: "bad_json"},
		{name: "control_char_in_id", path: "/score", ctype: j, body: `{"leads":[{"id":"a` + "\x01" + `b","features":{}}]}`, status: 400, code: "bad_json"},
		{name: "bad_escape_in_id", path: "/score", ctype: j, body: `{"leads":[{"id":"a\xb","features":{}}]}`, status: 400, code: "bad_json"},
		{name: "single_quotes", path: "/score", ctype: j, body: `{'leads':[]}`, status: 400, code: "bad_json"},
		{name: "comment", path: "/score", ctype: j, body: "/* rows */" + one, status: 400, code: "bad_request"},
		// Empty, blank and odd bodies.
		{name: "empty_body", path: "/score", ctype: j, body: "", status: 400, code: "empty_body"},
		{name: "whitespace_body", path: "/score", ctype: j, body: " \n\t\r \n", status: 400, code: "empty_body"},
		{name: "null_body", path: "/score", ctype: j, body: "null", status: 400, code: "bad_request"},
		{name: "scalar_body", path: "/score", ctype: j, body: "42", status: 400, code: "bad_request"},
		{name: "string_body", path: "/score", ctype: j, body: `"[[1]]"`, status: 400, code: "bad_request"},
		{name: "bom", path: "/score", ctype: j, body: "\xef\xbb\xbf" + one, status: 400, code: "bad_request"},
		{name: "empty_array", path: "/score", ctype: j, body: "[]", status: 422, code: "empty_batch"},
		{name: "empty_object", path: "/score", ctype: j, body: "{}", status: 400, code: "bad_request"},
		// Sizes.
		{name: "million_element_array_2MB", path: "/score", ctype: j, body: "[[" + zeros(1000000) + "]]", status: 413, code: "body_too_large"},
		{name: "half_million_values_in_a_row", path: "/score", ctype: j, body: "[[" + zeros(500000) + "]]", status: 422, code: "wrong_feature_count"},
		{name: "million_rows_3MB", path: "/score", ctype: j, body: "[" + strings.Repeat("[],", 999999) + "[]]", status: 413, code: "body_too_large"},
		{name: "rows_over_max_batch", path: "/score", ctype: j, body: rows(1001), status: 413, code: "batch_too_large"},
		{name: "leads_over_max_batch", path: "/score", ctype: j, body: `{"leads":[` + strings.Repeat(`{"features":{}},`, 1000) + `{"features":{}}]}`, status: 413, code: "batch_too_large"},
		{name: "chunked_body_over_limit", path: "/score", ctype: j, body: "[[" + zeros(1500000) + "]]", chunked: true, status: 413, code: "body_too_large"},
		{name: "chunked_whitespace_over_limit", path: "/invocations", ctype: "text/csv", body: strings.Repeat(" ", 3<<20), chunked: true, status: 413, code: "body_too_large"},
		// Values that are not finite numbers.
		// (bare NaN is missing, as Python's json.dumps writes it: see httpapi's TestPythonBodies)
		{name: "infinity_literal", path: "/score", ctype: j, body: withValue("Infinity"), status: 422, code: "invalid_value"},
		{name: "minus_infinity_literal", path: "/score", ctype: j, body: withValue("-Infinity"), status: 422, code: "invalid_value"},
		{name: "1e400", path: "/score", ctype: j, body: withValue("1e400"), status: 422, code: "invalid_value"},
		{name: "minus_1e400", path: "/score", ctype: j, body: withValue("-1e400"), status: 422, code: "invalid_value"},
		{name: "over_float32_range", path: "/score", ctype: j, body: withValue("3.5e38"), status: 422, code: "invalid_value"},
		{name: "string_for_number", path: "/score", ctype: j, body: withValue(`"4.0"`), status: 422, code: "invalid_value"},
		{name: "boolean_for_number", path: "/score", ctype: j, body: withValue("true"), status: 422, code: "invalid_value"},
		{name: "object_for_number", path: "/score", ctype: j, body: withValue(`{"v":1}`), status: 422, code: "invalid_value"},
		{name: "array_for_number", path: "/score", ctype: j, body: withValue("[1]"), status: 422, code: "invalid_value"},
		{name: "leading_zero", path: "/score", ctype: j, body: withValue("01"), status: 400, code: "bad_json"},
		{name: "plus_sign", path: "/score", ctype: j, body: withValue("+1"), status: 400, code: "bad_json"},
		{name: "hex_number", path: "/score", ctype: j, body: withValue("0x1F"), status: 400, code: "bad_json"},
		{name: "leading_dot", path: "/score", ctype: j, body: withValue(".5"), status: 400, code: "bad_json"},
		{name: "trailing_dot", path: "/score", ctype: j, body: withValue("1."), status: 400, code: "bad_json"},
		{name: "bare_exponent", path: "/score", ctype: j, body: withValue("1e"), status: 400, code: "bad_json"},
		{name: "lone_minus", path: "/score", ctype: j, body: withValue("-"), status: 400, code: "bad_json"},
		// Rows of the wrong shape.
		{name: "object_as_row_unknown_name", path: "/score", ctype: j, body: `[{"company_size_log":1,"email":"a@b.c"}]`, status: 422, code: "unknown_feature"},
		{name: "string_as_row", path: "/score", ctype: j, body: `["1,2,3"]`, status: 422, code: "bad_request"},
		{name: "number_as_row", path: "/score", ctype: j, body: `[1,2,3]`, status: 422, code: "bad_request"},
		{name: "empty_row", path: "/score", ctype: j, body: "[[]]", status: 422, code: "wrong_feature_count"},
		{name: "short_row", path: "/score", ctype: j, body: "[[1,2,3]]", status: 422, code: "wrong_feature_count"},
		{name: "long_row", path: "/score", ctype: j, body: "[[" + zeros(nf+1) + "]]", status: 422, code: "wrong_feature_count"},
		{name: "ragged_rows", path: "/score", ctype: j, body: "[" + oneRow + ",[" + zeros(nf-1) + "]]", status: 422, code: "wrong_feature_count"},
		// Wrappers and leads.
		{name: "unknown_wrapper_field", path: "/score", ctype: j, body: `{"rows":` + one + `}`, status: 400, code: "unknown_field"},
		{name: "leads_and_instances", path: "/score", ctype: j, body: `{"leads":[],"instances":[]}`, status: 400, code: "bad_request"},
		{name: "duplicate_wrapper_key", path: "/score", ctype: j, body: `{"instances":` + one + `,"instances":` + one + `}`, status: 400, code: "bad_request"},
		{name: "leads_not_array", path: "/score", ctype: j, body: `{"leads":{"id":1}}`, status: 400, code: "bad_request"},
		{name: "duplicate_feature", path: "/score", ctype: j, body: lead(`{"demo_requested":1,"demo_requested":0}`), status: 422, code: "duplicate_feature"},
		{name: "duplicate_feature_escaped", path: "/score", ctype: j, body: lead(`{"demo_requested":1,"demo\u005frequested":0}`), status: 422, code: "duplicate_feature"},
		{name: "unknown_feature", path: "/score", ctype: j, body: `{"leads":[{"id":"` + hostileIDSentinel + `","features":{"` + hostileFeatureSentinel + `":1}}]}`, status: 422, code: "unknown_feature"},
		{name: "feature_value_string", path: "/score", ctype: j, body: `{"leads":[{"id":"` + hostileIDSentinel + `","features":{"demo_requested":"` + hostileValueSentinel + `"}}]}`, status: 422, code: "invalid_value"},
		{name: "feature_value_string_csv", path: "/invocations", ctype: "text/csv", body: hostileNumberSentinel + "," + hostileValueSentinel + "\n", status: 422, code: "invalid_value"},
		{name: "unknown_feature_100KB_name", path: "/score", ctype: j, body: lead(`{"` + strings.Repeat("x", 100<<10) + `":1}`), status: 422, code: "unknown_feature"},
		{name: "lead_without_features", path: "/score", ctype: j, body: `{"leads":[{"id":"l1"}]}`, status: 422, code: "missing_features"},
		{name: "features_twice", path: "/score", ctype: j, body: `{"leads":[{"features":{},"features":{}}]}`, status: 400, code: "bad_request"},
		{name: "features_as_string", path: "/score", ctype: j, body: lead(`"demo_requested=1"`), status: 422, code: "bad_request"},
		{name: "unknown_lead_field", path: "/score", ctype: j, body: `{"leads":[{"id":"l1","features":{},"email":"a@b.c"}]}`, status: 422, code: "unknown_feature"},
		{name: "id_as_object", path: "/score", ctype: j, body: `{"leads":[{"id":{"x":1},"features":{}}]}`, status: 422, code: "bad_request"},
		{name: "id_as_boolean", path: "/score", ctype: j, body: `{"leads":[{"id":true,"features":{}}]}`, status: 422, code: "bad_request"},
		{name: "invalid_utf8_in_id", path: "/score", ctype: j, body: `{"leads":[{"id":"lead-` + "\xff\xfe" + `","features":{}}]}`, status: 400, code: "bad_json"},
		{name: "invalid_utf8_in_feature_key", path: "/score", ctype: j, body: lead(`{"demo_` + "\xc3\x28" + `":1}`), status: 400, code: "bad_json"},
		{name: "invalid_utf8_in_wrapper_key", path: "/score", ctype: j, body: `{"lea` + "\xed\xa0\x80" + `ds":[]}`, status: 400, code: "bad_json"},
		{name: "overlong_utf8_in_id", path: "/score", ctype: j, body: `{"leads":[{"id":"` + "\xc0\xaf" + `","features":{}}]}`, status: 400, code: "bad_json"},
		// Content types and encodings.
		{name: "missing_content_type", path: "/score", body: one, status: 415, code: "unsupported_media"},
		{name: "text_plain", path: "/score", ctype: "text/plain", body: one, status: 415, code: "unsupported_media"},
		{name: "form_urlencoded", path: "/score", ctype: "application/x-www-form-urlencoded", body: "rows=" + one, status: 415, code: "unsupported_media"},
		{name: "multipart", path: "/score", ctype: "multipart/form-data; boundary=x", body: "--x\r\n\r\n" + one + "\r\n--x--", status: 415, code: "unsupported_media"},
		{name: "text_csv_on_score", path: "/score", ctype: "text/csv", body: csvRow, status: 415, code: "unsupported_media"},
		{name: "json_lookalike_type", path: "/score", ctype: "application/jsonx", body: one, status: 415, code: "unsupported_media"},
		{name: "json_suffix_type", path: "/score", ctype: "application/vnd.api+json", body: one, status: 415, code: "unsupported_media"},
		{name: "content_type_garbage", path: "/score", ctype: "*/*", body: one, status: 415, code: "unsupported_media"},
		{name: "charset_utf16_body", path: "/score", ctype: "application/json; charset=utf-16", body: utf16Body(one), status: 400, code: "bad_request"},
		{name: "charset_latin1_body", path: "/score", ctype: "APPLICATION/JSON ; charset=ISO-8859-1", body: `{"leads":[{"id":"caf` + "\xe9" + `","features":{}}]}`, status: 400, code: "bad_json"},
		{name: "gzip_not_inflated", path: "/score", ctype: j, headers: []string{"Content-Encoding", "gzip"}, body: small.String(), status: 415, code: "unsupported_media"},
		{name: "gzip_bomb_64MiB", path: "/score", ctype: j, headers: []string{"Content-Encoding", "gzip"}, body: gz.String(), status: 415, code: "unsupported_media"},
		{name: "deflate_encoding", path: "/invocations", ctype: "text/csv", headers: []string{"Content-Encoding", "deflate"}, body: "\x78\x9c\x03\x00\x00\x00\x00\x01", status: 415, code: "unsupported_media"},
		// Query parameters.
		{name: "explain_negative", path: "/score?explain=-1", ctype: j, body: one, status: 400, code: "bad_parameter"},
		{name: "explain_float", path: "/score?explain=1e9", ctype: j, body: one, status: 400, code: "bad_parameter"},
		{name: "explain_word", path: "/score?explain=abc", ctype: j, body: one, status: 400, code: "bad_parameter"},
		{name: "explain_empty", path: "/score?explain=", ctype: j, body: one, status: 400, code: "bad_parameter"},
		{name: "explain_overflow", path: "/score?explain=99999999999999999999999", ctype: j, body: one, status: 400, code: "bad_parameter"},
		{name: "explain_percent_encoded", path: "/score?explain=%31%00", ctype: j, body: one, status: 400, code: "bad_parameter"},
		{name: "explain_over_row_limit", path: "/score?explain=3", ctype: j, body: rows(101), status: 413, code: "batch_too_large"},
		{name: "explain_bad_on_invocations", path: "/invocations?explain=-5", ctype: "text/csv", body: csvRow, status: 400, code: "bad_parameter"},
		{name: "long_query_bad_explain", path: "/score?pad=" + strings.Repeat("a", 30<<10) + "&explain=x", ctype: j, body: one, status: 400, code: "bad_parameter"},
		// Methods and routes.
		{name: "get_score", method: "GET", path: "/score", status: 405, code: "method_not_allowed"},
		{name: "delete_score", method: "DELETE", path: "/score", ctype: j, body: one, status: 405, code: "method_not_allowed"},
		{name: "put_invocations", method: "PUT", path: "/invocations", ctype: "text/csv", body: csvRow, status: 405, code: "method_not_allowed"},
		{name: "trace_score", method: "TRACE", path: "/score", status: 405, code: "method_not_allowed"},
		{name: "custom_method", method: "FROB", path: "/score", ctype: j, body: one, status: 405, code: "method_not_allowed"},
		{name: "post_healthz", path: "/healthz", ctype: j, body: one, status: 405, code: "method_not_allowed"},
		{name: "post_metrics", path: "/metrics", ctype: j, body: one, status: 405, code: "method_not_allowed"},
		{name: "get_admin_reload", method: "GET", path: "/admin/reload", status: 405, code: "method_not_allowed"},
		{name: "patch_v2_infer", method: "PATCH", path: infer, ctype: j, body: v2("[1,50]", "FP32", flat), status: 405},
		{name: "delete_v2_model", method: "DELETE", path: "/v2/models/lead-demo", status: 405},
		{name: "uppercase_path", path: "/SCORE", ctype: j, body: one, status: 404, code: "not_found"},
		{name: "double_slash", path: "//score", ctype: j, body: one, status: 404, code: "not_found"},
		{name: "dot_dot_to_admin", path: "/score/../admin/reload", ctype: j, body: one, status: 404, code: "not_found"},
		{name: "encoded_nul_in_path", path: "/score%00", ctype: j, body: one, status: 404, code: "not_found"},
		{name: "long_path_32KB", path: "/score/" + strings.Repeat("a", 32<<10), ctype: j, body: one, status: 404, code: "not_found"},
		{name: "nested_endpoint_name", path: "/endpoints/a/b/invocations", ctype: "text/csv", body: csvRow, status: 404, code: "not_found"},
		// Keys (configured, not required: a wrong key is still refused).
		{name: "wrong_bearer_key", path: "/score", ctype: j, headers: []string{"Authorization", "Bearer not-a-key"}, body: one, status: 401, code: "unauthorized"},
		{name: "uppercase_bearer_wrong_key", path: "/score", ctype: j, headers: []string{"Authorization", "BEARER not-a-key"}, body: one, status: 401, code: "unauthorized"},
		{name: "bearer_key_with_spaces", path: "/score", ctype: j, headers: []string{"Authorization", "Bearer " + crmKey + " " + crmKey}, body: one, status: 401, code: "unauthorized"},
		{name: "wrong_x_api_key", path: "/score", ctype: j, headers: []string{"X-API-Key", "x"}, body: one, status: 401, code: "unauthorized"},
		{name: "key_60KB", path: "/score", ctype: j, headers: []string{"X-API-Key", strings.Repeat("k", 60<<10)}, body: one, status: 401, code: "unauthorized"},
		{name: "key_with_high_bytes", path: "/score", ctype: j, headers: []string{"X-API-Key", crmKey + "\xff"}, body: one, status: 401, code: "unauthorized"},
		{name: "reload_without_key", path: "/admin/reload", status: 401, code: "unauthorized"},
		{name: "reload_with_client_key", path: "/admin/reload", headers: []string{"Authorization", "Bearer " + crmKey}, status: 403, code: "forbidden"},
		// SageMaker CSV.
		{name: "csv_quoted_values", path: "/invocations", ctype: "text/csv", body: `"4.0",` + strings.SplitN(csvRow, ",", 2)[1], status: 422, code: "invalid_value"},
		{name: "csv_ragged_rows", path: "/invocations", ctype: "text/csv", body: csvRow + "\n" + zeros(nf-1) + "\n", status: 422, code: "wrong_feature_count"},
		{name: "csv_10k_columns", path: "/invocations", ctype: "text/csv", body: zeros(10000) + "\n", status: 422, code: "wrong_feature_count"},
		{name: "csv_header_row", path: "/invocations", ctype: "text/csv", body: strings.Join(f.Names, ",") + "\n" + csvRow + "\n", status: 422, code: "invalid_value"},
		{name: "csv_inf", path: "/invocations", ctype: "text/csv", body: "-inf," + zeros(nf-1), status: 422, code: "invalid_value"},
		{name: "csv_1e400", path: "/invocations", ctype: "text/csv", body: "1e400," + zeros(nf-1), status: 422, code: "invalid_value"},
		{name: "csv_hex", path: "/invocations", ctype: "text/csv", body: "0x10," + zeros(nf-1), status: 422, code: "invalid_value"},
		{name: "csv_invalid_utf8", path: "/invocations", ctype: "text/csv", body: "\xff\xfe," + zeros(nf-1), status: 422, code: "invalid_value"},
		{name: "csv_only_blank_lines", path: "/invocations", ctype: "text/csv", body: "\n\r\n  \n", status: 422, code: "empty_batch"},
		{name: "csv_over_max_batch", path: "/invocations", ctype: "text/csv", body: strings.Repeat(zeros(nf)+"\n", 1001), status: 413, code: "batch_too_large"},
		{name: "csv_2MB", path: "/invocations", ctype: "text/csv", body: strings.Repeat(zeros(nf)+"\n", 21000), status: 413, code: "body_too_large"},
		{name: "csv_semicolons", path: "/invocations", ctype: "text/csv", body: strings.ReplaceAll(zeros(nf), ",", ";"), status: 422, code: "invalid_value"},
		{name: "invocations_xml", path: "/invocations", ctype: "application/xml", body: "<rows/>", status: 415, code: "unsupported_media"},
		{name: "invocations_bad_json", path: "/endpoints/ep/invocations", ctype: j, body: "[[1,", status: 400, code: "bad_json"},
		// Open Inference Protocol (V2).
		{name: "v2_dot_dot_model", path: "/v2/models/../../etc/passwd/infer", ctype: j, body: v2("[1,50]", "FP32", flat), status: 404},
		{name: "v2_encoded_dot_dot", path: "/v2/models/%2e%2e/%2e%2e/etc/passwd/infer", ctype: j, body: v2("[1,50]", "FP32", flat), status: 404},
		{name: "v2_encoded_slashes", path: "/v2/models/lead-demo%2F..%2F..%2Fetc%2Fpasswd/infer", ctype: j, body: v2("[1,50]", "FP32", flat), status: 404},
		{name: "v2_nul_in_model_name", path: "/v2/models/lead-demo%00/infer", ctype: j, body: v2("[1,50]", "FP32", flat), status: 404},
		{name: "v2_invalid_utf8_model_name", path: "/v2/models/lead-%ff%fe/infer", ctype: j, body: v2("[1,50]", "FP32", flat), status: 404},
		{name: "v2_version_dot_dot", path: "/v2/models/lead-demo/versions/..%2F..%2F/infer", ctype: j, body: v2("[1,50]", "FP32", flat), status: 404},
		{name: "v2_empty_model_name", path: "/v2/models//infer", ctype: j, body: v2("[1,50]", "FP32", flat), status: 404},
		{name: "v2_other_model", path: "/v2/models/other/infer", ctype: j, body: v2("[1,50]", "FP32", flat), status: 404},
		{name: "v2_wrong_datatype", path: infer, ctype: j, body: v2("[1,50]", "FP8", flat), status: 400},
		{name: "v2_bytes_datatype", path: infer, ctype: j, body: v2("[1,50]", "BYTES", flat), status: 400},
		{name: "v2_string_data", path: infer, ctype: j, body: v2("[1,1]", "BYTES", `["a"]`), status: 400},
		{name: "v2_int8_out_of_range", path: infer, ctype: j, body: v2("[1,50]", "INT8", "[300,"+zeros(nf-1)+"]"), status: 422},
		{name: "v2_missing_datatype", path: infer, ctype: j, body: `{"inputs":[{"name":"input-0","shape":[1,50],"data":` + flat + `}]}`, status: 400},
		{name: "v2_shape_mismatch", path: infer, ctype: j, body: v2("[2,50]", "FP32", flat), status: 400},
		{name: "v2_negative_shape", path: infer, ctype: j, body: v2("[-1,50]", "FP32", flat), status: 400},
		{name: "v2_huge_shape_small_data", path: infer, ctype: j, body: v2("[1000000000,50]", "FP32", flat), status: 400},
		{name: "v2_shape_overflow", path: infer, ctype: j, body: v2("[99999999999999999999,50]", "FP32", flat), status: 400},
		{name: "v2_shape_too_many_dims", path: infer, ctype: j, body: v2("[1,1,1,50]", "FP32", flat), status: 400},
		{name: "v2_shape_float", path: infer, ctype: j, body: v2("[1.5,50]", "FP32", flat), status: 400},
		{name: "v2_shape_string", path: infer, ctype: j, body: v2(`"1x50"`, "FP32", flat), status: 400},
		{name: "v2_data_too_deep", path: infer, ctype: j, body: v2("[1,50]", "FP32", "[["+flat+"]]"), status: 422},
		{name: "v2_data_mixed_depth", path: infer, ctype: j, body: v2("[2,50]", "FP32", "["+flat+",1]"), status: 400},
		{name: "v2_flat_not_multiple", path: infer, ctype: j, body: v2("[1,51]", "FP32", "["+zeros(nf+1)+"]"), status: 400},
		{name: "v2_data_string", path: infer, ctype: j, body: v2("[1,50]", "FP32", `"`+flat+`"`), status: 400},
		{name: "v2_data_twice", path: infer, ctype: j, body: `{"inputs":[{"name":"input-0","shape":[1,50],"datatype":"FP32","data":` + flat + `,"data":` + flat + `}]}`, status: 400},
		{name: "v2_two_inputs", path: infer, ctype: j, body: `{"inputs":[` + tensor("[1,50]", "FP32", flat) + "," + tensor("[1,50]", "FP32", flat) + `]}`, status: 400},
		{name: "v2_no_inputs", path: infer, ctype: j, body: `{"inputs":[]}`, status: 400},
		{name: "v2_inputs_object", path: infer, ctype: j, body: `{"inputs":{"data":[1]}}`, status: 400},
		{name: "v2_id_number", path: infer, ctype: j, body: `{"id":7,` + v2("[1,50]", "FP32", flat)[1:], status: 400},
		{name: "v2_body_array", path: infer, ctype: j, body: one, status: 400},
		{name: "v2_empty_body", path: infer, ctype: j, body: "", status: 400},
		{name: "v2_truncated", path: infer, ctype: j, body: v2("[1,50]", "FP32", flat)[:40], status: 400},
		{name: "v2_text_plain", path: infer, ctype: "text/plain", body: v2("[1,50]", "FP32", flat), status: 415},
		{name: "v2_over_max_batch", path: infer, ctype: j, body: v2("[1001,50]", "FP32", "["+zeros(1001*nf)+"]"), status: 413},
		{name: "v2_million_values_2MB", path: infer, ctype: j, body: v2("[20000,50]", "FP32", "["+zeros(1000000)+"]"), status: 413},
	}
}

// feedbackCases are hostile outcomes for POST /v1/feedback (drift
// monitoring's ground truth; its own parser, within --max-body and at most
// 4 MiB).
func feedbackCases() []hostileCase {
	const j, fb = "application/json", "/v1/feedback"
	outcomes := func(n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(`{"lead_id":"a","converted":1},`, n), ",") + "]"
	}
	return []hostileCase{
		{name: "feedback_truncated", path: fb, ctype: j, body: `[{"lead_id":"L1","conv`, status: 400, code: "bad_json"},
		{name: "feedback_text_plain", path: fb, ctype: "text/plain", body: outcomes(1), status: 415, code: "unsupported_media"},
		{name: "feedback_converted_2", path: fb, ctype: j, body: `[{"lead_id":"L1","converted":2}]`, status: 422, code: "invalid_value"},
		{name: "feedback_converted_nan", path: fb, ctype: j, body: `[{"lead_id":"L1","converted":NaN}]`, status: 400, code: "bad_json"},
		{name: "feedback_converted_string", path: fb, ctype: j, body: `[{"lead_id":"L1","converted":"yes"}]`, status: 422, code: "invalid_value"},
		{name: "feedback_unknown_field", path: fb, ctype: j, body: `[{"lead_id":"L1","converted":1,"email":"a@b.c"}]`, status: 400, code: "unknown_field"},
		{name: "feedback_no_ids", path: fb, ctype: j, body: `[{"converted":1}]`, status: 422, code: "invalid_value"},
		{name: "feedback_bad_time", path: fb, ctype: j, body: `[{"lead_id":"L1","converted":1,"time":"yesterday"}]`, status: 422, code: "invalid_value"},
		{name: "feedback_empty_array", path: fb, ctype: j, body: "[]", status: 422, code: "empty_batch"},
		{name: "feedback_whitespace", path: fb, ctype: j, body: " \n ", status: 422, code: "empty_batch"},
		{name: "feedback_deep_nesting", path: fb, ctype: j, body: strings.Repeat("[", 100000), status: 400, code: "bad_json"},
		{name: "feedback_trailing_garbage", path: fb, ctype: j, body: outcomes(1) + "x", status: 400, code: "bad_json"},
		{name: "feedback_over_10k", path: fb, ctype: j, body: outcomes(10001), status: 413, code: "batch_too_large"},
		{name: "feedback_body_2MB_over_max_body", path: fb, ctype: j, body: outcomes(1) + strings.Repeat(" ", 2<<20), status: 413, code: "body_too_large"},
		{name: "feedback_body_2MB_chunked", path: fb, ctype: j, body: outcomes(1) + strings.Repeat(" ", 2<<20), chunked: true, status: 413, code: "body_too_large"},
		{name: "feedback_gzip", path: fb, ctype: j, headers: []string{"Content-Encoding", "gzip"}, body: outcomes(1), status: 415, code: "unsupported_media"},
		{name: "feedback_body_5MB", path: fb, ctype: j, body: strings.Repeat(" ", 5<<20), status: 413, code: "body_too_large"},
		{name: "feedback_number_900KB", path: fb, ctype: j, body: "[" + strings.Repeat("1", 900<<10) + "]", status: 400, code: "bad_json"},
		{name: "feedback_get", method: "GET", path: fb, status: 405, code: "method_not_allowed"},
		{name: "monitoring_delete", method: "DELETE", path: "/v1/monitoring", status: 405, code: "method_not_allowed"},
	}
}

// slowLorisCases are the slow clients: each must be cut by the server's
// timeouts, not left to hold a connection and a goroutine for ever.
func slowLorisCases(addr string) []rawCase {
	trickle := func(head string, every time.Duration, n int) func(net.Conn) error {
		return func(conn net.Conn) error {
			if _, err := io.WriteString(conn, head); err != nil {
				return err
			}
			for range n {
				time.Sleep(every)
				if _, err := conn.Write([]byte{'a'}); err != nil {
					return err
				}
			}
			return nil
		}
	}
	headers := "POST /score HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nX-Slow: "
	body := "POST /score HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[[1"
	chunks := "POST /score HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
	headerCut := hostileReadHeaderTimeout + hostileSlack
	bodyCut := hostileReadTimeout + hostileSlack
	cases := []rawCase{
		{name: "slowloris_headers", send: trickle(headers, 200*time.Millisecond, 30), cut: true, within: headerCut},
		{name: "slowloris_request_line", send: trickle("POST /score", 200*time.Millisecond, 30), cut: true, within: headerCut},
		{name: "idle_connection", send: func(net.Conn) error { return nil }, cut: true, within: headerCut},
		{name: "slowloris_body", send: trickle(body, 200*time.Millisecond, 30), status: 400, code: "body_read_failed", within: bodyCut},
		{name: "slowloris_chunked_body", send: func(conn net.Conn) error {
			if _, err := io.WriteString(conn, chunks); err != nil {
				return err
			}
			for range 30 {
				if _, err := io.WriteString(conn, "1\r\n \r\n"); err != nil {
					return err
				}
				time.Sleep(200 * time.Millisecond)
			}
			return nil
		}, status: 400, code: "body_read_failed", within: bodyCut},
	}
	// A crowd of slow header writers at once.
	for i := range 40 {
		cases = append(cases, rawCase{name: "slowloris_crowd_" + strconv.Itoa(i),
			send: trickle(headers, 250*time.Millisecond, 24), cut: true, within: headerCut})
	}
	return cases
}

// rawCases are requests net/http's client would not send as they are.
func rawCases(addr string) []rawCase {
	write := func(req string) func(net.Conn) error {
		return func(conn net.Conn) error { _, err := io.WriteString(conn, req); return err }
	}
	head := func(method, target string, extra string) string {
		return method + " " + target + " HTTP/1.1\r\nHost: " + addr + "\r\n" + extra + "\r\n"
	}
	const ctJSON = "Content-Type: application/json\r\n"
	const within = 10 * time.Second
	return []rawCase{
		{name: "header_100KB", send: write(head("POST", "/score", ctJSON+"X-Pad: "+strings.Repeat("a", 100<<10)+"\r\nContent-Length: 2\r\n") + "[]"),
			status: 431, plain: true, within: within},
		{name: "many_headers", send: write(head("POST", "/score", ctJSON+strings.Repeat("X-A: b\r\n", 12000)+"Content-Length: 2\r\n") + "[]"),
			status: 431, plain: true, within: within},
		{name: "url_100KB", send: write(head("POST", "/score?pad="+strings.Repeat("a", 100<<10), ctJSON+"Content-Length: 2\r\n") + "[]"),
			status: 431, plain: true, within: within},
		{name: "raw_nul_in_path", send: write(head("POST", "/v2/models/lead\x00demo/infer", ctJSON+"Content-Length: 2\r\n") + "{}"),
			status: 400, plain: true, within: within},
		{name: "raw_space_in_path", send: write(head("POST", "/v2/models/../ etc/passwd/infer", ctJSON+"Content-Length: 2\r\n") + "{}"),
			status: 400, plain: true, within: within},
		{name: "header_without_colon", send: write(head("POST", "/score", ctJSON+"NoColonHere\r\nContent-Length: 2\r\n") + "[]"),
			status: 400, plain: true, within: within},
		{name: "negative_content_length", send: write(head("POST", "/score", ctJSON+"Content-Length: -5\r\n") + "[]"),
			status: 400, plain: true, within: within},
		{name: "two_content_lengths", send: write(head("POST", "/score", ctJSON+"Content-Length: 2\r\nContent-Length: 3\r\n") + "[] "),
			status: 400, plain: true, within: within},
		{name: "declared_10MB_body_not_sent", send: write(head("POST", "/score", ctJSON+"Content-Length: 10000000\r\nExpect: 100-continue\r\n")),
			status: 413, code: "body_too_large", within: within},
		{name: "body_shorter_than_declared", send: func(conn net.Conn) error {
			if _, err := io.WriteString(conn, head("POST", "/score", ctJSON+"Content-Length: 1000\r\n")+"[[1,2"); err != nil {
				return err
			}
			return conn.(*net.TCPConn).CloseWrite()
		}, status: 400, code: "body_read_failed", within: within},
		{name: "bad_chunk_size", send: write(head("POST", "/score", ctJSON+"Transfer-Encoding: chunked\r\n") + "zz\r\n[[1]]\r\n0\r\n\r\n"),
			status: 400, code: "body_read_failed", within: within},
		{name: "chunk_size_overflow", send: write(head("POST", "/score", ctJSON+"Transfer-Encoding: chunked\r\n") + "ffffffffffffffffff\r\n[[1]]\r\n0\r\n\r\n"),
			status: 400, code: "body_read_failed", within: within},
		{name: "huge_declared_chunk", send: write(head("POST", "/score", ctJSON+"Transfer-Encoding: chunked\r\n") + "7fffffff\r\n" + strings.Repeat(" ", 1200<<10)),
			status: 413, code: "body_too_large", within: within},
		{name: "missing_host", send: write("POST /score HTTP/1.1\r\n" + ctJSON + "Content-Length: 2\r\n\r\n[]"),
			status: 400, plain: true, within: within},
		{name: "two_hosts", send: write(head("POST", "/score", ctJSON+"Host: evil.example\r\nContent-Length: 2\r\n") + "[]"),
			status: 400, plain: true, within: within},
		{name: "content_length_and_chunked", send: write(head("POST", "/score", ctJSON+"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n"),
			status: 400, code: "empty_body", within: within},
		{name: "absolute_form_other_host", send: write("POST http://evil.example/score HTTP/1.1\r\nHost: evil.example\r\n" + ctJSON + "Content-Length: 5\r\n\r\n[[1]]"),
			status: 422, code: "wrong_feature_count", within: within},
		// The only 5xx answers in the set, both net/http's own before the
		// handler runs, as RFC 9112 section 6.1 and RFC 9110 section 15.6.6
		// prescribe: an unknown transfer coding (501) and an HTTP major
		// version other than 1 on the plain-text port (505). They cost the
		// server nothing and close the connection.
		{name: "transfer_encoding_gzip", send: write(head("POST", "/score", ctJSON+"Transfer-Encoding: gzip, chunked\r\n") + "0\r\n\r\n"),
			status: 501, plain: true, within: within},
		{name: "http2_request_line", send: write("GET /healthz HTTP/2.0\r\nHost: " + addr + "\r\n\r\n"),
			status: 505, plain: true, within: within},
		{name: "v2_dot_dot_raw", send: write(head("POST", "/v2/models/../../../etc/passwd/infer", ctJSON+"Content-Length: 2\r\n") + "{}"),
			status: 404, v2: true, within: within},
	}
}

// hostileDo sends tc with client and returns the status, Content-Type and
// body of the answer.
func hostileDo(client *http.Client, base string, tc hostileCase) (int, string, []byte, error) {
	method := tc.method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if tc.body != "" || method == http.MethodPost || method == http.MethodPut {
		body = strings.NewReader(tc.body)
		if tc.chunked {
			body = struct{ io.Reader }{body} // hides the length: chunked
		}
	}
	req, err := http.NewRequest(method, base+tc.path, body)
	if err != nil {
		return 0, "", nil, err
	}
	if tc.ctype != "" {
		req.Header["Content-Type"] = []string{tc.ctype}
	}
	for i := 0; i+1 < len(tc.headers); i += 2 {
		req.Header.Set(tc.headers[i], tc.headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header.Get("Content-Type"), b, err
}

// rawExchange dials addr, runs send while reading the answer, and returns
// the status (0 when the server closed the connection without one), the
// answer's Content-Type and body, and the time until the answer or the
// close.
func rawExchange(addr string, send func(net.Conn) error) (status int, ctype string, body []byte, elapsed time.Duration, err error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, "", nil, 0, err
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second)) // bounds a server that never cuts
	start := time.Now()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		_ = send(conn) // a write error only means the server hung up
	}()
	defer func() { _ = conn.Close(); <-sent }()
	resp, rerr := http.ReadResponse(bufio.NewReader(conn), nil)
	elapsed = time.Since(start)
	if rerr != nil {
		var ne net.Error
		if errors.As(rerr, &ne) && ne.Timeout() {
			return 0, "", nil, elapsed, fmt.Errorf("no answer and no close within 20s: %w", rerr)
		}
		return 0, "", nil, elapsed, nil // closed (EOF or reset) without an answer
	}
	defer func() { _ = resp.Body.Close() }()
	body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil && len(body) == 0 {
		return resp.StatusCode, resp.Header.Get("Content-Type"), body, elapsed, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body, elapsed, nil
}

// checkRaw checks the outcome of a raw case.
func checkRaw(t *testing.T, rc rawCase, status int, ctype string, body []byte, elapsed time.Duration, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if status == 0 {
		t.Logf("closed without an answer after %v", elapsed.Round(time.Millisecond))
	} else {
		t.Logf("%d after %v: %s", status, elapsed.Round(time.Millisecond), firstLine(body))
	}
	switch {
	case rc.cut:
		if status != 0 && (status < 400 || status >= 500) {
			t.Errorf("status %d, want a 4xx or a close: %s", status, body)
		}
	case status != rc.status:
		t.Errorf("status %d, want %d (0: closed without an answer): %s", status, rc.status, body)
	}
	if elapsed > rc.within {
		t.Errorf("took %v, want at most %v", elapsed, rc.within)
	}
	switch {
	case status == 0:
	case rc.plain || rc.cut && strings.HasPrefix(ctype, "text/plain"):
		if !strings.HasPrefix(ctype, "text/plain") {
			t.Errorf("Content-Type %q, want net/http's text/plain", ctype)
		}
	default:
		path := ""
		if rc.v2 {
			path = "/v2"
		}
		checkErrorShape(t, path, status, ctype, body, rc.code)
	}
}

// checkErrorShape checks a refusal: a 4xx with the route's JSON error
// shape, {"error":{"code",...}} or, under /v2, {"error":"..."}.
func checkErrorShape(t *testing.T, path string, status int, ctype string, body []byte, code string) {
	t.Helper()
	if status < 400 || status >= 500 {
		t.Errorf("status %d is not a 4xx", status)
	}
	if ctype != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ctype)
	}
	if strings.HasPrefix(path, "/v2") {
		var e struct {
			Error *string `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || *e.Error == "" {
			t.Errorf("want {\"error\": \"...\"}, got %q (%v)", body, err)
		}
		return
	}
	var e errorResponse
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("want {\"error\": {\"code\", \"message\", ...}}, got %q (%v)", body, err)
		return
	}
	if code != "" && e.Error.Code != code {
		t.Errorf("code %q, want %q: %s", e.Error.Code, code, e.Error.Message)
	}
}

// firstLine shortens a body for the test log.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

// hostileProbe sends valid single-lead requests at a steady pace and
// samples the server's resident memory until stopped.
type hostileProbe struct {
	cancel context.CancelFunc
	done   sync.WaitGroup

	mu       sync.Mutex
	lat      []time.Duration
	failures []string
	rss      []int64
}

// hostileStats is what a probe saw.
type hostileStats struct {
	sent                     int
	p50, p99, max            time.Duration
	failures                 []string
	startRSS, maxRSS, endRSS int64
}

func startHostileProbe(base string, pid int, body string) *hostileProbe {
	ctx, cancel := context.WithCancel(context.Background())
	p := &hostileProbe{cancel: cancel}
	client := &http.Client{
		Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 2},
		Timeout:   10 * time.Second,
	}
	p.done.Add(2)
	go func() {
		defer p.done.Done()
		defer client.CloseIdleConnections()
		tick := time.NewTicker(hostileProbeEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			start := time.Now()
			req, _ := http.NewRequest(http.MethodPost, base+"/score", strings.NewReader(body))
			req.Header["Content-Type"] = []string{"application/json"}
			req.Header["X-Request-Id"] = []string{probeIDPrefix + strconv.Itoa(len(p.lat))}
			resp, err := client.Do(req)
			var failure string
			if err != nil {
				failure = err.Error()
			} else {
				b, rerr := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if rerr != nil || resp.StatusCode != http.StatusOK {
					failure = fmt.Sprintf("status %d: %s (%v)", resp.StatusCode, firstLine(b), rerr)
				}
			}
			d := time.Since(start)
			p.mu.Lock()
			p.lat = append(p.lat, d)
			if failure != "" {
				p.failures = append(p.failures, failure)
			}
			p.mu.Unlock()
		}
	}()
	go func() {
		defer p.done.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, err := vmRSS(pid); err == nil {
				p.mu.Lock()
				p.rss = append(p.rss, v)
				p.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// stop ends the probe and summarizes it.
func (p *hostileProbe) stop() hostileStats {
	p.cancel()
	p.done.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	st := hostileStats{sent: len(p.lat), failures: p.failures}
	if len(p.lat) > 0 {
		lat := slices.Clone(p.lat)
		slices.Sort(lat)
		st.p50, st.p99, st.max = percentile(lat, 0.50), percentile(lat, 0.99), lat[len(lat)-1]
	}
	if len(p.rss) > 0 {
		st.startRSS, st.endRSS, st.maxRSS = p.rss[0], p.rss[len(p.rss)-1], slices.Max(p.rss)
	}
	return st
}

// percentile returns the q-quantile of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// probeIDPrefix marks the probe's requests (X-Request-Id) in the access log.
const probeIDPrefix = "hostile-probe-"

// probeLatencies returns, sorted, the latency the server logged for each
// of the probe's requests.
func probeLatencies(logs string) []time.Duration {
	var out []time.Duration
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, probeIDPrefix) {
			continue
		}
		var rec struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
			LatencyUS int64  `json:"latency_us"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "request" && strings.HasPrefix(rec.RequestID, probeIDPrefix) {
			out = append(out, time.Duration(rec.LatencyUS)*time.Microsecond)
		}
	}
	slices.Sort(out)
	return out
}

// vmRSS reads a process's resident memory in bytes from /proc.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS")
}
