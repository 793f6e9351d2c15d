package sagemaker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/leadscore/leadscore"
)

// local is a tiny deterministic model: the probability is the first
// feature clamped to [0, 1] (NaN: 0.5), and each present feature is a
// reason worth its value.
type local struct {
	nf    int
	tiers leadscore.Tiers
	err   error
	calls int
	mu    sync.Mutex
}

func (l *local) Info() leadscore.ModelInfo {
	feats := make([]leadscore.Feature, l.nf)
	for i := range feats {
		feats[i] = leadscore.Feature{Name: "f" + strconv.Itoa(i), Min: 0, Max: 1}
	}
	return leadscore.ModelInfo{Name: "local", Version: "1", Features: feats, Tiers: l.tiers}
}

func (l *local) prob(row []float32) float64 {
	p := float64(row[0])
	if math.IsNaN(p) {
		return 0.5
	}
	return math.Min(math.Max(p, 0), 1)
}

func (l *local) Score(_ context.Context, rows []float32, explain int, out []leadscore.Result) error {
	l.mu.Lock()
	l.calls++
	l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	for i := range len(rows) / l.nf {
		row := rows[i*l.nf : (i+1)*l.nf]
		p := l.prob(row)
		out[i] = leadscore.Result{Score: l.tiers.Tier(p), Probability: p, Margin: logit(p)}
		if explain > 0 {
			contribs := make([]float32, l.nf)
			copy(contribs, row)
			names := make([]string, l.nf)
			for j := range names {
				names[j] = "f" + strconv.Itoa(j)
			}
			out[i].Reasons = leadscore.Reasons(contribs, names, row, explain, nil)
		}
	}
	return nil
}

func newLocal(nf int) *local { return &local{nf: nf, tiers: leadscore.Tiers{0.2, 0.4, 0.6, 0.8}} }

// fakeEndpoint answers InvokeEndpoint with the local model's probabilities
// as text/csv, or with the scripted errors first.
type fakeEndpoint struct {
	model  *local
	mu     sync.Mutex
	script []error // one per call while it lasts; nil means answer
	bodies [][]byte
	inputs []*sagemakerruntime.InvokeEndpointInput
	block  bool   // wait for the context instead of answering
	answer []byte // when set, the body of every answer
}

func (f *fakeEndpoint) InvokeEndpoint(ctx context.Context, in *sagemakerruntime.InvokeEndpointInput,
	_ ...func(*sagemakerruntime.Options)) (*sagemakerruntime.InvokeEndpointOutput, error) {
	f.mu.Lock()
	f.inputs = append(f.inputs, in)
	f.bodies = append(f.bodies, append([]byte(nil), in.Body...))
	var err error
	if len(f.script) > 0 {
		err, f.script = f.script[0], f.script[1:]
	}
	block, answer := f.block, f.answer
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, &smithy.OperationError{ServiceID: "SageMaker Runtime", OperationName: "InvokeEndpoint", Err: ctx.Err()}
	}
	if err != nil {
		return nil, err
	}
	if answer != nil {
		return &sagemakerruntime.InvokeEndpointOutput{Body: answer}, nil
	}
	var b []byte
	for line := range strings.SplitSeq(strings.TrimSpace(string(in.Body)), "\n") {
		first := strings.SplitN(line, ",", 2)[0]
		v := float32(math.NaN())
		if first != "" {
			f, perr := strconv.ParseFloat(first, 32)
			if perr != nil {
				return nil, perr
			}
			v = float32(f)
		}
		b = strconv.AppendFloat(b, f.model.prob([]float32{v}), 'g', -1, 64)
		b = append(b, '\n')
	}
	return &sagemakerruntime.InvokeEndpointOutput{Body: b, ContentType: aws.String("text/csv")}, nil
}

func (f *fakeEndpoint) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.inputs)
}

