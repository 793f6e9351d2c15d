// Package sagemaker is a leadscore.Scorer backed by a SageMaker real-time
// endpoint: each batch is one InvokeEndpoint call (aws-sdk-go-v2
// sagemakerruntime) with a text/csv payload, as SageMaker's built-in
// XGBoost container takes it, and one probability per row comes back.
//
// Calls have a per-attempt timeout; attempts that fail for a retryable
// reason (network errors, timeouts, throttling, 5xx) are retried with
// exponential backoff and jitter; a circuit breaker stops calling an
// endpoint that keeps failing and fails fast until it is time to probe it
// again. An optional fallback Scorer (a local copy of the model) answers
// when the breaker is open or a call fails.
//
// Tiers come from the ModelInfo given to New (the bundle manifest's
// cut-offs). Reasons (explain) need the model's trees, which an endpoint
// does not return: they are computed by the fallback when there is one,
// and omitted otherwise.
package sagemaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"

	"github.com/leadscore/leadscore"
)

// Defaults for Config's zero values.
const (
	DefaultTimeout     = 2 * time.Second
	DefaultMaxAttempts = 3
	DefaultBackoff     = 50 * time.Millisecond
	DefaultMaxBackoff  = time.Second
)

// InvokeEndpointAPI is the part of the SageMaker runtime client a Scorer
// uses; *sagemakerruntime.Client implements it.
type InvokeEndpointAPI interface {
	InvokeEndpoint(ctx context.Context, in *sagemakerruntime.InvokeEndpointInput,
		optFns ...func(*sagemakerruntime.Options)) (*sagemakerruntime.InvokeEndpointOutput, error)
}

// Config configures a Scorer. Endpoint is required; zero values elsewhere
// take the documented defaults.
type Config struct {
	// Endpoint is the SageMaker endpoint name.
	Endpoint string
	// Region is the AWS region; empty takes the SDK's default chain
	// (AWS_REGION, the shared config file).
	Region string
	// EndpointURL overrides the SageMaker runtime URL, for a VPC endpoint
	// or a local stand-in such as a second `leadscore serve`
	// (http://127.0.0.1:8080): the SDK then posts to
	// EndpointURL/endpoints/{Endpoint}/invocations.
	EndpointURL string
	// Credentials overrides the SDK's default credential chain.
	Credentials aws.CredentialsProvider
	// Client, when set, is used instead of a client built from the fields
	// above (tests, or a client configured elsewhere). Its own retries
	// should be off: the Scorer retries.
	Client InvokeEndpointAPI
	// Timeout bounds each attempt (default 2s); the caller's context
	// bounds the whole call, retries included.
	Timeout time.Duration
	// MaxAttempts is the most attempts per call, the first included
	// (default 3; 1 disables retries).
	MaxAttempts int
	// Backoff is the delay before the first retry, doubled before each
	// next one up to MaxBackoff (defaults 50ms and 1s). Each delay is
	// drawn at random between half and all of its value (jitter).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Breaker sets the circuit breaker's thresholds.
	Breaker BreakerConfig
	// Logger receives breaker state changes and fallbacks; nil discards.
	Logger *slog.Logger
}

// ErrOpen is returned (wrapped) when the circuit breaker is open and no
// fallback is configured: the endpoint was not called.
var ErrOpen = errors.New("circuit breaker open")

// Stats counts a Scorer's work since it was built.
type Stats struct {
	Calls     uint64 // Score calls
	Attempts  uint64 // InvokeEndpoint attempts
	Retries   uint64 // attempts after the first of a call
	Failures  uint64 // calls the endpoint did not answer usefully
	Rejected  uint64 // calls failed fast by the open breaker
	Fallbacks uint64 // calls answered by the fallback
	State     State  // the breaker's state now
}

// Scorer scores by calling a SageMaker endpoint. It is safe for concurrent
// use.
type Scorer struct {
	client     InvokeEndpointAPI
	endpoint   string
	timeout    time.Duration
	attempts   int
	backoff    time.Duration
	maxBackoff time.Duration
	info       leadscore.ModelInfo
	nf         int
	fallback   leadscore.Scorer
	breaker    *breaker
	log        *slog.Logger

	// sleep waits d or until ctx is done; jitter draws a delay in
	// [d/2, d]. Tests replace them.
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(d time.Duration) time.Duration

	calls, tries, retries, failures, rejected, fallbacks atomic.Uint64
}

