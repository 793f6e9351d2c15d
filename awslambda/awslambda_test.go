package awslambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/httpapi"
)

// demo holds reference rows of the demo model (missing as nil) and
// XGBoost's probabilities for them.
type demo struct {
	rows [][]*float64
	want []float64
}

func loadDemo(t testing.TB, n int) demo {
	t.Helper()
	var in struct {
		Rows [][]*float64 `json:"rows"`
	}
	var exp struct {
		Prediction []float64 `json:"prediction"`
	}
	for name, v := range map[string]any{"inputs.json": &in, "expected.json": &exp} {
		raw, err := os.ReadFile(filepath.Join("..", "testdata", "lead-demo", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
	return demo{rows: in.Rows[:n], want: exp.Prediction[:n]}
}

func (d demo) json(t testing.TB) string {
	t.Helper()
	b, err := json.Marshal(d.rows)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (d demo) csv() string {
	var b strings.Builder
	for _, r := range d.rows {
		for j, v := range r {
			if j > 0 {
				b.WriteByte(',')
			}
			if v != nil {
				b.WriteString(jsonNumber(*v))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func jsonNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// service is the real HTTP handler serving the embedded demo model,
// metered for EMF as Lambda mode builds it.
func service(t testing.TB) *httpapi.Server {
	t.Helper()
	srv, err := httpapi.New(context.Background(), httpapi.Config{
		Loader: func() (leadscore.Scorer, error) {
			b, err := bundle.Demo()
			if err != nil {
				return nil, err
			}
			return Metered(b), nil
		},
		Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func invokeV1(t *testing.T, h *Handler, e events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
	t.Helper()
	out, err := h.Invoke(context.Background(), mustJSON(t, e))
	if err != nil {
		t.Fatalf("Invoke v1: %v", err)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("v1 response %s: %v", out, err)
	}
	return resp
}

func invokeV2(t *testing.T, h *Handler, e events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	e.Version = PayloadV2
	out, err := h.Invoke(context.Background(), mustJSON(t, e))
	if err != nil {
		t.Fatalf("Invoke v2: %v", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("v2 response %s: %v", out, err)
	}
	return resp
}

// scoreResponse is the part of a /score answer the tests check.
type scoreResponse struct {
	RequestID string `json:"request_id"`
	Results   []struct {
		Score       int     `json:"score"`
		Probability float64 `json:"probability"`
		Reasons     []struct {
			Feature string `json:"feature"`
		} `json:"reasons"`
	} `json:"results"`
}

type errorResponse struct {
	Error struct {
		Code    string  `json:"code"`
		Message string  `json:"message"`
		Row     *int    `json:"row"`
		Feature *string `json:"feature"`
	} `json:"error"`
}

func checkProbabilities(t *testing.T, got []float64, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d probabilities, want %d", len(got), len(want))
	}
	for i := range got {
		if float32(got[i]) != float32(want[i]) && math.Abs(got[i]-want[i]) > 1e-7 {
			t.Errorf("row %d: probability %v, XGBoost %v", i, got[i], want[i])
		}
	}
}

func decodeBody(t *testing.T, body string, b64 bool) []byte {
	t.Helper()
	if !b64 {
		return []byte(body)
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestRESTScore(t *testing.T) {
	srv := service(t)
	h := New(srv, nil)
	d := loadDemo(t, 20)
	resp := invokeV1(t, h, events.APIGatewayProxyRequest{
		HTTPMethod: "POST",
		Path:       "/score",
		MultiValueHeaders: map[string][]string{
			"content-type": {"application/json"},
			"X-Extra":      {"a", "b"},
		},
		Body:           d.json(t),
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"},
	})
	if resp.StatusCode != 200 || resp.IsBase64Encoded {
		t.Fatalf("status %d b64 %v: %s", resp.StatusCode, resp.IsBase64Encoded, resp.Body)
	}
	if got := resp.MultiValueHeaders["X-Request-Id"]; len(got) != 1 || got[0] != "c6af9ac6-7b61-11e6-9a41-93e8deadbeef" {
		t.Errorf("X-Request-Id %v, want API Gateway's request id", got)
	}
	if resp.Headers["Content-Type"] != "application/json" {
		t.Errorf("headers %v", resp.Headers)
	}
	var sr scoreResponse
	if err := json.Unmarshal([]byte(resp.Body), &sr); err != nil {
		t.Fatal(err)
	}
	if sr.RequestID != "c6af9ac6-7b61-11e6-9a41-93e8deadbeef" {
		t.Errorf("request_id %q", sr.RequestID)
	}
	probs := make([]float64, len(sr.Results))
	for i, r := range sr.Results {
		probs[i] = r.Probability
	}
	checkProbabilities(t, probs, d.want)
}

func TestHTTPAPIScore(t *testing.T) {
	srv := service(t)
	h := New(srv, nil)
	d := loadDemo(t, 5)
	e := events.APIGatewayV2HTTPRequest{
		RawPath:         "/prod/score",
		RawQueryString:  "explain=2",
		Headers:         map[string]string{"content-type": "application/json", "x-request-id": "client-7"},
		Cookies:         []string{"a=1", "b=2"},
		Body:            base64.StdEncoding.EncodeToString([]byte(d.json(t))),
		IsBase64Encoded: true,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Stage:     "prod",
			RequestID: "JKJaXmPLvHcESHA=",
			HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", SourceIP: "203.0.113.9"},
		},
	}
	resp := invokeV2(t, h, e)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	if resp.Headers["X-Request-Id"] != "client-7" {
		t.Errorf("X-Request-Id %q: the client's id should win", resp.Headers["X-Request-Id"])
	}
	var sr scoreResponse
	if err := json.Unmarshal(decodeBody(t, resp.Body, resp.IsBase64Encoded), &sr); err != nil {
		t.Fatal(err)
	}
	probs := make([]float64, len(sr.Results))
	for i, r := range sr.Results {
		probs[i] = r.Probability
		if len(r.Reasons) == 0 || len(r.Reasons) > 4 {
			t.Errorf("row %d: %d reasons with explain=2", i, len(r.Reasons))
		}
	}
	checkProbabilities(t, probs, d.want)

	// Without a client id, API Gateway's becomes X-Request-Id, made plain.
	delete(e.Headers, "x-request-id")
	if resp := invokeV2(t, h, e); resp.Headers["X-Request-Id"] != "JKJaXmPLvHcESHA" {
		t.Errorf("X-Request-Id %q", resp.Headers["X-Request-Id"])
	}
	// The $default stage has no prefix to strip; requestContext.http.path
	// stands in for a missing rawPath.
	e.RawPath, e.RequestContext.Stage, e.RequestContext.HTTP.Path = "", "$default", "/score"
	if resp := invokeV2(t, h, e); resp.StatusCode != 200 {
		t.Errorf("$default stage: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestInvocationsCSV(t *testing.T) {
	srv := service(t)
	h := New(srv, nil)
	d := loadDemo(t, 10)
	for _, b64 := range []bool{false, true} {
		body := d.csv()
		if b64 {
			body = base64.StdEncoding.EncodeToString([]byte(body))
		}
		resp := invokeV1(t, h, events.APIGatewayProxyRequest{
			HTTPMethod: "POST", Path: "/invocations",
			Headers:         map[string]string{"Content-Type": "text/csv"},
			Body:            body,
			IsBase64Encoded: b64,
		})
		if resp.StatusCode != 200 || resp.IsBase64Encoded || resp.Headers["Content-Type"] != "text/csv" {
			t.Fatalf("b64 %v: %d %v %s", b64, resp.StatusCode, resp.Headers, resp.Body)
		}
		var probs []float64
		for _, line := range strings.Split(resp.Body, ",") { // SageMaker's real-time CSV: comma-joined
			var p float64
			if err := json.Unmarshal([]byte(line), &p); err != nil {
				t.Fatal(err)
			}
			probs = append(probs, p)
		}
		checkProbabilities(t, probs, d.want)
	}
}

func TestErrorsKeepTheServiceShape(t *testing.T) {
	srv := service(t)
	h := New(srv, nil)
	tests := []struct {
		name   string
		v1     events.APIGatewayProxyRequest
		status int
		code   string
	}{
		{"short row", events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score",
			Headers: map[string]string{"Content-Type": "application/json"}, Body: "[[1,2,3]]"}, 422, "wrong_feature_count"},
		{"bad json", events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score",
			Headers: map[string]string{"Content-Type": "application/json"}, Body: "[[1,"}, 400, "bad_json"},
		{"wrong media type", events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score", Body: "x"}, 415, "unsupported_media"},
		{"no route", events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/nope"}, 404, "not_found"},
		{"method", events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/score"}, 405, "method_not_allowed"},
		{"bad base64", events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score",
			Headers: map[string]string{"Content-Type": "application/json"}, Body: "%%%", IsBase64Encoded: true}, 400, "bad_request"},
		{"bad explain", events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score",
			QueryStringParameters: map[string]string{"explain": "x"},
			Headers:               map[string]string{"Content-Type": "application/json"}, Body: "[[]]"}, 400, "bad_parameter"},
	}
	for _, tt := range tests {
		resp := invokeV1(t, h, tt.v1)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, resp.StatusCode, tt.status, resp.Body)
			continue
		}
		var er errorResponse
		if err := json.Unmarshal([]byte(resp.Body), &er); err != nil || er.Error.Code != tt.code || er.Error.Message == "" {
			t.Errorf("%s: body %s, want code %s (%v)", tt.name, resp.Body, tt.code, err)
		}
		if ct := resp.MultiValueHeaders["Content-Type"]; len(ct) != 1 || ct[0] != "application/json" {
			t.Errorf("%s: Content-Type %v", tt.name, ct)
		}
		// The same event as an HTTP API v2 event answers the same.
		v2 := events.APIGatewayV2HTTPRequest{
			RawPath: tt.v1.Path, Headers: tt.v1.Headers, Body: tt.v1.Body, IsBase64Encoded: tt.v1.IsBase64Encoded,
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: tt.v1.HTTPMethod}},
		}
		for k, v := range tt.v1.QueryStringParameters {
			v2.RawQueryString = k + "=" + v
		}
		r2 := invokeV2(t, h, v2)
		var er2 errorResponse
		if r2.StatusCode != tt.status || json.Unmarshal([]byte(r2.Body), &er2) != nil || er2.Error.Code != tt.code {
			t.Errorf("%s v2: %d %s", tt.name, r2.StatusCode, r2.Body)
		}
	}
	// A row-level error names the row.
	resp := invokeV1(t, h, events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score",
		Headers: map[string]string{"Content-Type": "application/json"}, Body: `[[` + strings.Repeat("1,", 49) + `1],[1]]`})
	var er errorResponse
	if err := json.Unmarshal([]byte(resp.Body), &er); err != nil || er.Error.Row == nil || *er.Error.Row != 1 {
		t.Errorf("row error: %s", resp.Body)
	}
}

func TestNotAnAPIGatewayEvent(t *testing.T) {
	h := New(http.NotFoundHandler(), nil)
	for _, payload := range []string{`{"Records": []}`, `not json`, `{"version":"2.0","body":7}`, `{"httpMethod":"GET","body":7}`} {
		if out, err := h.Invoke(context.Background(), []byte(payload)); err == nil {
			t.Errorf("%s: answered %s", payload, out)
		}
	}
}

// echo is a handler that reports what it was given, to check the event
// conversion in detail.
func echo(w http.ResponseWriter, r *http.Request) {
	body := new(bytes.Buffer)
	_, _ = body.ReadFrom(r.Body)
	out := map[string]any{
		"method":   r.Method,
		"path":     r.URL.Path,
		"query":    r.URL.Query(),
		"header":   r.Header,
		"host":     r.Host,
		"remote":   r.RemoteAddr,
		"body":     body.String(),
		"length":   r.ContentLength,
		"proxy":    r.PathValue("proxy"),
		"deadline": func() bool { _, ok := r.Context().Deadline(); return ok }(),
	}
	w.Header().Add("Set-Cookie", "s=1")
	w.Header().Add("Set-Cookie", "t=2")
	w.Header().Add("Vary", "A")
	w.Header().Add("Vary", "B")
	_ = json.NewEncoder(w).Encode(out)
}

type echoed struct {
	Method string              `json:"method"`
	Path   string              `json:"path"`
	Query  map[string][]string `json:"query"`
	Header map[string][]string `json:"header"`
	Host   string              `json:"host"`
	Remote string              `json:"remote"`
	Body   string              `json:"body"`
	Length int64               `json:"length"`
	Proxy  string              `json:"proxy"`
}

func TestEventConversion(t *testing.T) {
	h := New(http.HandlerFunc(echo), nil)
	resp := invokeV1(t, h, events.APIGatewayProxyRequest{
		HTTPMethod:                      "PUT",
		Path:                            "/a/b c",
		MultiValueQueryStringParameters: map[string][]string{"x": {"1", "2"}, "y": {"a b"}},
		QueryStringParameters:           map[string]string{"x": "2", "y": "a b"},
		MultiValueHeaders:               map[string][]string{"Host": {"api.example.com"}, "accept": {"a", "b"}},
		PathParameters:                  map[string]string{"proxy": "a/b c"},
		Body:                            "hello",
		RequestContext: events.APIGatewayProxyRequestContext{
			Identity: events.APIGatewayRequestIdentity{SourceIP: "198.51.100.1"},
		},
	})
	var got echoed
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Method != "PUT" || got.Path != "/a/b c" || len(got.Query["x"]) != 2 || got.Query["y"][0] != "a b" ||
		got.Host != "api.example.com" || len(got.Header["Accept"]) != 2 || got.Header["Host"] != nil ||
		got.Remote != "198.51.100.1:0" || got.Body != "hello" || got.Length != 5 || got.Proxy != "a/b c" {
		t.Errorf("v1 request: %+v", got)
	}
	if c := resp.MultiValueHeaders["Set-Cookie"]; len(c) != 2 {
		t.Errorf("v1 Set-Cookie %v", c)
	}

	// v1 with single-value headers and query only; an empty path is "/".
	resp = invokeV1(t, h, events.APIGatewayProxyRequest{HTTPMethod: "GET",
		QueryStringParameters: map[string]string{"q": "1"}, Headers: map[string]string{"x-a": "1"}})
	got = echoed{}
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Path != "/" || got.Query["q"][0] != "1" || got.Header["X-A"][0] != "1" || got.Length != 0 {
		t.Errorf("v1 single values: %+v", got)
	}

	r2 := invokeV2(t, h, events.APIGatewayV2HTTPRequest{
		RawPath:        "/stagey/x",
		RawQueryString: "a=1&a=2",
		Headers:        map[string]string{"accept": "a,b", "host": "h.example"},
		Cookies:        []string{"c=1", "d=2"},
		PathParameters: map[string]string{"proxy": "x"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Stage: "stage", // not a prefix of /stagey: kept
			HTTP:  events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "DELETE", SourceIP: "2001:db8::1"},
		},
	})
	got = echoed{}
	if err := json.Unmarshal([]byte(r2.Body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Method != "DELETE" || got.Path != "/stagey/x" || len(got.Query["a"]) != 2 || got.Header["Cookie"][0] != "c=1; d=2" ||
		got.Header["Accept"][0] != "a,b" || got.Host != "h.example" || got.Remote != "[2001:db8::1]:0" || got.Proxy != "x" {
		t.Errorf("v2 request: %+v", got)
	}
	if len(r2.Cookies) != 2 || r2.Headers["Set-Cookie"] != "" || r2.Headers["Vary"] != "A,B" {
		t.Errorf("v2 response cookies %v headers %v", r2.Cookies, r2.Headers)
	}
}

func TestLambdaRequestID(t *testing.T) {
	h := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
	}), nil)
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-1"})
	out, err := h.Invoke(ctx, []byte(`{"httpMethod":"GET","path":"/"}`))
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Headers["X-Request-Id"] != "lambda-1" || resp.StatusCode != 200 {
		t.Errorf("Lambda's request id not used: %+v", resp)
	}
	for in, want := range map[string]string{"a=": "a", "a+b/c==": "a_b_c", strings.Repeat("x", 200): strings.Repeat("x", 128), "": ""} {
		if got := plainID(in); got != want {
			t.Errorf("plainID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBinaryResponses(t *testing.T) {
	payload := []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 0xff}
	tests := []struct {
		name, contentType string
		body              []byte
		b64               bool
	}{
		{"octet-stream", "application/octet-stream", []byte("text but binary type"), true},
		{"png sniffed", "", payload, true},
		{"json", "application/json; charset=utf-8", []byte(`{"a":1}`), false},
		{"problem+json", "application/problem+json", []byte(`{}`), false},
		{"text with bad utf-8", "text/plain", []byte{'a', 0xff}, true},
		{"bad content type", "a/b/c;;", []byte("x"), true},
		{"empty", "", nil, false},
	}
	for _, tt := range tests {
		h := New(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if tt.contentType != "" {
				w.Header().Set("Content-Type", tt.contentType)
			}
			if tt.body != nil {
				_, _ = w.Write(tt.body)
			}
		}), nil)
		r1 := invokeV1(t, h, events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/"})
		r2 := invokeV2(t, h, events.APIGatewayV2HTTPRequest{RawPath: "/"})
		for i, got := range []struct {
			body string
			b64  bool
		}{{r1.Body, r1.IsBase64Encoded}, {r2.Body, r2.IsBase64Encoded}} {
			if got.b64 != tt.b64 || !bytes.Equal(decodeBody(t, got.body, got.b64), tt.body) {
				t.Errorf("%s (v%d): body %q base64 %v", tt.name, i+1, got.body, got.b64)
			}
		}
		if r1.StatusCode != 200 {
			t.Errorf("%s: status %d", tt.name, r1.StatusCode)
		}
	}
}

func TestWriteHeaderOnce(t *testing.T) {
	h := New(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
	}), nil)
	if r := invokeV1(t, h, events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/"}); r.StatusCode != http.StatusTeapot {
		t.Errorf("status %d", r.StatusCode)
	}
}

// record is an Observer keeping what it saw.
type record struct{ invs []Invocation }

func (r *record) Observe(_ context.Context, inv Invocation) { r.invs = append(r.invs, inv) }

func TestObserver(t *testing.T) {
	srv := service(t)
	obs := &record{}
	h := New(srv, obs)
	clock := time.Unix(1700000000, 0)
	h.now = func() time.Time { clock = clock.Add(3 * time.Millisecond); return clock }
	invokeV1(t, h, events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/healthz",
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "r-1"}})
	invokeV2(t, h, events.APIGatewayV2HTTPRequest{RawPath: "/nope",
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}})
	if len(obs.invs) != 2 {
		t.Fatalf("%d invocations observed", len(obs.invs))
	}
	a, b := obs.invs[0], obs.invs[1]
	if a.Payload != PayloadV1 || a.Method != "GET" || a.Path != "/healthz" || a.Status != 200 || a.RequestID != "r-1" || a.Latency != 3*time.Millisecond {
		t.Errorf("v1 invocation %+v", a)
	}
	if b.Payload != PayloadV2 || b.Status != 404 || b.RequestID == "" {
		t.Errorf("v2 invocation %+v", b)
	}
}
