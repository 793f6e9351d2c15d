package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/sagemaker"
)

// backendConfig selects where scores come from: the local model (the
// default) or a SageMaker endpoint (the remote backend, package sagemaker).
// It is shared by the commands that serve: addFlags registers its flags on
// a command's FlagSet and loader builds the httpapi.Config Loader.
type backendConfig struct {
	name            string // "local" or "sagemaker"
	endpoint        string
	region          string
	endpointURL     string
	timeout         time.Duration
	attempts        int
	breakerFailures int
	breakerOpenFor  time.Duration
	breakerProbes   int
	fallback        bool
}

// addFlags registers the backend flags on fs.
func (b *backendConfig) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&b.name, "backend", "local", "where scores come from: `local` (the model in this process) or sagemaker (an endpoint)")
	fs.StringVar(&b.endpoint, "sagemaker-endpoint", "", "SageMaker endpoint `name` for --backend sagemaker")
	fs.StringVar(&b.region, "region", "", "AWS `region` of the endpoint (default: AWS_REGION or the shared config)")
	fs.StringVar(&b.endpointURL, "endpoint-url", "", "SageMaker runtime `URL` override, e.g. a VPC endpoint or a stand-in leadscore serve")
	fs.DurationVar(&b.timeout, "sagemaker-timeout", sagemaker.DefaultTimeout, "most time one endpoint call may take")
	fs.IntVar(&b.attempts, "sagemaker-attempts", sagemaker.DefaultMaxAttempts, "most `attempts` per batch, retries with backoff and jitter included")
	fs.IntVar(&b.breakerFailures, "sagemaker-breaker-failures", sagemaker.DefaultFailureThreshold, "consecutive failed `attempts` that open the circuit breaker")
	fs.DurationVar(&b.breakerOpenFor, "sagemaker-breaker-open", sagemaker.DefaultOpenFor, "how long the open breaker fails fast before probing the endpoint")
	fs.IntVar(&b.breakerProbes, "sagemaker-breaker-probes", sagemaker.DefaultHalfOpenProbes, "`calls` probing a half-open breaker at once, and the successes that close it")
	fs.BoolVar(&b.fallback, "sagemaker-fallback", true, "score with the local model (--model) when the endpoint fails or the breaker is open;\nthe local model also gives reasons (?explain), which are omitted without it")
}

// validate checks the backend settings.
func (b *backendConfig) validate() error {
	switch {
	case b.name != "local" && b.name != "sagemaker":
		return fmt.Errorf("%w: --backend %q: want local or sagemaker", errUsage, b.name)
	case b.name == "sagemaker" && b.endpoint == "":
		return fmt.Errorf("%w: --backend sagemaker needs --sagemaker-endpoint", errUsage)
	case b.timeout <= 0 || b.attempts < 1 || b.breakerFailures < 1 || b.breakerOpenFor <= 0 || b.breakerProbes < 1:
		return fmt.Errorf("%w: --sagemaker-timeout, -attempts and -breaker-* must be positive", errUsage)
	}
	return nil
}

// loader returns the Loader for httpapi: the model at path (or the
// embedded demo) for the local backend; for sagemaker, see wrap.
func (b *backendConfig) loader(ctx context.Context, path string, log *slog.Logger) leadscore.Loader {
	return b.wrap(ctx, bundle.Loader(path), log)
}

// wrap returns load itself for the local backend; for sagemaker, a loader
// of a sagemaker.Scorer whose features and tiers come from the model load
// gives, which is also its fallback unless --sagemaker-fallback=false.
func (b *backendConfig) wrap(ctx context.Context, load leadscore.Loader, log *slog.Logger) leadscore.Loader {
	if b.name != "sagemaker" {
		return load
	}
	return func() (leadscore.Scorer, error) {
		model, err := load()
		if err != nil {
			return nil, err
		}
		var fallback leadscore.Scorer
		if b.fallback {
			fallback = model
		}
		return sagemaker.New(ctx, sagemaker.Config{
			Endpoint:    b.endpoint,
			Region:      b.region,
			EndpointURL: b.endpointURL,
			Timeout:     b.timeout,
			MaxAttempts: b.attempts,
			Breaker: sagemaker.BreakerConfig{
				FailureThreshold: b.breakerFailures,
				OpenFor:          b.breakerOpenFor,
				HalfOpenProbes:   b.breakerProbes,
			},
			Logger: log,
		}, model.Info(), fallback)
	}
}
