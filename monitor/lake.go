package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/lake"
)

// LakeQuery selects captured rows of a data lake: Parquet files in Hive
// partitions Dir/dt=YYYY-MM-DD/hour=HH/*.parquet (UTC), rows with
// From <= event_time < To. Outcomes in Dir/groundtruth/ partitions from a
// day before From on are joined to the rows by inference id, else lead id.
type LakeQuery struct {
	// Dir is the local lake directory; with Store, only the lake's name
	// in messages (like s3://bucket/prefix).
	Dir string
	// Store, when set, is where the lake is read from instead of Dir
	// (capture/s3's Client for S3): files are fetched one at a time into a
	// temporary directory and removed once read.
	Store    lake.Store
	From, To time.Time
	// Model, when set, keeps only the rows whose model_name is Model.
	Model string
	// Bias, when set, adds Clarify's bias metrics of its facets over the
	// rows (predicted labels from the probability column) and, joined with
	// the ground truth, the outcome metrics; nil: the facets of the
	// baseline's bias.json, if it has one.
	Bias *leadscore.BiasConfig
	// Attribution, when its Explain is set and the baseline has global
	// attributions (attribution.json), adds attribution drift over a
	// sample of the rows.
	Attribution LakeAttribution
}

// LakeAttribution configures feature-attribution drift over a lake:
// TreeSHAP on a uniform sample of at most Rows of the selected rows
// (reservoir sampling with a fixed seed, so that the same lake gives the
// same sample), their mean |SHAP| ranked against the baseline's by NDCG.
type LakeAttribution struct {
	// Explain computes a row's contributions; Features are its features
	// in order (the model's), each a baseline feature.
	Explain  Explainer
	Features []string
	// Rows bounds the sample (default 2000, at most MaxWindowRows);
	// MinRows is the fewest sampled rows before the rankings are compared
	// (default 100); Threshold the NDCG below which attribution has
	// drifted (default 0.9).
	Rows      int
	MinRows   int
	Threshold float64
}

// LakeResult is a batch check of the lake.
type LakeResult struct {
	Report *Report
	// Statistics are the selected rows' own statistics, in the baseline's
	// schema (Model Monitor writes one per run too).
	Statistics *Statistics
	// Files are the Parquet files read (keys relative to the lake with a
	// Store).
	Files []string
	// GroundTruthFiles are the groundtruth files read.
	GroundTruthFiles []string
}

