package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/bundle"
	"github.com/leadscore/leadscore/evaluation"
	"github.com/leadscore/leadscore/forest"
	"github.com/leadscore/leadscore/monitor"
	"github.com/leadscore/leadscore/tabular"
	"github.com/leadscore/leadscore/xgboost"
)

const bundleUsage = `Usage: leadscore bundle init --model FILE --data FILE --out DIR [flags]

Turns a trained XGBoost model (model.json, .ubj, or SageMaker's xgboost-model)
and its held-out data into a complete bundle that 'leadscore serve --model DIR'
serves:

  manifest.json   name, version, the features (names from the model, or the
                  data's header when the model has none; ranges from the data)
                  and the tier cut-offs
  TIERS.md        what share of leads and, with a label, what conversion rate
                  and share of conversions each tier holds
  baseline/       the training baseline for drift monitoring
  the model file, copied

The cut-offs are chosen from the data's score distribution so that tiers 1..5
hold --tier-shares of the leads (default, as the demo bundle: the bottom 30%,
then 30%, 20%, 10% and the top 10%), or given with --tiers.

--data is CSV with a header (or Parquet) holding the features and the label
column; SageMaker's training layout (label first, no header) works with
--label 0.
`

func runBundle(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		_, err := fmt.Fprint(stdout, "Usage:\n  leadscore bundle init --model FILE --data FILE --out DIR [flags]\n\nRun 'leadscore bundle init --help' for its flags.\n")
		return err
	}
	if args[0] != "init" {
		return fmt.Errorf("%w: unknown bundle command %q (see 'leadscore bundle help')", errUsage, args[0])
	}
	return runBundleInit(args[1:], stdout, stderr)
}

// bundleInitJSON is what `bundle init --json` prints.
type bundleInitJSON struct {
	Dir      string               `json:"dir"`
	Name     string               `json:"name"`
	Version  string               `json:"version"`
	Rows     int                  `json:"rows"`
	Features int                  `json:"features"`
	Cutoffs  leadscore.Tiers      `json:"cutoffs"`
	Tiers    []evaluation.TierRow `json:"tiers"`
	AUC      *float64             `json:"auc,omitempty"`
	Files    []string             `json:"files"`
}

