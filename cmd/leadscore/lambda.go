package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/awslambda"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/httpapi"
	"github.com/leadscore/leadscore/sagemaker"
)

const lambdaUsage = `Usage: leadscore lambda [flags]

Serves API Gateway events under the AWS Lambda runtime: REST API (payload
format 1.0) and HTTP API (payload format 2.0) events go through the same
routes, validation and responses as 'leadscore serve'. Metrics go to stdout
as CloudWatch Embedded Metric Format lines, one per invocation.

The binary enters this mode by itself when AWS_LAMBDA_RUNTIME_API is set
and it is started with no command (as the provided.al2023 runtime starts
'bootstrap'), so 'make lambda' zips it as bootstrap unchanged. Outside
Lambda, run it under the Runtime Interface Emulator (docs/aws.md).

Every setting is a flag or an environment variable (shown after each flag).

Flags:
`

// lambdaConfig is every setting of `leadscore lambda`.
type lambdaConfig struct {
	requestSettings
	model     string
	accessLog bool
	emf       bool
	namespace string
	backend   backendConfig
}

// parseLambdaConfig merges defaults, the environment (looked up with
// getenv, the same LEADSCORE_* names as serve) and the command line.
func parseLambdaConfig(args []string, getenv func(string) (string, bool), stderr io.Writer) (*lambdaConfig, error) {
	c := &lambdaConfig{requestSettings: requestSettings{maxBody: httpapi.DefaultMaxBody}}
	var apiKeys, logLevel string
	fs := newFlagSet("lambda", stderr)
	fs.StringVar(&c.model, "model", "", "model bundle directory or XGBoost model file `path` (default: the embedded demo model)")
	fs.IntVar(&c.maxBatch, "max-batch", httpapi.DefaultMaxBatch, "most `rows` (leads) in one request; more is a 413")
	fs.IntVar(&c.maxExplainRows, "max-explain-rows", httpapi.DefaultMaxExplainRows, "most `rows` one request may ask reasons for with ?explain; more is a 413")
	fs.Var(&c.maxBody, "max-body", "largest request body `size`; larger is a 413 (API Gateway itself stops at 10 MB, Lambda at 6 MB)")
	c.addIDFlags(fs)
	fs.BoolVar(&c.requireAPIKey, "require-api-key", false, "refuse scoring requests without a valid API key (401)")
	fs.StringVar(&apiKeys, "api-keys", "", "accepted API `keys`, comma-separated name:sha256hex or name:sha256hex:admin (as serve)")
	fs.Float64Var(&c.rateLimit, "rate-limit", 0, "`requests` per second allowed per API key, per execution environment (0: no limit)")
	fs.IntVar(&c.rateBurst, "rate-burst", 0, "token-bucket `size` of the rate limit (0: the rate rounded up)")
	fs.StringVar(&logLevel, "log-level", "info", "least severe log `level` written: debug, info, warn or error")
	fs.BoolVar(&c.accessLog, "access-log", false, "log one JSON line per request besides the EMF line")
	fs.BoolVar(&c.emf, "emf", true, "write CloudWatch Embedded Metric Format lines to stdout")
	fs.StringVar(&c.namespace, "emf-namespace", awslambda.DefaultNamespace, "CloudWatch metrics `namespace` of the EMF lines")
	c.backend.addFlags(fs)
	fs.Usage = envFlagUsage(stderr, lambdaUsage, fs)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	var setErr error
	fs.VisitAll(func(f *flag.Flag) {
		if setErr != nil || onCommandLine[f.Name] {
			return
		}
		if v, ok := getenv(envName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				setErr = fmt.Errorf("%w: %s: %v", errUsage, envName(f.Name), err)
			}
		}
	})
	if setErr != nil {
		return nil, setErr
	}
	if err := c.finish(logLevel, apiKeys); err != nil {
		return nil, err
	}
	if err := c.backend.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// lambdaByDefault reports whether the process was started by the Lambda
