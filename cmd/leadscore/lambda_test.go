package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/leadscore/leadscore/internal/testutil"
)

// ---- settings ----

func TestLambdaConfig(t *testing.T) {
	c, err := parseLambdaConfig(nil, mapEnv(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.model != "" || c.maxBatch != 1000 || c.maxExplainRows != 100 || c.maxBody != 6<<20 || c.accessLog || !c.emf ||
		c.namespace != "leadscore" || c.requireAPIKey || c.rateLimit != 0 {
		t.Errorf("defaults: %+v", c)
	}
	hash := strings.Repeat("ab", 32)
	env := mapEnv(map[string]string{
		"LEADSCORE_MODEL": "/var/task/model", "LEADSCORE_MAX_BATCH": "50", "LEADSCORE_EMF_NAMESPACE": "crm",
		"LEADSCORE_API_KEYS": "crm:" + hash, "LEADSCORE_LOG_LEVEL": "warn", "LEADSCORE_ACCESS_LOG": "true",
	})
	c, err = parseLambdaConfig([]string{"--max-batch", "7", "--emf=false"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.model != "/var/task/model" || c.maxBatch != 7 || c.namespace != "crm" || len(c.apiKeys) != 1 || c.logLevel.String() != "WARN" ||
		!c.accessLog || c.emf {
		t.Errorf("env and flags: %+v", c)
	}
	for _, tt := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"--max-batch", "0"}, nil},
		{[]string{"--max-body", "0"}, nil},
		{[]string{"--rate-limit", "-1"}, nil},
		{[]string{"--require-api-key"}, nil},
		{[]string{"--api-keys", "nohash"}, nil},
		{[]string{"--log-level", "loud"}, nil},
		{[]string{"--nope"}, nil},
		{[]string{"extra"}, nil},
		{nil, map[string]string{"LEADSCORE_MAX_BATCH": "many"}},
	} {
		if _, err := parseLambdaConfig(tt.args, mapEnv(tt.env), io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("%v %v: %v, want a usage error", tt.args, tt.env, err)
		}
	}
	var help bytes.Buffer
	if _, err := parseLambdaConfig([]string{"-h"}, mapEnv(nil), &help); !errors.Is(err, errHelp) ||
		!strings.Contains(help.String(), "Usage: leadscore lambda") || !strings.Contains(help.String(), "(env LEADSCORE_EMF_NAMESPACE; default leadscore)") {
		t.Errorf("help: %v\n%s", err, help.String())
	}
}

func TestLambdaByDefault(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "AWS_LAMBDA_RUNTIME_API" {
				return v
			}
			return ""
		}
	}
	for _, tt := range []struct {
		api  string
		args []string
		want bool
	}{
		{"127.0.0.1:9001", nil, true},
		{"127.0.0.1:9001", []string{"--model", "/var/task/m"}, true},
		{"127.0.0.1:9001", []string{"serve"}, false},
		{"127.0.0.1:9001", []string{"lambda"}, false}, // the lambda command itself
		{"", nil, false},
		{"", []string{"--model", "x"}, false},
	} {
		if got := lambdaByDefault(tt.args, env(tt.api)); got != tt.want {
			t.Errorf("api %q args %v: %v, want %v", tt.api, tt.args, got, tt.want)
		}
	}
}

func TestLambdaNeedsTheRuntime(t *testing.T) {
	t.Setenv("AWS_LAMBDA_RUNTIME_API", "")
	var stderr bytes.Buffer
	if code := run([]string{"lambda"}, nil, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "AWS_LAMBDA_RUNTIME_API") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	if code := run([]string{"lambda", "--bad"}, nil, io.Discard, io.Discard); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
}

