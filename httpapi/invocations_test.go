package httpapi

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
)

// containerCase is one request and the SageMaker XGBoost container's answer
// (testdata/sagemaker/cases.json, written by gen.py from the container's
// rules with predictions by the real XGBoost).
type containerCase struct {
	Name            string            `json:"name"`
	Env             map[string]string `json:"env"`
	ContentType     string            `json:"content_type"`
	Accept          string            `json:"accept"`
	Body            string            `json:"body"`
	Status          int               `json:"status"`
	WantBody        *string           `json:"want_body"`
	WantContentType string            `json:"want_content_type"`
}

// sageMakerFromEnv builds the SageMaker settings from a case's environment,
// as cmd/leadscore does from the process's.
func sageMakerFromEnv(env map[string]string) SageMaker {
	var sm SageMaker
	_, sm.Batch = env["SAGEMAKER_BATCH"]
	if v, ok := env["SAGEMAKER_INFERENCE_OUTPUT"]; ok {
		sm.InferenceOutput = ParseInferenceOutput(v)
	}
	sm.DefaultAccept = env["SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"]
	return sm
}

func demoServer(t testing.TB, sm SageMaker) *Server {
	t.Helper()
	s, err := New(context.Background(), Config{
		Loader:     func() (leadscore.Scorer, error) { return bundle.Demo() },
		Registerer: prometheus.NewRegistry(),
		SageMaker:  sm,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestInvocationsMatchContainer sends each request of cases.json to
// /invocations with the demo model and compares status, Content-Type and
// body byte for byte with what the container answers.
func TestInvocationsMatchContainer(t *testing.T) {
	raw, err := os.ReadFile("testdata/sagemaker/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []containerCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cases) < 30 {
		t.Fatalf("only %d cases", len(doc.Cases))
	}
	for _, c := range doc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			s := demoServer(t, sageMakerFromEnv(c.Env))
			var hdr []string
			if c.Accept != "" {
				hdr = append(hdr, "Accept", c.Accept)
			}
			w := do(s, "POST", "/invocations", c.ContentType, c.Body, hdr...)
			if w.Code != c.Status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.Status, w.Body)
			}
			if got := w.Header().Get("Content-Type"); c.WantContentType != "" && got != c.WantContentType {
				t.Errorf("Content-Type %q, want %q", got, c.WantContentType)
			}
			if c.WantBody != nil && w.Body.String() != *c.WantBody {
				t.Errorf("body\n%q\nwant\n%q", w.Body.String(), *c.WantBody)
			}
			if c.Status >= 400 && !strings.Contains(w.Body.String(), `"error"`) {
				t.Errorf("refusal without a JSON error: %s", w.Body)
			}
		})
	}
}

func TestInvocationsLeadscoreAccept(t *testing.T) {
	s := demoServer(t, SageMaker{Batch: true, InferenceOutput: []string{"probability"}})
	w := do(s, "POST", "/invocations?explain=2", "text/csv", strings.Repeat("1,", 49)+"1", "Accept", "application/vnd.leadscore+json")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	b := decodeScore(t, w)
	if len(b.Results) != 1 || len(b.Results[0].Reasons) == 0 {
		t.Errorf("leadscore answer %+v", b)
	}
}

func TestExecutionParameters(t *testing.T) {
	s, _ := testServer(t, 2, func(c *Config) { c.MaxBody = 19 << 20 })
	w := do(s, "GET", "/execution-parameters", "", "")
	want := `{"MaxConcurrentTransforms": ` + strconv.Itoa(runtime.NumCPU()) + `, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 19}`
	if w.Code != 200 || w.Body.String() != want || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("%d %q, want %q", w.Code, w.Body, want)
	}
	if w := do(s, "POST", "/execution-parameters", "", ""); w.Code != 405 {
		t.Errorf("POST: %d", w.Code)
	}
}