// New returns a Scorer for cfg.Endpoint serving the model described by info
// (features in the endpoint's column order, tier cut-offs). fallback, when
// not nil, answers when the endpoint cannot and supplies reasons; it must
// take the same features. Unless cfg.Client is set, New builds an SDK
// client from the default AWS configuration, so it fails when no region
// is known.
func New(ctx context.Context, cfg Config, info leadscore.ModelInfo, fallback leadscore.Scorer) (*Scorer, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("sagemaker: endpoint name is required")
	}
	if len(info.Features) == 0 {
		return nil, fmt.Errorf("sagemaker: endpoint %s: the model info has no features", cfg.Endpoint)
	}
	if err := info.Tiers.Validate(); err != nil {
		return nil, fmt.Errorf("sagemaker: endpoint %s: %w", cfg.Endpoint, err)
	}
	if fallback != nil {
		if n := len(fallback.Info().Features); n != len(info.Features) {
			return nil, fmt.Errorf("sagemaker: endpoint %s: the fallback model takes %d features, the endpoint %d",
				cfg.Endpoint, n, len(info.Features))
		}
	}
	if cfg.Timeout < 0 || cfg.MaxAttempts < 0 || cfg.Backoff < 0 || cfg.MaxBackoff < 0 {
		return nil, fmt.Errorf("sagemaker: endpoint %s: timeout, attempts and backoff must not be negative", cfg.Endpoint)
	}
	s := &Scorer{
		client:     cfg.Client,
		endpoint:   cfg.Endpoint,
		timeout:    orDefault(cfg.Timeout, DefaultTimeout),
		attempts:   cfg.MaxAttempts,
		backoff:    orDefault(cfg.Backoff, DefaultBackoff),
		maxBackoff: orDefault(cfg.MaxBackoff, DefaultMaxBackoff),
		info:       info,
		nf:         len(info.Features),
		fallback:   fallback,
		log:        cfg.Logger,
		sleep:      sleepCtx,
		jitter:     jitter,
	}
	if s.attempts == 0 {
		s.attempts = DefaultMaxAttempts
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.breaker = newBreaker(cfg.Breaker, func(from, to State) {
		s.log.Warn("sagemaker circuit breaker", "endpoint", s.endpoint, "from", from.String(), "to", to.String())
	})
	if s.client == nil {
		c, err := newClient(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("sagemaker: endpoint %s: %w", cfg.Endpoint, err)
		}
		s.client = c
	}
	return s, nil
}

// newClient builds a SageMaker runtime client from the default AWS
// configuration, with the SDK's own retries off.
func newClient(ctx context.Context, cfg Config) (*sagemakerruntime.Client, error) {
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = 64 // one scoring server sends many calls at once
	})
	opts := []func(*config.LoadOptions) error{config.WithHTTPClient(httpClient)}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("no AWS region: set the region (--region) or AWS_REGION")
	}
	return sagemakerruntime.NewFromConfig(awsCfg, func(o *sagemakerruntime.Options) {
		if cfg.EndpointURL != "" {
			o.BaseEndpoint = aws.String(cfg.EndpointURL)
		}
		o.Retryer = aws.NopRetryer{}
	}), nil
}

// Info describes the model, as given to New.
func (s *Scorer) Info() leadscore.ModelInfo { return s.info }

// State is the circuit breaker's state.
func (s *Scorer) State() State { return s.breaker.current() }

// Stats returns the Scorer's counters.
func (s *Scorer) Stats() Stats {
	return Stats{
		Calls:     s.calls.Load(),
		Attempts:  s.tries.Load(),
		Retries:   s.retries.Load(),
		Failures:  s.failures.Load(),
		Rejected:  s.rejected.Load(),
		Fallbacks: s.fallbacks.Load(),
		State:     s.breaker.current(),
	}
}

