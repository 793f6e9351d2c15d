package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/forest"
	"github.com/leadscore/leadscore/xgboost"
)

// loadedModel is a model opened by predict, bench and model inspect: a
// bundle, or a bare model file of any objective.
type loadedModel struct {
	forest  *forest.Forest
	names   []string
	tiers   leadscore.Tiers
	missing float32 // NaN when only NaN is missing
	format  xgboost.Format
	source  string
	size    int64
	bundle  *bundle.Bundle // nil for a bare model file of several outputs
}

// openModel opens path: "" is the embedded demo bundle, a directory is a
// bundle, a file is an XGBoost model (JSON, UBJSON or legacy binary).
func openModel(path string) (*loadedModel, error) {
	if path != "" {
		st, err := os.Stat(path) // #nosec G703 -- the user names the model to load
		if err != nil {
			return nil, fmt.Errorf("%w: model: %w", errInput, err)
		}
		if !st.IsDir() {
			return openModelFile(path, st.Size())
		}
	}
	b, err := bundle.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInput, err)
	}
	m := b.Manifest()
	lm := &loadedModel{forest: b.Forest(), names: b.FeatureNames(), tiers: m.Tiers,
		missing: float32(math.NaN()), format: b.Format(), source: b.Source(), bundle: b}
	if m.Missing != nil {
		lm.missing = float32(*m.Missing)
	}
	return lm, nil
}

func openModelFile(path string, size int64) (*loadedModel, error) {
	if size > xgboost.MaxModelBytes {
		return nil, fmt.Errorf("%w: model %s is larger than %d bytes", errInput, path, xgboost.MaxModelBytes)
	}
	data, err := os.ReadFile(path) // #nosec G304 G703 -- the user names the model to load
	if err != nil {
		return nil, fmt.Errorf("%w: model: %w", errInput, err)
	}
	f, format, err := xgboost.Load(data)
	if err != nil {
		return nil, fmt.Errorf("%w: model %s: %w", errInput, path, err)
	}
	names := f.FeatureNames()
	if len(names) != f.NumFeature() {
		names = make([]string, f.NumFeature())
		for i := range names {
			names[i] = fmt.Sprintf("f%d", i)
		}
	}
	return &loadedModel{forest: f, names: names, tiers: bundle.DefaultTiers,
		missing: float32(math.NaN()), format: format, source: path, size: size}, nil
}

// runModel dispatches `leadscore model <sub>`.
func runModel(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		_, err := fmt.Fprint(stdout, modelUsage)
		return err
	}
	switch args[0] {
	case "inspect":
		return runModelInspect(args[1:], stdout, stderr)
	case "evaluate":
		return runModelEvaluate(args[1:], stdout, stderr)
	case "push":
		return runModelPush(args[1:], stdout, stderr)
	case "list":
		return runModelList(args[1:], stdout, stderr)
	case "promote":
		return runModelPromote(args[1:], stdout, stderr)
	case "rollback":
		return runModelRollback(args[1:], stdout, stderr)
	case "package":
		return runModelPackage(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		_, err := fmt.Fprint(stdout, modelUsage)
		return err
	}
	return fmt.Errorf("%w: unknown model command %q (see 'leadscore model help')", errUsage, args[0])
}

// modelReport is what `model inspect` prints.
type modelReport struct {
	Source         string   `json:"source"`
	Format         string   `json:"format"`
	XGBoostVersion string   `json:"xgboost_version"`
	Objective      string   `json:"objective"`
	Booster        string   `json:"booster"`
	Outputs        int      `json:"outputs"`
	Trees          int      `json:"trees"`
	ParallelTrees  int      `json:"num_parallel_tree"`
	MaxDepth       int      `json:"max_depth"`
	Nodes          int      `json:"nodes"`
	Leaves         int      `json:"leaves"`
	PerfectTrees   int      `json:"trees_in_perfect_layout"`
	FlatTrees      int      `json:"trees_in_flat_layout"`
	Features       int      `json:"features"`
	FeatureNames   []string `json:"feature_names"`
	SizeBytes      int64    `json:"size_bytes,omitempty"`
	Name           string   `json:"name,omitempty"`
	Version        string   `json:"version,omitempty"`
	Tiers          []string `json:"tiers,omitempty"`
}

func runModelInspect(args []string, stdout, stderr io.Writer) error {
	fs := newCommand("model inspect", "Usage: leadscore model inspect [--json] PATH\n\nPATH is a model file (JSON, UBJSON, legacy binary), a bundle directory, or \"demo\".\n", stdout, stderr)
	fs.positional = true
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) != 1 {
		return fmt.Errorf("%w: leadscore model inspect PATH", errUsage)
	}
	path := rest[0]
	if path == "demo" {
		path = ""
	}
	m, err := openModel(path)
	if err != nil {
		return err
	}
	st := m.forest.Stats()
	v := m.forest.Version()
	r := modelReport{
		Source: m.source, Format: string(m.format), Objective: m.forest.Objective(),
		Booster: string(m.forest.Booster()), Outputs: m.forest.NumOutput(), Trees: st.Trees,
		ParallelTrees: m.forest.NumParallelTree(), MaxDepth: st.MaxDepth, Nodes: st.Nodes, Leaves: st.Leaves,
		PerfectTrees: st.PerfectTrees, FlatTrees: st.FlatTrees,
		Features: m.forest.NumFeature(), FeatureNames: m.names, SizeBytes: m.size,
		XGBoostVersion: "unknown",
	}
	if v != ([3]int{}) {
		r.XGBoostVersion = fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
	}
	if m.bundle != nil {
		mf := m.bundle.Manifest()
		r.Name, r.Version = mf.Name, mf.Version
		for _, c := range mf.Tiers {
			r.Tiers = append(r.Tiers, fmt.Sprint(c))
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	_, err = fmt.Fprintf(stdout, `source          %s
format          %s
xgboost         %s
objective       %s
booster         %s
outputs/row     %d
trees           %d (num_parallel_tree %d)
max depth       %d
nodes           %d (%d leaves)
layout          %d perfect, %d flat, %d general (categorical or very deep)
features        %d
`, r.Source, r.Format, r.XGBoostVersion, r.Objective, r.Booster, r.Outputs, r.Trees, r.ParallelTrees,
		r.MaxDepth, r.Nodes, r.Leaves, r.PerfectTrees, r.FlatTrees, r.Trees-r.PerfectTrees-r.FlatTrees, r.Features)
	if err != nil {
		return err
	}
	if r.SizeBytes > 0 {
		if _, err := fmt.Fprintf(stdout, "size            %d bytes\n", r.SizeBytes); err != nil {
			return err
		}
	}
	if r.Name != "" {
		if _, err := fmt.Fprintf(stdout, "bundle          %s %s, tier cut-offs %v\n", r.Name, r.Version, r.Tiers); err != nil {
			return err
		}
	}
	return nil
}
