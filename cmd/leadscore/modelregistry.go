package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/leadscore/leadscore/registry"
)

// modelUsage is `leadscore model help`.
const modelUsage = `Usage:
  leadscore model inspect [--json] PATH
  leadscore model evaluate --candidate BUNDLE --against BUNDLE|registry:R#NAME@STAGE --data FILE [--max-regression 0.01] [--json] [--html FILE]
  leadscore model push BUNDLE --registry R [--version V] [--name N] [--by WHO] [--note TEXT]
  leadscore model list --registry R [--json] [NAME]
  leadscore model promote NAME VERSION --stage staging|prod --registry R [--by WHO] [--note TEXT]
  leadscore model rollback NAME --stage staging|prod --registry R [--by WHO] [--note TEXT]
  leadscore model package BUNDLE|registry:R#NAME@STAGE --out model.tar.gz

R is a directory or s3://bucket/prefix (default $LEADSCORE_REGISTRY). A promotion is
the approval: it is recorded with --by (default $USER) and the time in the model's
stages.json and audit.log. Run 'leadscore model <command> -h' for a command's flags.
`

// registryFlags are the flags every registry command shares.
type registryFlags struct {
	root      string
	s3Region  string
	s3Endpont string
	pathStyle bool
}

// add registers the flags on fs (their LEADSCORE_* variables are read by
// the command layer).
func (r *registryFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&r.root, "registry", "", "registry `root`: a directory or s3://bucket/prefix")
	fs.StringVar(&r.s3Region, "s3-region", "", "S3 `region` (default AWS_REGION, then us-east-1)")
	fs.StringVar(&r.s3Endpont, "s3-endpoint", "", "S3-compatible endpoint `URL` (MinIO, Ceph, R2, ...)")
	fs.BoolVar(&r.pathStyle, "s3-path-style", false, "address S3 buckets by path, as most S3-compatible stores need")
}