// Score scores rows (row-major, len(Info().Features) values each, NaN for
// missing) into out[:n] with one endpoint call. Probability is the
// endpoint's, Margin its log-odds, Score the tier from Info().Tiers. With
// explain > 0, reasons come from the fallback model and are omitted when
// there is none. When the endpoint cannot answer, the fallback scores the
// batch instead; without one, the error is returned (wrapping ErrOpen when
// the breaker refused the call).
func (s *Scorer) Score(ctx context.Context, rows []float32, explain int, out []leadscore.Result) error {
	s.calls.Add(1)
	if len(rows)%s.nf != 0 {
		return fmt.Errorf("sagemaker: %d values are not whole rows of %d features", len(rows), s.nf)
	}
	n := len(rows) / s.nf
	if len(out) < n {
		return fmt.Errorf("sagemaker: room for %d results, need %d", len(out), n)
	}
	if n == 0 {
		return nil
	}
	probs, err := s.invoke(ctx, rows, n)
	if err != nil {
		if ctx.Err() != nil || s.fallback == nil {
			return err
		}
		s.fallbacks.Add(1)
		if ferr := s.fallback.Score(ctx, rows, explain, out[:n]); ferr != nil {
			return fmt.Errorf("%w; the fallback failed too: %w", err, ferr)
		}
		return nil
	}
	for i := range out[:n] {
		p := probs[i] // parseProbabilities returned exactly n
		out[i] = leadscore.Result{Score: s.info.Tiers.Tier(p), Probability: p, Margin: logit(p)}
	}
	if explain > 0 && s.fallback != nil {
		s.explain(ctx, rows, explain, out[:n])
	}
	return nil
}

// explain adds the fallback model's reasons to results scored remotely. A
// failure leaves the results without reasons: the scores stand.
func (s *Scorer) explain(ctx context.Context, rows []float32, explain int, out []leadscore.Result) {
	local := make([]leadscore.Result, len(out))
	if err := s.fallback.Score(ctx, rows, explain, local); err != nil {
		s.log.Warn("sagemaker: the local model failed to explain a batch", "endpoint", s.endpoint, "error", err.Error())
		return
	}
	for i := range out {
		out[i].Reasons = local[i].Reasons
	}
}

// invoke calls the endpoint, retrying and consulting the breaker, and
// returns n probabilities.
func (s *Scorer) invoke(ctx context.Context, rows []float32, n int) ([]float64, error) {
	// A fresh payload each call, not a pooled one: net/http may still be
	// reading a request body after the response came back.
	payload := appendCSV(make([]byte, 0, len(rows)*8), rows, s.nf)
	in := &sagemakerruntime.InvokeEndpointInput{
		EndpointName: aws.String(s.endpoint),
		Body:         payload,
		ContentType:  aws.String("text/csv"),
		Accept:       aws.String("text/csv"),
	}
	var last error
	for attempt := 1; attempt <= s.attempts; attempt++ {
		if attempt > 1 {
			d := s.jitter(min(s.backoff<<(attempt-2), s.maxBackoff))
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
				break // no time left for another attempt
			}
			if err := s.sleep(ctx, d); err != nil {
				return nil, fmt.Errorf("sagemaker: endpoint %s: %w (after %w)", s.endpoint, err, last)
			}
			s.retries.Add(1)
		}
		done, ok := s.breaker.allow()
		if !ok {
			s.rejected.Add(1)
			s.failures.Add(1)
			if last != nil {
				return nil, fmt.Errorf("sagemaker: endpoint %s: %w (after %w)", s.endpoint, ErrOpen, last)
			}
			return nil, fmt.Errorf("sagemaker: endpoint %s: %w", s.endpoint, ErrOpen)
		}
		s.tries.Add(1)
		probs, retry, err := s.attempt(ctx, in, n, done)
		if err == nil {
			return probs, nil
		}
		last = fmt.Errorf("attempt %d of %d: %w", attempt, s.attempts, err)
		if !retry || ctx.Err() != nil {
			break
		}
	}
	s.failures.Add(1)
	return nil, fmt.Errorf("sagemaker: endpoint %s: %w", s.endpoint, last)
}

// attempt makes one InvokeEndpoint call under the per-attempt timeout and
// reports the outcome to the breaker. retry says whether another attempt
// may succeed.
func (s *Scorer) attempt(ctx context.Context, in *sagemakerruntime.InvokeEndpointInput, n int, done func(error)) (probs []float64, retry bool, err error) {
	actx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.client.InvokeEndpoint(actx, in)
	switch {
	case err == nil:
		probs, err = parseProbabilities(resp.Body, n, make([]float64, 0, n))
		if err != nil {
			done(errUnhealthy) // an endpoint answering garbage is unhealthy
			return nil, false, err
		}
		done(nil)
		return probs, false, nil
	case ctx.Err() != nil:
		done(errAbandoned) // the caller gave up: nothing learned
		return nil, false, err
	case retryable(err):
		done(errUnhealthy)
		return nil, true, err
	default:
		done(nil) // the endpoint answered: it refused this request
		return nil, false, err
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// sleepCtx waits d, or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// jitter draws a delay uniformly in [d/2, d] ("equal jitter"): retries of
// many callers spread out while each still waits about d.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1) //nolint:gosec // G404: jitter needs spread, not unpredictability
}