// CheckLake reads the rows q selects and checks them against the
// baseline like the live window, with KLL sketches instead of exact
// values so that memory does not grow with the rows. When the lake has
// groundtruth files, their outcomes are joined to the rows and the report
// has a quality section (binary_classification_metrics); memory grows
// with the outcomes and the labelled rows then. Tier shares come from the
// tier column, else from the probability and tiers.
func CheckLake(ctx context.Context, q LakeQuery, base *Baseline, checks Checks, tiers leadscore.Tiers) (*LakeResult, error) {
	if q.Store == nil && strings.Contains(q.Dir, "://") {
		return nil, fmt.Errorf("lake %s: a remote lake needs a lake.Store", q.Dir)
	}
	if !q.From.Before(q.To) {
		return nil, fmt.Errorf("lake: empty time range [%v, %v)", q.From, q.To)
	}
	ck, err := checks.resolve(base)
	if err != nil {
		return nil, err
	}
	if tiers == (leadscore.Tiers{}) {
		tiers, _ = base.tiers()
	}
	src, err := newLakeSource(q)
	if err != nil {
		return nil, err
	}
	defer src.close()
	gtFiles, err := src.files(ctx, lake.GroundTruth, q.From.UTC().Add(-24*time.Hour), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return nil, err
	}
	files, err := src.files(ctx, lake.Predictions, q.From.UTC(), q.To.UTC())
	if err != nil {
		return nil, err
	}
	acc := newLakeAccumulator(base, tiers)
	if acc.bias, err = newBiasState(q.Bias, base, base.Features()); err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	if acc.bias != nil {
		acc.biasCounts, acc.biasBuf = acc.bias.counts(), make([]float64, len(acc.bias.facetIx))
	}
	if acc.attr, err = newLakeSampler(q.Attribution, base); err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	if len(gtFiles) > 0 {
		acc.truth = newOutcomeIndex()
		acc.labeled = []labeled{}
	}
	for _, f := range gtFiles {
		if err := src.read(ctx, f, acc.truth.readFile); err != nil {
			return nil, fmt.Errorf("groundtruth file %s: %w", f, err)
		}
	}
	for _, f := range files {
		if err := src.read(ctx, f, func(path string) error { return acc.readFile(path, q) }); err != nil {
			return nil, fmt.Errorf("lake file %s: %w", f, err)
		}
	}
	from, to := q.From.UTC(), q.To.UTC()
	r := &Report{
		GeneratedAt: time.Now().UTC(), Checks: ck, Model: ModelRef{Name: q.Model},
		Window: Window{Rows: acc.rows, From: &from, To: &to, Files: len(files)},
	}
	if acc.rows > 0 {
		r.Window.Oldest, r.Window.Newest = &acc.oldest, &acc.newest
	}
	if r.Model.Name == "" && base.Scores != nil {
		r.Model = base.Scores.Model
	}
	var static []Violation
	for i, bf := range base.features {
		if acc.missingIn[i] > 0 {
			static = append(static, newViolation(bf.name, CheckMissingCol, fmt.Sprintf(
				"Baseline feature %s has no column in %d of %d files.", bf.name, acc.missingIn[i], acc.files)))
		}
	}
	for _, name := range acc.extra {
		static = append(static, newViolation(name, CheckExtraCol, fmt.Sprintf(
			"Column %s of the lake is not a baseline feature.", name)))
	}
	for i := range acc.cols {
		if acc.missingIn[i] == acc.files && acc.files > 0 {
			acc.cols[i] = nil
		}
	}
	assemble(r, base, ck, tiers, static, acc.cols, acc.prob, acc.tierCounts, acc.labeled)
	if acc.bias != nil {
		br, vs := acc.bias.result(acc.biasCounts)
		r.Bias = br
		r.ConstraintViolations.Violations = append(r.ConstraintViolations.Violations, vs...)
	}
	if acc.attr != nil {
		ar, vs, err := acc.attr.report(ctx)
		if err != nil {
			return nil, err
		}
		r.Attribution = &ar
		r.ConstraintViolations.Violations = append(r.ConstraintViolations.Violations, vs...)
	}
	stats := &Statistics{Dataset: Dataset{ItemCount: acc.rows}}
	for i, c := range acc.cols {
		if c != nil {
			stats.Features = append(stats.Features, c.statistics(base.features[i].name, c.distribution()))
		}
	}
	return &LakeResult{Report: r, Statistics: stats, Files: files, GroundTruthFiles: gtFiles}, nil
}

// assemble fills a report's checks from accumulated columns (nil for a
// feature without data), the probability column (nil when unknown), the
// tier counts and the labelled rows (nil: no quality section).
func assemble(r *Report, base *Baseline, ck Checks, tiers leadscore.Tiers, static []Violation,
	cols []*column, prob *column, tierCounts [6]int64, rows []labeled) {
	r.ConstraintViolations = Violations{Violations: append([]Violation{}, static...)}
	for i := range base.features {
		bf := &base.features[i]
		if cols[i] == nil {
			r.Features = append(r.Features, missingReport(bf))
			continue
		}
		fr, vs := compare(bf, cols[i], ck)
		r.Features = append(r.Features, fr)
		r.ConstraintViolations.Violations = append(r.ConstraintViolations.Violations, vs...)
	}
	if base.prob != nil && prob != nil {
		fr, vs := compare(base.prob, prob, ck)
		ts, tpsi := tierShares(base, tierCounts)
		r.Prediction = &PredictionReport{FeatureReport: fr, Tiers: ts, TierPSI: tpsi}
		r.ConstraintViolations.Violations = append(r.ConstraintViolations.Violations, vs...)
	}
	if rows != nil {
		r.Quality = qualityReport(base, tiers, rows, ck.QualityThreshold)
	}
}

