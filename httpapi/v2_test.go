package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
)

type v2Response struct {
	ModelName    string           `json:"model_name"`
	ModelVersion string           `json:"model_version"`
	ID           *string          `json:"id"`
	Outputs      []v2OutputTensor `json:"outputs"`
}

type v2OutputTensor struct {
	Name     string    `json:"name"`
	Datatype string    `json:"datatype"`
	Shape    []int     `json:"shape"`
	Data     []float64 `json:"data"`
}

func TestV2Infer(t *testing.T) {
	s, _ := testServer(t, 2, nil)
	tests := []struct {
		name, path, body string
		rows             int
		id               string
	}{
		{"nested", "/v2/models/fake/infer", `{"id":"r1","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[0,null]]}]}`, 2, "r1"},
		{"flat", "/v2/models/fake/infer", `{"inputs":[{"data":[1,2,3,4,5,6],"datatype":"FP32","shape":[3,2]}],"parameters":{"timeout":5000000,"binary_data_output":false}}`, 3, ""},
		{"one row shape", "/v2/models/fake/versions/1/infer", `{"inputs":[{"name":"x","shape":[2],"datatype":"FP64","data":[1,2],"parameters":{}}]}`, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(s, "POST", tt.path, "application/json", tt.body)
			if w.Code != 200 {
				t.Fatalf("%d %s", w.Code, w.Body.String())
			}
			var r v2Response
			if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
				t.Fatalf("%s: %v", w.Body.String(), err)
			}
			if r.ModelName != "fake" || r.ModelVersion != "1" || len(r.Outputs) != 2 {
				t.Fatalf("response %+v", r)
			}
			if (tt.id == "") != (r.ID == nil) || r.ID != nil && *r.ID != tt.id {
				t.Errorf("id %v, want %q", r.ID, tt.id)
			}
			p, sc := r.Outputs[0], r.Outputs[1]
			if p.Name != "probability" || p.Datatype != "FP32" || len(p.Shape) != 1 || p.Shape[0] != tt.rows || len(p.Data) != tt.rows {
				t.Errorf("probability output %+v", p)
			}
			if sc.Name != "score" || sc.Datatype != "INT32" || len(sc.Data) != tt.rows {
				t.Errorf("score output %+v", sc)
			}
		})
	}

	errs := []struct {
		name, path, ct, body string
		status               int
	}{
		{"wrong model", "/v2/models/other/infer", "application/json", `{}`, 404},
		{"wrong version", "/v2/models/fake/versions/9/infer", "application/json", `{}`, 404},
		{"bad path", "/v2/models/fake/x/infer", "application/json", `{}`, 404},
		{"empty", "/v2/models/fake/infer", "application/json", ``, 400},
		{"not object", "/v2/models/fake/infer", "application/json", `[]`, 400},
		{"no inputs", "/v2/models/fake/infer", "application/json", `{"id":"a"}`, 400},
		{"empty inputs", "/v2/models/fake/infer", "application/json", `{"inputs":[]}`, 400},
		{"inputs not array", "/v2/models/fake/infer", "application/json", `{"inputs":{}}`, 400},
		{"two inputs", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"datatype":"FP32","data":[1,2]},{}]}`, 400},
		{"tensor not object", "/v2/models/fake/infer", "application/json", `{"inputs":[1]}`, 400},
		{"id not string", "/v2/models/fake/infer", "application/json", `{"id":1,"inputs":[]}`, 400},
		{"no datatype", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"data":[1,2]}]}`, 400},
		{"datatype not string", "/v2/models/fake/infer", "application/json", `{"inputs":[{"datatype":1}]}`, 400},
		{"bytes datatype", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"datatype":"BYTES","data":["a","b"]}]}`, 400},
		{"unknown datatype", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"datatype":"FP8","data":[1,2]}]}`, 400},
		{"int fraction", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"datatype":"INT64","data":[1,2.5]}]}`, 422},
		{"int8 range", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"datatype":"INT8","data":[1,128]}]}`, 422},
		{"uint negative", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"datatype":"UINT16","data":[1,-1]}]}`, 422},
		{"bool number", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"datatype":"BOOL","data":[true,1]}]}`, 422},
		{"fp16 range", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"datatype":"FP16","data":[1,70000]}]}`, 422},
		{"unknown output", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"datatype":"FP32","data":[1,2]}],"outputs":[{"name":"label"}]}`, 400},
		{"output twice", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"datatype":"FP32","data":[1,2]}],"outputs":[{"name":"tier"},{"name":"tier"}]}`, 400},
		{"binary output", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"datatype":"FP32","data":[1,2]}],"outputs":[{"name":"tier","parameters":{"binary_data":true}}]}`, 400},
		{"unknown parameter", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"datatype":"FP32","data":[1,2]}],"parameters":{"priority":1}}`, 400},
		{"binary input", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"datatype":"FP32","data":[1,2],"parameters":{"binary_data_size":8}}]}`, 400},
		{"unknown request field", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"datatype":"FP32","data":[1,2]}],"extra":1}`, 400},
		{"no shape", "/v2/models/fake/infer", "application/json", `{"inputs":[{"datatype":"FP32","data":[1,2]}]}`, 400},
		{"no data", "/v2/models/fake/infer", "application/json", `{"inputs":[{"datatype":"FP32","shape":[1,2]}]}`, 400},
		{"empty tensor", "/v2/models/fake/infer", "application/json", `{"inputs":[{}]}`, 400},
		{"shape mismatch", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[2,2],"datatype":"FP32","data":[1,2]}]}`, 400},
		{"wrong features", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}`, 400},
		{"flat not multiple", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,2],"datatype":"FP32","data":[1,2,3]}]}`, 400},
		{"shape not array", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":2}]}`, 400},
		{"shape negative", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[-1,2]}]}`, 400},
		{"shape fraction", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1.5,2]}]}`, 400},
		{"shape 4d", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[1,1,1,2]}]}`, 400},
		{"shape huge", "/v2/models/fake/infer", "application/json", `{"inputs":[{"shape":[99999999999999999999,2]}]}`, 400},
		{"data not array", "/v2/models/fake/infer", "application/json", `{"inputs":[{"data":1}]}`, 400},
		{"data twice", "/v2/models/fake/infer", "application/json", `{"inputs":[{"data":[1,2],"data":[1,2]}]}`, 400},
		{"mixed nesting", "/v2/models/fake/infer", "application/json", `{"inputs":[{"data":[1,[2]]}]}`, 400},
		{"mixed nesting 2", "/v2/models/fake/infer", "application/json", `{"inputs":[{"data":[[1,2],3]}]}`, 400},
		{"nested short row", "/v2/models/fake/infer", "application/json", `{"inputs":[{"datatype":"FP32","data":[[1]]}]}`, 422},
		{"infinity", "/v2/models/fake/infer", "application/json", `{"inputs":[{"datatype":"FP32","shape":[1,2],"data":[1,Infinity]}]}`, 422},
		{"string value", "/v2/models/fake/infer", "application/json", `{"inputs":[{"datatype":"FP32","data":["1",2]}]}`, 422},
		{"bad json", "/v2/models/fake/infer", "application/json", `{"inputs":[{"data":[1,2]}`, 400},
		{"wrong content type", "/v2/models/fake/infer", "text/csv", `{}`, 415},
		{"too many rows", "/v2/models/fake/infer", "application/json", `{"inputs":[{"datatype":"FP32","data":[[1,2],[1,2],[1,2]]}]}`, 413},
		{"too many flat", "/v2/models/fake/infer", "application/json", `{"inputs":[{"datatype":"INT64","data":[1,2,1,2,1,2]}]}`, 413},
	}
	small, _ := testServer(t, 2, func(c *Config) { c.MaxBatch = 2 })
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			w := do(small, "POST", tt.path, tt.ct, tt.body)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body.String())
			}
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("error body %s: %v", w.Body.String(), err)
			}
		})
	}
}

func TestV2Metadata(t *testing.T) {
	s, _ := testServer(t, 2, nil)
	tests := []struct {
		path   string
		status int
		want   string
	}{
		{"/v2", 200, `"name":"leadscore"`},
		{"/v2/health/live", 200, `{"live":true}`},
		{"/v2/health/ready", 200, `{"ready":true}`},
		{"/v2/models/fake", 200, `"inputs":[{"name":"input-0","datatype":"FP32","shape":[-1,2]}]`},
		{"/v2/models/fake/versions/1", 200, `"feature_names":["f0","f1"]`},
		{"/v2/models/fake/ready", 200, `{"name":"fake","ready":true}`},
		{"/v2/models/fake/versions/1/ready", 200, `"ready":true`},
		{"/v2/models/nope", 404, `"error":`},
		{"/v2/models/fake/versions/2", 404, `"error":`},
		{"/v2/models/fake/versions/", 404, `"error":`},
		{"/v2/models/fake/bogus", 404, `"error":`},
		{"/v2/models/fake/infer", 405, `"error":`},
	}
	for _, tt := range tests {
		w := do(s, "GET", tt.path, "", "")
		if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.want) {
			t.Errorf("GET %s: %d %s, want %d with %s", tt.path, w.Code, w.Body.String(), tt.status, tt.want)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Errorf("GET %s: invalid JSON %s", tt.path, w.Body.String())
		}
	}
	if w := do(s, "POST", "/v2/models/fake", "application/json", "{}"); w.Code != 405 {
		t.Errorf("POST metadata: %d", w.Code)
	}
	if w := do(s, "POST", "/v2/models/fake/ready/infer", "application/json", "{}"); w.Code != 404 {
		t.Errorf("POST bad infer path: %d", w.Code)
	}
	s.Drain()
	for _, p := range []string{"/v2/health/ready", "/v2/models/fake/ready"} {
		if w := do(s, "GET", p, "", ""); w.Code != 503 {
			t.Errorf("draining GET %s: %d", p, w.Code)
		}
	}
	if w := do(s, "GET", "/v2/health/live", "", ""); w.Code != 200 {
		t.Errorf("draining live: %d", w.Code)
	}
}

func TestV2Path(t *testing.T) {
	tests := []struct {
		path, name, version, action string
		ok                          bool
	}{
		{"/v2/models/m", "m", "", "", true},
		{"/v2/models/m/ready", "m", "", "ready", true},
		{"/v2/models/m/infer", "m", "", "infer", true},
		{"/v2/models/m/versions/3/infer", "m", "3", "infer", true},
		{"/v2/models/m/versions/3", "m", "3", "", true},
		{"/v2/models/", "", "", "", false},
		{"/v2/models/m/versions//infer", "", "", "", false},
		{"/v2/models/m/other", "", "", "", false},
		{"/v1/models/m", "", "", "", false},
	}
	for _, tt := range tests {
		n, v, a, ok := v2Path(tt.path)
		if n != tt.name || v != tt.version || a != tt.action || ok != tt.ok {
			t.Errorf("v2Path(%q) = %q %q %q %v", tt.path, n, v, a, ok)
		}
	}
}
