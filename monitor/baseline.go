package monitor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/lake"
)

// Defaults of the constraints a baseline writes.
const (
	// DefaultComparisonThreshold is the largest distance between the
	// baseline and the current distribution of a feature that is not drift.
	DefaultComparisonThreshold = 0.1
	// DefaultDatatypeCheckThreshold is the largest share of values of the
	// wrong type (non-integers in an Integral feature) that is not a
	// violation.
	DefaultDatatypeCheckThreshold = 0.1
	// DefaultQualityThreshold is the probability from which a lead counts
	// as predicted to convert in binary_classification_metrics, Model
	// Monitor's default.
	DefaultQualityThreshold = 0.5
)

// ProbabilityName is the name under which the model's predicted
// probability appears in reports and violations (and its lake column).
const ProbabilityName = lake.ColProbability

// BaselineInput is the data a baseline is computed from.
type BaselineInput struct {
	// Names are the features, in the order of each row of Values.
	Names []string
	// Values holds Rows rows of len(Names) values, NaN for missing.
	Values []float32
	Rows   int
	// Probabilities are the model's predictions for each row; nil when
	// the data was not scored (no scores.json then).
	Probabilities []float32
	// Labels are the known outcomes per row (1 converted, 0 not, NaN
	// unknown); nil when the data has none. LabelName names their column.
	Labels    []float64
	LabelName string
	// Tiers are the model's tier cut-offs.
	Tiers leadscore.Tiers
	Model ModelRef
	// ComparisonThreshold and ComparisonMethod go into the constraints'
	// distribution_constraints; zero values take the defaults (0.1,
	// Robust).
	ComparisonThreshold float64
	ComparisonMethod    string
	// QualityThreshold is the probability threshold of the baseline's
	// binary_classification_metrics (default 0.5).
	QualityThreshold float64
	// Bias, when set, adds bias.json: the facets with the pre-training
	// bias metrics of the labelled rows and the post-training metrics of
	// the model on them (needs Probabilities).
	Bias *leadscore.BiasConfig
	// Explain, when set, adds attribution.json: mean |SHAP| per feature
	// over at most AttributionRows rows (default 2000, evenly spaced).
	Explain         Explainer
	AttributionRows int
}

// DefaultBaselineAttributionRows bounds the rows a baseline explains.
const DefaultBaselineAttributionRows = 2000

// Baseline is a training baseline: the statistics and constraints of the
// data the model was trained or validated on, and the model's scores on
// it. Build one with ComputeBaseline or read one with ReadBaseline; the
// exported files are then read-only, as the prepared comparisons derive
// from them.
type Baseline struct {
	Statistics  Statistics
	Constraints Constraints
	// Scores is nil when the baseline has no scores.json.
	Scores *Scores
	// Bias is the bias.json: facets and bias metrics of the baseline data;
	// nil when the baseline declares no facets.
	Bias *BiasBaseline
	// Attribution is the attribution.json: each feature's global
	// attribution on the baseline data; nil when it was not computed.
	Attribution *AttributionBaseline

	features []baseFeature
	index    map[string]int
	prob     *baseFeature
}

