// Package awslambda serves AWS Lambda invocations from API Gateway with the
// same http.Handler the HTTP server uses: a REST API (payload format 1.0,
// events.APIGatewayProxyRequest) or an HTTP API (payload format 2.0,
// events.APIGatewayV2HTTPRequest) event becomes an *http.Request, the
// handler answers it, and the recorded response becomes the matching
// API Gateway response. Routing, validation, errors and response bodies
// are the handler's; this package only translates.
//
// The payload version is read from the raw event ("version": "2.0" is an
// HTTP API v2 event; an event with "httpMethod" is v1). Base64 request
// bodies are decoded, binary responses are base64-encoded, multi-value
// headers and query strings, cookies and path parameters are carried over,
// and API Gateway's request id becomes X-Request-Id unless the client sent
// one.
package awslambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Payload format versions, as API Gateway names them.
const (
	PayloadV1 = "1.0" // REST API (and HTTP API with payload format 1.0)
	PayloadV2 = "2.0" // HTTP API
)

// Invocation describes one served event, for an Observer.
type Invocation struct {
	Start     time.Time     // when the event arrived
	Latency   time.Duration // from arrival to the response encoded
	Payload   string        // PayloadV1 or PayloadV2
	Method    string
	Path      string // the request path the handler saw
	RequestID string // the X-Request-Id the handler saw
	Status    int    // the HTTP status answered
	// Rows and ModelTime are what the invocation scored and the time spent
	// in the model, counted by a Metered Scorer (zero without one).
	Rows      int
	ModelTime time.Duration
}

// Observer receives one Invocation after each event is answered, on the
// invocation's goroutine; it must not block for long.
type Observer interface {
	Observe(ctx context.Context, inv Invocation)
}

// Handler turns API Gateway events into calls of an http.Handler. It
// implements lambda.Handler (Invoke), so lambda.Start accepts it as is, and
// is safe for concurrent use when the wrapped handler is.
type Handler struct {
	h   http.Handler
	obs Observer
	now func() time.Time
}

// New returns a Handler serving h. obs, when not nil, is told about every
// answered event (EMF is one).
func New(h http.Handler, obs Observer) *Handler {
	return &Handler{h: h, obs: obs, now: time.Now}
}

// errNotAPIGateway is returned for events that are neither payload format.
var errNotAPIGateway = errors.New(`not an API Gateway proxy event: want "version":"2.0" (HTTP API) or "httpMethod" (REST API)`)

// Invoke serves one raw Lambda event and returns the encoded API Gateway
// response. It fails only when the event is not an API Gateway proxy event
// of either version; a request the handler refuses is a normal response
// with a 4xx or 5xx status.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	start := h.now()
	ctx, use := withUsage(ctx)
	var e event
	if err := json.Unmarshal(payload, &e); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	inv := Invocation{Start: start}
	var out any
	var resp *recorder
	switch {
	case e.Version == PayloadV2:
		inv.Payload = PayloadV2
		r, err := requestV2(ctx, &e)
		resp = h.serve(ctx, &inv, r, e.RequestContext.RequestID, err)
		out = resp.v2()
	case e.HTTPMethod != "":
		inv.Payload = PayloadV1
		r, err := requestV1(ctx, &e)
		resp = h.serve(ctx, &inv, r, e.RequestContext.RequestID, err)
		out = resp.v1()
	default:
		return nil, errNotAPIGateway
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	inv.Status = resp.status
	inv.Latency = h.now().Sub(start)
	inv.Rows, inv.ModelTime = int(use.rows.Load()), time.Duration(use.model.Load())
	if h.obs != nil {
		h.obs.Observe(ctx, inv)
	}
	return b, nil
}