// httpErr is an SDK error carrying an HTTP status, as the client returns
// for a non-2xx answer.
func httpErr(status int) error {
	return &smithy.OperationError{ServiceID: "SageMaker Runtime", OperationName: "InvokeEndpoint",
		Err: &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: "UnknownError", Message: http.StatusText(status)},
		}}}
}

// sendErr is a connection refused error nested as the SDK returns it: a
// ResponseError with status 0 around the RequestSendError.
func sendErr() error {
	return &smithy.OperationError{ServiceID: "SageMaker Runtime", OperationName: "InvokeEndpoint",
		Err: &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{}},
			Err: &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Net: "tcp",
				Err: errors.New("connect: connection refused")}},
		}}}
}

// newTestScorer builds a Scorer on a fake endpoint with recorded,
// instant sleeps.
func newTestScorer(t *testing.T, cfg Config, fallback leadscore.Scorer) (*Scorer, *fakeEndpoint, *[]time.Duration) {
	t.Helper()
	model := newLocal(3)
	ep := &fakeEndpoint{model: model}
	cfg.Endpoint = "lead-scorer"
	cfg.Client = ep
	s, err := New(context.Background(), cfg, model.Info(), fallback)
	if err != nil {
		t.Fatal(err)
	}
	var sleeps []time.Duration
	s.sleep = func(ctx context.Context, d time.Duration) error {
		sleeps = append(sleeps, d)
		return ctx.Err()
	}
	return s, ep, &sleeps
}

var nan = float32(math.NaN())

func TestScoreRemote(t *testing.T) {
	s, ep, _ := newTestScorer(t, Config{}, nil)
	rows := []float32{0.1, 1, 2, nan, 3, 4, 0.9, nan, 1e-7, 0.55, -0, 123456.78}
	out := make([]leadscore.Result, 4)
	if err := s.Score(context.Background(), rows, 0, out); err != nil {
		t.Fatal(err)
	}
	wantProb := []float64{float64(float32(0.1)), 0.5, float64(float32(0.9)), float64(float32(0.55))}
	for i, r := range out {
		if r.Probability != wantProb[i] || r.Score != s.Info().Tiers.Tier(wantProb[i]) || math.Abs(r.Margin-logit(wantProb[i])) > 1e-12 || r.Reasons != nil {
			t.Errorf("row %d: %+v, want probability %v", i, r, wantProb[i])
		}
	}
	in := ep.inputs[0]
	if aws.ToString(in.EndpointName) != "lead-scorer" || aws.ToString(in.ContentType) != "text/csv" || aws.ToString(in.Accept) != "text/csv" {
		t.Errorf("input %+v", in)
	}
	if got, want := string(ep.bodies[0]), "0.1,1,2\n,3,4\n0.9,,1e-07\n0.55,0,123456.78\n"; got != want {
		t.Errorf("payload %q, want %q", got, want)
	}
	if st := s.Stats(); st.Calls != 1 || st.Attempts != 1 || st.Retries != 0 || st.Failures != 0 || st.State != StateClosed {
		t.Errorf("stats %+v", st)
	}
	// Nothing to score: no call.
	if err := s.Score(context.Background(), nil, 0, nil); err != nil || ep.calls() != 1 {
		t.Errorf("empty batch: %v, %d calls", err, ep.calls())
	}
	// Shape errors.
	if err := s.Score(context.Background(), rows[:4], 0, out); err == nil {
		t.Error("partial row accepted")
	}
	if err := s.Score(context.Background(), rows, 0, out[:1]); err == nil {
		t.Error("short out accepted")
	}
}