func runBundleInit(args []string, stdout, stderr io.Writer) error {
	fs := newCommand("bundle init", bundleUsage, stdout, stderr)
	modelPath := fs.String("model", "", "trained XGBoost model `file` (required)")
	data := fs.String("data", "", "held-out data `file`: CSV or Parquet (required)")
	format := fs.String("format", "", "data format: csv or parquet (default: from the file extension)")
	label := fs.String("label", "converted", "label `column`: a name, or a 0-based index for CSV without a header (SageMaker: 0);\n\"\" for none")
	out := fs.String("out", "", "bundle `directory` to write (required; must not hold a manifest yet)")
	name := fs.String("name", "", "model `name` (default: the model file's name)")
	version := fs.String("version", "1", "model `version`")
	description := fs.String("description", "", "free `text` for the manifest")
	shares := fs.String("tier-shares", "30,30,20,10,10", "`percentages` of leads in tiers 1..5 (bottom to top), adding up to 100")
	cutoffs := fs.String("tiers", "", "explicit `cut-offs` for tiers 2..5, four ascending probabilities (instead of --tier-shares)")
	asJSON := fs.Bool("json", false, "print a JSON summary")
	var bf biasFlags
	bf.addFlags(fs.FlagSet)
	if err := fs.parse(args); err != nil {
		return err
	}
	if *modelPath == "" || *data == "" || *out == "" {
		return fmt.Errorf("%w: leadscore bundle init needs --model FILE, --data FILE and --out DIR", errUsage)
	}
	if fileExists(filepath.Join(*out, bundle.ManifestFile)) {
		return fmt.Errorf("%w: %s already holds a bundle; choose a new --out", errUsage, *out)
	}
	raw, err := os.ReadFile(*modelPath) // #nosec G304 -- the user names the model
	if err != nil {
		return fmt.Errorf("%w: model: %w", errInput, err)
	}
	f, _, err := xgboost.Load(raw)
	if err != nil {
		return fmt.Errorf("%w: model %s: %w", errInput, *modelPath, err)
	}
	if f.NumGroup() != 1 {
		return fmt.Errorf("%w: the model gives %d outputs per row; a bundle needs a binary classifier", errInput, f.NumGroup())
	}
	ld, err := readLabelled(*data, *format, *label, f)
	if err != nil {
		return err
	}
	probs := make([]float32, ld.table.Rows)
	if err := f.Predict(ld.table.Values, probs); err != nil {
		return fmt.Errorf("score %s: %w", *data, err)
	}
	var tiers leadscore.Tiers
	if *cutoffs != "" {
		if tiers, err = parseCutoffs(*cutoffs); err != nil {
			return err
		}
	} else {
		sh, err := parseShares(*shares)
		if err != nil {
			return err
		}
		if tiers, err = evaluation.Cutoffs(probs, sh); err != nil {
			return fmt.Errorf("%w: %s: %w", errInput, *data, err)
		}
	}
	if *name == "" {
		*name = strings.TrimSuffix(filepath.Base(*modelPath), filepath.Ext(*modelPath))
	}
	modelFile := filepath.Base(*modelPath)
	biasCfg, err := bf.config(ld.names)
	if err != nil {
		return err
	}
	m := bundle.Manifest{Name: *name, Version: *version, Description: *description, Model: modelFile,
		Features: featureRanges(ld.names, ld.table), Tiers: tiers, Baseline: "baseline", Bias: biasCfg}
	if err := os.MkdirAll(*out, 0o750); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, modelFile), raw, 0o600); err != nil { // #nosec G703 -- the user names the output directory
		return err
	}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, bundle.ManifestFile), append(mj, '\n'), 0o600); err != nil {
		return err
	}
	rows := evaluation.TierTable(probs, ld.labels, tiers)
	auc := math.NaN()
	if ld.labels != nil {
		auc = evaluation.AUC(probs, ld.labels)
	}
	tiersMD := tiersReport(m, *data, *shares, *cutoffs != "", rows, auc, ld.table.Rows)
	if err := os.WriteFile(filepath.Join(*out, "TIERS.md"), []byte(tiersMD), 0o600); err != nil {
		return err
	}
	in := monitor.BaselineInput{Names: ld.names, Values: ld.table.Values, Rows: ld.table.Rows, Probabilities: probs,
		Tiers: tiers, Model: monitor.ModelRef{Name: *name, Version: *version},
		Bias: biasCfg, Explain: f.ContributionsBatch}
	if ld.labels != nil {
		in.Labels, in.LabelName = ld.labels, ld.labelName
	}
	base, err := monitor.ComputeBaseline(in)
	if err != nil {
		return fmt.Errorf("%w: baseline: %w", errInput, err)
	}
	if err := base.WriteDir(filepath.Join(*out, "baseline")); err != nil {
		return err
	}
	if _, err := bundle.Load(*out); err != nil { // what serve will do
		return fmt.Errorf("the bundle written to %s does not load: %w", *out, err)
	}
	sum := bundleInitJSON{Dir: *out, Name: *name, Version: *version, Rows: ld.table.Rows, Features: len(ld.names),
		Cutoffs: tiers, Tiers: rows, Files: []string{filepath.Join(*out, bundle.ManifestFile), filepath.Join(*out, "TIERS.md"),
			filepath.Join(*out, "baseline"), filepath.Join(*out, modelFile)}}
	if !math.IsNaN(auc) {
		sum.AUC = &auc
	}
	if *asJSON {
		return writeJSON(stdout, sum)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "bundle %s %s: %d features, cut-offs %v from %d rows of %s\n", *name, *version, len(ld.names), tiers, ld.table.Rows, *data)
	for _, r := range rows {
		fmt.Fprintf(&sb, "  tier %d  %5.1f%% of leads", r.Tier, 100*r.Share)
		if r.Labelled > 0 {
			fmt.Fprintf(&sb, "  conversion %5.1f%%  %5.1f%% of conversions", 100*r.ConversionRate, 100*r.ShareOfConversions)
		}
		sb.WriteString("\n")
	}
	if sum.AUC != nil {
		fmt.Fprintf(&sb, "AUC %.4f\n", auc)
	}
	fmt.Fprintf(&sb, "wrote %s\n", strings.Join(sum.Files, ", "))
	_, err = io.WriteString(stdout, sb.String())
	return err
}

