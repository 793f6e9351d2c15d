package main

import (
	"fmt"
	"net/http"

	"github.com/leadscore/leadscore/web"
)

// consoleHelp is the --console flag's help, shared by serve and lambda.
const consoleHelp = "serve the live console at / and the API document page at /docs (pages and assets only;\nthe data comes from /v1/stats, /v1/monitoring and /score behind the API keys)"

// onLambda reports whether the process runs in AWS Lambda, where the
// console is off unless asked for.
func onLambda(getenv func(string) (string, bool)) bool {
	_, ok := getenv("AWS_LAMBDA_FUNCTION_NAME")
	return ok
}

// consoleHandler returns the console's handler, or nil when it is off.
func consoleHandler(enabled bool) (http.Handler, error) {
	if !enabled {
		return nil, nil
	}
	h, err := web.New()
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return h, nil
}