func TestLambdaHandler(t *testing.T) {
	var stdout bytes.Buffer
	c, err := parseLambdaConfig(nil, mapEnv(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == "AWS_LAMBDA_FUNCTION_NAME" {
			return "lead-scorer"
		}
		return ""
	}
	h, err := newLambdaHandler(context.Background(), c, &stdout, env)
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Repeat("["+strings.TrimSuffix(strings.Repeat("1,", 50), ",")+"],", 3)
	ev, _ := json.Marshal(events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score",
		Headers: map[string]string{"Content-Type": "application/json"}, Body: "[" + strings.TrimSuffix(rows, ",") + "]"})
	out, err := h.Invoke(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != 200 {
		t.Fatalf("response %s: %v", out, err)
	}
	logs := stdout.String()
	if !strings.Contains(logs, `"msg":"lambda ready"`) || !strings.Contains(logs, `"FunctionName":"lead-scorer"`) ||
		!strings.Contains(logs, `"RowsScored":3`) {
		t.Errorf("stdout:\n%s", logs)
	}

	// Without EMF, stdout has only the ready line; a broken model fails.
	stdout.Reset()
	c.emf = false
	if h, err = newLambdaHandler(context.Background(), c, &stdout, env); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(context.Background(), ev); err != nil || strings.Contains(stdout.String(), "_aws") {
		t.Errorf("EMF off: %v\n%s", err, stdout.String())
	}
	c.model = filepath.Join(t.TempDir(), "missing.json")
	if _, err := newLambdaHandler(context.Background(), c, io.Discard, env); err == nil {
		t.Error("a missing model loaded")
	}
	c.model = filepath.Join("..", "..", "testdata", "lead-demo", "model.json")
	if _, err := newLambdaHandler(context.Background(), c, io.Discard, env); err != nil {
		t.Errorf("model file: %v", err)
	}
}

func TestLambdaSageMakerBackend(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLEADSCORETEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/endpoints/lead-scorer/invocations" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/csv")
		_, _ = io.WriteString(w, strings.Repeat("0.25\n", bytes.Count(body, []byte{'\n'})))
	}))
	defer srv.Close()
	env := mapEnv(map[string]string{"LEADSCORE_BACKEND": "sagemaker", "LEADSCORE_SAGEMAKER_ENDPOINT": "lead-scorer",
		"LEADSCORE_REGION": "us-east-1", "LEADSCORE_ENDPOINT_URL": srv.URL})
	c, err := parseLambdaConfig(nil, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	h, err := newLambdaHandler(context.Background(), c, &stdout, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	row := "[" + strings.TrimSuffix(strings.Repeat("1,", 50), ",") + "]"
	ev, _ := json.Marshal(events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score",
		QueryStringParameters: map[string]string{"explain": "2"},
		Headers:               map[string]string{"Content-Type": "application/json"}, Body: "[" + row + "," + row + "]"})
	out, err := h.Invoke(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayProxyResponse
	var body struct {
		Results []struct {
			Probability float64           `json:"probability"`
			Reasons     []json.RawMessage `json:"reasons"`
		} `json:"results"`
	}
	if json.Unmarshal(out, &resp) != nil || resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &body) != nil || len(body.Results) != 2 {
		t.Fatalf("response %s", out)
	}
	for i, r := range body.Results {
		if r.Probability != 0.25 || len(r.Reasons) == 0 {
			t.Errorf("row %d: %+v, want the endpoint's 0.25 with the local model's reasons", i, r)
		}
	}
	if calls.Load() != 2 { // the load check's all-missing row, then the batch
		t.Errorf("%d endpoint calls, want 2", calls.Load())
	}
	if !strings.Contains(stdout.String(), `"backend":"sagemaker"`) {
		t.Errorf("stdout:\n%s", stdout.String())
	}

	for _, args := range [][]string{
		{"--backend", "remote"},
		{"--backend", "sagemaker"},
		{"--backend", "sagemaker", "--sagemaker-endpoint", "e", "--sagemaker-attempts", "0"},
		{"--sagemaker-timeout", "0s"},
	} {
		if _, err := parseLambdaConfig(args, mapEnv(nil), io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	// A missing local model fails the sagemaker backend too: it holds the
	// features and tiers.
	c.model = filepath.Join(t.TempDir(), "missing")
	if _, err := newLambdaHandler(context.Background(), c, io.Discard, func(string) string { return "" }); err == nil {
		t.Error("loaded without a local model")
	}
}

// ---- end to end under the Lambda Runtime Interface Emulator ----

// rieInstall is the command that installs the emulator (CI runs it).
const rieInstall = "go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

var (
	bootstrapOnce sync.Once
	bootstrapDir  string
	bootstrapErr  error
)

// lambdaBootstrap builds the binary as `make lambda` does, for this
// machine's architecture.
func lambdaBootstrap(t *testing.T) string {
	t.Helper()
	bootstrapOnce.Do(func() {
		bootstrapDir, bootstrapErr = os.MkdirTemp("", "leadscore-lambda-test")
		if bootstrapErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", filepath.Join(bootstrapDir, "bootstrap"), ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			bootstrapErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if bootstrapErr != nil {
		t.Fatal(bootstrapErr)
	}
	return bootstrapDir
}

// rieBinary finds aws-lambda-rie, skipping the test when it is missing
// unless LEADSCORE_RIE=1 requires it.
func rieBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the bootstrap and runs it under aws-lambda-rie")
	}
	p, err := exec.LookPath("aws-lambda-rie")
	if err != nil {
		if os.Getenv("LEADSCORE_RIE") == "1" {
			t.Fatalf("LEADSCORE_RIE=1 but aws-lambda-rie is not on PATH; install it with: %s", rieInstall)
		}
		t.Skipf("aws-lambda-rie is not on PATH (install: %s; set LEADSCORE_RIE=1 to make this a failure)", rieInstall)
	}
	return p
}

// rieFreePort returns a port on 127.0.0.1 that was free a moment ago.
func rieFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// rie is one running emulator with the bootstrap.
type rie struct {
	url  string
	cmd  *exec.Cmd
	out  testutil.Buffer // the emulator's and the function's output
	done chan struct{}
}

func (r *rie) Write(p []byte) (int, error) { return r.out.Write(p) }

func (r *rie) output() string {
	return r.out.String()
}

func (r *rie) stop() {
	select {
	case <-r.done:
	default:
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

// startRIE runs aws-lambda-rie on 127.0.0.1 with the bootstrap and waits
// until it accepts connections. The emulator starts the bootstrap on the
// first invocation.
func startRIE(t *testing.T, bin, dir string) *rie {
	t.Helper()
	api, emu := rieFreePort(t), rieFreePort(t)
	r := &rie{url: "http://127.0.0.1:" + strconv.Itoa(emu) + "/2015-03-31/functions/function/invocations", done: make(chan struct{})}
	r.cmd = exec.Command(bin, "--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(emu),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(api), "./bootstrap")
	r.cmd.Dir = dir
	r.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "AWS_LAMBDA_FUNCTION_NAME=lead-scorer"}
	r.cmd.Stdout, r.cmd.Stderr = r, r
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("emulator output:\n%s", r.output())
		}
	})
	testutil.EventuallyState(t, 30*time.Second, "aws-lambda-rie to listen", func() (bool, string) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(emu), time.Second)
		if err == nil {
			_ = c.Close()
			return true, ""
		}
		select {
		case <-r.done:
			t.Fatalf("aws-lambda-rie exited:\n%s", r.output())
		default:
		}
		return false, r.output()
	})
	return r
}

