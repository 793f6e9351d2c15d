package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/httpapi"
)

var (
	// errHelp reports that -h was asked for and the usage printed.
	errHelp = errors.New("help requested")
	// errInput marks bad input data (a file, a row, a value): exit status 2.
	errInput = errors.New("bad input")
)

// newFlagSet returns a FlagSet that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("leadscore "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args into fs, mapping -h to errHelp and mistakes to
// errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
		}
		return nil
	case errors.Is(err, flag.ErrHelp):
		return errHelp
	default:
		return fmt.Errorf("%w: %v", errUsage, err)
	}
}

// parseFlagsArgs is parseFlags for commands that take positional arguments.
func parseFlagsArgs(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		return errHelp
	default:
		return fmt.Errorf("%w: %v", errUsage, err)
	}
}

// envFlagUsage prints header, then every flag of fs with its environment
// variable and default: the usage of the commands whose settings are
// flags and LEADSCORE_* variables alike (serve, lambda).
func envFlagUsage(stderr io.Writer, header string, fs *flag.FlagSet) func() {
	return func() {
		_, _ = fmt.Fprint(stderr, header)
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			line := "  --" + f.Name
			if name != "" {
				line += " " + name
			}
			line += "\n        " + strings.ReplaceAll(usage, "\n", "\n        ")
			line += "\n        (env " + envName(f.Name)
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
				line += "; default " + f.DefValue
			}
			_, _ = fmt.Fprintln(stderr, line+")")
		})
	}
}

// requestSettings are the request limits, keys and log level that serve
// and lambda share.
type requestSettings struct {
	maxBatch       int
	maxExplainRows int
	maxBody        byteSize
	requireAPIKey  bool
	apiKeys        []httpapi.APIKey
	rateLimit      float64
	rateBurst      int
	logLevel       slog.Level
	// maxLeadIDBytes and maxInferenceIDLength bound the ids callers send
	// (leadscore.IDLimits).
	maxLeadIDBytes       int
	maxInferenceIDLength int
}

// Upper bounds of the id limits: ids are kept in memory (the drift
// window), logs and the lake, so even a configured limit stays small.
const (
	maxLeadIDBytesLimit       = 4096
	maxInferenceIDLengthLimit = 1024
)

// addIDFlags registers the id limit flags on fs.
func (r *requestSettings) addIDFlags(fs *flag.FlagSet) {
	fs.IntVar(&r.maxLeadIDBytes, "max-lead-id-bytes", leadscore.DefaultMaxLeadIDBytes,
		"longest lead id in `bytes` of UTF-8 (control characters are refused); longer is a 400 invalid_id (at most 4096)")
	fs.IntVar(&r.maxInferenceIDLength, "max-inference-id-length", leadscore.DefaultMaxTokenIDLength,
		"longest X-Amzn-SageMaker-Inference-Id, V2 request id or feedback inference_id, in `characters` of\n[A-Za-z0-9._:-]; longer or other characters is a 400 invalid_id (at most 1024)")
}

// ids returns the id limits.
func (r *requestSettings) ids() leadscore.IDLimits {
	return leadscore.IDLimits{LeadIDBytes: r.maxLeadIDBytes, TokenIDLength: r.maxInferenceIDLength}
}

// finish parses the log level and the --api-keys specs (adding them to
// keys already set, e.g. by a config file) and checks the limits.
func (r *requestSettings) finish(logLevel, apiKeys string) error {
	if err := r.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errUsage, logLevel)
	}
	keys, err := parseAPIKeys(apiKeys)
	if err != nil {
		return err
	}
	r.apiKeys = append(r.apiKeys, keys...)
	switch {
	case r.requireAPIKey && len(r.apiKeys) == 0:
		return fmt.Errorf("%w: --require-api-key needs --api-keys", errUsage)
	case r.maxBatch < 1 || r.maxExplainRows < 1:
		return fmt.Errorf("%w: --max-batch and --max-explain-rows must be at least 1", errUsage)
	case r.maxBody < 1:
		return fmt.Errorf("%w: --max-body must be at least 1 byte", errUsage)
	case r.maxLeadIDBytes < 1 || r.maxLeadIDBytes > maxLeadIDBytesLimit:
		return fmt.Errorf("%w: --max-lead-id-bytes must be in [1, %d]", errUsage, maxLeadIDBytesLimit)
	case r.maxInferenceIDLength < 1 || r.maxInferenceIDLength > maxInferenceIDLengthLimit:
		return fmt.Errorf("%w: --max-inference-id-length must be in [1, %d]", errUsage, maxInferenceIDLengthLimit)
	case r.rateLimit < 0 || r.rateBurst < 0:
		return fmt.Errorf("%w: --rate-limit and --rate-burst must not be negative", errUsage)
	}
	return nil
}
