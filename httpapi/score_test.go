package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestScoreRequestShapes(t *testing.T) {
	s, _ := testServer(t, 3, nil)
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	tests := []struct {
		name  string
		body  string
		probs []float64
		ids   []string // raw JSON ids, "" for none
	}{
		{"bare rows", `[[1,2,3],[0,null,-1]]`, []float64{sig(6), sig(-1)}, nil},
		{"bare rows with spaces", " \n[ [ 1 , 2 , 3 ] ]\t", []float64{sig(6)}, nil},
		{"instances", `{"instances":[[1,2,3]]}`, []float64{sig(6)}, nil},
		{"leads named", `{"leads":[{"id":"a-1","features":{"f0":1,"f2":0.5}},{"features":{"f1":-2}}]}`,
			[]float64{sig(1.5), sig(-2)}, []string{`"a-1"`, ""}},
		{"leads numeric id and array features", `{"leads":[{"features":[1,1,1],"id":42}]}`, []float64{sig(3)}, []string{"42"}},
		{"leads null id", `{"leads":[{"id":null,"features":{}}]}`, []float64{sig(0)}, nil},
		{"lead objects in a bare array", `[{"id":"x","features":{"f0":2}}, [0,0,0]]`, []float64{sig(2), sig(0)}, []string{`"x"`, ""}},
		{"escaped names and ids", `{"leads":[{"\u0069d":"q\"\u00e9","features":{"f\u0031":1}}]}`, []float64{sig(1)}, []string{`"q\"\u00e9"`}},
		{"exponents and negative zero", `[[1e0,-0.0,2.5E-1]]`, []float64{sig(1.25)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(s, "POST", "/score", "application/json", tt.body)
			b := decodeScore(t, w)
			if b.Model.Name != "fake" || b.Model.Version != "1" || b.RequestID == "" {
				t.Errorf("model %+v request id %q", b.Model, b.RequestID)
			}
			if b.Latency.TotalMS == nil || b.Latency.ModelMS == nil || *b.Latency.TotalMS < *b.Latency.ModelMS {
				t.Errorf("latency %+v", b.Latency)
			}
			if len(b.Results) != len(tt.probs) {
				t.Fatalf("%d results, want %d", len(b.Results), len(tt.probs))
			}
			for i, r := range b.Results {
				if math.Abs(r.Probability-tt.probs[i]) > 1e-6 {
					t.Errorf("result %d probability %v, want %v", i, r.Probability, tt.probs[i])
				}
				want := ""
				if tt.ids != nil {
					want = tt.ids[i]
				}
				if string(r.ID) != want {
					t.Errorf("result %d id %s, want %s", i, r.ID, want)
				}
				if r.Score < 1 || r.Score > 5 || r.Reasons != nil {
					t.Errorf("result %d: %+v", i, r)
				}
			}
			if st := w.Header().Get("Server-Timing"); !strings.HasPrefix(st, "total;dur=") || !strings.Contains(st, "model;dur=") {
				t.Errorf("Server-Timing %q", st)
			}
			if w.Header().Get("X-Request-Id") != b.RequestID {
				t.Errorf("X-Request-Id %q, body %q", w.Header().Get("X-Request-Id"), b.RequestID)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestScoreExplain(t *testing.T) {
	s, _ := testServer(t, 4, nil)
	w := do(s, "POST", "/score?explain=1", "application/json; charset=utf-8", `[[3,-2,null,1]]`)
	b := decodeScore(t, w)
	rs := b.Results[0].Reasons
	if len(rs) != 2 || rs[0].Feature != "f0" || rs[0].Direction != "up" || rs[1].Feature != "f1" || rs[1].Direction != "down" {
		t.Fatalf("reasons %+v", rs)
	}
	if rs[0].Value == nil || *rs[0].Value != 3 || rs[0].Contribution != 3 {
		t.Errorf("reason 0 %+v", rs[0])
	}
	// explain=0 and no reasons available still give the field when asked.
	w = do(s, "POST", "/score?foo=1&explain=0", "application/json", `[[0,0,0,0]]`)
	if strings.Contains(w.Body.String(), "reasons") {
		t.Errorf("explain=0 body %s", w.Body.String())
	}
	w = do(s, "POST", "/score?explain=99", "application/json", `[[0,0,0,0]]`)
	if !strings.Contains(w.Body.String(), `"reasons":[]`) {
		t.Errorf("explain without contributions: %s", w.Body.String())
	}
	small, _ := testServer(t, 1, func(c *Config) { c.MaxExplainRows = 2 })
	if w := do(small, "POST", "/score?explain=1", "application/json", `[[1],[2]]`); w.Code != 200 {
		t.Errorf("explain within the limit: %d", w.Code)
	}
	w = do(small, "POST", "/score?explain=1", "application/json", `[[1],[2],[3]]`)
	if w.Code != 413 || decodeError(t, w).Error.Code != codeBatchTooLarge {
		t.Errorf("explain over the limit: %d %s", w.Code, w.Body.String())
	}
	if w := do(small, "POST", "/score", "application/json", `[[1],[2],[3]]`); w.Code != 200 {
		t.Errorf("no explain, same batch: %d", w.Code)
	}
}

func TestScoreRequestID(t *testing.T) {
	s, _ := testServer(t, 1, nil)
	w := do(s, "POST", "/score", "application/json", `[[1]]`, "X-Request-Id", "abc-123")
	if b := decodeScore(t, w); b.RequestID != "abc-123" {
		t.Errorf("request id %q", b.RequestID)
	}
	w = do(s, "POST", "/score", "application/json", `[[1]]`, "X-Request-Id", `bad"id`)
	if b := decodeScore(t, w); b.RequestID == `bad"id` || len(b.RequestID) != 25 {
		t.Errorf("request id %q", b.RequestID)
	}
	a := decodeScore(t, do(s, "POST", "/score", "application/json", `[[1]]`)).RequestID
	c := decodeScore(t, do(s, "POST", "/score", "application/json", `[[1]]`)).RequestID
	if a == c {
		t.Errorf("request ids repeat: %q", a)
	}
}

func TestScoreErrors(t *testing.T) {
	s, _ := testServer(t, 3, func(c *Config) { c.MaxBatch = 2; c.MaxBody = 200 })
	tests := []struct {
		name, ct, body string
		status         int
		code           string
		row            int // -1: null
		feature        string
	}{
		{"empty body", "application/json", "", 400, codeMissingBody, -1, ""},
		{"not json", "application/json", "hello", 400, codeBadRequest, -1, ""},
		{"truncated", "application/json", "[[1,2,3]", 400, codeBadJSON, -1, ""},
		{"trailing garbage", "application/json", "[[1,2,3]] x", 400, codeBadJSON, -1, ""},
		{"trailing comma", "application/json", "[[1,2,3],]", 400, codeBadJSON, -1, ""},
		{"bad number", "application/json", "[[1,2,01]]", 400, codeBadJSON, -1, ""},
		{"bad number dot", "application/json", "[[1,2,1.]]", 400, codeBadJSON, -1, ""},
		{"plus sign", "application/json", "[[1,2,+1]]", 400, codeBadJSON, -1, ""},
		{"short row", "application/json", "[[1,2]]", 422, codeFeatureCount, 0, ""},
		{"long row", "application/json", "[[1,2,3],[1,2,3,4]]", 422, codeFeatureCount, 1, ""},
		{"empty row", "application/json", "[[]]", 422, codeFeatureCount, 0, ""},
		{"Infinity", "application/json", "[[1,Infinity,3]]", 422, codeInvalidValue, 0, "f1"},
		{"Infinity", "application/json", "[[1,2,Infinity]]", 422, codeInvalidValue, 0, "f2"},
		{"minus Infinity", "application/json", "[[-Infinity,2,3]]", 422, codeInvalidValue, 0, "f0"},
		{"overflow", "application/json", "[[1,2,3],[1e400,2,3]]", 422, codeInvalidValue, 1, "f0"},
		{"float32 overflow", "application/json", "[[1,2,3.5e38]]", 422, codeInvalidValue, 0, "f2"},
		{"string number", "application/json", `[[1,"2",3]]`, 422, codeInvalidValue, 0, "f1"},
		{"bool", "application/json", `[[true,2,3]]`, 422, codeInvalidValue, 0, "f0"},
		{"nested", "application/json", `[[1,[2],3]]`, 422, codeInvalidValue, 0, "f1"},
		{"row not array", "application/json", `[1,2,3]`, 422, codeBadRequest, 0, ""},
		{"empty batch", "application/json", `[]`, 422, codeEmptyBatch, -1, ""},
		{"empty leads", "application/json", `{"leads":[]}`, 422, codeEmptyBatch, -1, ""},
		{"batch too large", "application/json", `[[1,2,3],[1,2,3],[1,2,3]]`, 413, codeBatchTooLarge, -1, ""},
		{"body too large", "application/json", "[" + strings.Repeat(" ", 300) + "]", 413, codeBodyTooLarge, -1, ""},
		{"unknown feature", "application/json", `{"leads":[{"features":{"f0":1,"zz":2}}]}`, 422, codeUnknownFeature, 0, "zz"},
		{"duplicate feature", "application/json", `{"leads":[{"features":{"f0":1}},{"features":{"f1":1,"f1":2}}]}`, 422, codeDuplicateFeature, 1, "f1"},
		{"named Infinity", "application/json", `{"leads":[{"features":{"f2":-Infinity}}]}`, 422, codeInvalidValue, 0, "f2"},
		{"named string", "application/json", `{"leads":[{"features":{"f2":"x"}}]}`, 422, codeInvalidValue, 0, "f2"},
		{"lead without features", "application/json", `{"leads":[{"id":"a"}]}`, 422, codeFeatureMissing, 0, ""},
		{"lead features twice", "application/json", `{"leads":[{"features":{},"features":{}}]}`, 400, codeBadRequest, 0, ""},
		{"lead features wrong type", "application/json", `{"leads":[{"features":3}]}`, 422, codeBadRequest, 0, ""},
		{"lead unknown field", "application/json", `{"leads":[{"features":{},"email":"x"}]}`, 422, codeUnknownFeature, 0, "email"},
		{"records and features", "application/json", `[{"f0":1,"features":{}}]`, 400, codeBadRequest, 0, ""},
		{"split unknown column", "application/json", `{"columns":["f0","zz"],"data":[[1,2]]}`, 422, codeUnknownFeature, -1, "zz"},
		{"split short row", "application/json", `{"columns":["f0","f1"],"data":[[1]]}`, 422, codeFeatureCount, 0, ""},
		{"split index length", "application/json", `{"columns":["f0"],"index":[1,2],"data":[[1]]}`, 400, codeBadRequest, -1, ""},
		{"split no data", "application/json", `{"columns":["f0"]}`, 400, codeBadRequest, -1, ""},
		{"split extra key", "application/json", `{"columns":["f0"],"data":[[1]],"name":"x"}`, 400, codeUnknownField, -1, ""},
		{"lead id object", "application/json", `{"leads":[{"id":{},"features":{}}]}`, 422, codeBadRequest, 0, ""},
		{"unknown top field", "application/json", `{"rows":[[1,2,3]]}`, 400, codeUnknownField, -1, ""},
		{"leads and instances", "application/json", `{"leads":[],"instances":[]}`, 400, codeBadRequest, -1, ""},
		{"leads not array", "application/json", `{"leads":{}}`, 400, codeBadRequest, -1, ""},
		{"empty object", "application/json", `{}`, 400, codeBadRequest, -1, ""},
		{"control char in id", "application/json", "{\"leads\":[{\"id\":\"a\x01\",\"features\":{}}]}", 400, codeBadJSON, -1, ""},
		{"bad escape", "application/json", `{"leads":[{"id":"a\x","features":{}}]}`, 400, codeBadJSON, -1, ""},
		{"bad utf8", "application/json", "{\"leads\":[{\"id\":\"\xff\",\"features\":{}}]}", 400, codeBadJSON, -1, ""},
		{"wrong content type", "text/plain", `[[1,2,3]]`, 415, codeMediaType, -1, ""},
		{"no content type", "", `[[1,2,3]]`, 415, codeMediaType, -1, ""},
		{"form content type", "application/x-www-form-urlencoded", `[[1,2,3]]`, 415, codeMediaType, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(s, "POST", "/score", tt.ct, tt.body)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body.String())
			}
			e := decodeError(t, w)
			if e.Error.Code != tt.code {
				t.Errorf("code %q, want %q (%s)", e.Error.Code, tt.code, e.Error.Message)
			}
			switch {
			case tt.row < 0 && e.Error.Row != nil:
				t.Errorf("row %d, want null", *e.Error.Row)
			case tt.row >= 0 && (e.Error.Row == nil || *e.Error.Row != tt.row):
				t.Errorf("row %v, want %d (%s)", e.Error.Row, tt.row, e.Error.Message)
			}
			switch {
			case tt.feature == "" && e.Error.Feature != nil:
				t.Errorf("feature %q, want null", *e.Error.Feature)
			case tt.feature != "" && (e.Error.Feature == nil || *e.Error.Feature != tt.feature):
				t.Errorf("feature %v, want %q", e.Error.Feature, tt.feature)
			}
			if tt.feature != "" && !strings.Contains(e.Error.Message, tt.feature) {
				t.Errorf("message %q does not name %q", e.Error.Message, tt.feature)
			}
		})
	}
}

func TestScoreMethodAndRoutes(t *testing.T) {
	s, _ := testServer(t, 1, nil)
	w := do(s, "GET", "/score", "", "")
	if w.Code != 405 || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET /score: %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
	decodeError(t, w)
	w = do(s, "GET", "/nope", "", "")
	if w.Code != 404 {
		t.Errorf("GET /nope: %d", w.Code)
	}
	decodeError(t, w)
	w = do(s, "POST", "/score?explain=-1", "application/json", "[[1]]")
	if w.Code != 400 || decodeError(t, w).Error.Code != codeBadParameter {
		t.Errorf("explain=-1: %d %s", w.Code, w.Body.String())
	}
	w = do(s, "POST", "/score?explain=x", "application/json", "[[1]]")
	if w.Code != 400 {
		t.Errorf("explain=x: %d", w.Code)
	}
}

func TestScoreBodyStreaming(t *testing.T) {
	s, _ := testServer(t, 2, func(c *Config) { c.MaxBody = 100 })
	srv := httptest.NewServer(s)
	defer srv.Close()
	post := func(body io.Reader, cl int64) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/score", body)
		req.Header.Set("Content-Type", "application/json")
		req.ContentLength = cl
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}
	// Chunked (unknown length) bodies are read up to the limit.
	resp := post(io.MultiReader(strings.NewReader("[[1,2]"), strings.NewReader(",[3,4]]")), -1)
	if resp.StatusCode != 200 {
		t.Fatalf("chunked: %d", resp.StatusCode)
	}
	resp = post(io.MultiReader(strings.NewReader("["), strings.NewReader(strings.Repeat(" ", 200)), strings.NewReader("]")), -1)
	if resp.StatusCode != 413 {
		t.Fatalf("chunked too large: %d", resp.StatusCode)
	}
	resp = post(strings.NewReader("[[1,2]]"), 7)
	if resp.StatusCode != 200 {
		t.Fatalf("sized: %d", resp.StatusCode)
	}
	// A large response (over net/http's chunking size) carries its length.
	s2, _ := testServer(t, 1, nil)
	body := "[" + strings.TrimSuffix(strings.Repeat("[1],", 200), ",") + "]"
	w := do(s2, "POST", "/score", "application/json", body)
	if w.Code != 200 || w.Header().Get("Content-Length") == "" {
		t.Fatalf("large response %d, Content-Length %q", w.Code, w.Header().Get("Content-Length"))
	}
	if got := len(decodeScore(t, w).Results); got != 200 {
		t.Fatalf("%d results", got)
	}
}

func TestScoreModelFailures(t *testing.T) {
	s, f := testServer(t, 1, nil)
	f.err = errBroken
	w := do(s, "POST", "/score", "application/json", "[[1]]")
	if w.Code != 500 || decodeError(t, w).Error.Code != codeScoringFailed {
		t.Fatalf("scorer error: %d %s", w.Code, w.Body.String())
	}
	f.err = nil
	f.panicMsg = "boom"
	w = do(s, "POST", "/score", "application/json", "[[1]]")
	if w.Code != 500 {
		t.Fatalf("scorer panic: %d %s", w.Code, w.Body.String())
	}
	decodeError(t, w)
	f.panicMsg = ""
	if w = do(s, "POST", "/score", "application/json", "[[1]]"); w.Code != 200 {
		t.Fatalf("after panic: %d", w.Code)
	}
	if s.InFlight() != 0 {
		t.Fatalf("in flight %d after requests", s.InFlight())
	}
}

func TestInvocations(t *testing.T) {
	s, _ := testServer(t, 3, nil)
	w := do(s, "POST", "/invocations", "text/csv", "1,2,3\r\n\n0,,-1\n", "X-Amzn-SageMaker-Inference-Id", "inf-7")
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/csv" {
		t.Fatalf("csv: %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
	vals := strings.Split(w.Body.String(), ",") // the container's real-time CSV: one line, comma-joined
	if len(vals) != 2 || !strings.HasPrefix(vals[0], "0.997") || !strings.HasPrefix(vals[1], "0.268") {
		t.Errorf("csv values %q", vals)
	}
	if got := w.Header().Get("X-Amzn-SageMaker-Inference-Id"); got != "inf-7" {
		t.Errorf("inference id %q", got)
	}
	w = do(s, "POST", "/invocations", "text/csv; charset=utf-8", " 1 , 2 ,3", "Accept", "application/vnd.leadscore+json")
	if b := decodeScore(t, w); len(b.Results) != 1 {
		t.Errorf("csv->leadscore json %+v", b)
	}
	w = do(s, "POST", "/invocations", "application/json", `{"instances":[[1,2,3]]}`, "Accept", "application/vnd.leadscore+json")
	if b := decodeScore(t, w); len(b.Results) != 1 {
		t.Errorf("json %+v", b)
	}
	w = do(s, "POST", "/invocations", "application/json", `[[1,2,3]]`, "Accept", "text/csv")
	if w.Code != 200 || !strings.HasPrefix(w.Body.String(), "0.997") {
		t.Errorf("json->csv %d %q", w.Code, w.Body.String())
	}
	w = do(s, "POST", "/invocations", "text/csv", "1.,.5,+2e0")
	if w.Code != 200 {
		t.Errorf("csv number forms: %d %s", w.Code, w.Body.String())
	}

	errs := []struct {
		name, ct, body string
		status         int
		code           string
		row            int
		feature        string
	}{
		{"csv short", "text/csv", "1,2,3\n1,2\n", 422, codeFeatureCount, 1, ""},
		{"csv long", "text/csv", "1,2,3,4", 422, codeFeatureCount, 0, ""},
		{"csv inf", "text/csv", "1,2,Inf", 422, codeInvalidValue, 0, "f2"},
		{"csv overflow", "text/csv", "1e39,2,3", 422, codeInvalidValue, 0, "f0"},
		{"csv text", "text/csv", "1,abc,3", 422, codeInvalidValue, 0, "f1"},
		{"csv header", "text/csv", "f0,f1,f2\n1,2,3", 422, codeInvalidValue, 0, "f0"},
		{"csv quoted", "text/csv", `"1",2,3`, 422, codeInvalidValue, 0, "f0"},
		{"csv empty", "text/csv", "\n\n", 422, codeEmptyBatch, -1, ""},
		{"json bad", "application/json", "[[1,2", 400, codeBadJSON, -1, ""},
		{"other type", "application/x-npy", "x", 415, codeMediaType, -1, ""},
		{"csv label_size", "text/csv; label_size=2", "1,2,3", 415, codeMediaType, -1, ""},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			w := do(s, "POST", "/invocations", tt.ct, tt.body)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body.String())
			}
			e := decodeError(t, w)
			if e.Error.Code != tt.code {
				t.Errorf("code %q, want %q", e.Error.Code, tt.code)
			}
			if (tt.row >= 0) != (e.Error.Row != nil) || e.Error.Row != nil && *e.Error.Row != tt.row {
				t.Errorf("row %v, want %d", e.Error.Row, tt.row)
			}
			if tt.feature != "" && (e.Error.Feature == nil || *e.Error.Feature != tt.feature) {
				t.Errorf("feature %v, want %q", e.Error.Feature, tt.feature)
			}
		})
	}
	big, _ := testServer(t, 1, func(c *Config) { c.MaxBatch = 2 })
	if w := do(big, "POST", "/invocations", "text/csv", "1\n2\n3\n"); w.Code != 413 {
		t.Errorf("csv batch limit: %d", w.Code)
	}
	if w := do(s, "GET", "/invocations", "", ""); w.Code != 405 {
		t.Errorf("GET /invocations: %d", w.Code)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, in := range []string{"", "plain", `q"b\s`, "tab\tnl\ncr\r", "\x00\x1f", "é€𝄞", "bad\xffutf8", "<html>&"} {
		got := appendJSONString(nil, in)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q -> %s: %v", in, got, err)
			continue
		}
		want := strings.ToValidUTF8(in, "\ufffd")
		if back != want {
			t.Errorf("%q -> %s -> %q", in, got, back)
		}
	}
}