// runtime as a bootstrap: AWS_LAMBDA_RUNTIME_API is set and the arguments
// name no command (none at all, or flags meant for lambda mode).
func lambdaByDefault(args []string, getenv func(string) string) bool {
	return getenv("AWS_LAMBDA_RUNTIME_API") != "" && (len(args) == 0 || strings.HasPrefix(args[0], "-"))
}

// runLambda implements `leadscore lambda`: it loads the model and hands
// the events of the Lambda runtime API to the HTTP handler until the
// runtime ends the process. It returns only on a setup error.
func runLambda(args []string, stdout, stderr io.Writer) error {
	c, err := parseLambdaConfig(args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		return fmt.Errorf("%w: lambda mode needs the Lambda runtime (AWS_LAMBDA_RUNTIME_API is not set); "+
			"to try it locally run the binary under aws-lambda-rie, see docs/aws.md", errUsage)
	}
	ctx := context.Background()
	h, err := newLambdaHandler(ctx, c, stdout, os.Getenv)
	if err != nil {
		return err
	}
	lambda.StartWithOptions(h, lambda.WithContext(ctx)) // does not return
	return nil
}

// newLambdaHandler builds the HTTP service as serve does and wraps it for
// API Gateway events, with EMF metrics on stdout when enabled.
func newLambdaHandler(ctx context.Context, c *lambdaConfig, stdout io.Writer, getenv func(string) string) (*awslambda.Handler, error) {
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: c.logLevel}))
	reg := prometheus.NewRegistry()
	srv, err := httpapi.New(ctx, httpapi.Config{
		Loader:         metered(c.backend.loader(ctx, c.model, log)),
		Logger:         log,
		AccessLog:      c.accessLog,
		Registerer:     reg,
		Gatherer:       reg,
		MaxBatch:       c.maxBatch,
		MaxExplainRows: c.maxExplainRows,
		IDs:            c.ids(),
		MaxBody:        int64(c.maxBody),
		MaxInFlight:    -1, // Lambda sizes concurrency itself
		APIKeys:        c.apiKeys,
		RequireAPIKey:  c.requireAPIKey,
		RateLimit:      c.rateLimit,
		RateBurst:      c.rateBurst,
		Version:        version,
	})
	if err != nil {
		return nil, err
	}
	info := srv.Model()
	source := c.model
	if source == "" {
		source = "embedded demo"
	}
	log.Info("lambda ready", "model", info.Name, "version", info.Version, "source", source,
		"features", len(info.Features), "backend", c.backend.name, "emf", c.emf)
	var obs awslambda.Observer
	if c.emf {
		obs = awslambda.NewEMF(stdout, awslambda.EMFConfig{
			Namespace:  c.namespace,
			Dimensions: map[string]string{"FunctionName": getenv("AWS_LAMBDA_FUNCTION_NAME")},
		}, httpapi.RouteName)
	}
	return awslambda.New(srv, obs), nil
}

// metered wraps the scorers load returns with awslambda.Metered, so that
// EMF lines count each invocation's rows and model time.
func metered(load func() (leadscore.Scorer, error)) func() (leadscore.Scorer, error) {
	return func() (leadscore.Scorer, error) {
		s, err := load()
		if err != nil {
			return nil, err
		}
		return awslambda.Metered(s), nil
	}
}

// modelLoader loads the bundle or model file at path, or the embedded demo
// model when path is empty.
func modelLoader(path string) func() (leadscore.Scorer, error) {
	return func() (leadscore.Scorer, error) {
		if path == "" {
			return bundle.Demo()
		}
		return bundle.Load(path)
	}
}

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
func (b *backendConfig) loader(ctx context.Context, path string, log *slog.Logger) func() (leadscore.Scorer, error) {
	return b.wrap(ctx, modelLoader(path), log)
}

// wrap returns load itself for the local backend; for sagemaker, a loader
// of a sagemaker.Scorer whose features and tiers come from the model load
// gives, which is also its fallback unless --sagemaker-fallback=false.
func (b *backendConfig) wrap(ctx context.Context, load func() (leadscore.Scorer, error), log *slog.Logger) func() (leadscore.Scorer, error) {
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
