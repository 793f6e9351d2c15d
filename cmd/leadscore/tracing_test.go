package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestTracingExportsSpans serves a request through the tracing wrapper and
// checks that a span reaches an OTLP/HTTP receiver on 127.0.0.1.
func TestTracingExportsSpans(t *testing.T) {
	var exports atomic.Int64
	var gotPath atomic.Value
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if len(body) > 0 {
			gotPath.Store(r.URL.Path)
			exports.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()

	tr, err := newTracing(context.Background(), collector.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	var sawTrace atomic.Bool
	h := tr.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawTrace.Store(r.Context() != nil)
		_, _ = io.WriteString(w, "ok")
	}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/score", strings.NewReader("[]"))
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !sawTrace.Load() {
		t.Fatalf("handler: %d", rec.Code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if exports.Load() == 0 {
		t.Fatal("no spans exported")
	}
	if p, _ := gotPath.Load().(string); p != "/v1/traces" {
		t.Errorf("exported to %q, want /v1/traces", p)
	}
}

func TestTracingBadEndpoint(t *testing.T) {
	if _, err := newTracing(context.Background(), "::not a url", 1); err == nil {
		t.Error("bad endpoint accepted")
	}
	code, _, errOut := runCLI(t, "", "serve", "--trace-sample", "2")
	if code != 2 || !strings.Contains(errOut, "trace-sample") {
		t.Errorf("--trace-sample 2: exit %d %q", code, errOut)
	}
}

// TestTracingFromOTELEnv starts tracing from OpenTelemetry's standard
// environment alone (no --otlp-endpoint) and checks the exported spans'
// resource: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES honoured.
func TestTracingFromOTELEnv(t *testing.T) {
	got := make(chan *coltracepb.ExportTraceServiceRequest, 4)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path == "/v1/traces" && proto.Unmarshal(body, &req) == nil {
			select {
			case got <- &req:
			default:
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_SERVICE_NAME", "scoring-eu")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging,team=growth")
	if !tracingFromEnv(os.Getenv) {
		t.Fatal("OTEL_EXPORTER_OTLP_ENDPOINT does not start tracing")
	}
	tr, err := newTracing(context.Background(), "", 1)
	if err != nil {
		t.Fatal(err)
	}
	h := tr.wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/ping", nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var req *coltracepb.ExportTraceServiceRequest
	select {
	case req = <-got:
	default:
		t.Fatal("no spans reached OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	attrs := map[string]string{}
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
		}
	}
	want := map[string]string{"service.name": "scoring-eu", "deployment.environment": "staging", "team": "growth", "service.version": version}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("resource %s = %q, want %q (all: %v)", k, attrs[k], v, attrs)
		}
	}
	t.Setenv("OTEL_SDK_DISABLED", "true")
	if tracingFromEnv(os.Getenv) {
		t.Error("OTEL_SDK_DISABLED=true still traces")
	}
}
