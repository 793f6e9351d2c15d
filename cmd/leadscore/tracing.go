package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/leadscore/leadscore/httpapi"
)

// tracing wraps handlers in OpenTelemetry HTTP spans exported over OTLP
// (HTTP/protobuf) to endpoint, a URL such as http://collector:4318. Spans
// are batched and exported in the background: the request path never waits
// on the collector. Incoming W3C trace context is honoured.
type tracing struct {
	provider *sdktrace.TracerProvider
	// forwardedFor lets spans take the client address from
	// X-Forwarded-For (--trace-forwarded-for: a trusted proxy sets it);
	// otherwise the header is hidden from otelhttp, which would record
	// whatever a caller wrote there.
	forwardedFor bool
}

// tracingFromEnv reports whether OpenTelemetry's standard environment asks
// for traces: OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set, and OTEL_SDK_DISABLED not true.
func tracingFromEnv(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// newTracing starts the exporter; sample is the share of root spans kept
// (0..1). endpoint is --otlp-endpoint; an endpoint without a path gets the
// standard /v1/traces. An empty endpoint leaves the exporter to the
// OpenTelemetry SDK's own environment handling
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
// OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TIMEOUT, ...). The
// resource is service.name leadscore and service.version, overridden by
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES through the SDK's
// resource.WithFromEnv.
func newTracing(ctx context.Context, endpoint string, sample float64) (*tracing, error) {
	opts := []otlptracehttp.Option{}
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("otlp endpoint %q: want an http:// or https:// URL", endpoint)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()), otlptracehttp.WithTimeout(5*time.Second))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp endpoint %q: %w", endpoint, err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "leadscore"), attribute.String("service.version", version)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: later detectors win
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry resource (OTEL_RESOURCE_ATTRIBUTES?): %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(4096)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(sample))),
	)
	return &tracing{provider: tp}, nil
}

// wrap returns h with a server span per request, named by method and
// route label (httpapi.RouteName: a fixed set, so a caller cannot create
// span names by varying the path). Unless forwardedFor, a request's
// X-Forwarded-For and Forwarded headers are hidden from the span (and
// from h, which does not use them) so that the span's client address is
// the connection's, not one a caller claims.
func (t *tracing) wrap(h http.Handler) http.Handler {
	traced := otelhttp.NewHandler(h, "leadscore",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		otelhttp.WithSpanNameFormatter(spanName),
	)
	if t.forwardedFor {
		return traced
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, xff := r.Header["X-Forwarded-For"]
		_, fwd := r.Header["Forwarded"]
		if xff || fwd {
			r2 := *r
			r2.Header = r.Header.Clone()
			delete(r2.Header, "X-Forwarded-For")
			delete(r2.Header, "Forwarded")
			r = &r2
		}
		traced.ServeHTTP(w, r)
	})
}

// spanName names a server span: the method (or "HTTP" for one outside
// the standard set) and the route label.
func spanName(_ string, r *http.Request) string {
	m := r.Method
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
	default:
		m = "HTTP"
	}
	return m + " " + httpapi.RouteName(r.URL.Path)
}

// shutdown flushes the spans still queued.
func (t *tracing) shutdown(ctx context.Context) error {
	return t.provider.Shutdown(ctx)
}
