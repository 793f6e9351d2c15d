package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// The command-line layer every subcommand goes through. A command declares
// its flags on a command (which embeds a flag.FlagSet) and calls parse,
// which:
//   - reads flags anywhere among the positional arguments (kubectl style);
//   - fills each flag not given on the command line from LEADSCORE_<FLAG>
//     (capitals, '_' for '-'), then from the --config file (LEADSCORE_CONFIG);
//   - maps deprecated flag names (and their variables) to the current ones;
//   - prints the help, on stdout and in one style, for -h, --help and
//     `leadscore help CMD`.
//
// Exit statuses (main.exitStatus): 0 ok, 1 failure, 2 usage or bad input,
// 3 a check failed (monitor --fail-on-violation, model evaluate).

var (
	// errHelp reports that -h was asked for and the usage printed.
	errHelp = errors.New("help requested")
	// errUsage marks a command-line mistake: exit status 2.
	errUsage = errors.New("usage")
	// errInput marks bad input data (a file, a row, a value): exit status 2.
	errInput = errors.New("bad input")
	// errCheck marks a check that ran and failed (a drift violation, a
	// candidate model worse than the current one): exit status 3.
	errCheck = errors.New("check failed")
)

// commandNames are the commands and subcommands whose names may head a
// section of a config file.
var commandNames = []string{"serve", "lambda", "predict", "bench", "model", "loadtest", "baseline",
	"monitor", "bundle", "dataset", "inspect", "push", "list", "promote", "rollback", "package",
	"evaluate", "init", "compare", "variants"}

// command is one subcommand's settings: its flags plus everything parse
// adds to them.
type command struct {
	*flag.FlagSet
	name       string // "serve", "model push"
	header     string // help text printed before the flags
	stdout     io.Writer
	stderr     io.Writer
	getenv     func(string) (string, bool)
	positional bool              // takes arguments besides flags
	deprecated map[string]string // old flag name -> current name
	hidden     map[string]bool   // flags left out of the help
	onCmdLine  map[string]bool
	explicit   map[string]bool   // set by the command line, the environment or the config file
	sources    map[string]string // flag name -> sourceFlag, sourceEnv or sourceConfig
	keys       map[string]string // extra config-file key -> flag name
	args       []string
	configPath string
}

// newCommand starts the settings of `leadscore name`; header is its help
// text, printed before the flags.
func newCommand(name, header string, stdout, stderr io.Writer) *command {
	fs := flag.NewFlagSet("leadscore "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &command{FlagSet: fs, name: name, header: header, stdout: stdout, stderr: stderr,
		getenv: os.LookupEnv, deprecated: map[string]string{}, hidden: map[string]bool{}, keys: map[string]string{}}
	fs.Usage = func() {}
	return c
}

// deprecate keeps old as a name of the flag current: on the command line
// (with a warning on stderr), as LEADSCORE_<OLD> and in the config file.
// It is left out of the help but for one line.
func (c *command) deprecate(old, current string) {
	f := c.Lookup(current)
	if f == nil {
		panic("deprecate: no flag " + current)
	}
	c.Var(f.Value, old, "deprecated: use --"+current)
	c.deprecated[old] = current
	c.hidden[old] = true
}

// Where a setting came from (command.source).
const (
	sourceFlag   = "flag"
	sourceEnv    = "env"
	sourceConfig = "config"
)

// configKey lets the config file name flag name also as key (e.g. the
// plural "variants" for --variant).
func (c *command) configKey(key, name string) { c.keys[key] = name }

// source says where flag name's value came from after parse: sourceFlag,
// sourceEnv, sourceConfig, or "" for the default.
func (c *command) source(name string) string { return c.sources[name] }

// configFile is the config file read by parse ("" for none).
func (c *command) configFile() string { return c.configPath }

// Args returns the positional arguments (after parse).
func (c *command) Args() []string { return c.args }

// parse reads args, then the environment and the config file, into the
// flags. It returns errHelp after printing the help for -h, and errUsage
// for a mistake.
func (c *command) parse(args []string) error {
	if c.Lookup("config") == nil {
		c.StringVar(&c.configPath, "config", "", "JSON config `file` of settings (see 'leadscore help config')")
	}
	for range len(args) + 1 { // each round consumes at least one argument
		err := c.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			c.printUsage()
			return errHelp
		case err != nil:
			return fmt.Errorf("%w: %w (see 'leadscore %s --help')", errUsage, err, c.name)
		}
		args = c.FlagSet.Args()
		if len(args) == 0 {
			break
		}
		if !c.positional {
			return fmt.Errorf("%w: unexpected argument %q (see 'leadscore %s --help')", errUsage, args[0], c.name)
		}
		if args[0] == "--" {
			c.args = append(c.args, args[1:]...)
			break
		}
		c.args, args = append(c.args, args[0]), args[1:]
	}
	c.onCmdLine = map[string]bool{}
	c.Visit(func(f *flag.Flag) { c.onCmdLine[c.canonical(f.Name)] = true })
	for old, cur := range c.deprecated {
		if c.onCmdLine[cur] && slices.ContainsFunc(c.given(), func(n string) bool { return n == old }) {
			_, _ = fmt.Fprintf(c.stderr, "leadscore: --%s is deprecated; use --%s\n", old, cur)
		}
	}
	return c.fill()
}

