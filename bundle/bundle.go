// Package bundle is a servable model: an XGBoost model file plus a small
// manifest (name, version, features with expected ranges, tier cut-offs,
// optional training baseline). The demo lead model is embedded, so the
// binary works with no files at all.
package bundle

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/forest"
	"github.com/leadscore/leadscore/xgboost"
)

// ManifestFile is the manifest's file name inside a bundle directory.
const ManifestFile = "manifest.json"

// Manifest describes a bundle. Every field but Model is optional in the
// file; Load fills defaults from the model.
type Manifest struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
	// Model is the model file's path relative to the bundle directory.
	Model string `json:"model"`
	// Features lists the model's input columns in order, with the range
	// seen in training.
	Features []leadscore.Feature `json:"features,omitempty"`
	// Tiers are the probability cut-offs for tiers 2..5.
	Tiers leadscore.Tiers `json:"tiers"`
	// Missing, when set, is a value that counts as missing in addition to
	// NaN (XGBoost's DMatrix missing parameter).
	Missing *float64 `json:"missing,omitempty"`
	// Baseline is a directory, relative to the bundle, holding the training
	// baseline (statistics.json, constraints.json).
	Baseline string `json:"baseline,omitempty"`
	// Bias declares the facets (groups of leads) whose treatment by the
	// model is monitored, and the positive outcome (docs/monitoring.md,
	// "Bias metrics").
	Bias *leadscore.BiasConfig `json:"bias,omitempty"`
}

// DefaultTiers are used when a bundle gives none: equal-width probability
// bands.
var DefaultTiers = leadscore.Tiers{0.2, 0.4, 0.6, 0.8}

// Bundle is a loaded, servable model. It implements leadscore.Scorer and is
// safe for concurrent use.
type Bundle struct {
	manifest Manifest
	forest   *forest.Forest
	format   xgboost.Format
	source   string
	fsys     fs.FS // the bundle directory, for the baseline; nil for a bare model
	info     leadscore.ModelInfo
	names    []string
	missing  float32
	bufs     sync.Pool // *buffers
	// defaultTiers is set when the manifest (or a bare model) gave no
	// cut-offs and DefaultTiers apply.
	defaultTiers bool
}

// UsesDefaultTiers reports whether the bundle has no cut-offs of its own
// and scores with DefaultTiers, which rarely fit a model's scores (at a
// 15% base rate most leads land in tier 1): `leadscore bundle init`
// chooses them from the data.
func (b *Bundle) UsesDefaultTiers() bool { return b.defaultTiers }

// buffers is per-call scratch reused across Score calls.
type buffers struct {
	margin  []float32
	contrib []float32
	order   []int
}

//go:embed demo/manifest.json demo/model.ubj demo/baseline
var demoFS embed.FS

// Demo returns the embedded demo lead model (lead-demo: XGBoost 1.7.4,
// binary:logistic, 300 trees of depth 6, 50 features).
func Demo() (*Bundle, error) {
	sub, err := fs.Sub(demoFS, "demo")
	if err != nil {
		return nil, err
	}
	return loadFS(sub, "embedded:lead-demo")
}

// Load reads a bundle directory (manifest.json and the model file it names)
// or a bare XGBoost model file (.json, .ubj or legacy binary), whose
// manifest is then derived from the model.
func Load(p string) (*Bundle, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("load bundle: %w", err)
	}
	if st.IsDir() {
		return loadFS(os.DirFS(p), p)
	}
	data, err := readLimited(os.DirFS(filepath.Dir(p)), filepath.Base(p))
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", p, err)
	}
	name := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
	b, err := build(Manifest{Name: name, Model: filepath.Base(p)}, data, p)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", p, err)
	}
	return b, nil
}

// loadFS loads a bundle directory from fsys.
func loadFS(fsys fs.FS, source string) (*Bundle, error) {
	raw, err := fs.ReadFile(fsys, ManifestFile)
	if err != nil {
		return nil, fmt.Errorf("load bundle %s: %w", source, err)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("load bundle %s: %w", source, err)
	}
	data, err := readLimited(fsys, m.Model)
	if err != nil {
		return nil, fmt.Errorf("load bundle %s: model: %w", source, err)
	}
	b, err := build(*m, data, source)
	if err != nil {
		return nil, fmt.Errorf("load bundle %s: %w", source, err)
	}
	b.fsys = fsys
	return b, nil
}

// readLimited reads a file of at most xgboost.MaxModelBytes.
func readLimited(fsys fs.FS, name string) ([]byte, error) {
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if st.Size() > xgboost.MaxModelBytes {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed", name, st.Size(), xgboost.MaxModelBytes)
	}
	return fs.ReadFile(fsys, name)
}

// ParseManifest decodes and checks a manifest. Unknown fields are an error
// so that a typo does not silently fall back to a default.
func ParseManifest(raw []byte) (*Manifest, error) {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.Model == "" {
		return nil, errors.New("manifest: model: missing")
	}
	if !fs.ValidPath(m.Model) {
		return nil, fmt.Errorf("manifest: model: %q must be a path inside the bundle", m.Model)
	}
	if m.Baseline != "" && !fs.ValidPath(m.Baseline) {
		return nil, fmt.Errorf("manifest: baseline: %q must be a path inside the bundle", m.Baseline)
	}
	return &m, nil
}

