package awslambda

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// BenchmarkInvoke measures one 10-row /score event through the adapter
// and the real handler; BenchmarkServeHTTP is the same request straight to
// the handler, so the difference is the adapter's cost per event.
func BenchmarkInvoke(b *testing.B) {
	srv := service(b)
	h := New(srv, NewEMF(discard{}, EMFConfig{}, nil))
	rows := loadDemo(b, 10).json(b)
	for _, tt := range []struct {
		name  string
		event any
	}{
		{"v1", events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score",
			Headers: map[string]string{"Content-Type": "application/json"}, Body: rows}},
		{"v2", events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/score",
			Headers: map[string]string{"content-type": "application/json"}, Body: rows,
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}}}},
	} {
		payload, err := json.Marshal(tt.event)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Invoke(context.Background(), payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("ServeHTTP", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest("POST", "/score", strings.NewReader(rows))
			r.Header.Set("Content-Type", "application/json")
			srv.ServeHTTP(httptest.NewRecorder(), r)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
