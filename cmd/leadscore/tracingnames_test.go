package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// tracedSpan is a span as the collector received it.
type tracedSpan struct {
	name  string
	attrs map[string]string
}

// traceRequests serves reqs through a tracing wrapper exporting to a
// collector on 127.0.0.1 and returns the spans it received.
func traceRequests(t *testing.T, forwardedFor bool, reqs ...*http.Request) []tracedSpan {
	t.Helper()
	var mu sync.Mutex
	var spans []tracedSpan
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if proto.Unmarshal(body, &req) == nil {
			mu.Lock()
			for _, rs := range req.GetResourceSpans() {
				for _, ss := range rs.GetScopeSpans() {
					for _, sp := range ss.GetSpans() {
						a := map[string]string{}
						for _, kv := range sp.GetAttributes() {
							a[kv.GetKey()] = kv.GetValue().GetStringValue()
						}
						spans = append(spans, tracedSpan{sp.GetName(), a})
					}
				}
			}
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	tr, err := newTracing(context.Background(), collector.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	tr.forwardedFor = forwardedFor
	h := tr.wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	for _, r := range reqs {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return spans
}

// TestTracingSpanNamesAndClientAddress is issue 10, finding 6: span names
// used the raw path, so a caller could create as many span names as paths;
// and otelhttp took the span's client address from a caller's
// X-Forwarded-For. Spans are now named by route label, and the header is
// ignored unless --trace-forwarded-for says a trusted proxy sets it.
func TestTracingSpanNamesAndClientAddress(t *testing.T) {
	req := func(method, path string) *http.Request {
		r := httptest.NewRequest(method, path, nil)
		r.RemoteAddr = "127.0.0.1:5555"
		r.Header.Set("X-Forwarded-For", "203.0.113.9")
		r.Header.Set("Forwarded", "for=203.0.113.9")
		return r
	}
	spans := traceRequests(t, false,
		req(http.MethodPost, "/score"),
		req(http.MethodPost, "/v2/models/a1b2c3d4/infer"),
		req(http.MethodGet, "/v2/models/e5f6"),
		req(http.MethodGet, "/no/such/path/0001"),
		req(http.MethodGet, "/no/such/path/0002"),
		req("BREW", "/score"),
	)
	want := map[string]bool{
		"POST /score": true, "POST /v2/models/{name}/infer": true, "GET /v2/models/{name}": true,
		"GET other": true, "HTTP /score": true,
	}
	names := map[string]bool{}
	for _, sp := range spans {
		names[sp.name] = true
		if !want[sp.name] {
			t.Errorf("span %q: want one of the route labels %v", sp.name, want)
		}
		for k, v := range sp.attrs {
			if v == "203.0.113.9" {
				t.Errorf("span %q records the caller's X-Forwarded-For as %s", sp.name, k)
			}
		}
	}
	if len(spans) != 6 || len(names) != len(want) {
		t.Fatalf("%d spans named %v, want 6 named %v", len(spans), names, want)
	}

	// Behind a trusted proxy, the header names the client.
	spans = traceRequests(t, true, req(http.MethodPost, "/score"))
	if len(spans) != 1 || spans[0].attrs["client.address"] != "203.0.113.9" {
		t.Fatalf("--trace-forwarded-for: spans %+v, want client.address 203.0.113.9", spans)
	}
}