func TestAppendFloat(t *testing.T) {
	for _, tt := range []struct {
		in   float64
		want string
	}{{0.25, "0.25"}, {1e-7, "1e-07"}, {math.NaN(), "null"}, {math.Inf(1), "null"}} {
		if got := string(appendFloat(nil, tt.in)); got != tt.want {
			t.Errorf("appendFloat(%v) = %s, want %s", tt.in, got, tt.want)
		}
		if !json.Valid(appendFloat(nil, tt.in)) {
			t.Errorf("appendFloat(%v) is not JSON", tt.in)
		}
	}
}

func TestMediaIs(t *testing.T) {
	for _, tt := range []struct {
		h, want string
		ok      bool
	}{
		{"application/json", "application/json", true},
		{" Application/JSON ; charset=utf-8", "application/json", true},
		{"text/csv,application/json", "text/csv", true},
		{"application/jsonx", "application/json", false},
		{"", "application/json", false},
	} {
		if got := mediaIs(tt.h, tt.want); got != tt.ok {
			t.Errorf("mediaIs(%q, %q) = %v", tt.h, tt.want, got)
		}
	}
}

func TestLargeBatchBuffersNotPooled(t *testing.T) {
	s, _ := testServer(t, 300, func(c *Config) { c.MaxBody = 64 << 20; c.MaxBatch = 2000 })
	var b bytes.Buffer
	b.WriteString("[")
	for i := 0; i < 1000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(row(300, "0.5"))
	}
	b.WriteString("]")
	w := do(s, "POST", "/score", "application/json", b.String())
	if got := len(decodeScore(t, w).Results); got != 1000 {
		t.Fatalf("%d results", got)
	}
	ex := s.pool.Get().(*exchange)
	if cap(ex.batch.rows) > maxPooledFloats || cap(ex.body) > maxPooledBytes {
		t.Errorf("pooled buffers kept: rows %d, body %d", cap(ex.batch.rows), cap(ex.body))
	}
}
