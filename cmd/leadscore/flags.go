package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
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