// Column roles in a lake file.
const (
	roleIgnore = iota
	roleTime
	roleProb
	roleTier
	roleModel
	roleFeature
	roleInference
	roleLead
)

type lakeRole struct {
	kind    int
	feature int           // for roleFeature
	unit    time.Duration // for roleTime
}

// lakeAccumulator accumulates the selected rows of a lake's files.
type lakeAccumulator struct {
	base           *Baseline
	tiers          leadscore.Tiers
	cols           []*column
	prob           *column
	tierCounts     [6]int64
	rows           int64
	files          int
	missingIn      []int
	extra          []string
	oldest, newest time.Time
	vals           []float64
	// truth holds the outcomes to join (nil: the lake has none); labeled
	// collects the rows they label.
	truth   *outcomeIndex
	labeled []labeled
	// bias counts the rows for the bias section (nil: no facets).
	bias       *biasState
	biasCounts *biasCounts
	biasBuf    []float64
	// attr samples rows for attribution drift (nil: off).
	attr *lakeSampler
}

func newLakeAccumulator(base *Baseline, tiers leadscore.Tiers) *lakeAccumulator {
	a := &lakeAccumulator{base: base, tiers: tiers, cols: make([]*column, len(base.features)),
		missingIn: make([]int, len(base.features)), vals: make([]float64, len(base.features))}
	for i := range a.cols {
		a.cols[i] = newColumn(true)
		a.cols[i].against(&base.features[i])
	}
	if base.prob != nil {
		a.prob = newColumn(true)
		a.prob.against(base.prob)
	}
	return a
}

// roles maps a file's leaf columns to what they hold.
func (a *lakeAccumulator) roles(schema *parquet.Schema) ([]lakeRole, error) {
	paths := schema.Columns()
	roles := make([]lakeRole, len(paths))
	found := make([]bool, len(a.base.features))
	hasTime := false
	for c, path := range paths {
		if len(path) != 1 {
			continue
		}
		name := path[0]
		switch name {
		case lake.ColEventTime:
			leaf, _ := schema.Lookup(name)
			unit, err := timeUnit(leaf.Node.Type())
			if err != nil {
				return nil, fmt.Errorf("event_time: %w", err)
			}
			roles[c], hasTime = lakeRole{kind: roleTime, unit: unit}, true
		case ProbabilityName:
			roles[c] = lakeRole{kind: roleProb}
		case lake.ColTier:
			roles[c] = lakeRole{kind: roleTier}
		case lake.ColModelName:
			roles[c] = lakeRole{kind: roleModel}
		case lake.ColInferenceID:
			roles[c] = lakeRole{kind: roleInference}
		case lake.ColLeadID:
			roles[c] = lakeRole{kind: roleLead}
		default:
			if i, ok := a.base.index[name]; ok {
				roles[c] = lakeRole{kind: roleFeature, feature: i}
				found[i] = true
			} else if !lake.Reserved(name) && !slices.Contains(a.extra, name) {
				a.extra = append(a.extra, name)
			}
		}
	}
	if !hasTime {
		return nil, errors.New("no event_time column")
	}
	for i, ok := range found {
		if !ok {
			a.missingIn[i]++
		}
	}
	return roles, nil
}

// timeUnit is the duration of one unit of a TIMESTAMP column.
func timeUnit(t parquet.Type) (time.Duration, error) {
	lt := t.LogicalType()
	if t.Kind() == parquet.Int64 && lt != nil {
		if ts, ok := lt.Value.(*format.TimestampType); ok {
			switch ts.Unit.Value.(type) {
			case *format.MilliSeconds:
				return time.Millisecond, nil
			case *format.MicroSeconds:
				return time.Microsecond, nil
			case *format.NanoSeconds:
				return time.Nanosecond, nil
			}
		}
	}
	return 0, fmt.Errorf("type %v is not an INT64 TIMESTAMP", t)
}

