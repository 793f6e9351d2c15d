package sagemaker_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/sagemaker"
)

// fakeCreds are static credentials: the stand-in ignores the signature,
// but the real SDK signs every request with them.
var fakeCreds = credentials.NewStaticCredentialsProvider("AKIDLEADSCORETEST", "not-a-secret", "")

// demoRows returns the demo model's reference rows (NaN for missing).
func demoRows(t *testing.T) []float32 {
	t.Helper()
	var in struct {
		Rows [][]*float64 `json:"rows"`
	}
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "lead-demo", "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	var rows []float32
	for _, r := range in.Rows {
		for _, v := range r {
			if v == nil {
				rows = append(rows, float32(math.NaN()))
			} else {
				rows = append(rows, float32(*v))
			}
		}
	}
	return rows
}

// localScores scores rows with the embedded demo model.
func localScores(t *testing.T, m *bundle.Bundle, rows []float32) []leadscore.Result {
	t.Helper()
	n := len(rows) / len(m.Info().Features)
	out := make([]leadscore.Result, n)
	if err := m.Score(context.Background(), append([]float32(nil), rows...), 0, out); err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// leadscoreBinary builds cmd/leadscore once per test run.
func leadscoreBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the leadscore binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "leadscore-sagemaker-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "leadscore")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/leadscore").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// standIn runs `leadscore serve` on 127.0.0.1 as a SageMaker endpoint
// stand-in and returns its URL and a function that kills it.
func standIn(t *testing.T) (string, func()) {
	t.Helper()
	cmd := exec.Command(leadscoreBinary(t), "serve", "--listen", "127.0.0.1:0", "--watch-interval", "0", "--access-log=false", "--lake-dir", filepath.Join(t.TempDir(), "lake"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SM_MODEL_DIR=" + filepath.Join(t.TempDir(), "none")}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	addr := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addr <- "http://" + rec.Addr
			}
		}
		_ = cmd.Wait()
	}()
	var once sync.Once
	kill := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			<-done
		})
	}
	t.Cleanup(kill)
	select {
	case u := <-addr:
		return u, kill
	case <-done:
		t.Fatal("leadscore serve exited before listening")
	case <-time.After(60 * time.Second):
		t.Fatal("leadscore serve did not start")
	}
	return "", kill
}