// serve runs the handler on the request converted from the event, or
// answers 400 when the conversion failed (a body that is not valid
// base64). gatewayID is API Gateway's request id.
func (h *Handler) serve(ctx context.Context, inv *Invocation, r *http.Request, gatewayID string, err error) *recorder {
	rec := newRecorder()
	if err != nil {
		rec.badRequest(err)
		rec.finish()
		return rec
	}
	if r.Header.Get("X-Request-Id") == "" {
		id := gatewayID
		if lc, ok := lambdacontext.FromContext(ctx); ok && id == "" {
			id = lc.AwsRequestID
		}
		if id = plainID(id); id != "" {
			r.Header.Set("X-Request-Id", id)
		}
	}
	inv.Method, inv.Path = r.Method, r.URL.Path
	h.h.ServeHTTP(rec, r)
	rec.finish()
	inv.RequestID = rec.header.Get("X-Request-Id")
	if inv.RequestID == "" {
		inv.RequestID = r.Header.Get("X-Request-Id")
	}
	return rec
}

// plainID makes a request id safe for X-Request-Id: base64 padding ('=',
// which HTTP API ids end with) is dropped and any other character outside
// [A-Za-z0-9._:-] becomes '_'. Ids longer than 128 bytes are cut.
func plainID(id string) string {
	id = strings.TrimRight(id, "=")
	if len(id) > 128 {
		id = id[:128]
	}
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':' {
			return c
		}
		return '_'
	}, id)
}

// requestV1 converts a REST API (payload 1.0) event.
func requestV1(ctx context.Context, e *event) (*http.Request, error) {
	q := url.Values{}
	if len(e.MultiValueQueryStringParameters) > 0 {
		for k, vs := range e.MultiValueQueryStringParameters {
			q[k] = append([]string(nil), vs...)
		}
	} else {
		for k, v := range e.QueryStringParameters {
			q.Set(k, v)
		}
	}
	hdr := http.Header{}
	if len(e.MultiValueHeaders) > 0 {
		for k, vs := range e.MultiValueHeaders {
			for _, v := range vs {
				hdr.Add(k, v)
			}
		}
	} else {
		for k, v := range e.Headers {
			hdr.Set(k, v)
		}
	}
	r, err := newRequest(ctx, e.HTTPMethod, e.Path, q.Encode(), hdr, e.Body, e.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	r.RemoteAddr = net.JoinHostPort(e.RequestContext.Identity.SourceIP, "0")
	for k, v := range e.PathParameters {
		r.SetPathValue(k, v)
	}
	return r, nil
}

// requestV2 converts an HTTP API (payload 2.0) event. A named stage's
// prefix ("/prod/score" on stage prod) is removed from the path, so the
// handler sees the same paths as behind the $default stage.
func requestV2(ctx context.Context, e *event) (*http.Request, error) {
	hdr := http.Header{}
	for k, v := range e.Headers {
		hdr.Set(k, v) // multiple values arrive comma-joined, as HTTP allows
	}
	if len(e.Cookies) > 0 {
		hdr.Set("Cookie", strings.Join(e.Cookies, "; "))
	}
	path := e.RawPath
	if path == "" {
		path = e.RequestContext.HTTP.Path
	}
	if st := e.RequestContext.Stage; st != "" && st != "$default" {
		if rest, ok := strings.CutPrefix(path, "/"+st); ok && (rest == "" || rest[0] == '/') {
			path = rest
		}
	}
	method := e.RequestContext.HTTP.Method
	r, err := newRequest(ctx, method, path, e.RawQueryString, hdr, e.Body, e.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	r.RemoteAddr = net.JoinHostPort(e.RequestContext.HTTP.SourceIP, "0")
	for k, v := range e.PathParameters {
		r.SetPathValue(k, v)
	}
	return r, nil
}

// newRequest builds a server-side request as net/http would hand it to a
// handler.
func newRequest(ctx context.Context, method, path, rawQuery string, hdr http.Header, body string, b64 bool) (*http.Request, error) {
	raw := []byte(body)
	if b64 {
		var err error
		if raw, err = base64.StdEncoding.DecodeString(body); err != nil {
			return nil, fmt.Errorf("the body is marked base64 but does not decode: %w", err)
		}
	}
	if method == "" {
		method = http.MethodGet
	}
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	u := &url.URL{Path: path, RawQuery: rawQuery}
	r, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	r.URL = u
	r.RequestURI = u.RequestURI()
	r.Header = hdr
	r.Host = hdr.Get("Host")
	hdr.Del("Host")
	r.ContentLength = int64(len(raw))
	if r.ContentLength == 0 {
		r.Body = http.NoBody
	}
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	return r, nil
}
