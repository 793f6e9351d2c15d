package main

import (
	"fmt"
	"log/slog"

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
	case r.rateLimit < 0 || r.rateBurst < 0:
		return fmt.Errorf("%w: --rate-limit and --rate-burst must not be negative", errUsage)
	}
	return nil
}