// ComputeBaseline computes the statistics, constraints and (when the rows
// were scored) the scores of a baseline.
func ComputeBaseline(in BaselineInput) (*Baseline, error) {
	nf := len(in.Names)
	if nf == 0 || in.Rows <= 0 || len(in.Values) != in.Rows*nf {
		return nil, fmt.Errorf("baseline: %d values are not %d rows of %d features", len(in.Values), in.Rows, nf)
	}
	if in.Probabilities != nil && len(in.Probabilities) != in.Rows {
		return nil, fmt.Errorf("baseline: %d probabilities for %d rows", len(in.Probabilities), in.Rows)
	}
	if in.Labels != nil && len(in.Labels) != in.Rows {
		return nil, fmt.Errorf("baseline: %d labels for %d rows", len(in.Labels), in.Rows)
	}
	threshold := in.ComparisonThreshold
	if threshold == 0 {
		threshold = DefaultComparisonThreshold
	}
	if !(threshold > 0 && threshold <= 1) {
		return nil, fmt.Errorf("baseline: comparison threshold %v is not in (0, 1]", threshold)
	}
	method := in.ComparisonMethod
	if method == "" {
		method = MethodRobust
	}
	if method != MethodRobust && method != MethodSimple {
		return nil, fmt.Errorf("baseline: comparison method %q: want %s or %s", method, MethodRobust, MethodSimple)
	}
	b := &Baseline{
		Statistics: Statistics{Dataset: Dataset{ItemCount: int64(in.Rows)}},
		Constraints: Constraints{MonitoringConfig: MonitoringConfig{
			EvaluateConstraints:    "Enabled",
			EmitMetrics:            "Enabled",
			DatatypeCheckThreshold: DefaultDatatypeCheckThreshold,
			DomainContentThreshold: 0.1,
			DistributionConstraints: DistributionConstraints{
				PerformComparison:              "Enabled",
				ComparisonThreshold:            threshold,
				ComparisonMethod:               method,
				CategoricalComparisonThreshold: 0.1,
				CategoricalDriftMethod:         "LInfinity",
			},
		}},
	}
	seen := make(map[string]bool, nf)
	for j, name := range in.Names {
		if name == "" || seen[name] {
			return nil, fmt.Errorf("baseline: feature %d: name %q is empty or repeated", j, name)
		}
		seen[name] = true
		c := newColumn(false)
		for i := range in.Rows {
			c.add(float64(in.Values[i*nf+j]))
		}
		fs := c.statistics(name, c.distribution())
		b.Statistics.Features = append(b.Statistics.Features, fs)
		completeness := float64(c.present) / float64(c.rows)
		fc := FeatureConstraints{Name: name, InferredType: fs.InferredType, Completeness: &completeness}
		if c.present > 0 {
			fc.NumConstraints = &NumConstraints{IsNonNegative: c.min >= 0}
		}
		b.Constraints.Features = append(b.Constraints.Features, fc)
	}
	if in.Probabilities != nil {
		b.Scores = computeScores(in)
	}
	if in.Bias != nil {
		if in.Probabilities == nil {
			return nil, errors.New("baseline: bias metrics need the model's probabilities")
		}
		var err error
		if b.Bias, err = ComputeBiasBaseline(*in.Bias, in.Names, in.Values, in.Rows, in.Probabilities, in.Labels, in.Tiers); err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
	}
	if in.Explain != nil {
		n := in.AttributionRows
		if n == 0 {
			n = DefaultBaselineAttributionRows
		}
		var err error
		if b.Attribution, err = ComputeAttribution(in.Names, in.Values, in.Rows, n, in.Explain); err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
	}
	if err := b.prepare(); err != nil {
		return nil, err
	}
	return b, nil
}

// computeScores summarises the model's outputs on the baseline rows.
func computeScores(in BaselineInput) *Scores {
	c := newColumn(false)
	var tiers [6]TierRow
	var rows []labeled
	for i, p32 := range in.Probabilities {
		p := float64(p32)
		c.add(p)
		t := in.Tiers.Tier(p)
		tiers[t].Count++
		if in.Labels != nil && !math.IsNaN(in.Labels[i]) {
			pos := in.Labels[i] == 1
			rows = append(rows, labeled{p: p, pos: pos})
			tiers[t].Labeled++
			if pos {
				tiers[t].Conversions++
			}
		}
	}
	s := &Scores{
		Model:       in.Model,
		Dataset:     Dataset{ItemCount: int64(in.Rows)},
		Probability: c.statistics(ProbabilityName, c.distribution()),
		Tiers:       TierBaseline{Cutoffs: in.Tiers[:]},
	}
	s.Probability.InferredType = TypeFractional
	bounds := append(append([]float64{0}, in.Tiers[:]...), 1)
	for t := 1; t <= 5; t++ {
		r := tiers[t]
		r.Tier, r.LowerBound, r.UpperBound = t, bounds[t-1], bounds[t]
		r.Share = float64(r.Count) / float64(in.Rows)
		r.ConversionRate = Float(ratio(r.Conversions, r.Labeled))
		s.Tiers.Distribution = append(s.Tiers.Distribution, r)
	}
	if len(rows) > 0 {
		s.Label = in.LabelName
		threshold := in.QualityThreshold
		if threshold == 0 {
			threshold = DefaultQualityThreshold
		}
		s.BinaryClassificationMetrics = binaryClassification(rows, threshold)
	}
	return s
}

