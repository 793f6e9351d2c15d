package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// TestAlertsAndSpansCarryNoLeadData backs SECURITY.md's promise that
// alerts carry feature names, check names and statistics, never lead ids
// or rows, and that spans never carry bodies. The real binary runs with a
// drift monitor posting to a Slack-style webhook and an SNS stand-in, and
// tracing every request to an OTLP/HTTP stand-in, all on 127.0.0.1. It
// scores drifted leads whose ids are marker strings and whose first
// feature holds a marker number in some rows, sends feedback naming those
// leads, and checks that the alerts were posted (naming a feature and a
// check) and the spans exported, and that no marker appears in any alert
// or in any exported byte of a span (name, attribute, event, status,
// resource).
func TestAlertsAndSpansCarryNoLeadData(t *testing.T) {
	bin := testBinary(t)
	sink := newAlertSink(t)

	var mu sync.Mutex
	var exports [][]byte // raw OTLP export bodies
	var spans int
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if proto.Unmarshal(body, &req) == nil {
			// The decoded form too, so numbers are searched in text.
			js, _ := protojson.Marshal(&req)
			mu.Lock()
			exports = append(exports, body, js)
			for _, rs := range req.GetResourceSpans() {
				for _, ss := range rs.GetScopeSpans() {
					spans += len(ss.GetSpans())
				}
			}
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()

	env := []string{"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(t.TempDir(), "none")}
	s := startServer(t, bin, env, "--monitor-interval", "100ms", "--monitor-window-rows", "300",
		"--monitor-attribution-share", "0", "--monitor-webhook-url", sink.hookSrv.URL,
		"--monitor-sns-topic-arn", "arn:aws:sns:eu-west-1:123456789012:leadscore-alerts",
		"--monitor-sns-endpoint", sink.snsSrv.URL,
		"--otlp-endpoint", collector.URL, "--trace-sample", "1")

	const idMarker = "qzxleadmarker"
	const valueMarker = "8675309" // exact in float32
	rows := leadRows(t, "leads_10k_drift.csv", 0, 300)
	for i := 0; i < len(rows); i += 100 {
		var leads []string
		for j, row := range rows[i:min(i+100, len(rows))] {
			n := i + j
			if n%50 == 0 { // a few rows hold the marker value
				_, rest, _ := strings.Cut(row[1:], ",")
				row = "[" + valueMarker + "," + rest
			}
			leads = append(leads, fmt.Sprintf(`{"id":"%s-%d","features":%s}`, idMarker, n, row))
		}
		r := send(t, nil, "POST", s.url+"/score", "application/json", `{"leads":[`+strings.Join(leads, ",")+`]}`)
		if r.status != http.StatusOK {
			t.Fatalf("score: %d %s", r.status, firstLine(r.body))
		}
		if !strings.Contains(string(r.body), idMarker) {
			t.Fatalf("the answer does not echo the lead ids: %s", firstLine(r.body))
		}
	}
	fb := send(t, nil, "POST", s.url+"/v1/feedback", "application/json",
		`[{"lead_id":"`+idMarker+`-1","converted":1},{"lead_id":"`+idMarker+`-2","converted":0}]`)
	if fb.status/100 != 2 {
		t.Fatalf("feedback: %d %s", fb.status, firstLine(fb.body))
	}
	sink.settle(t, time.Second)
	if code := s.stop(syscall.SIGTERM); code != 0 { // flushes the spans
		t.Fatalf("exit %d", code)
	}

	hook, sns := sink.texts(t)
	if len(hook) == 0 || len(sns) == 0 {
		t.Fatalf("no alert posted (webhook %d, SNS %d): the drifted leads should violate checks\n%s", len(hook), len(sns), s.output())
	}
	checks := postedChecks(hook)
	if checks["country_tier baseline_drift_check"] == 0 {
		t.Errorf("the alerts name no feature and check such as country_tier baseline_drift_check: %q", hook)
	}
	for _, m := range append(hook, sns...) {
		for _, marker := range []string{idMarker, valueMarker, "8.675309e+06"} {
			if strings.Contains(m, marker) {
				t.Errorf("an alert carries %q: %s", marker, m)
			}
		}
	}
	// The webhook's raw bodies too (not only their text).
	sink.mu.Lock()
	for _, raw := range sink.hook {
		if strings.Contains(raw, idMarker) || strings.Contains(raw, valueMarker) {
			t.Errorf("a webhook body carries a marker: %s", raw)
		}
	}
	sink.mu.Unlock()

	mu.Lock()
	defer mu.Unlock()
	if spans < 4 {
		t.Fatalf("%d spans exported, want one per request (4 and more)", spans)
	}
	named := false // a positive control: the search sees what spans hold
	for _, b := range exports {
		named = named || strings.Contains(string(b), "POST /score")
		for _, marker := range []string{idMarker, valueMarker, "8.675309e+06", "converted"} {
			if strings.Contains(string(b), marker) {
				t.Errorf("an exported span carries %q (from a request body)", marker)
			}
		}
	}
	if !named {
		t.Error("no exported span is named POST /score: the search does not see the spans' content")
	}
}