// invoke posts one event and returns the function's response payload.
func (r *rie) invoke(t *testing.T, event any) []byte {
	t.Helper()
	b, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(r.url, "application/json", bytes.NewReader(b)) //nolint:gosec,noctx // G107: the emulator on 127.0.0.1
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("invoke: %d %s %v", resp.StatusCode, out, err)
	}
	return out
}

// demoCase is reference rows of the demo model and XGBoost's
// probabilities for them.
type demoCase struct {
	rows [][]*float64
	want []float64
}

func loadDemoCase(t *testing.T, n int) demoCase {
	t.Helper()
	var in struct {
		Rows [][]*float64 `json:"rows"`
	}
	var exp struct {
		Prediction []float64 `json:"prediction"`
	}
	for name, v := range map[string]any{"inputs.json": &in, "expected.json": &exp} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "lead-demo", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
	return demoCase{rows: in.Rows[:n], want: exp.Prediction[:n]}
}

func (d demoCase) csv() string {
	var b strings.Builder
	for _, r := range d.rows {
		for j, v := range r {
			if j > 0 {
				b.WriteByte(',')
			}
			if v != nil {
				b.WriteString(strconv.FormatFloat(*v, 'g', -1, 64))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func checkDemoProbabilities(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d probabilities, want %d", what, len(got), len(want))
	}
	for i := range got {
		if float32(got[i]) != float32(want[i]) && math.Abs(got[i]-want[i]) > 1e-7 {
			t.Errorf("%s row %d: %v, XGBoost %v", what, i, got[i], want[i])
		}
	}
}

func TestLambdaUnderRIE(t *testing.T) {
	bin := rieBinary(t)
	dir := lambdaBootstrap(t)
	d := loadDemoCase(t, 20)
	rowsJSON, err := json.Marshal(d.rows)
	if err != nil {
		t.Fatal(err)
	}
	r := startRIE(t, bin, dir)

	// REST API (payload 1.0): POST /score.
	var v1 events.APIGatewayProxyResponse
	out := r.invoke(t, events.APIGatewayProxyRequest{
		HTTPMethod: "POST", Path: "/score", Resource: "/{proxy+}", PathParameters: map[string]string{"proxy": "score"},
		Headers:        map[string]string{"Content-Type": "application/json"},
		Body:           string(rowsJSON),
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "rest-1", Stage: "prod"},
	})
	if err := json.Unmarshal(out, &v1); err != nil || v1.StatusCode != 200 {
		t.Fatalf("v1 /score: %s (%v)", out, err)
	}
	var score struct {
		RequestID string `json:"request_id"`
		Results   []struct {
			Probability float64 `json:"probability"`
			Score       int     `json:"score"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(v1.Body), &score); err != nil || score.RequestID != "rest-1" {
		t.Fatalf("v1 body %s: %v", v1.Body, err)
	}
	probs := make([]float64, len(score.Results))
	for i, res := range score.Results {
		probs[i] = res.Probability
	}
	checkDemoProbabilities(t, "v1 /score", probs, d.want)

	// HTTP API (payload 2.0): POST /prod/invocations, CSV, base64 body.
	var v2 events.APIGatewayV2HTTPResponse
	out = r.invoke(t, events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: "/prod/invocations",
		Headers:         map[string]string{"content-type": "text/csv"},
		Body:            base64.StdEncoding.EncodeToString([]byte(d.csv())),
		IsBase64Encoded: true,
		RequestContext: events.APIGatewayV2HTTPRequestContext{Stage: "prod", RequestID: "JKJaXmPLvHcESHA=",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/prod/invocations", SourceIP: "203.0.113.1"}},
	})
	if err := json.Unmarshal(out, &v2); err != nil || v2.StatusCode != 200 || v2.Headers["Content-Type"] != "text/csv" {
		t.Fatalf("v2 /invocations: %s (%v)", out, err)
	}
	probs = probs[:0]
	for _, f := range strings.Split(v2.Body, ",") { // SageMaker's real-time CSV: comma-joined
		p, err := strconv.ParseFloat(f, 64)
		if err != nil {
			t.Fatal(err)
		}
		probs = append(probs, p)
	}
	checkDemoProbabilities(t, "v2 /invocations", probs, d.want)

	// Errors keep the service's JSON shape and status.
	type apiErr struct {
		Error struct {
			Code string `json:"code"`
			Row  *int   `json:"row"`
		} `json:"error"`
	}
	out = r.invoke(t, events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score",
		Headers: map[string]string{"Content-Type": "application/json"}, Body: `[[1, 2, 3]]`})
	var e1 events.APIGatewayProxyResponse
	var body apiErr
	if json.Unmarshal(out, &e1) != nil || e1.StatusCode != 422 || json.Unmarshal([]byte(e1.Body), &body) != nil ||
		body.Error.Code != "wrong_feature_count" || body.Error.Row == nil || *body.Error.Row != 0 {
		t.Errorf("bad row (v1): %s", out)
	}
	out = r.invoke(t, events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/score",
		Headers: map[string]string{"content-type": "application/json"}, Body: `{"leads": [`,
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}}})
	var e2 events.APIGatewayV2HTTPResponse
	body = apiErr{}
	if json.Unmarshal(out, &e2) != nil || e2.StatusCode != 400 || json.Unmarshal([]byte(e2.Body), &body) != nil || body.Error.Code != "bad_json" {
		t.Errorf("bad JSON (v2): %s", out)
	}

	// One EMF line per invocation reached stdout.
	var emf []map[string]any
	testutil.EventuallyState(t, 5*time.Second, "4 EMF lines", func() (bool, string) {
		emf = emfLines(r.output())
		return len(emf) >= 4, r.output()
	})
	if len(emf) != 4 {
		t.Fatalf("%d EMF lines, want 4", len(emf))
	}
	if emf[0]["RowsScored"] != 20.0 || emf[0]["Route"] != "/score" || emf[0]["FunctionName"] != "lead-scorer" ||
		emf[1]["Route"] != "/invocations" || emf[2]["Status"] != "422" || emf[2]["Errors"] != 1.0 || emf[3]["Status"] != "400" {
		t.Errorf("EMF lines: %v", emf)
	}
}

// emfLines picks the EMF records out of the emulator's output.
func emfLines(out string) []map[string]any {
	var recs []map[string]any
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, `"_aws"`) {
			continue
		}
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			recs = append(recs, rec)
		}
	}
	return recs
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// TestLambdaColdStart measures, under the emulator, the time from the first
// invocation (which makes the emulator start the bootstrap process) to its
// scored response, over LEADSCORE_COLD_RUNS fresh emulators (default 5),
// and logs the median with the emulator's own INIT duration. docs/aws.md
// reports the figure; run it with
//
//	go test ./cmd/leadscore -run TestLambdaColdStart -v
func TestLambdaColdStart(t *testing.T) {
	bin := rieBinary(t)
	dir := lambdaBootstrap(t)
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("LEADSCORE_COLD_RUNS")); err == nil && v > 0 && v <= 50 {
		runs = v
	}
	d := loadDemoCase(t, 1)
	rowJSON, err := json.Marshal(d.rows)
	if err != nil {
		t.Fatal(err)
	}
	event := events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score",
		Headers: map[string]string{"Content-Type": "application/json"}, Body: string(rowJSON)}
	var total, inits []float64
	for i := range runs {
		r := startRIE(t, bin, dir)
		start := time.Now()
		out := r.invoke(t, event)
		ms := float64(time.Since(start).Microseconds()) / 1000
		var resp events.APIGatewayProxyResponse
		if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != 200 {
			t.Fatalf("run %d: %s", i, out)
		}
		total = append(total, ms)
		if m := initReport.FindStringSubmatch(r.output()); m != nil {
			if v, err := strconv.ParseFloat(m[1], 64); err == nil {
				inits = append(inits, v)
			}
		}
		r.stop()
	}
	t.Logf("cold start, first invocation to scored response: median %.1f ms over %d runs %v", median(total), runs, total)
	if len(inits) > 0 {
		t.Logf("emulator INIT duration (process start to ready for events): median %.1f ms %v", median(inits), inits)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// TestLambdaVariants: weighted variants through API Gateway events, the
// override header, and the variant named in the response.
func TestLambdaVariants(t *testing.T) {
	demo := filepath.Join("..", "..", "bundle", "demo")
	weak := filepath.Join("..", "..", "testdata", "variants", "challenger")
	c, err := parseLambdaConfig([]string{"--emf=false", "--variant", "champion=" + demo + ":weight=9", "--variant", "challenger=" + weak}, mapEnv(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	h, err := newLambdaHandler(context.Background(), c, io.Discard, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	row := "[" + strings.TrimSuffix(strings.Repeat("1,", 50), ",") + "]"
	invoke := func(body string, headers map[string]string) events.APIGatewayProxyResponse {
		headers["Content-Type"] = "application/json"
		ev, _ := json.Marshal(events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/score", Headers: headers, Body: body})
		out, err := h.Invoke(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		var resp events.APIGatewayProxyResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := invoke("["+row+"]", map[string]string{"X-Amzn-SageMaker-Target-Variant": "challenger"})
	if resp.StatusCode != 200 || resp.Headers["X-Amzn-Invoked-Production-Variant"] != "challenger" || !strings.Contains(resp.Body, `"version":"0.1.0-weak","variant":"challenger"`) {
		t.Fatalf("override: %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
	}
	if resp := invoke("["+row+"]", map[string]string{"X-Amzn-SageMaker-Target-Variant": "ghost"}); resp.StatusCode != 400 || !strings.Contains(resp.Body, "ghost") {
		t.Fatalf("unknown variant: %d %s", resp.StatusCode, resp.Body)
	}
	counts := map[string]int{}
	for i := range 400 {
		body := fmt.Sprintf(`{"leads":[{"id":"l-%d","features":{"company_size_log":3}}]}`, i)
		v := invoke(body, map[string]string{}).Headers["X-Amzn-Invoked-Production-Variant"]
		if again := invoke(body, map[string]string{}).Headers["X-Amzn-Invoked-Production-Variant"]; again != v {
			t.Fatalf("lead l-%d moved from %s to %s", i, v, again)
		}
		counts[v]++
	}
	if counts["challenger"] < 20 || counts["challenger"] > 65 {
		t.Errorf("split %v, want about 40 challenger of 400", counts)
	}
	if _, err := parseLambdaConfig([]string{"--variant", "a=" + demo, "--variant", "b=" + weak + ":shadow"}, mapEnv(nil), io.Discard); err == nil {
		t.Error("a shadow variant in lambda: no error")
	}
}