// options are the registry options: the environment's, then the flags'.
func (r *registryFlags) options() (registry.Options, error) {
	o, err := registry.OptionsFromEnv(os.Getenv)
	if err != nil {
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	o.S3.Region, o.S3.Endpoint, o.S3.PathStyle = r.s3Region, r.s3Endpont, r.pathStyle
	return o, nil
}

// open opens the registry the flags name.
func (r *registryFlags) open(ctx context.Context) (*registry.Registry, error) {
	if r.root == "" {
		return nil, fmt.Errorf("%w: --registry is required (a directory or s3://bucket/prefix)", errUsage)
	}
	o, err := r.options()
	if err != nil {
		return nil, err
	}
	return registry.Open(ctx, r.root, o)
}

// currentUser is who runs the command: $USER, else the OS account.
func currentUser() string {
	if v := strings.TrimSpace(os.Getenv("USER")); v != "" {
		return v
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// commandContext is cancelled by SIGINT or SIGTERM.
func commandContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// registryError marks a bad bundle as bad input (exit status 2).
func registryError(err error) error {
	if errors.Is(err, registry.ErrBadBundle) {
		return fmt.Errorf("%w: %w", errInput, err)
	}
	return err
}

// runModelPush is `leadscore model push`.
func runModelPush(args []string, stdout, stderr io.Writer) error {
	fs := newCommand("model push", "Usage: leadscore model push BUNDLE --registry R [flags]\n\nBUNDLE is a bundle directory (manifest.json + model) or a bare XGBoost model file.\n", stdout, stderr)
	fs.positional = true
	var rf registryFlags
	rf.add(fs.FlagSet)
	version := fs.String("version", "", "`version` to store (default: the manifest's, else sha-<digest>)")
	name := fs.String("name", "", "model `name` (default: the manifest's, else the model file's name)")
	by := fs.String("by", currentUser(), "who pushes, for the audit log")
	note := fs.String("note", "", "free `text` for the audit log")
	err := fs.parse(args)
	pos := fs.Args()
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: leadscore model push BUNDLE --registry R", errUsage)
	}
	ctx, stop := commandContext()
	defer stop()
	reg, err := rf.open(ctx)
	if err != nil {
		return err
	}
	ev, created, err := reg.Push(ctx, pos[0], registry.PushOptions{Name: *name, Version: *version, By: *by, Note: *note})
	if err != nil {
		return registryError(err)
	}
	if !created {
		_, err = fmt.Fprintf(stdout, "%s %s is already in %s with identical content (%s)\n", ev.Name, ev.Version, reg, ev.Digest)
		return err
	}
	_, err = fmt.Fprintf(stdout, "pushed %s %s to %s (%s)\n", ev.Name, ev.Version, reg, ev.Digest)
	return err
}

// runModelList is `leadscore model list`.
func runModelList(args []string, stdout, stderr io.Writer) error {
	fs := newCommand("model list", "Usage: leadscore model list --registry R [--json] [NAME]\n", stdout, stderr)
	fs.positional = true
	var rf registryFlags
	rf.add(fs.FlagSet)
	asJSON := fs.Bool("json", false, "print JSON")
	err := fs.parse(args)
	pos := fs.Args()
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("%w: leadscore model list --registry R [NAME]", errUsage)
	}
	name := ""
	if len(pos) == 1 {
		name = pos[0]
	}
	ctx, stop := commandContext()
	defer stop()
	reg, err := rf.open(ctx)
	if err != nil {
		return err
	}
	vs, err := reg.Versions(ctx, name)
	if err != nil {
		return err
	}
	if *asJSON {
		if vs == nil {
			vs = []registry.VersionInfo{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(vs)
	}
	if len(vs) == 0 {
		_, err = fmt.Fprintf(stdout, "no models in %s\n", reg)
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "NAME\tVERSION\tSTAGES")
	for _, v := range vs {
		stages := strings.Join(v.Stages, ",")
		if stages == "" {
			stages = "-"
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, v.Version, stages)
	}
	return tw.Flush()
}

// stageFlags are promote's and rollback's own flags.
type stageFlags struct {
	stage, by, note string
}

func (s *stageFlags) add(fs *flag.FlagSet, verb string) {
	fs.StringVar(&s.stage, "stage", "", "`stage`: staging or prod (required)")
	fs.StringVar(&s.by, "by", currentUser(), "who "+verb+", for stages.json and the audit log")
	fs.StringVar(&s.note, "note", "", "free `text` for the audit log, e.g. a ticket")
}

// runModelPromote is `leadscore model promote`: the approval.
func runModelPromote(args []string, stdout, stderr io.Writer) error {
	fs := newCommand("model promote", "Usage: leadscore model promote NAME VERSION --stage staging|prod --registry R [flags]\n\nThe promotion is the approval: recorded with --by and the time.\n", stdout, stderr)
	fs.positional = true
	var rf registryFlags
	rf.add(fs.FlagSet)
	var sf stageFlags
	sf.add(fs.FlagSet, "approves")
	err := fs.parse(args)
	pos := fs.Args()
	if err != nil {
		return err
	}
	if len(pos) != 2 || sf.stage == "" {
		return fmt.Errorf("%w: leadscore model promote NAME VERSION --stage staging|prod --registry R", errUsage)
	}
	ctx, stop := commandContext()
	defer stop()
	reg, err := rf.open(ctx)
	if err != nil {
		return err
	}
	ev, err := reg.Promote(ctx, pos[0], pos[1], sf.stage, sf.by, sf.note)
	if err != nil {
		return err
	}
	if ev.From == ev.Version {
		_, err = fmt.Fprintf(stdout, "%s %s is already in %s\n", ev.Name, ev.Version, ev.Stage)
		return err
	}
	was := ""
	if ev.From != "" {
		was = " (was " + ev.From + ")"
	}
	_, err = fmt.Fprintf(stdout, "promoted %s %s to %s%s, approved by %s at %s\n",
		ev.Name, ev.Version, ev.Stage, was, ev.By, ev.Time.Format(time.RFC3339))
	return err
}

// runModelRollback is `leadscore model rollback`.
func runModelRollback(args []string, stdout, stderr io.Writer) error {
	fs := newCommand("model rollback", "Usage: leadscore model rollback NAME --stage staging|prod --registry R [flags]\n\nReturns the stage to the version it served before the current one.\n", stdout, stderr)
	fs.positional = true
	var rf registryFlags
	rf.add(fs.FlagSet)
	var sf stageFlags
	sf.add(fs.FlagSet, "rolls back")
	err := fs.parse(args)
	pos := fs.Args()
	if err != nil {
		return err
	}
	if len(pos) != 1 || sf.stage == "" {
		return fmt.Errorf("%w: leadscore model rollback NAME --stage staging|prod --registry R", errUsage)
	}
	ctx, stop := commandContext()
	defer stop()
	reg, err := rf.open(ctx)
	if err != nil {
		return err
	}
	ev, err := reg.Rollback(ctx, pos[0], sf.stage, sf.by, sf.note)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "rolled back %s in %s to %s (was %s), by %s at %s\n",
		ev.Name, ev.Stage, ev.Version, ev.From, ev.By, ev.Time.Format(time.RFC3339))
	return err
}

// runModelPackage is `leadscore model package`.
func runModelPackage(args []string, stdout, stderr io.Writer) error {
	fs := newCommand("model package", "Usage: leadscore model package BUNDLE|registry:R#NAME@STAGE --out model.tar.gz\n\nWrites a SageMaker model.tar.gz: the bundle's files at the archive root.\n", stdout, stderr)
	fs.positional = true
	var rf registryFlags
	rf.add(fs.FlagSet)
	out := fs.String("out", "model.tar.gz", "archive `file` to write")
	err := fs.parse(args)
	pos := fs.Args()
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return fmt.Errorf("%w: leadscore model package BUNDLE --out model.tar.gz", errUsage)
	}
	src := pos[0]
	if registry.IsRef(src) {
		ctx, stop := commandContext()
		defer stop()
		o, err := rf.options()
		if err != nil {
			return err
		}
		if src, _, err = registry.Resolve(ctx, src, o); err != nil {
			return err
		}
	}
	if err := writeFileAtomic(*out, func(w io.Writer) error { return registry.Package(w, src) }); err != nil {
		return registryError(err)
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "wrote %s (%d bytes) from %s\n", *out, st.Size(), src)
	return err
}

// writeFileAtomic writes path through a temporary file in its folder,
// renamed into place once write succeeds.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }() // a no-op once renamed
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
