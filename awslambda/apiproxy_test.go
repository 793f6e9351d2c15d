package awslambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

// TestAPIProxyLibraryComparison records why this package does not use
// github.com/awslabs/aws-lambda-go-api-proxy's httpadapter (issue 11; the
// whole comparison, with the tests it failed, is in docs/architecture.md,
// "Libraries we chose not to use"). Each case sends one event through our
// Handler and through the library's adapter for the same payload version,
// around the same http.Handler: ours must answer as the service's tests
// expect, and the library, as of the version in go.mod, answers otherwise.
// When an upgrade of the library makes a case agree, this test fails: run
// the comparison again and consider switching.
func TestAPIProxyLibraryComparison(t *testing.T) {
	// pathHandler answers the path it saw, 404 for any but /score.
	pathHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/score" {
			http.Error(w, "no route "+r.URL.Path, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"path":"/score"}`)
	})
	// requestHandler answers what it read of the request.
	requestHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"host": r.Host, "remote": r.RemoteAddr, "proxy": r.PathValue("proxy"),
			"attrs": r.Header.Get("X-Amzn-Sagemaker-Custom-Attributes"),
		})
	})
	type answer struct {
		status      int
		headers     map[string]string
		body        string
		b64         bool
		invokeError error // the invocation failed: API Gateway answers 502
	}
	tests := []struct {
		name string
		// ourTests are the tests of ours the library fails for this reason.
		ourTests string
		v2       bool
		event    any
		handler  http.Handler
		// want is "" when a answers as the service expects, else what is
		// wrong.
		want func(a answer) string
	}{
		{
			name:     "payload 1.0 response has single-valued headers in headers",
			ourTests: "TestRESTScore, TestInvocationsCSV, TestLambdaVariants (RIE)",
			event:    events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score"},
			handler:  pathHandler,
			want: func(a answer) string {
				if a.headers["Content-Type"] != "application/json" {
					return fmt.Sprintf("headers %v lack Content-Type (only multiValueHeaders has it)", a.headers)
				}
				return ""
			},
		},
		{
			name:     "payload 2.0 named stage is stripped from the path",
			ourTests: "TestHTTPAPIScore, TestLambdaUnderRIE (RIE), FuzzLambdaEvent's stage rule",
			v2:       true,
			event: events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/prod/score", RequestContext: events.APIGatewayV2HTTPRequestContext{
				Stage: "prod", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/prod/score"}}},
			handler: pathHandler,
			want: func(a answer) string {
				if a.status != 200 {
					return fmt.Sprintf("status %d %s: the handler saw /prod/score", a.status, a.body)
				}
				return ""
			},
		},
		{
			name:     "a body marked base64 that does not decode is a 400",
			ourTests: "TestErrorsKeepTheServiceShape (bad base64), FuzzLambdaEvent seeds #0 and #4",
			event:    events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score", Body: "%%%", IsBase64Encoded: true},
			handler:  pathHandler,
			want: func(a answer) string {
				if a.invokeError != nil || a.status != 400 || !strings.Contains(a.body, `"bad_request"`) {
					return fmt.Sprintf("status %d, invocation error %v: a client error becomes a failed invocation (API Gateway answers 502)", a.status, a.invokeError)
				}
				return ""
			},
		},
		{
			name:     "a handler that writes nothing answers 200",
			ourTests: "TestLambdaRequestID, TestBinaryResponses (empty), TestEMFCountsEachInvocationExactly",
			event:    events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/"},
			handler:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("X-Request-Id", "r1") }),
			want: func(a answer) string {
				if a.invokeError != nil || a.status != 200 {
					return fmt.Sprintf("status %d, invocation error %v", a.status, a.invokeError)
				}
				return ""
			},
		},
		{
			name:     "the first WriteHeader wins, as in net/http",
			ourTests: "TestWriteHeaderOnce",
			event:    events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/"},
			handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusTeapot)
				w.WriteHeader(http.StatusOK)
			}),
			want: func(a answer) string {
				if a.status != http.StatusTeapot {
					return fmt.Sprintf("status %d, want the first one written, 418", a.status)
				}
				return ""
			},
		},
		{
			name:     "a binary media type is base64 even when its bytes are UTF-8",
			ourTests: "TestBinaryResponses (octet-stream, bad content type)",
			event:    events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/"},
			handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/octet-stream")
				_, _ = io.WriteString(w, "text but binary type")
			}),
			want: func(a answer) string {
				if !a.b64 {
					return "not base64: API Gateway set up for binary media types would mangle it"
				}
				return ""
			},
		},
		{
			name:     "the request has Host, RemoteAddr host:port and path values as net/http gives them",
			ourTests: "TestEventConversion (v1 and v2)",
			event: events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/a", Headers: map[string]string{"Host": "api.example.com"},
				PathParameters: map[string]string{"proxy": "a"},
				RequestContext: events.APIGatewayProxyRequestContext{Identity: events.APIGatewayRequestIdentity{SourceIP: "198.51.100.1"}}},
			handler: requestHandler,
			want: func(a answer) string {
				var got map[string]string
				_ = json.Unmarshal([]byte(a.body), &got)
				if got["host"] != "api.example.com" || got["remote"] != "198.51.100.1:0" || got["proxy"] != "a" {
					return fmt.Sprintf("request host %q remote %q path value %q", got["host"], got["remote"], got["proxy"])
				}
				return ""
			},
		},
		{
			name:     "a payload 2.0 header with commas stays one value",
			ourTests: "TestEventConversion (v2 Accept)",
			v2:       true,
			event: events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/", Headers: map[string]string{"X-Amzn-SageMaker-Custom-Attributes": "a=1,b=2"},
				RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}}},
			handler: requestHandler,
			want: func(a answer) string {
				var got map[string]string
				_ = json.Unmarshal([]byte(a.body), &got)
				if got["attrs"] != "a=1,b=2" {
					return fmt.Sprintf("Header.Get gives %q: split at the comma", got["attrs"])
				}
				return ""
			},
		},
	}
	ctx := context.Background()
	for _, tt := range tests {
		payload, err := json.Marshal(tt.event)
		if err != nil {
			t.Fatal(err)
		}
		var ours, theirs answer
		out, err := New(tt.handler, nil).Invoke(ctx, payload)
		ours.invokeError = err
		var r struct {
			StatusCode      int               `json:"statusCode"`
			Headers         map[string]string `json:"headers"`
			Body            string            `json:"body"`
			IsBase64Encoded bool              `json:"isBase64Encoded"`
		}
		if err == nil {
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatal(err)
			}
			ours = answer{status: r.StatusCode, headers: r.Headers, body: decodeIf(r.Body, r.IsBase64Encoded), b64: r.IsBase64Encoded}
		}
		if tt.v2 {
			resp, err := httpadapter.NewV2(tt.handler).ProxyWithContext(ctx, tt.event.(events.APIGatewayV2HTTPRequest))
			theirs = answer{status: resp.StatusCode, headers: resp.Headers, body: decodeIf(resp.Body, resp.IsBase64Encoded), b64: resp.IsBase64Encoded, invokeError: err}
		} else {
			resp, err := httpadapter.New(tt.handler).ProxyWithContext(ctx, tt.event.(events.APIGatewayProxyRequest))
			theirs = answer{status: resp.StatusCode, headers: resp.Headers, body: decodeIf(resp.Body, resp.IsBase64Encoded), b64: resp.IsBase64Encoded, invokeError: err}
		}
		if wrong := tt.want(ours); wrong != "" {
			t.Errorf("%s: our adapter: %s", tt.name, wrong)
		}
		if wrong := tt.want(theirs); wrong == "" {
			t.Errorf("%s: the library now agrees (it failed %s): compare again, see docs/architecture.md", tt.name, tt.ourTests)
		} else {
			t.Logf("library: %s: %s (fails %s)", tt.name, wrong, tt.ourTests)
		}
	}
}

func decodeIf(body string, b64 bool) string {
	if !b64 {
		return body
	}
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return body
	}
	return string(b)
}
