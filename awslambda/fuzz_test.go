package awslambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// FuzzLambdaEvent feeds API Gateway events built from arbitrary parts to
// the adapter in front of the echo handler: base64 bodies (valid or not),
// multi-value headers, stage prefixes to strip, and header maps of up to a
// few thousand entries. The adapter must never panic nor fail on a
// well-formed event; a valid base64 body reaches the handler decoded, an
// invalid one is a 400; a named stage's prefix is stripped from a payload
// 2.0 path; and the answer is an HTTP status API Gateway accepts.
func FuzzLambdaEvent(f *testing.F) {
	f.Add(true, "POST", "/score", "prod", []byte("[[1,2]]"), true, "X-Amzn-SageMaker-Inference-Id", "abc", uint16(3))
	f.Add(false, "GET", "/a/b c", "", []byte{}, false, "accept", "a,b", uint16(0))
	f.Add(true, "PUT", "/prod", "prod", []byte("\xff\x00"), true, "Content-Type", "text/csv", uint16(2000))
	f.Add(true, "POST", "/$default/x", "$default", []byte("=="), false, "", "", uint16(1))
	f.Add(false, "POST", "", "", []byte("not base64!"), true, "X-Request-Id", "\x00\n", uint16(5))
	f.Fuzz(func(t *testing.T, v2 bool, method, path, stage string, body []byte, b64 bool, hname, hvalue string, nHeaders uint16) {
		n := int(nHeaders % 4096)
		single := make(map[string]string, n+1)
		multi := make(map[string][]string, n+1)
		for i := range n {
			k := "X-H-" + strconv.Itoa(i)
			single[k] = hvalue
			multi[k] = []string{hvalue, strconv.Itoa(i)}
		}
		if hname != "" {
			single[hname] = hvalue
			multi[hname] = []string{hvalue, hvalue + "2"}
		}
		sent := string(body)
		if b64 {
			if len(body)%2 == 0 { // half the cases: valid base64 of the body
				sent = base64.StdEncoding.EncodeToString(body)
			}
		}
		if method == "" {
			method = "POST"
		}
		var payload []byte
		var err error
		if v2 {
			e := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: path, Headers: single, Body: sent, IsBase64Encoded: b64}
			e.RequestContext.HTTP.Method = method
			e.RequestContext.HTTP.Path = path
			e.RequestContext.Stage = stage
			e.RequestContext.RequestID = "fuzz"
			payload, err = json.Marshal(e)
		} else {
			e := events.APIGatewayProxyRequest{HTTPMethod: method, Path: path, Headers: single, MultiValueHeaders: multi,
				Body: sent, IsBase64Encoded: b64}
			e.RequestContext.RequestID = "fuzz"
			e.RequestContext.Stage = stage
			payload, err = json.Marshal(e)
		}
		if err != nil {
			t.Skip() // not an event API Gateway could send (invalid UTF-8 is replaced, not refused, by Marshal)
		}
		h := New(http.HandlerFunc(echo), nil)
		out, err := h.Invoke(context.Background(), payload)
		if err != nil {
			t.Fatalf("a well-formed event failed: %v", err)
		}
		var resp struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
			B64        bool   `json:"isBase64Encoded"`
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("answer is not JSON: %v", err)
		}
		if resp.StatusCode < 100 || resp.StatusCode > 599 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		validB64 := true
		var decoded []byte
		if b64 {
			// Go's decoder skips \r and \n, so "\r" is valid base64 of nothing.
			var derr error
			decoded, derr = base64.StdEncoding.DecodeString(sent)
			validB64 = derr == nil
		}
		if !validB64 {
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("an invalid base64 body got %d, want 400", resp.StatusCode)
			}
			return
		}
		if resp.StatusCode != http.StatusOK {
			return // the adapter refused the request line itself (a path net/http cannot parse)
		}
		got := []byte(resp.Body)
		if resp.B64 {
			if got, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
				t.Fatalf("answer body is not base64: %v", err)
			}
		}
		var e echoed
		if err := json.Unmarshal(got, &e); err != nil {
			t.Fatalf("echo answer: %v", err)
		}
		want := string(decoded)
		if !b64 {
			want = sent
		}
		// JSON strings carry the body (the event's, unless base64, and
		// the echo's answer): invalid UTF-8 arrives replaced.
		carried, _ := json.Marshal(want)
		_ = json.Unmarshal(carried, &want)
		if e.Body != want {
			t.Fatalf("the handler saw body %q, want %q", e.Body, want)
		}
		if v2 && stage != "" && stage != "$default" && strings.HasPrefix(e.Path, "/"+stage+"/") && strings.HasPrefix(path, "/"+stage+"/") {
			t.Fatalf("stage %q not stripped: %q", stage, e.Path)
		}
	})
}
