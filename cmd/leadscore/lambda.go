package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/awslambda"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/httpapi"
	"github.com/leadscore/leadscore/registry"
	"github.com/leadscore/leadscore/variant"
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

Every setting is a flag, an environment variable (shown after each flag) or
a key in the JSON file named by --config.

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
	console   bool
	// variants are weighted variants served side by side (no shadows:
	// a Lambda has no data lake to put their scores in).
	variants variantList
}

// parseLambdaConfig merges defaults, the environment (looked up with
// getenv, the same LEADSCORE_* names as serve) and the command line.
func parseLambdaConfig(args []string, getenv func(string) (string, bool), out io.Writer) (*lambdaConfig, error) {
	return parseLambdaSettings(args, getenv, out, out)
}

// parseLambdaSettings is parseLambdaConfig with the help on stdout and
// warnings (deprecated names) on stderr.
func parseLambdaSettings(args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) (*lambdaConfig, error) {
	c := &lambdaConfig{requestSettings: requestSettings{maxBody: httpapi.DefaultMaxBody}}
	var apiKeys, logLevel string
	fs := newCommand("lambda", lambdaUsage, stdout, stderr)
	fs.getenv = getenv
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
	fs.BoolVar(&c.console, "console", false, consoleHelp)
	fs.BoolVar(&c.emf, "emf", true, "write CloudWatch Embedded Metric Format lines to stdout")
	fs.StringVar(&c.namespace, "emf-namespace", awslambda.DefaultNamespace, "CloudWatch metrics `namespace` of the EMF lines")
	c.backend.addFlags(fs.FlagSet)
	fs.Var(&c.variants, "variant", "serve several models: `NAME=SOURCE[:weight=W]`, repeated, as serve (weighted only:\nshadows need serve's data lake); sticky by lead id, X-Amzn-SageMaker-Target-Variant picks one")
	fs.configKey("variants", "variant")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if err := c.finish(logLevel, apiKeys); err != nil {
		return nil, err
	}
	if err := c.backend.validate(); err != nil {
		return nil, err
	}
	if len(c.variants) > 0 {
		vc := variantConfig{specs: c.variants, shadowQueue: 1, shadowWorkers: 1, window: variant.DefaultWindow}
		if err := vc.validate(c.model); err != nil {
			return nil, err
		}
		for _, sp := range c.variants {
			if sp.Role == variant.Shadow {
				return nil, fmt.Errorf("%w: --variant %s: shadow variants need serve's data lake; lambda serves weighted variants only", errUsage, sp.Name)
			}
		}
		if c.backend.name == "sagemaker" {
			return nil, fmt.Errorf("%w: --variant serves local models: it does not combine with --backend sagemaker", errUsage)
		}
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
	c, err := parseLambdaSettings(args, os.LookupEnv, stdout, stderr)
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
	log := newLogger(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: c.logLevel}))
	reg := prometheus.NewRegistry()
	console, err := consoleHandler(c.console)
	if err != nil {
		return nil, err
	}
	var variants []httpapi.Variant
	for _, sp := range c.variants {
		path := sp.Source
		if registry.IsRef(path) { // resolved once, at cold start
			opts, err := registry.OptionsFromEnv(getenv)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", errUsage, err)
			}
			if path, _, err = registry.Resolve(ctx, sp.Source, opts); err != nil {
				return nil, fmt.Errorf("%w: variant %s: %w", errInput, sp.Name, err)
			}
		}
		variants = append(variants, httpapi.Variant{Spec: sp, Loader: metered(bundle.Loader(path))})
	}
	srv, err := httpapi.New(ctx, httpapi.Config{
		Variants:       variants,
		Console:        console,
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
func metered(load leadscore.Loader) leadscore.Loader {
	return func() (leadscore.Scorer, error) {
		s, err := load()
		if err != nil {
			return nil, err
		}
		return awslambda.Metered(s), nil
	}
}