// openParquet opens a Parquet file of the lake; close f when done.
func openParquet(path string) (pf *parquet.File, f *os.File, err error) {
	f, err = os.Open(path) // #nosec G304 -- a file of the lake the operator names
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err == nil {
		pf, err = parquet.OpenFile(f, st.Size())
	}
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return pf, f, nil
}

// readFile adds the selected rows of one file.
func (a *lakeAccumulator) readFile(path string, q LakeQuery) error {
	pf, f, err := openParquet(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	a.files++
	roles, err := a.roles(pf.Schema())
	if err != nil {
		return err
	}
	rd := parquet.NewReader(pf)
	defer func() { _ = rd.Close() }()
	batch := make([]parquet.Row, 256)
	for {
		n, err := rd.ReadRows(batch)
		for _, row := range batch[:n] {
			a.addRow(row, roles, q)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// addRow adds one row when it is in the query's range.
func (a *lakeAccumulator) addRow(row parquet.Row, roles []lakeRole, q LakeQuery) {
	for i := range a.vals {
		a.vals[i] = math.NaN()
	}
	var at time.Time
	prob, tier, model := math.NaN(), 0, ""
	var infID, leadID []byte
	for _, v := range row {
		c := v.Column()
		if c < 0 || c >= len(roles) || v.IsNull() {
			continue
		}
		switch r := roles[c]; r.kind {
		case roleTime:
			at = time.Unix(0, v.Int64()*int64(r.unit)).UTC()
		case roleProb:
			prob, _ = numeric(v)
		case roleTier:
			if x, ok := numeric(v); ok {
				tier = int(x)
			}
		case roleModel:
			model = string(v.ByteArray())
		case roleInference:
			infID = v.ByteArray()
		case roleLead:
			leadID = v.ByteArray()
		case roleFeature:
			if x, ok := numeric(v); ok {
				a.vals[r.feature] = x
			}
		}
	}
	if at.IsZero() || at.Before(q.From) || !at.Before(q.To) || (q.Model != "" && model != q.Model) {
		return
	}
	a.rows++
	if a.rows == 1 || at.Before(a.oldest) {
		a.oldest = at
	}
	if a.rows == 1 || at.After(a.newest) {
		a.newest = at
	}
	for i, x := range a.vals {
		a.cols[i].add(x)
	}
	if a.prob != nil {
		a.prob.add(prob)
	}
	label := int8(-1)
	if a.truth != nil && !math.IsNaN(prob) {
		if pos, ok := a.truth.lookup(infID, leadID); ok {
			a.labeled = append(a.labeled, labeled{p: prob, pos: pos})
			label = 0
			if pos {
				label = 1
			}
		}
	}
	if a.bias != nil && !math.IsNaN(prob) {
		addBiasRow(a.bias, a.biasCounts, a.biasBuf, a.vals, prob, label, a.tiers)
	}
	if a.attr != nil {
		a.attr.offer(a.vals)
	}
	if tier < 1 || tier > 5 {
		if math.IsNaN(prob) {
			return
		}
		tier = a.tiers.Tier(prob)
	}
	a.tierCounts[tier]++
}

// numeric reads a numeric Parquet value; ok is false for other kinds.
func numeric(v parquet.Value) (float64, bool) {
	switch v.Kind() {
	case parquet.Float:
		return float64(v.Float()), true
	case parquet.Double:
		return v.Double(), true
	case parquet.Int32:
		return float64(v.Int32()), true
	case parquet.Int64:
		return float64(v.Int64()), true
	case parquet.Boolean:
		if v.Boolean() {
			return 1, true
		}
		return 0, true
	}
	return math.NaN(), false
}
