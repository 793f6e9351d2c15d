package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// tracing wraps handlers in OpenTelemetry HTTP spans exported over OTLP
// (HTTP/protobuf) to endpoint, a URL such as http://collector:4318. Spans
// are batched and exported in the background: the request path never waits
// on the collector. Incoming W3C trace context is honoured.
type tracing struct {
	provider *sdktrace.TracerProvider
}

// newTracing starts the exporter; sample is the share of root spans kept
// (0..1).
// An endpoint without a path gets the standard /v1/traces.
func newTracing(ctx context.Context, endpoint string, sample float64) (*tracing, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("otlp endpoint %q: want an http:// or https:// URL", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()), otlptracehttp.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("otlp endpoint %q: %w", endpoint, err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "leadscore"), attribute.String("service.version", version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(4096)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(sample))),
	)
	return &tracing{provider: tp}, nil
}

// wrap returns h with a server span per request, named by route.
func (t *tracing) wrap(h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "leadscore",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }),
	)
}

// shutdown flushes the spans still queued.
func (t *tracing) shutdown(ctx context.Context) error {
	return t.provider.Shutdown(ctx)
}