// ReadBaseline reads a baseline's files through read (such as
// bundle.Bundle.ReadBaseline, or os.ReadFile under a directory):
// statistics.json and constraints.json are required, scores.json is
// optional. Files written by SageMaker Model Monitor's baselining job are
// accepted; their string features are ignored.
func ReadBaseline(read func(name string) ([]byte, error)) (*Baseline, error) {
	b := &Baseline{}
	for _, f := range []struct {
		name     string
		v        any
		optional bool
	}{
		{StatisticsFile, &b.Statistics, false},
		{ConstraintsFile, &b.Constraints, false},
		{ScoresFile, &b.Scores, true},
		{BiasFile, &b.Bias, true},
		{AttributionFile, &b.Attribution, true},
	} {
		data, err := read(f.name)
		if f.optional && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read baseline: %w", err)
		}
		if err := json.Unmarshal(data, f.v); err != nil {
			return nil, fmt.Errorf("read baseline: %s: %w", f.name, err)
		}
	}
	if err := b.prepare(); err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	return b, nil
}

// LoadBaseline reads a baseline directory.
func LoadBaseline(dir string) (*Baseline, error) {
	b, err := ReadBaseline(func(name string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, name)) // #nosec G304 -- the operator names the baseline directory
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return b, nil
}

// WriteDir writes the baseline's files into dir, creating it.
func (b *Baseline) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	stats, err := marshalStatistics(&b.Statistics)
	if err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	files := []struct {
		name string
		data []byte
	}{{StatisticsFile, stats}}
	cons, err := json.MarshalIndent(&b.Constraints, "", "  ")
	if err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	files = append(files, struct {
		name string
		data []byte
	}{ConstraintsFile, append(cons, '\n')})
	if b.Scores != nil {
		sc, err := marshalScores(b.Scores)
		if err != nil {
			return fmt.Errorf("write baseline: %w", err)
		}
		files = append(files, struct {
			name string
			data []byte
		}{ScoresFile, sc})
	}
	for _, extra := range []struct {
		name string
		v    any
		ok   bool
	}{{BiasFile, b.Bias, b.Bias != nil}, {AttributionFile, b.Attribution, b.Attribution != nil}} {
		if !extra.ok {
			continue
		}
		data, err := json.MarshalIndent(extra.v, "", "  ")
		if err != nil {
			return fmt.Errorf("write baseline: %s: %w", extra.name, err)
		}
		files = append(files, struct {
			name string
			data []byte
		}{extra.name, append(data, '\n')})
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return fmt.Errorf("write baseline: %w", err)
		}
	}
	return nil
}

// marshalStatistics writes a statistics file with one feature per line:
// readable and diffable without a line per sketch item.
func marshalStatistics(s *Statistics) ([]byte, error) {
	var buf bytes.Buffer
	ds, err := json.Marshal(s.Dataset)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&buf, "{\n  \"version\": %s,\n  \"dataset\": %s,\n  \"features\": [", formatVersion(s.Version), ds)
	for i := range s.Features {
		f, err := json.Marshal(&s.Features[i])
		if err != nil {
			return nil, fmt.Errorf("feature %s: %w", s.Features[i].Name, err)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n    ")
		buf.Write(f)
	}
	buf.WriteString("\n  ]\n}\n")
	return buf.Bytes(), nil
}