// build compiles the model and reconciles it with the manifest.
func build(m Manifest, data []byte, source string) (*Bundle, error) {
	f, format, err := xgboost.Load(data)
	if err != nil {
		return nil, err
	}
	if f.NumGroup() != 1 {
		return nil, fmt.Errorf("objective %s gives %d outputs per row; a scoring bundle needs one", f.Objective(), f.NumGroup())
	}
	if m.Name == "" {
		m.Name = strings.TrimSuffix(path.Base(m.Model), path.Ext(m.Model))
	}
	if m.Version == "" {
		m.Version = "0"
	}
	defaulted := m.Tiers == (leadscore.Tiers{})
	if defaulted {
		m.Tiers = DefaultTiers
	}
	if err := m.Tiers.Validate(); err != nil {
		return nil, fmt.Errorf("manifest: tiers: %w", err)
	}
	nf := f.NumFeature()
	switch {
	case len(m.Features) == 0:
		names := f.FeatureNames()
		m.Features = make([]leadscore.Feature, nf)
		for i := range m.Features {
			m.Features[i] = leadscore.Feature{Name: fmt.Sprintf("f%d", i), Min: math.Inf(-1), Max: math.Inf(1)}
			if len(names) == nf {
				m.Features[i].Name = names[i]
			}
		}
	case len(m.Features) != nf:
		return nil, fmt.Errorf("manifest lists %d features, the model has %d", len(m.Features), nf)
	}
	seen := make(map[string]bool, nf)
	for i, ft := range m.Features {
		if ft.Name == "" || seen[ft.Name] {
			return nil, fmt.Errorf("manifest: feature %d: name %q is empty or repeated", i, ft.Name)
		}
		seen[ft.Name] = true
		if names := f.FeatureNames(); len(names) == nf && names[i] != ft.Name {
			return nil, fmt.Errorf("manifest: feature %d is %q, the model calls it %q", i, ft.Name, names[i])
		}
	}
	if m.Bias != nil {
		names := make([]string, len(m.Features))
		for i, ft := range m.Features {
			names[i] = ft.Name
		}
		if err := m.Bias.Validate(names); err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
	}
	b := &Bundle{manifest: m, forest: f, format: format, source: source, missing: float32(math.NaN()), defaultTiers: defaulted}
	if m.Missing != nil {
		b.missing = float32(*m.Missing)
	}
	b.names = make([]string, nf)
	for i, ft := range m.Features {
		b.names[i] = ft.Name
	}
	b.info = leadscore.ModelInfo{Name: m.Name, Version: m.Version, Features: m.Features, Tiers: m.Tiers, Objective: f.Objective()}
	return b, nil
}

// Info describes the model served.
func (b *Bundle) Info() leadscore.ModelInfo { return b.info }

// Manifest returns the bundle's manifest with defaults filled in.
func (b *Bundle) Manifest() Manifest { return b.manifest }

// Forest is the compiled model.
func (b *Bundle) Forest() *forest.Forest { return b.forest }

// Format is the model file's format.
func (b *Bundle) Format() xgboost.Format { return b.format }

// Source is where the bundle was loaded from.
func (b *Bundle) Source() string { return b.source }

// NumFeature is the number of input columns.
func (b *Bundle) NumFeature() int { return b.forest.NumFeature() }

// FeatureNames are the input columns' names in order.
func (b *Bundle) FeatureNames() []string { return b.names }

// ReadBaseline returns a file of the bundle's training baseline, such as
// statistics.json, or fs.ErrNotExist when the bundle has none.
func (b *Bundle) ReadBaseline(name string) ([]byte, error) {
	if b.fsys == nil || b.manifest.Baseline == "" {
		return nil, fs.ErrNotExist
	}
	return fs.ReadFile(b.fsys, path.Join(b.manifest.Baseline, name))
}

// Score scores rows (row-major, NumFeature values each, NaN for missing)
// into out[:n]. Values equal to the manifest's missing value are replaced
// by NaN in rows. explain > 0 adds up to explain reasons each way.
func (b *Bundle) Score(ctx context.Context, rows []float32, explain int, out []leadscore.Result) error {
	nf := b.forest.NumFeature()
	if len(rows)%nf != 0 {
		return fmt.Errorf("score: %d values are not whole rows of %d features", len(rows), nf)
	}
	n := len(rows) / nf
	if len(out) < n {
		return fmt.Errorf("score: room for %d results, need %d", len(out), n)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	forest.ReplaceMissing(rows, b.missing)
	buf := b.buffers(n)
	defer b.bufs.Put(buf)
	margin := buf.margin[:n]
	if err := b.forest.PredictMargin(rows, margin); err != nil {
		return err
	}
	var contrib []float32
	if explain > 0 {
		// All the rows at once: explaining a batch tree by tree costs
		// about half as much per row as one row per call.
		if cap(buf.contrib) < n*(nf+1) {
			buf.contrib = make([]float32, n*(nf+1))
		}
		contrib = buf.contrib[:n*(nf+1)]
		if err := b.forest.ContributionsBatch(rows, contrib); err != nil {
			return err
		}
	}
	var p [1]float32
	for i := range margin {
		b.forest.Transform(margin[i:i+1], p[:])
		out[i] = leadscore.Result{
			Score:       b.manifest.Tiers.Tier(float64(p[0])),
			Probability: float64(p[0]),
			Margin:      float64(margin[i]),
		}
		if explain > 0 {
			out[i].Reasons = leadscore.Reasons(contrib[i*(nf+1):i*(nf+1)+nf], b.names, rows[i*nf:(i+1)*nf], explain, buf.order)
		}
	}
	return nil
}

func (b *Bundle) buffers(n int) *buffers {
	buf, ok := b.bufs.Get().(*buffers)
	if !ok {
		nf := b.forest.NumFeature()
		buf = &buffers{contrib: make([]float32, nf+1), order: make([]int, 0, nf)}
	}
	if cap(buf.margin) < n {
		buf.margin = make([]float32, n)
	}
	return buf
}

var _ leadscore.Scorer = (*Bundle)(nil)