func TestInvocationsSelectableObjectives(t *testing.T) {
	for _, tt := range []struct {
		objective, key string
		p              float64
		want           string
	}{
		{"binary:logitraw", "predicted_label", -0.5, "0"},
		{"binary:logitraw", "predicted_label", 0.25, "1"},
		{"binary:logitraw", "probability", 0.25, "nan"},
		{"binary:hinge", "predicted_label", 1, "1.0"},
		{"binary:hinge", "raw_scores", 1, `"[0.0, 1.0]"`},
		{"reg:squarederror", "predicted_score", 1234.5, "1234.5"},
		{"reg:squarederror", "predicted_label", 3, "nan"},
		{"binary:logistic", "labels", 0.3, `"[0, 1]"`},
	} {
		got := string(appendSelValue(nil, selectedValue(tt.key, tt.objective, tt.p), false))
		if got != tt.want {
			t.Errorf("%s %s(%v) = %s, want %s", tt.objective, tt.key, tt.p, got, tt.want)
		}
	}
	// An objective without selectable outputs: a clear 500 before scoring.
	s, f := testServer(t, 2, func(c *Config) { c.SageMaker.InferenceOutput = []string{"probability"} })
	f.objective = "rank:pairwise"
	if err := s.Reload(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	w := do(s, "POST", "/invocations", "text/csv", "1,2")
	if w.Code != 500 || !strings.Contains(w.Body.String(), "unsupported_objective") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

func TestAppendPyFloat(t *testing.T) {
	// Python's repr of each value.
	for _, tt := range []struct {
		f    float64
		want string
	}{
		{0.5, "0.5"}, {1, "1.0"}, {0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {1e-5, "1e-05"}, {1.5e-5, "1.5e-05"},
		{0.0001, "0.0001"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"}, {123.25, "123.25"}, {-2.5e-7, "-2.5e-07"},
		{float64(float32(0.1)), "0.10000000149011612"}, {1e100, "1e+100"}, {math.NaN(), "nan"}, {math.Inf(-1), "-inf"},
	} {
		if got := string(appendPyFloat(nil, tt.f, false)); got != tt.want {
			t.Errorf("appendPyFloat(%v) = %s, want %s", tt.f, got, tt.want)
		}
	}
	if got := string(appendPyFloat(nil, math.NaN(), true)); got != "NaN" {
		t.Errorf("JSON NaN = %s", got)
	}
}

func TestParseLibSVM(t *testing.T) {
	sc := schema{names: []string{"a", "b", "c"}}
	nan := float32(math.NaN())
	for _, tt := range []struct {
		name, body string
		want       []float32
		code       string
	}{
		{"one-based", "1 1:0.5 3:2\n0 2:1\n", []float32{0.5, nan, 2, nan, 1, nan}, ""},
		{"zero-based when an index is 0", "1 0:0.5 2:2\n", []float32{0.5, nan, 2}, ""},
		{"no label, tabs, CRLF", "1:1\t2:2\r\n", []float32{1, 2, nan}, ""},
		{"label only", "1\n", []float32{nan, nan, nan}, ""},
		{"nan is missing", "0 1:nan 2:3", []float32{nan, 3, nan}, ""},
		{"past the features", "0 4:1", nil, codeFeatureCount},
		{"twice", "0 1:1 1:2", nil, codeDuplicateFeature},
		{"bad index", "0 x:1", nil, codeInvalidValue},
		{"inf", "0 1:inf", nil, codeInvalidValue},
		{"text", "0 1:abc", nil, codeInvalidValue},
		{"blank", "\n \n", nil, codeEmptyBatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b batch
			err := parseLibSVM([]byte(tt.body), &sc, 10, &b)
			if tt.code != "" {
				if err == nil || err.Code != tt.code {
					t.Fatalf("got %v, want %s", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err.Message)
			}
			if len(b.rows) != len(tt.want) {
				t.Fatalf("rows %v, want %v", b.rows, tt.want)
			}
			for i := range tt.want {
				if !sameFloat32(b.rows[i], tt.want[i]) {
					t.Fatalf("rows %v, want %v", b.rows, tt.want)
				}
			}
		})
	}
	var b batch
	if err := parseLibSVM([]byte("1:1\n1:1\n1:1\n"), &sc, 2, &b); err == nil || err.Code != codeBatchTooLarge {
		t.Errorf("batch limit: %v", err)
	}
}

func FuzzParseLibSVM(f *testing.F) {
	for _, s := range []string{"1 1:0.5 3:2\n0 2:1\n", "0:1", "1:nan", "1 4:1", "x", "1:1 1:1", "\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		const maxRows = 50
		var b batch
		if e := parseLibSVM(body, &fuzzSchema, maxRows, &b); e != nil {
			checkFailure(t, e)
			return
		}
		checkParsed(t, &b, maxRows)
	})
}