// tiersReport is a bundle's TIERS.md.
func tiersReport(m bundle.Manifest, data, shares string, explicit bool, rows []evaluation.TierRow, auc float64, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s %s tiers\n\nWritten by `leadscore bundle init` from %d rows of `%s`.\n\n", m.Name, m.Version, n, filepath.Base(data))
	if explicit {
		b.WriteString("The cut-offs were given (--tiers).\n\n")
	} else {
		fmt.Fprintf(&b, "The cut-offs are set at fixed shares of the data's score distribution (tiers 1..5: %s%%),\n", shares)
		b.WriteString("so that sales works the hottest leads first. Each cut-off is the quantile rounded to two significant digits.\n\n")
	}
	fmt.Fprintf(&b, "Cut-offs (probability at or above which a lead enters tiers 2..5): %v\n\n", m.Tiers)
	labelled := rows[0].Labelled+rows[1].Labelled+rows[2].Labelled+rows[3].Labelled+rows[4].Labelled > 0
	if labelled {
		b.WriteString("| tier | probability band | leads | share | conversions | conversion rate | share of all conversions | lift |\n|---|---|---|---|---|---|---|---|\n")
	} else {
		b.WriteString("| tier | probability band | leads | share |\n|---|---|---|---|\n")
	}
	conv, lab := 0, 0
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | [%v, %v) | %d | %.1f%% |", r.Tier, r.Lo, r.Hi, r.Leads, 100*r.Share)
		if labelled {
			fmt.Fprintf(&b, " %d | %.1f%% | %.1f%% | %.2f |", r.Conversions, 100*r.ConversionRate, 100*r.ShareOfConversions, r.Lift)
		}
		b.WriteString("\n")
		conv, lab = conv+r.Conversions, lab+r.Labelled
	}
	if labelled {
		fmt.Fprintf(&b, "\nOverall conversion rate: %.1f%% (%d of %d). AUC %.4f.\n", 100*float64(conv)/float64(lab), conv, lab, auc)
	}
	return b.String()
}

// parseShares reads five percentages (or fractions) adding up to 100 (1).
func parseShares(s string) ([5]float64, error) {
	var out [5]float64
	parts := strings.Split(s, ",")
	if len(parts) != 5 {
		return out, fmt.Errorf("%w: --tier-shares %q: want five numbers, tiers 1..5", errUsage, s)
	}
	sum := 0.0
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(v > 0) {
			return out, fmt.Errorf("%w: --tier-shares %q: %q is not a positive number", errUsage, s, p)
		}
		out[i], sum = v, sum+v
	}
	if math.Abs(sum-100) < 1e-6 {
		for i := range out {
			out[i] /= 100
		}
		sum = 1
	}
	if math.Abs(sum-1) > 1e-6 {
		return out, fmt.Errorf("%w: --tier-shares %q: add up to %v, want 100", errUsage, s, sum)
	}
	return out, nil
}

// parseCutoffs reads four ascending probabilities.
func parseCutoffs(s string) (leadscore.Tiers, error) {
	var t leadscore.Tiers
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return t, fmt.Errorf("%w: --tiers %q: want four cut-offs", errUsage, s)
	}
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return t, fmt.Errorf("%w: --tiers %q: %q is not a number", errUsage, s, p)
		}
		t[i] = v
	}
	if err := t.Validate(); err != nil {
		return t, fmt.Errorf("%w: --tiers: %w", errUsage, err)
	}
	return t, nil
}

