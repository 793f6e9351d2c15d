package main

import (
	"fmt"
	"log/slog"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/httpapi"
)

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
func (r *requestSettings) addIDFlags(fs *command) {
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
