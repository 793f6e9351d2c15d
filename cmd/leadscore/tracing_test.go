package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
