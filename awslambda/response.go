package awslambda

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// recorder is the http.ResponseWriter the handler writes to: the whole
// response is kept, since API Gateway takes it in one piece.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

// Header returns the response headers.
func (w *recorder) Header() http.Header { return w.header }

// WriteHeader records the status; later calls are ignored, as net/http
// does.
func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

// Write appends to the body, implying status 200.
func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// Flush is a no-op: the response goes out whole.
func (w *recorder) Flush() {}

// finish fills in what net/http would: status 200 and a sniffed
// Content-Type when the handler set none.
func (w *recorder) finish() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.header.Get("Content-Type") == "" && w.body.Len() > 0 {
		w.header.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
}

// badRequest answers a request the event could not be turned into, in the
// service's JSON error shape.
func (w *recorder) badRequest(err error) {
	var e struct {
		Error struct {
			Code    string  `json:"code"`
			Message string  `json:"message"`
			Row     *int    `json:"row"`
			Feature *string `json:"feature"`
		} `json:"error"`
	}
	e.Error.Code, e.Error.Message = "bad_request", err.Error()
	w.header.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(&w.body).Encode(&e) // a buffer write cannot fail
}

// encodedBody returns the body as API Gateway wants it: as is for text,
// base64 for binary media types and for bytes that are not UTF-8.
func (w *recorder) encodedBody() (string, bool) {
	b := w.body.Bytes()
	if isText(w.header.Get("Content-Type")) && utf8.Valid(b) {
		return string(b), false
	}
	return base64.StdEncoding.EncodeToString(b), true
}

// isText reports whether a Content-Type is textual.
func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return contentType == ""
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"),
		mt == "application/json", mt == "application/xml", mt == "application/javascript",
		mt == "application/x-www-form-urlencoded", mt == "application/x-ndjson":
		return true
	}
	return false
}

// v1 is the REST API (payload 1.0) response. Every header goes in
// multiValueHeaders, so repeated headers survive; single-valued ones also
// go in headers for clients that read only those (API Gateway merges the
// two and drops duplicates).
func (w *recorder) v1() events.APIGatewayProxyResponse {
	body, b64 := w.encodedBody()
	single := make(map[string]string, len(w.header))
	for k, vs := range w.header {
		if len(vs) == 1 {
			single[k] = vs[0]
		}
	}
	return events.APIGatewayProxyResponse{
		StatusCode:        w.status,
		Headers:           single,
		MultiValueHeaders: w.header,
		Body:              body,
		IsBase64Encoded:   b64,
	}
}

// v2 is the HTTP API (payload 2.0) response. Repeated headers are joined
// with commas, as HTTP allows, except Set-Cookie, which goes in cookies.
func (w *recorder) v2() events.APIGatewayV2HTTPResponse {
	body, b64 := w.encodedBody()
	hdr := make(map[string]string, len(w.header))
	var cookies []string
	for k, vs := range w.header {
		if k == "Set-Cookie" {
			cookies = append(cookies, vs...)
			continue
		}
		hdr[k] = strings.Join(vs, ",")
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode:      w.status,
		Headers:         hdr,
		Body:            body,
		IsBase64Encoded: b64,
		Cookies:         cookies,
	}
}
