// Command leadscore scores sales leads with XGBoost models: a fast,
// static, pure-Go server plus the tools to inspect, benchmark and load-test
// it. Run `leadscore help` for the subcommands.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

const usage = `leadscore scores leads with XGBoost models.

Usage:
  leadscore <command> [flags]

Commands:
  serve          run the scoring service (default: embedded demo model on :8080)
  predict        score rows from a file or stdin and print a JSON array
  bench          measure scoring throughput and single-row latency
  model          inspect a model; push, list, promote, rollback and package bundles in a registry
  lambda         run as an AWS Lambda function behind API Gateway (automatic when the Lambda runtime starts it)
  loadtest       drive a running service at a constant arrival rate
  baseline       compute a drift-monitoring baseline (Model Monitor statistics and constraints)
  monitor        check the captured data lake against a baseline; write violations and a report
  version        print the version, commit, build date, Go version and main libraries (--json)

Run 'leadscore <command> -h' for a command's flags.
`

// errUsage marks a command-line mistake: the message is printed and the exit
// status is 2.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one subcommand and returns the process exit status: 0 on
// success, 2 for bad input or usage, 1 for other failures.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if lambdaByDefault(args, os.Getenv) {
		return exitStatus(runLambda(args, stdout, stderr), stderr)
	}
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = runServe(args, stdout, stderr)
	case "lambda":
		err = runLambda(args, stdout, stderr)
	case "predict":
		err = runPredict(args, stdin, stdout, stderr)
	case "bench":
		err = runBench(args, stdout, stderr)
	case "model":
		err = runModel(args, stdout, stderr)
	case "loadtest":
		err = runLoadtest(args, stdout, stderr)
	case "baseline":
		err = runBaseline(args, stdout, stderr)
	case "monitor":
		err = runMonitor(args, stdout, stderr)
	case "version", "--version":
		err = runVersion(args, stdout, stderr)
	case "help", "-h", "--help":
		_, err = fmt.Fprint(stdout, usage)
	default:
		err = fmt.Errorf("%w: unknown command %q\n\n%s", errUsage, cmd, usage)
	}
	return exitStatus(err, stderr)
}

// exitStatus prints err (if any) as one line and maps it to an exit status.
func exitStatus(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsage), errors.Is(err, errInput):
		_, _ = fmt.Fprintln(stderr, "leadscore:", err)
		return 2
	default:
		_, _ = fmt.Fprintln(stderr, "leadscore:", err)
		return 1
	}
}