func TestExplain(t *testing.T) {
	rows := []float32{0.3, 0.2, -0.1, 0.7, 0.1, 0.4}
	// Without a local model, reasons are omitted and scores still come.
	s, _, _ := newTestScorer(t, Config{}, nil)
	out := make([]leadscore.Result, 2)
	if err := s.Score(context.Background(), rows, 2, out); err != nil || out[0].Reasons != nil || out[1].Probability != float64(float32(0.7)) {
		t.Errorf("explain without a local model: %v %+v", err, out)
	}
	// With one, the endpoint scores and the local model explains.
	fb := newLocal(3)
	s, ep, _ := newTestScorer(t, Config{}, fb)
	if err := s.Score(context.Background(), rows, 2, out); err != nil {
		t.Fatal(err)
	}
	if ep.calls() != 1 || fb.calls != 1 || len(out[0].Reasons) != 3 || out[0].Reasons[0].Feature != "f0" || len(out[1].Reasons) != 2 {
		t.Errorf("explain: %d calls, %d local, %+v", ep.calls(), fb.calls, out)
	}
	// A local model failing to explain leaves the remote scores.
	fb.err = errors.New("broken")
	out = make([]leadscore.Result, 2)
	if err := s.Score(context.Background(), rows, 2, out); err != nil || out[0].Reasons != nil || out[0].Probability == 0 {
		t.Errorf("failed explain: %v %+v", err, out)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		script   []error
		attempts int
		ok       bool
	}{
		{"5xx then ok", []error{httpErr(500), httpErr(503)}, 3, true},
		{"throttled then ok", []error{httpErr(429)}, 2, true},
		{"throttling code", []error{&smithy.GenericAPIError{Code: "ThrottlingException"}}, 2, true},
		{"model not ready", []error{&types.ModelNotReadyException{}}, 2, true},
		{"model 5xx", []error{&types.ModelError{OriginalStatusCode: aws.Int32(502)}}, 2, true},
		{"network", []error{&smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Err: errors.New("refused")}}}, 2, true},
		{"timeout", []error{context.DeadlineExceeded}, 2, true},
		{"refused, as the SDK wraps it", []error{sendErr()}, 2, true},
		{"too many failures", []error{httpErr(500), httpErr(500), httpErr(500)}, 3, false},
		{"bad request", []error{httpErr(400)}, 1, false},
		{"validation", []error{&types.ValidationError{Message: aws.String("bad")}}, 1, false},
		{"model 4xx", []error{&types.ModelError{OriginalStatusCode: aws.Int32(422)}}, 1, false},
		{"not implemented", []error{httpErr(501)}, 1, false},
		{"other", []error{errors.New("serialization")}, 1, false},
	}
	for _, tt := range tests {
		s, ep, sleeps := newTestScorer(t, Config{MaxAttempts: 3, Backoff: 10 * time.Millisecond, MaxBackoff: 15 * time.Millisecond}, nil)
		ep.script = tt.script
		out := make([]leadscore.Result, 1)
		err := s.Score(context.Background(), []float32{0.5, 0, 0}, 0, out)
		if (err == nil) != tt.ok || ep.calls() != tt.attempts {
			t.Errorf("%s: err %v after %d attempts, want ok=%v after %d", tt.name, err, ep.calls(), tt.ok, tt.attempts)
			continue
		}
		if len(*sleeps) != tt.attempts-1 {
			t.Errorf("%s: %d sleeps for %d attempts", tt.name, len(*sleeps), tt.attempts)
		}
		for i, d := range *sleeps {
			base := min(10*time.Millisecond<<i, 15*time.Millisecond)
			if d < base/2 || d > base {
				t.Errorf("%s: sleep %d is %v, want within [%v, %v]", tt.name, i, d, base/2, base)
			}
		}
		st := s.Stats()
		if st.Attempts != uint64(tt.attempts) || st.Retries != uint64(tt.attempts-1) || (st.Failures == 1) == tt.ok {
			t.Errorf("%s: stats %+v", tt.name, st)
		}
		if err != nil && !strings.Contains(err.Error(), "endpoint lead-scorer") {
			t.Errorf("%s: error without context: %v", tt.name, err)
		}
	}
}