// marshalScores writes a scores file, its top-level fields one per line.
func marshalScores(s *Scores) ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "{\n  \"version\": %s", formatVersion(s.Version))
	fields := []struct {
		key string
		v   any
	}{
		{"model", s.Model}, {"dataset", s.Dataset}, {"probability", &s.Probability}, {"tiers", s.Tiers},
	}
	if s.Label != "" {
		fields = append(fields, struct {
			key string
			v   any
		}{"label", s.Label})
	}
	if s.BinaryClassificationMetrics != nil {
		fields = append(fields, struct {
			key string
			v   any
		}{"binary_classification_metrics", s.BinaryClassificationMetrics})
	}
	for _, f := range fields {
		data, err := json.Marshal(f.v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.key, err)
		}
		fmt.Fprintf(&buf, ",\n  %q: %s", f.key, data)
	}
	buf.WriteString("\n}\n")
	return buf.Bytes(), nil
}

func formatVersion(v float64) string {
	data, err := json.Marshal(v)
	if err != nil {
		return "0"
	}
	return string(data)
}

// baseFeature is a baseline feature prepared for comparisons.
type baseFeature struct {
	name     string
	integral bool
	// numeric is false for a feature without numerical statistics (a
	// string feature of a Model Monitor baseline): it is not checked.
	numeric bool
	present float64
	// completeness is the baseline's share of present values; check says
	// whether the constraints ask for a completeness check.
	completeness float64
	check        bool
	mean         float64
	lo, hi       float64 // the baseline range on the float32 grid
	buckets      []Bucket
	edges        []float64 // upper bounds of the buckets but the last
	shares       []float64 // each bucket's share of the present values
	dist         cdf
	// points, when set, are where distances are measured because dist only
	// comes from the histogram (a file without a sketch).
	points []float64
}

// prepare derives the comparisons from the files and checks them.
func (b *Baseline) prepare() error {
	cons := make(map[string]*FeatureConstraints, len(b.Constraints.Features))
	for i := range b.Constraints.Features {
		cons[b.Constraints.Features[i].Name] = &b.Constraints.Features[i]
	}
	if len(b.Statistics.Features) == 0 {
		return errors.New("statistics: no features")
	}
	b.features = make([]baseFeature, len(b.Statistics.Features))
	b.index = make(map[string]int, len(b.Statistics.Features))
	for i := range b.Statistics.Features {
		fs := &b.Statistics.Features[i]
		if fs.Name == "" {
			return fmt.Errorf("statistics: feature %d has no name", i)
		}
		if _, dup := b.index[fs.Name]; dup {
			return fmt.Errorf("statistics: feature %q appears twice", fs.Name)
		}
		bf, err := prepareFeature(fs, cons[fs.Name], b.Statistics.Dataset.ItemCount)
		if err != nil {
			return fmt.Errorf("statistics: feature %q: %w", fs.Name, err)
		}
		b.features[i] = bf
		b.index[fs.Name] = i
	}
	if b.Scores != nil {
		if b.Scores.Probability.NumericalStatistics == nil {
			return errors.New("scores: probability has no numerical statistics")
		}
		bf, err := prepareFeature(&b.Scores.Probability, nil, b.Scores.Dataset.ItemCount)
		if err != nil {
			return fmt.Errorf("scores: probability: %w", err)
		}
		bf.name = ProbabilityName
		b.prob = &bf
	}
	return nil
}