// given lists the flag names used on the command line, deprecated ones
// under their own name.
func (c *command) given() []string {
	var names []string
	c.Visit(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// canonical maps a deprecated name to the current one.
func (c *command) canonical(name string) string {
	if cur, ok := c.deprecated[name]; ok {
		return cur
	}
	return name
}

// fill sets every flag the command line left alone from its LEADSCORE_*
// variable (the current name first, then deprecated ones), else from the
// config file.
func (c *command) fill() error {
	c.explicit, c.sources = map[string]bool{}, map[string]string{}
	for n := range c.onCmdLine {
		c.explicit[n], c.sources[n] = true, sourceFlag
	}
	path := c.Lookup("config").Value.String()
	if !c.onCmdLine["config"] {
		if v, ok := c.getenv(envName("config")); ok {
			path = v
		}
	}
	c.configPath = path
	var fromFile map[string]string
	if path != "" {
		var err error
		if fromFile, err = c.readConfig(path); err != nil {
			return err
		}
	}
	var setErr error
	c.VisitAll(func(f *flag.Flag) {
		if setErr != nil || f.Name == "config" || c.deprecated[f.Name] != "" || c.onCmdLine[f.Name] {
			return
		}
		source, v, ok := c.fromEnv(f.Name)
		c.sources[f.Name] = sourceEnv
		if !ok {
			source, c.sources[f.Name] = path, sourceConfig
			v, ok = fromFile[f.Name]
		}
		if !ok {
			delete(c.sources, f.Name)
			return
		}
		c.explicit[f.Name] = true
		if err := f.Value.Set(v); err != nil {
			setErr = fmt.Errorf("%w: %s: %s: %w", errUsage, source, f.Name, err)
		}
	})
	return setErr
}

// fromEnv looks up the variable of flag name, then those of its
// deprecated names.
func (c *command) fromEnv(name string) (source, value string, ok bool) {
	if v, ok := c.getenv(envName(name)); ok {
		return envName(name), v, true
	}
	olds := make([]string, 0, 1)
	for old, cur := range c.deprecated {
		if cur == name {
			olds = append(olds, old)
		}
	}
	slices.Sort(olds)
	for _, old := range olds {
		if v, ok := c.getenv(envName(old)); ok {
			return envName(old), v, true
		}
	}
	return "", "", false
}

// readConfig reads the settings of this command from a JSON config file
// into flag-value strings keyed by flag name. The file is an object of
// settings (keys are flag names, '_' or '-'); an object under a command's
// name ("serve", "model", and "push" inside "model") holds that command's
// own settings and beats the level above. In a file with such sections a
// top-level setting applies to the commands that have it; in a file
// without, every key must be a setting of the command.
func (c *command) readConfig(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the config file
	if err != nil {
		return nil, fmt.Errorf("%w: config: %w", errUsage, err)
	}
	var top map[string]json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&top); err != nil {
		return nil, fmt.Errorf("%w: config %s: %w", errUsage, path, err)
	}
	levels := []map[string]json.RawMessage{top}
	shared := false
	for _, word := range strings.Fields(c.name) {
		last := levels[len(levels)-1]
		v, ok := last[word]
		if !ok || !isObject(v) {
			break
		}
		var sub map[string]json.RawMessage
		if err := json.Unmarshal(v, &sub); err != nil {
			return nil, fmt.Errorf("%w: config %s: %s: %w", errUsage, path, word, err)
		}
		levels = append(levels, sub)
	}
	for _, v := range top {
		shared = shared || isObject(v)
	}
	out := map[string]string{}
	for depth, level := range levels {
		strict := depth > 0 || !shared
		for key, v := range level {
			if isObject(v) && slices.Contains(commandNames, key) {
				continue // a section
			}
			name := c.canonical(strings.ReplaceAll(key, "_", "-"))
			if n, ok := c.keys[key]; ok {
				name = n
			}
			f := c.Lookup(name)
			if f == nil || name == "config" {
				if strict {
					return nil, fmt.Errorf("%w: config %s: unknown setting %q for leadscore %s", errUsage, path, key, c.name)
				}
				continue
			}
			s, err := configValue(name, v, f)
			if err != nil {
				return nil, fmt.Errorf("%w: config %s: %s: %w", errUsage, path, key, err)
			}
			if s != nil {
				out[name] = *s
			}
		}
	}
	return out, nil
}

func isObject(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && v[0] == '{'
}

// printUsage writes the help: the header, then every flag with its
// variable and default, in one style for every command.
func (c *command) printUsage() {
	var sb strings.Builder
	sb.WriteString(c.header)
	if !strings.HasSuffix(c.header, "Flags:\n") {
		if c.header != "" && !strings.HasSuffix(c.header, "\n\n") {
			sb.WriteString("\n")
		}
		sb.WriteString("Flags:\n")
	}
	var olds []string
	c.VisitAll(func(f *flag.Flag) {
		if c.hidden[f.Name] {
			if cur := c.deprecated[f.Name]; cur != "" {
				olds = append(olds, "--"+f.Name+" (use --"+cur+")")
			}
			return
		}
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		line += "\n        " + strings.ReplaceAll(usage, "\n", "\n        ")
		line += "\n        (env " + envName(f.Name)
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "[]" {
			line += "; default " + f.DefValue
		}
		sb.WriteString(line + ")\n")
	})
	if len(olds) > 0 {
		sb.WriteString("\nDeprecated names, still accepted: " + strings.Join(olds, ", ") + "\n")
	}
	_, _ = io.WriteString(c.stdout, sb.String())
}

// envName is the environment variable of a flag: LEADSCORE_ and the name
// in capitals with '_' for '-'.
func envName(flagName string) string {
	return "LEADSCORE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// stderrIsTerminal reports whether w is a terminal: long jobs print their
// progress there only then.
func stderrIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress prints a progress line on stderr when it is a terminal,
// overwriting the previous one; done ends the line.
type progress struct {
	w  io.Writer
	on bool
}

func newProgress(stderr io.Writer) *progress {
	return &progress{w: stderr, on: stderrIsTerminal(stderr)}
}

func (p *progress) printf(format string, args ...any) {
	if p.on {
		_, _ = fmt.Fprintf(p.w, "\r\033[K"+format, args...)
	}
}

func (p *progress) done() {
	if p.on {
		_, _ = fmt.Fprint(p.w, "\r\033[K")
	}
}
