package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/internal/testutil"
)

// fakeScorer is a tiny deterministic model for transport tests: the margin
// is the sum of the present feature values, the probability its sigmoid,
// and each present feature contributes its own value.
type fakeScorer struct {
	name, version string
	objective     string // Info's Objective; "" leaves it unknown
	nf            int
	tiers         leadscore.Tiers
	err           error         // returned by Score when set
	panicMsg      string        // Score panics with it when set
	block         chan struct{} // Score waits on it when set
	entered       chan struct{} // Score signals it when set
	mu            sync.Mutex
	calls         int
}

func newFake(nf int) *fakeScorer {
	return &fakeScorer{name: "fake", version: "1", nf: nf, tiers: leadscore.Tiers{0.2, 0.4, 0.6, 0.8}}
}

func (f *fakeScorer) Info() leadscore.ModelInfo {
	feats := make([]leadscore.Feature, f.nf)
	for i := range feats {
		feats[i] = leadscore.Feature{Name: fmt.Sprintf("f%d", i), Min: -1, Max: 1}
	}
	return leadscore.ModelInfo{Name: f.name, Version: f.version, Features: feats, Tiers: f.tiers, Objective: f.objective}
}

func (f *fakeScorer) Score(ctx context.Context, rows []float32, explain int, out []leadscore.Result) error {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.panicMsg != "" {
		panic(f.panicMsg)
	}
	if f.err != nil {
		return f.err
	}
	if len(rows)%f.nf != 0 {
		return fmt.Errorf("fake: %d values is not a multiple of %d", len(rows), f.nf)
	}
	names := make([]string, f.nf)
	for i := range names {
		names[i] = fmt.Sprintf("f%d", i)
	}
	contribs := make([]float32, f.nf)
	for i := 0; i < len(rows)/f.nf; i++ {
		row := rows[i*f.nf : (i+1)*f.nf]
		var sum float64
		for j, v := range row {
			contribs[j] = 0
			if !math.IsNaN(float64(v)) {
				sum += float64(v)
				contribs[j] = v
			}
		}
		p := 1 / (1 + math.Exp(-sum))
		out[i] = leadscore.Result{Score: f.tiers.Tier(p), Probability: p, Margin: sum}
		if explain > 0 {
			out[i].Reasons = leadscore.Reasons(contribs, names, row, explain, nil)
		}
	}
	return nil
}

// testServer builds a Server around a fake with nf features; mutate
// adjusts the config first.
func testServer(t testing.TB, nf int, mutate func(*Config)) (*Server, *fakeScorer) {
	t.Helper()
	f := newFake(nf)
	cfg := Config{Loader: func() (leadscore.Scorer, error) { return f, nil }, Registerer: prometheus.NewRegistry()}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, f
}

// do sends one request through s and returns the recorded response.
func do(s http.Handler, method, target, contentType, body string, headers ...string) *httptest.ResponseRecorder {
	r := newRequest(method, target, contentType, body)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return record(s, r)
}

type httpRecorder = httptest.ResponseRecorder

func newRequest(method, target, contentType, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func record(s http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// errorBody is the JSON error shape of /score.
type errorBody struct {
	Error struct {
		Code    string  `json:"code"`
		Message string  `json:"message"`
		Row     *int    `json:"row"`
		Feature *string `json:"feature"`
	} `json:"error"`
}

func decodeError(t *testing.T, w *httptest.ResponseRecorder) errorBody {
	t.Helper()
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %q: %v", w.Body.String(), err)
	}
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("error body %q lacks code or message", w.Body.String())
	}
	return e
}

// scoreBody is the /score response.
type scoreBody struct {
	RequestID string `json:"request_id"`
	Model     struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"model"`
	Results []struct {
		Score       int                `json:"score"`
		Probability float64            `json:"probability"`
		ID          json.RawMessage    `json:"id"`
		Reasons     []leadscore.Reason `json:"reasons"`
	} `json:"results"`
	Latency struct {
		TotalMS *float64 `json:"total_ms"`
		ModelMS *float64 `json:"model_ms"`
	} `json:"latency"`
}

func decodeScore(t *testing.T, w *httptest.ResponseRecorder) scoreBody {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", w.Code, w.Body.String())
	}
	var b scoreBody
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("score body %q: %v", w.Body.String(), err)
	}
	return b
}

// logBuffer collects JSON log lines safely across goroutines.
type logBuffer struct{ testutil.Buffer }

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var errBroken = errors.New("broken model file")

// row returns a JSON row of n values v, v, ...
func row(n int, v string) string {
	return "[" + strings.TrimSuffix(strings.Repeat(v+",", n), ",") + "]"
}

var _ io.Writer = (*logBuffer)(nil)
