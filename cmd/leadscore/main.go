// Command leadscore scores sales leads with XGBoost models: a fast,
// static, pure-Go server plus the tools to inspect, benchmark and load-test
// it, and to turn its data lake into the next model. Run `leadscore help`
// for the subcommands.
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

Serving:
  serve          run the scoring service (default: embedded demo model on :8080)
  lambda         run as an AWS Lambda function behind API Gateway (automatic when the Lambda runtime starts it)

Models:
  predict        score rows from a file or stdin and print a JSON array
  bench          measure scoring throughput and single-row latency
  bundle         bundle init: turn a trained model and its data into a tiered bundle
  dataset        build the next training set from the lake: captured leads joined with their outcomes
  model          inspect and evaluate models; push, list, promote, rollback and package bundles in a registry

Monitoring and load:
  baseline       compute a drift-monitoring baseline (Model Monitor statistics and constraints)
  monitor        check the captured data lake against a baseline; write violations and a report
  compare        compare a challenger variant with the champion over the data lake; write JSON and a report
  loadtest       drive a running service at a constant arrival rate

  version        print the version, commit, build date, Go version and main libraries (--json)
  help [command] print this help, or a command's

Every flag of every command is also an environment variable, LEADSCORE_ and
the flag's name in capitals with '_' for '-' (--model is LEADSCORE_MODEL),
and a key of the JSON file named by --config (or LEADSCORE_CONFIG): a flag
beats the variable, which beats the file, which beats the default. In the
file, an object under a command's name ("serve", "model", "push" inside
"model") holds that command's own settings.

Exit status: 0 ok, 1 failure, 2 usage or bad input, 3 a check failed
(monitor --fail-on-violation, model evaluate --max-regression).

Run 'leadscore <command> --help' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one subcommand and returns the process exit status (see
// exitStatus).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if lambdaByDefault(args, os.Getenv) {
		return exitStatus(runLambda(args, stdout, stderr), stderr)
	}
	if len(args) == 0 {
		_, _ = fmt.Fprint(stdout, usage)
		return 0
	}
	return exitStatus(dispatch(args[0], args[1:], stdin, stdout, stderr), stderr)
}

// dispatch runs the command cmd with its arguments.
func dispatch(cmd string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	switch cmd {
	case "serve":
		return runServe(args, stdout, stderr)
	case "lambda":
		return runLambda(args, stdout, stderr)
	case "predict":
		return runPredict(args, stdin, stdout, stderr)
	case "bench":
		return runBench(args, stdout, stderr)
	case "model":
		return runModel(args, stdout, stderr)
	case "bundle":
		return runBundle(args, stdout, stderr)
	case "dataset":
		return runDataset(args, stdout, stderr)
	case "loadtest":
		return runLoadtest(args, stdout, stderr)
	case "baseline":
		return runBaseline(args, stdout, stderr)
	case "monitor":
		return runMonitor(args, stdout, stderr)
	case "compare":
		return runCompare(args, stdout, stderr)
	case "version", "--version", "-version", "-v":
		return runVersion(args, stdout, stderr)
	case "help", "-h", "--help", "-help":
		if len(args) > 0 && args[0] != "help" && args[0] != "-h" && args[0] != "--help" {
			// `help serve` is `serve --help`; `help model push` is `model push --help`.
			return dispatch(args[0], append(args[1:len(args):len(args)], "--help"), stdin, stdout, stderr)
		}
		_, err := fmt.Fprint(stdout, usage)
		return err
	}
	return fmt.Errorf("%w: unknown command %q (see 'leadscore help')", errUsage, cmd)
}

// exitStatus prints err (if any) as one line on stderr and maps it to the
// exit status: 0 ok (and help), 2 usage or bad input, 3 a failed check,
// 1 any other failure.
func exitStatus(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errCheck):
		_, _ = fmt.Fprintln(stderr, "leadscore:", err)
		return 3
	case errors.Is(err, errUsage), errors.Is(err, errInput):
		_, _ = fmt.Fprintln(stderr, "leadscore:", err)
		return 2
	default:
		_, _ = fmt.Fprintln(stderr, "leadscore:", err)
		return 1
	}
}
