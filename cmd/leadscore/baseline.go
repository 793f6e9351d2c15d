package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/leadscore/leadscore/forest"
	"github.com/leadscore/leadscore/monitor"
)

const baselineUsage = `Usage: leadscore baseline --data FILE --out DIR [flags]

Computes a training baseline for drift monitoring from the data the model
was trained or validated on: per-feature statistics.json and
constraints.json in SageMaker Model Monitor's schema (inferred type,
completeness, min/max/mean/std, a 10-bucket histogram and a KLL sketch,
comparison threshold 0.1), and scores.json with the model's probability
and tier distribution on the data, and its quality when the data has a
label column. With facets (the bundle manifest's "bias", or --facet),
bias.json: SageMaker Clarify's pre-training bias metrics of the labels
(CI, DPL, KL, JS, KS) and post-training metrics of the model on the data.
And attribution.json: each feature's mean |SHAP| over up to
--attribution-rows rows, the baseline of attribution drift. Put DIR in a
bundle and name it in the manifest's "baseline" to have the service
monitor against it.

Flags:
`

// runBaseline implements `leadscore baseline`.
func runBaseline(args []string, stdout, stderr io.Writer) error {
	fs := newCommand("baseline", baselineUsage, stdout, stderr)
	data := fs.String("data", "", "baseline data: CSV with a header, or Parquet (required)")
	format := fs.String("format", "", "data format: csv, parquet or json (default: from the file extension)")
	modelPath := fs.String("model", "", "model file or bundle directory (default: the embedded demo model)")
	out := fs.String("out", "", "directory to write the baseline files to (required)")
	label := fs.String("label", "converted", "label column (1 converted, 0 not, empty unknown) for the quality figures; \"\" for none")
	threshold := fs.Float64("threshold", monitor.DefaultComparisonThreshold, "comparison_threshold: the largest distribution distance that is not drift")
	method := fs.String("method", monitor.MethodRobust, "comparison_method: Robust (distance must also be statistically significant) or Simple")
	attrRows := fs.Int("attribution-rows", monitor.DefaultBaselineAttributionRows, "explain up to this many rows (evenly spaced) for attribution.json; 0: no attribution baseline")
	var bf biasFlags
	bf.addFlags(fs.FlagSet)
	asJSON := fs.Bool("json", false, "print a JSON summary instead of text")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *data == "" || *data == "-" || *out == "" {
		return fmt.Errorf("%w: leadscore baseline needs --data FILE and --out DIR", errUsage)
	}
	if !(*threshold > 0 && *threshold <= 1) {
		return fmt.Errorf("%w: --threshold %v: want a distance in (0, 1]", errUsage, *threshold)
	}
	if *method != monitor.MethodRobust && *method != monitor.MethodSimple {
		return fmt.Errorf("%w: --method %q: want Robust or Simple", errUsage, *method)
	}
	if *attrRows < 0 {
		return fmt.Errorf("%w: --attribution-rows %d is negative", errUsage, *attrRows)
	}
	if *format == "" {
		*format = formatFromName(*data)
	}
	m, err := openModel(*modelPath)
	if err != nil {
		return err
	}
	if m.forest.NumGroup() != 1 {
		return fmt.Errorf("%w: the model gives %d outputs per row; a baseline needs a binary classifier", errInput, m.forest.NumGroup())
	}
	prog := newProgress(stderr)
	prog.printf("reading %s ...", *data)
	t, err := readTable(*data, *format, m.names, nil)
	prog.done()
	if err != nil {
		return err
	}
	if t.Rows == 0 {
		return fmt.Errorf("%w: %s has no rows", errInput, *data)
	}
	forest.ReplaceMissing(t.Values, m.missing)
	probs := make([]float32, t.Rows)
	if err := m.forest.Predict(t.Values, probs); err != nil {
		return fmt.Errorf("score %s: %w", *data, err)
	}
	in := monitor.BaselineInput{
		Names: m.names, Values: t.Values, Rows: t.Rows, Probabilities: probs, Tiers: m.tiers,
		Model:               monitor.ModelRef{Name: strings.TrimSuffix(filepath.Base(m.source), filepath.Ext(m.source))},
		ComparisonThreshold: *threshold, ComparisonMethod: *method,
	}
	if m.bundle != nil {
		mf := m.bundle.Manifest()
		in.Model = monitor.ModelRef{Name: mf.Name, Version: mf.Version}
		in.Bias = mf.Bias
	}
	if cfg, err := bf.config(m.names); err != nil {
		return err
	} else if cfg != nil {
		in.Bias = cfg
	}
	if *attrRows > 0 {
		in.Explain, in.AttributionRows = m.forest.ContributionsBatch, *attrRows
	}
	if *label != "" {
		if labels, ok := t.Extra[*label]; ok {
			for i, v := range labels {
				if !math.IsNaN(v) && v != 0 && v != 1 {
					return fmt.Errorf("%w: %s: row %d: label %s is %v; want 0, 1 or empty", errInput, *data, i, *label, v)
				}
			}
			in.Labels, in.LabelName = labels, *label
		}
	}
	b, err := monitor.ComputeBaseline(in)
	if err != nil {
		return fmt.Errorf("%w: %w", errInput, err)
	}
	if err := b.WriteDir(*out); err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, baselineSummary(b, *data, *out))
	}
	return printBaseline(stdout, b, *data, *out)
}