// featureRanges are the manifest's features: each name with the range of
// its values in t.
func featureRanges(names []string, t *tabular.Table) []leadscore.Feature {
	out := make([]leadscore.Feature, len(names))
	for j, name := range names {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := 0; i < t.Rows; i++ {
			if v := float64(t.Row(i)[j]); !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		if lo > hi { // never seen
			lo, hi = 0, 0
		}
		out[j] = leadscore.Feature{Name: name, Min: shortest(lo), Max: shortest(hi)}
	}
	return out
}

// shortest is the float32 value v as the float64 of its shortest decimal
// form (11.8264, not 11.826399803161621).
func shortest(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', -1, 32), 64)
	return f
}

// labelledData is a data set read for a model: the feature values in the
// model's order, their names, and the labels (nil without a label).
type labelledData struct {
	table     *tabular.Table
	names     []string
	labels    []float64
	labelName string
}

// modelNames returns the model's feature names, or nil when it has none.
func modelNames(f *forest.Forest) []string {
	if names := f.FeatureNames(); len(names) == f.NumFeature() {
		return names
	}
	return nil
}

// readLabelled reads path for model f. label is a column name, a 0-based
// column index (CSV without a header, as SageMaker's training channel), or
// "" for none. Features are matched by the model's names; a model without
// names takes the data's header, in order, less the label.
func readLabelled(path, format, label string, f *forest.Forest) (*labelledData, error) {
	if format == "" {
		format = formatFromName(path)
	}
	names := modelNames(f)
	if idx, err := strconv.Atoi(label); err == nil {
		if format != "csv" {
			return nil, fmt.Errorf("%w: --label %d (a column index) needs CSV without a header", errUsage, idx)
		}
		return readIndexedCSV(path, idx, f.NumFeature(), names)
	}
	if names == nil {
		if format != "csv" {
			return nil, fmt.Errorf("%w: the model has no feature names: give CSV with a header, or --label INDEX", errInput)
		}
		header, err := csvHeader(path)
		if err != nil {
			return nil, err
		}
		for _, h := range header {
			if h != label {
				names = append(names, h)
			}
		}
		if len(names) != f.NumFeature() {
			return nil, fmt.Errorf("%w: %s has %d columns besides the label %q; the model has %d features",
				errInput, path, len(names), label, f.NumFeature())
		}
	}
	t, err := readTable(path, format, names, nil)
	if err != nil {
		return nil, err
	}
	if t.Rows == 0 {
		return nil, fmt.Errorf("%w: %s has no rows", errInput, path)
	}
	ld := &labelledData{table: t, names: names}
	if label != "" {
		labels, ok := t.Extra[label]
		if !ok {
			return nil, fmt.Errorf("%w: %s has no label column %q (--label; \"\" for none)", errInput, path, label)
		}
		if err := checkLabels(path, label, labels); err != nil {
			return nil, err
		}
		ld.labels, ld.labelName = labels, label
	}
	return ld, nil
}

func checkLabels(path, label string, labels []float64) error {
	for i, v := range labels {
		if !math.IsNaN(v) && v != 0 && v != 1 {
			return fmt.Errorf("%w: %s: row %d: label %s is %v; want 0, 1 or empty", errInput, path, i, label, v)
		}
	}
	return nil
}

// csvHeader reads the first record of a CSV file.
func csvHeader(path string) ([]string, error) {
	fh, err := os.Open(path) // #nosec G304 -- the user names the data
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInput, err)
	}
	defer func() { _ = fh.Close() }()
	rec, err := csv.NewReader(bufio.NewReader(fh)).Read()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: header: %w", errInput, path, err)
	}
	return rec, nil
}

// readIndexedCSV reads CSV without a header whose column idx is the label
// and whose other columns are the nf features in order.
func readIndexedCSV(path string, idx, nf int, names []string) (*labelledData, error) {
	fh, err := os.Open(path) // #nosec G304 -- the user names the data
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInput, err)
	}
	defer func() { _ = fh.Close() }()
	r := csv.NewReader(bufio.NewReader(fh))
	r.FieldsPerRecord = nf + 1
	r.ReuseRecord = true
	t := &tabular.Table{Cols: nf}
	var labels []float64
	for row := 0; ; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w (the model has %d features, plus the label)", errInput, path, err, nf)
		}
		if idx < 0 || idx >= len(rec) {
			return nil, fmt.Errorf("%w: --label %d: the rows have %d columns", errUsage, idx, len(rec))
		}
		for j, s := range rec {
			v := math.NaN()
			if s = strings.TrimSpace(s); s != "" {
				if v, err = strconv.ParseFloat(s, 64); err != nil {
					return nil, fmt.Errorf("%w: %s: row %d, column %d: %q is not a number", errInput, path, row, j, s)
				}
			}
			if j == idx {
				labels = append(labels, v)
			} else {
				t.Values = append(t.Values, float32(v))
			}
		}
		t.Rows++
	}
	if t.Rows == 0 {
		return nil, fmt.Errorf("%w: %s has no rows", errInput, path)
	}
	if names == nil {
		names = make([]string, nf)
		for i := range names {
			names[i] = fmt.Sprintf("f%d", i)
		}
	}
	if err := checkLabels(path, "column "+strconv.Itoa(idx), labels); err != nil {
		return nil, err
	}
	return &labelledData{table: t, names: names, labels: labels, labelName: "label"}, nil
}