func TestEndToEndAgainstLeadscoreServe(t *testing.T) {
	url, kill := standIn(t)
	demo, err := bundle.Demo()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := sagemaker.Config{
		Endpoint: "lead-scorer", Region: "us-east-1", EndpointURL: url, Credentials: fakeCreds,
		Timeout: 5 * time.Second, MaxAttempts: 2, Backoff: time.Millisecond,
		Breaker: sagemaker.BreakerConfig{FailureThreshold: 3, OpenFor: time.Hour},
	}
	fallback, err := bundle.Demo()
	if err != nil {
		t.Fatal(err)
	}
	s, err := sagemaker.New(ctx, cfg, demo.Info(), fallback)
	if err != nil {
		t.Fatal(err)
	}
	rows := demoRows(t)
	want := localScores(t, demo, rows)
	got := make([]leadscore.Result, len(want))
	if err := s.Score(ctx, append([]float32(nil), rows...), 0, got); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i].Probability != want[i].Probability || got[i].Score != want[i].Score {
			t.Fatalf("row %d: remote %+v, local %+v", i, got[i], want[i])
		}
	}
	if st := s.Stats(); st.Attempts != 1 || st.Fallbacks != 0 || st.State != sagemaker.StateClosed {
		t.Fatalf("stats after remote scoring: %+v", st)
	}

	// Reasons come from the local copy; scores stay the endpoint's.
	exp := make([]leadscore.Result, 3)
	if err := s.Score(ctx, append([]float32(nil), rows[:3*50]...), 3, exp); err != nil {
		t.Fatal(err)
	}
	if len(exp[0].Reasons) == 0 || exp[0].Probability != want[0].Probability || s.Stats().Attempts != 2 {
		t.Errorf("explained: %+v, stats %+v", exp[0], s.Stats())
	}

	// The endpoint refuses a malformed batch (4xx): no retry, breaker
	// closed.
	info := demo.Info()
	info.Features = info.Features[:3]
	narrow, err := sagemaker.New(ctx, cfg, info, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := narrow.Score(ctx, []float32{1, 2, 3}, 0, make([]leadscore.Result, 1)); err == nil || !strings.Contains(err.Error(), "422") {
		t.Errorf("malformed batch: %v", err)
	}
	if st := narrow.Stats(); st.Attempts != 1 || st.State != sagemaker.StateClosed {
		t.Errorf("a refused request was retried or tripped the breaker: %+v", st)
	}

	// Kill the endpoint: calls fail, the breaker opens, the fallback serves.
	kill()
	before := s.Stats()
	for i := range 4 {
		out := make([]leadscore.Result, 10)
		if err := s.Score(ctx, append([]float32(nil), rows[:10*50]...), 0, out); err != nil {
			t.Fatalf("call %d with the endpoint down: %v", i, err)
		}
		for j := range out {
			if out[j].Probability != want[j].Probability {
				t.Fatalf("fallback row %d: %+v, want %+v", j, out[j], want[j])
			}
		}
	}
	after := s.Stats()
	if after.State != sagemaker.StateOpen || after.Fallbacks != 4 || after.Rejected < 2 {
		t.Errorf("endpoint down: stats %+v", after)
	}
	// Three failed attempts opened it; later calls did not try at all.
	if tries := after.Attempts - before.Attempts; tries != 3 {
		t.Errorf("%d attempts against a dead endpoint, want 3 (the breaker threshold)", tries)
	}
}

func TestRetriesAgainstAFlakyEndpoint(t *testing.T) {
	demo, err := bundle.Demo()
	if err != nil {
		t.Fatal(err)
	}
	rows := demoRows(t)[:20*50]
	want := localScores(t, demo, rows)
	var body strings.Builder
	for _, r := range want {
		body.WriteString(strconv.FormatFloat(r.Probability, 'g', -1, 64) + "\n")
	}
	var calls atomic.Int32
	var badPath, unsigned atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/endpoints/flaky/invocations" || r.Header.Get("Content-Type") != "text/csv" {
			badPath.Store(true)
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			unsigned.Store(true)
		}
		_, _ = io.Copy(io.Discard, r.Body)
		switch n {
		case 1:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":{"code":"internal","message":"boom"}}`)
		case 2:
			w.Header().Set("X-Amzn-ErrorType", "ThrottlingException")
			w.WriteHeader(http.StatusBadRequest) // SageMaker throttles with 400 and this code
			_, _ = io.WriteString(w, `{"message":"slow down"}`)
		default:
			w.Header().Set("Content-Type", "text/csv")
			_, _ = io.WriteString(w, body.String())
		}
	}))
	defer srv.Close()
	s, err := sagemaker.New(context.Background(), sagemaker.Config{
		Endpoint: "flaky", Region: "eu-west-1", EndpointURL: srv.URL, Credentials: fakeCreds,
		MaxAttempts: 3, Backoff: time.Millisecond,
	}, demo.Info(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]leadscore.Result, len(want))
	if err := s.Score(context.Background(), append([]float32(nil), rows...), 0, got); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i].Probability != want[i].Probability {
			t.Fatalf("row %d: %v, want %v", i, got[i].Probability, want[i].Probability)
		}
	}
	if st := s.Stats(); st.Attempts != 3 || st.Retries != 2 || st.Failures != 0 || calls.Load() != 3 {
		t.Errorf("stats %+v after %d calls", st, calls.Load())
	}
	if badPath.Load() || unsigned.Load() {
		t.Errorf("the SDK did not call POST /endpoints/flaky/invocations signed (path ok: %v, signed: %v)", !badPath.Load(), !unsigned.Load())
	}
}