// baselineJSON is what `leadscore baseline --json` prints.
type baselineJSON struct {
	Data         string    `json:"data"`
	Rows         int64     `json:"rows"`
	Features     int       `json:"features"`
	Model        string    `json:"model,omitempty"`
	ModelVersion string    `json:"model_version,omitempty"`
	MeanScore    float64   `json:"mean_probability"`
	TierShares   []float64 `json:"tier_shares,omitempty"`
	Label        string    `json:"label,omitempty"`
	AUC          *float64  `json:"auc,omitempty"`
	// BiasViolations are the pre-training bias metrics outside their
	// range (with facets); TopFeatures the three features of largest
	// attribution.
	BiasViolations []monitor.Violation `json:"bias_violations,omitempty"`
	TopFeatures    []string            `json:"top_features,omitempty"`
	Files          []string            `json:"files"`
}

func baselineSummary(b *monitor.Baseline, data, dir string) baselineJSON {
	r := baselineJSON{Data: data, Rows: int64(b.Statistics.Dataset.ItemCount), Features: len(b.Statistics.Features),
		Files: []string{filepath.Join(dir, monitor.StatisticsFile), filepath.Join(dir, monitor.ConstraintsFile)}}
	if s := b.Scores; s != nil {
		r.Model, r.ModelVersion = s.Model.Name, s.Model.Version
		r.MeanScore = s.Probability.NumericalStatistics.Mean
		for _, d := range s.Tiers.Distribution {
			r.TierShares = append(r.TierShares, d.Share)
		}
		if q := s.BinaryClassificationMetrics; q != nil {
			auc := float64(q.AUC.Value)
			r.Label, r.AUC = s.Label, &auc
		}
		r.Files = append(r.Files, filepath.Join(dir, monitor.ScoresFile))
	}
	if b.Bias != nil {
		r.BiasViolations = b.Bias.Violations
		r.Files = append(r.Files, filepath.Join(dir, monitor.BiasFile))
	}
	if b.Attribution != nil {
		r.TopFeatures = b.Attribution.TopFeatures(3)
		r.Files = append(r.Files, filepath.Join(dir, monitor.AttributionFile))
	}
	return r
}

// printBaseline summarises a baseline written to dir.
func printBaseline(w io.Writer, b *monitor.Baseline, data, dir string) error {
	integral := 0
	for _, f := range b.Statistics.Features {
		if f.InferredType == monitor.TypeIntegral {
			integral++
		}
	}
	nf := len(b.Statistics.Features)
	var sb strings.Builder
	fmt.Fprintf(&sb, "baseline of %d rows, %d features (%d Integral, %d Fractional) from %s\n",
		b.Statistics.Dataset.ItemCount, nf, integral, nf-integral, data)
	files := []string{monitor.StatisticsFile, monitor.ConstraintsFile}
	if s := b.Scores; s != nil {
		ps := s.Probability.NumericalStatistics
		fmt.Fprintf(&sb, "model %s %s: mean probability %.4f; tiers 1-5:", s.Model.Name, s.Model.Version, ps.Mean)
		for _, r := range s.Tiers.Distribution {
			fmt.Fprintf(&sb, " %.1f%%", 100*r.Share)
		}
		sb.WriteByte('\n')
		if q := s.BinaryClassificationMetrics; q != nil {
			pos := q.ConfusionMatrix["1"]["0"] + q.ConfusionMatrix["1"]["1"]
			all := pos + q.ConfusionMatrix["0"]["0"] + q.ConfusionMatrix["0"]["1"]
			fmt.Fprintf(&sb, "label %s: %d of %d converted; AUC %.4f\n", s.Label, pos, all, float64(q.AUC.Value))
		}
		files = append(files, monitor.ScoresFile)
	}
	if bb := b.Bias; bb != nil {
		fmt.Fprintf(&sb, "bias: %d facet groups, positive %s; %d pre-training metrics outside their range\n",
			len(bb.PostTraining), bb.Config.Positive, len(bb.Violations))
		for _, v := range bb.Violations {
			fmt.Fprintf(&sb, "  %s\n", v.Description)
		}
		files = append(files, monitor.BiasFile)
	}
	if a := b.Attribution; a != nil {
		fmt.Fprintf(&sb, "attribution: mean |SHAP| of %d rows; top features: %s\n", a.Rows, strings.Join(a.TopFeatures(3), ", "))
		files = append(files, monitor.AttributionFile)
	}
	for i, f := range files {
		files[i] = filepath.Join(dir, f)
	}
	fmt.Fprintf(&sb, "wrote %s\n", strings.Join(files, ", "))
	_, err := io.WriteString(w, sb.String())
	return err
}