// prepareFeature builds a baseFeature from a feature's statistics and
// constraints (nil when the constraints do not list it).
func prepareFeature(fs *FeatureStatistics, fc *FeatureConstraints, items int64) (baseFeature, error) {
	bf := baseFeature{name: fs.Name, integral: fs.InferredType == TypeIntegral, lo: math.Inf(-1), hi: math.Inf(1)}
	ns := fs.NumericalStatistics
	if ns == nil {
		return bf, nil
	}
	bf.numeric = true
	bf.present = float64(ns.Common.NumPresent)
	rows := ns.Common.NumPresent + ns.Common.NumMissing
	if rows == 0 {
		rows = items
	}
	bf.completeness = 1
	if rows > 0 {
		bf.completeness = bf.present / float64(rows)
	}
	if fc != nil && fc.Completeness != nil {
		bf.completeness, bf.check = *fc.Completeness, true
	}
	if fc != nil && fc.InferredType != "" {
		bf.integral = fc.InferredType == TypeIntegral
	}
	bf.mean = ns.Mean
	if ns.Common.NumPresent == 0 {
		return bf, nil
	}
	bf.lo, bf.hi = canon32(ns.Min), canon32(ns.Max)
	if bf.lo > bf.hi {
		return bf, fmt.Errorf("min %v is above max %v", ns.Min, ns.Max)
	}
	bf.buckets = ns.Distribution.KLL.Buckets
	total := 0.0
	for i, bk := range bf.buckets {
		if bk.Count < 0 || math.IsNaN(bk.Count) {
			return bf, fmt.Errorf("bucket %d has count %v", i, bk.Count)
		}
		total += bk.Count
		if i < len(bf.buckets)-1 {
			bf.edges = append(bf.edges, canon32(bk.UpperBound))
		}
	}
	for _, bk := range bf.buckets {
		share := 0.0
		if total > 0 {
			share = bk.Count / total
		}
		bf.shares = append(bf.shares, share)
	}
	sk := ns.Distribution.KLL.Sketch
	items2 := 0
	for _, lvl := range sk.Data {
		items2 += len(lvl)
	}
	switch {
	case items2 > 0:
		data := make([][]float64, len(sk.Data))
		for h, lvl := range sk.Data {
			data[h] = make([]float64, len(lvl))
			for i, x := range lvl {
				data[h][i] = canon32(x)
			}
		}
		bf.dist = sketchFromData(int(sk.Parameters.K), sk.Parameters.C, data).cdf()
	case len(bf.buckets) > 0:
		bf.dist = cdfOfBuckets(bf.buckets)
		for _, bk := range bf.buckets {
			bf.points = append(bf.points, canon32(bk.UpperBound))
		}
	}
	return bf, nil
}

// Features are the baseline's feature names, in file order.
func (b *Baseline) Features() []string {
	names := make([]string, len(b.features))
	for i, f := range b.features {
		names[i] = f.name
	}
	return names
}

// comparisonThreshold is the baseline's drift threshold (default 0.1).
func (b *Baseline) comparisonThreshold() float64 {
	if t := b.Constraints.MonitoringConfig.DistributionConstraints.ComparisonThreshold; t > 0 {
		return t
	}
	return DefaultComparisonThreshold
}

// comparisonMethod is the baseline's comparison method (default Robust).
func (b *Baseline) comparisonMethod() string {
	if m := b.Constraints.MonitoringConfig.DistributionConstraints.ComparisonMethod; m != "" {
		return m
	}
	return MethodRobust
}

// datatypeThreshold is the baseline's data type check threshold.
func (b *Baseline) datatypeThreshold() float64 {
	if t := b.Constraints.MonitoringConfig.DatatypeCheckThreshold; t > 0 {
		return t
	}
	return DefaultDatatypeCheckThreshold
}

// tierShares are the baseline's share of rows per tier (index 1..5), and
// its conversion rate per tier (NaN when unknown); ok is false without
// scores.
func (b *Baseline) tierShares() (shares, conv [6]float64, ok bool) {
	for i := range conv {
		conv[i] = math.NaN()
	}
	if b.Scores == nil {
		return shares, conv, false
	}
	for _, r := range b.Scores.Tiers.Distribution {
		if r.Tier >= 1 && r.Tier <= 5 {
			shares[r.Tier] = r.Share
			conv[r.Tier] = float64(r.ConversionRate)
		}
	}
	return shares, conv, true
}

// tiers are the baseline's tier cut-offs; ok is false when it has none.
func (b *Baseline) tiers() (leadscore.Tiers, bool) {
	var t leadscore.Tiers
	if b.Scores == nil || len(b.Scores.Tiers.Cutoffs) != len(t) {
		return t, false
	}
	copy(t[:], b.Scores.Tiers.Cutoffs)
	return t, t.Validate() == nil
}