func TestAttemptTimeout(t *testing.T) {
	s, ep, _ := newTestScorer(t, Config{Timeout: 20 * time.Millisecond, MaxAttempts: 2}, nil)
	ep.block = true
	start := time.Now()
	err := s.Score(context.Background(), []float32{0.5, 0, 0}, 0, make([]leadscore.Result, 1))
	if err == nil || ep.calls() != 2 || time.Since(start) > 5*time.Second {
		t.Errorf("timeouts: %v after %d attempts", err, ep.calls())
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap the deadline", err)
	}
}

func TestCallerCancels(t *testing.T) {
	fb := newLocal(3)
	s, ep, _ := newTestScorer(t, Config{Breaker: BreakerConfig{FailureThreshold: 1}}, fb)
	ep.block = true
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := s.Score(ctx, []float32{0.5, 0, 0}, 0, make([]leadscore.Result, 1))
	if err == nil || fb.calls != 0 || ep.calls() != 1 || s.State() != StateClosed {
		t.Errorf("canceled call: %v, %d fallback calls, %d attempts, breaker %v", err, fb.calls, ep.calls(), s.State())
	}
	// A deadline too close for the next backoff ends the retries early.
	ep.block = false
	ep.script = []error{httpErr(500), httpErr(500)}
	s.fallback = nil
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	s.jitter = func(time.Duration) time.Duration { return time.Hour }
	if err := s.Score(ctx, []float32{0.5, 0, 0}, 0, make([]leadscore.Result, 1)); err == nil || ep.calls() != 2 {
		t.Errorf("retry past the deadline: %v, %d attempts", err, ep.calls())
	}
	// A sleep cut short by the caller returns at once.
	s, ep, _ = newTestScorer(t, Config{}, nil)
	ep.script = []error{httpErr(500)}
	s.sleep = func(context.Context, time.Duration) error { return context.Canceled }
	if err := s.Score(context.Background(), []float32{0.5, 0, 0}, 0, make([]leadscore.Result, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled sleep: %v", err)
	}
}

func TestBreakerAndFallback(t *testing.T) {
	fb := newLocal(3)
	var logs bytes.Buffer
	// The breaker reads the real clock: OpenFor is short, and waited out.
	const openFor = 300 * time.Millisecond
	s, ep, _ := newTestScorer(t, Config{
		MaxAttempts: 2,
		Breaker:     BreakerConfig{FailureThreshold: 3, OpenFor: openFor},
		Logger:      newTextLogger(&logs),
	}, fb)
	fail := func(n int) {
		for range n {
			ep.script = append(ep.script, httpErr(503))
		}
	}
	row := []float32{0.9, 0, 0}
	out := make([]leadscore.Result, 1)

	fail(2) // one call, two failed attempts: still closed; the fallback answers
	if err := s.Score(context.Background(), row, 0, out); err != nil || fb.calls != 1 || s.State() != StateClosed {
		t.Fatalf("first failure: %v, %d fallbacks, %v", err, fb.calls, s.State())
	}
	if out[0].Probability != float64(float32(0.9)) {
		t.Errorf("fallback result %+v", out[0])
	}
	fail(2) // the third consecutive failure opens it; the retry is refused
	if err := s.Score(context.Background(), row, 0, out); err != nil || s.State() != StateOpen || ep.calls() != 3 {
		t.Fatalf("opening: %v, %v, %d attempts", err, s.State(), ep.calls())
	}
	ep.script = nil
	// Open: fail fast to the fallback, no call.
	for range 5 {
		if err := s.Score(context.Background(), row, 0, out); err != nil {
			t.Fatal(err)
		}
	}
	if ep.calls() != 3 || fb.calls != 7 {
		t.Errorf("open breaker called the endpoint: %d attempts, %d fallbacks", ep.calls(), fb.calls)
	}
	st := s.Stats()
	if st.Rejected != 6 || st.Fallbacks != 7 || st.State != StateOpen {
		t.Errorf("stats %+v", st)
	}
	// After OpenFor one probe goes through; its failure opens it again.
	time.Sleep(openFor + 20*time.Millisecond)
	fail(1)
	if err := s.Score(context.Background(), row, 0, out); err != nil || ep.calls() != 4 || s.State() != StateOpen {
		t.Errorf("failed probe: %v, %d attempts, %v", err, ep.calls(), s.State())
	}
	// A successful probe closes it.
	time.Sleep(openFor + 20*time.Millisecond)
	fbBefore := fb.calls
	if err := s.Score(context.Background(), row, 0, out); err != nil || ep.calls() != 5 || s.State() != StateClosed || fb.calls != fbBefore {
		t.Errorf("successful probe: %v, %d attempts, %v", err, ep.calls(), s.State())
	}
	for _, want := range []string{"from=closed to=open", "from=open to=half-open", "from=half-open to=open", "from=half-open to=closed"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}

	// Without a fallback an open breaker is an error wrapping ErrOpen.
	s2, ep2, _ := newTestScorer(t, Config{MaxAttempts: 1, Breaker: BreakerConfig{FailureThreshold: 1}}, nil)
	ep2.script = []error{httpErr(500)}
	if err := s2.Score(context.Background(), row, 0, out); err == nil || errors.Is(err, ErrOpen) {
		t.Errorf("first failure: %v", err)
	}
	if err := s2.Score(context.Background(), row, 0, out); !errors.Is(err, ErrOpen) || ep2.calls() != 1 {
		t.Errorf("open without fallback: %v, %d attempts", err, ep2.calls())
	}
	// A failing fallback reports both errors.
	fb.err = errors.New("local broken")
	openBreaker(s.breaker)
	if err := s.Score(context.Background(), row, 0, out); err == nil || !strings.Contains(err.Error(), "local broken") || !errors.Is(err, ErrOpen) {
		t.Errorf("both failing: %v", err)
	}
}

func TestBadResponsesCountAsFailures(t *testing.T) {
	s, ep, _ := newTestScorer(t, Config{Breaker: BreakerConfig{FailureThreshold: 2}}, nil)
	ep.answer = []byte("0.1\n0.2\n") // two values for one row
	for range 2 {
		if err := s.Score(context.Background(), []float32{0.5, 0, 0}, 0, make([]leadscore.Result, 1)); err == nil {
			t.Error("bad response accepted")
		}
	}
	if ep.calls() != 2 || s.State() != StateOpen {
		t.Errorf("unreadable answers are not retried but open the breaker: %d attempts, %v", ep.calls(), s.State())
	}
}

// openBreaker opens b with as many failed attempts as it takes.
func openBreaker(b *breaker) {
	for b.current() != StateOpen {
		if done, ok := b.allow(); ok {
			done(errUnhealthy)
		}
	}
}

func TestBreakerHalfOpenProbes(t *testing.T) {
	var mu sync.Mutex
	var changes []string
	const openFor = 50 * time.Millisecond
	b := newBreaker(BreakerConfig{FailureThreshold: 2, OpenFor: openFor, HalfOpenProbes: 2},
		func(from, to State) { mu.Lock(); changes = append(changes, from.String()+">"+to.String()); mu.Unlock() })
	attempt := func(outcome error) {
		t.Helper()
		done, ok := b.allow()
		if !ok {
			t.Fatal("attempt refused")
		}
		done(outcome)
	}
	attempt(errUnhealthy)
	attempt(nil) // resets the count
	attempt(errUnhealthy)
	if b.current() != StateClosed {
		t.Fatal("opened before the threshold")
	}
	attempt(errUnhealthy)
	if _, ok := b.allow(); b.current() != StateOpen || ok {
		t.Fatal("not open")
	}
	time.Sleep(openFor + 10*time.Millisecond)
	var probes []func(error)
	for range 3 {
		if done, ok := b.allow(); ok {
			probes = append(probes, done)
		}
	}
	if len(probes) != 2 {
		t.Fatalf("half-open admitted %d probes, want 2", len(probes))
	}
	probes[0](errAbandoned) // a canceled probe frees its slot
	done, ok := b.allow()
	if !ok {
		t.Fatal("abandoned probe slot not freed")
	}
	probes[1](nil)
	if b.current() != StateHalfOpen {
		t.Fatal("closed after one of two successes")
	}
	done(nil)
	if b.current() != StateClosed {
		t.Fatal("not closed after two successes")
	}
	attempt(errAbandoned) // closed: nothing counted
	mu.Lock()
	defer mu.Unlock()
	want := "closed>open open>half-open half-open>closed"
	if got := strings.Join(changes, " "); got != want {
		t.Errorf("changes %q, want %q", got, want)
	}
	if State(9).String() != "unknown" {
		t.Error("unknown state name")
	}
}

func TestNewErrors(t *testing.T) {
	m := newLocal(3)
	info := m.Info()
	badTiers := info
	badTiers.Tiers = leadscore.Tiers{0.5, 0.4, 0.6, 0.8}
	tests := []struct {
		name     string
		cfg      Config
		info     leadscore.ModelInfo
		fallback leadscore.Scorer
	}{
		{"no endpoint", Config{Client: &fakeEndpoint{}}, info, nil},
		{"no features", Config{Endpoint: "e", Client: &fakeEndpoint{}}, leadscore.ModelInfo{Tiers: info.Tiers}, nil},
		{"bad tiers", Config{Endpoint: "e", Client: &fakeEndpoint{}}, badTiers, nil},
		{"fallback shape", Config{Endpoint: "e", Client: &fakeEndpoint{}}, info, newLocal(4)},
		{"negative timeout", Config{Endpoint: "e", Client: &fakeEndpoint{}, Timeout: -1}, info, nil},
	}
	for _, tt := range tests {
		if _, err := New(context.Background(), tt.cfg, tt.info, tt.fallback); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
	s, err := New(context.Background(), Config{Endpoint: "e", Client: &fakeEndpoint{}}, info, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.timeout != DefaultTimeout || s.attempts != DefaultMaxAttempts || s.backoff != DefaultBackoff || s.maxBackoff != DefaultMaxBackoff ||
		s.breaker.cfg.FailureThreshold != DefaultFailureThreshold || s.breaker.cfg.OpenFor != DefaultOpenFor || s.breaker.cfg.HalfOpenProbes != DefaultHalfOpenProbes {
		t.Errorf("defaults: %+v %+v", s, s.breaker.cfg)
	}
	if s.Info().Name != "local" {
		t.Errorf("info %+v", s.Info())
	}
}

func TestNewClientNeedsARegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
	t.Setenv("AWS_PROFILE", "")
	m := newLocal(3)
	_, err := New(context.Background(), Config{Endpoint: "e"}, m.Info(), nil)
	if err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("no region: %v", err)
	}
	s, err := New(context.Background(), Config{Endpoint: "e", Region: "eu-west-1", EndpointURL: "http://127.0.0.1:1"}, m.Info(), nil)
	if err != nil || s.client == nil {
		t.Errorf("with a region: %v", err)
	}
	t.Setenv("AWS_PROFILE", "missing-profile")
	if _, err := New(context.Background(), Config{Endpoint: "e", Region: "eu-west-1"}, m.Info(), nil); err == nil {
		t.Error("a missing profile was accepted")
	}
}

func TestSleepAndJitter(t *testing.T) {
	if err := sleepCtx(context.Background(), time.Millisecond); err != nil {
		t.Error(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleepCtx(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled sleep: %v", err)
	}
	for _, d := range []time.Duration{0, 1, 2, 100 * time.Millisecond} {
		for range 100 {
			if j := jitter(d); j < d/2 || j > d {
				t.Fatalf("jitter(%v) = %v", d, j)
			}
		}
	}
}

func TestRetryable(t *testing.T) {
	wrapped := fmt.Errorf("outer: %w", httpErr(502))
	if !retryable(wrapped) || retryable(httpErr(404)) || retryable(&types.ModelError{}) {
		t.Error("classification")
	}
}

func newTextLogger(w *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
