package awslambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/httpapi"
	"github.com/leadscore/leadscore/internal/testutil"
)

// emfLine is one decoded EMF record.
type emfLine map[string]any

// checkEMF decodes one EMF line and checks it against the format's rules:
// a _aws object with a millisecond Timestamp and CloudWatchMetrics
// directives, every dimension named in a directive present as a string
// member, and every metric present as a number.
func checkEMF(t *testing.T, line string) emfLine {
	t.Helper()
	var rec emfLine
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("EMF line %q: %v", line, err)
	}
	var meta struct {
		Timestamp         *int64 `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name string `json:"Name"`
				Unit string `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	raw, _ := json.Marshal(rec["_aws"])
	if err := json.Unmarshal(raw, &meta); err != nil || meta.Timestamp == nil || len(meta.CloudWatchMetrics) != 1 {
		t.Fatalf("EMF _aws %s: %v", raw, err)
	}
	d := meta.CloudWatchMetrics[0]
	if d.Namespace == "" || len(d.Dimensions) == 0 || len(d.Metrics) == 0 {
		t.Fatalf("EMF directive %+v", d)
	}
	for _, set := range d.Dimensions {
		if len(set) == 0 || len(set) > 30 {
			t.Errorf("dimension set %v", set)
		}
		for _, k := range set {
			if _, ok := rec[k].(string); !ok {
				t.Errorf("dimension %s is not a string member: %v", k, rec[k])
			}
		}
	}
	for _, m := range d.Metrics {
		if _, ok := rec[m.Name].(float64); !ok || m.Unit == "" {
			t.Errorf("metric %s (%s) is not a number member: %v", m.Name, m.Unit, rec[m.Name])
		}
	}
	return rec
}

func TestEMFFromTheService(t *testing.T) {
	srv := service(t)
	var out bytes.Buffer
	emf := NewEMF(&out, EMFConfig{Dimensions: map[string]string{"FunctionName": "scorer", "Empty": "", "Route": "x"}}, httpapi.RouteName)
	h := New(srv, emf)
	d := loadDemo(t, 20)
	jsonCT := map[string]string{"Content-Type": "application/json"}
	invokeV1(t, h, events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score", Headers: jsonCT, Body: d.json(t),
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-1"}})
	invokeV2(t, h, events.APIGatewayV2HTTPRequest{RawPath: "/endpoints/e/invocations", Headers: map[string]string{"content-type": "text/csv"}, Body: d.csv(),
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}}})
	invokeV1(t, h, events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score", Headers: jsonCT, Body: "[[1]]"})
	invokeV1(t, h, events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/some/random/path"})

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d EMF lines, want one per invocation:\n%s", len(lines), out.String())
	}
	want := []struct {
		route, status              string
		rows, errors, serverErrors float64
		payload                    string
	}{
		{"/score", "200", 20, 0, 0, PayloadV1},
		{"/invocations", "200", 20, 0, 0, PayloadV2},
		{"/score", "422", 0, 1, 0, PayloadV1},
		{"other", "404", 0, 1, 0, PayloadV1},
	}
	for i, line := range lines {
		rec := checkEMF(t, line)
		w := want[i]
		if rec["Route"] != w.route || rec["Status"] != w.status || rec["RowsScored"] != w.rows || rec["Errors"] != w.errors ||
			rec["ServerErrors"] != w.serverErrors || rec["Requests"] != 1.0 || rec["Payload"] != w.payload ||
			rec["FunctionName"] != "scorer" || rec["Empty"] != nil {
			t.Errorf("line %d: %s", i, line)
		}
		if ml, _ := rec["ModelLatency"].(float64); (w.rows > 0) != (ml > 0) {
			t.Errorf("line %d: ModelLatency %v with %v rows", i, ml, w.rows)
		}
		if !strings.Contains(line, `"Namespace":"leadscore"`) || !strings.Contains(line, `["FunctionName","Route","Status"]`) {
			t.Errorf("line %d: directive %s", i, line)
		}
	}
	if rec := checkEMF(t, lines[0]); rec["RequestId"] != "req-1" || rec["Method"] != "POST" {
		t.Errorf("properties: %v", rec)
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestEMFWithoutRouteNames(t *testing.T) {
	var out bytes.Buffer
	emf := NewEMF(&out, EMFConfig{Namespace: "custom"}, nil)
	start := time.UnixMilli(1700000000123)
	emf.Observe(context.Background(), Invocation{Start: start, Latency: 1500 * time.Microsecond, Payload: PayloadV2,
		Method: "POST", Path: "/raw/path", Status: 503, Rows: 4, ModelTime: 250 * time.Microsecond})
	rec := checkEMF(t, strings.TrimSpace(out.String()))
	if rec["Route"] != "/raw/path" || rec["Latency"] != 1.5 || rec["ServerErrors"] != 1.0 || rec["RowsScored"] != 4.0 || rec["ModelLatency"] != 0.25 {
		t.Errorf("record %v", rec)
	}
	if !strings.Contains(out.String(), `"Namespace":"custom"`) || !strings.Contains(out.String(), `"Timestamp":1700000000123`) ||
		!strings.Contains(out.String(), `"Dimensions":[["Route"],["Route","Status"]]`) {
		t.Errorf("line %s", out.String())
	}
	// A failing writer does not fail the request.
	NewEMF(failingWriter{}, EMFConfig{}, nil).Observe(context.Background(), Invocation{Status: 200})
}

// sized scores any batch as probability 0.5, taking a moment, so that
// concurrent invocations overlap.
type sized struct{ nf int }

func (s sized) Info() leadscore.ModelInfo {
	return leadscore.ModelInfo{Name: "sized", Features: make([]leadscore.Feature, s.nf), Tiers: leadscore.Tiers{0.2, 0.4, 0.6, 0.8}}
}

func (s sized) Score(_ context.Context, rows []float32, _ int, out []leadscore.Result) error {
	time.Sleep(2 * time.Millisecond)
	for i := range len(rows) / s.nf {
		out[i] = leadscore.Result{Score: 3, Probability: 0.5}
	}
	return nil
}

func TestEMFCountsEachInvocationExactly(t *testing.T) {
	model := Metered(sized{nf: 2})
	// A handler scoring as many rows as the "n" query parameter asks, with
	// several invocations in flight at once (Lambda managed instances).
	h := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		out := make([]leadscore.Result, n)
		if err := model.Score(r.Context(), make([]float32, 2*n), 0, out); err != nil {
			w.WriteHeader(500)
		}
	}), nil)
	var out syncBuffer
	h.obs = NewEMF(&out, EMFConfig{}, nil)
	var wg sync.WaitGroup
	for n := 1; n <= 20; n++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/", QueryStringParameters: map[string]string{"n": strconv.Itoa(n)},
				RequestContext: events.APIGatewayProxyRequestContext{RequestID: "n" + strconv.Itoa(n)}}
			b, _ := json.Marshal(ev)
			if _, err := h.Invoke(context.Background(), b); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 20 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, line := range lines {
		rec := checkEMF(t, line)
		id, _ := rec["RequestId"].(string)
		if want := strings.TrimPrefix(id, "n"); strconv.Itoa(int(rec["RowsScored"].(float64))) != want || rec["ModelLatency"].(float64) <= 0 {
			t.Errorf("invocation %s: RowsScored %v, ModelLatency %v", id, rec["RowsScored"], rec["ModelLatency"])
		}
	}
	// Outside an invocation the wrapper only passes through.
	res := make([]leadscore.Result, 1)
	if err := model.Score(context.Background(), make([]float32, 2), 0, res); err != nil || res[0].Probability != 0.5 || model.Info().Name != "sized" {
		t.Errorf("pass-through: %v %+v", err, res)
	}
}

// syncBuffer is the shared goroutine-safe test buffer.
type syncBuffer = testutil.Buffer
