package monitor

import (
	"fmt"
	"math"
	"time"

	"github.com/leadscore/leadscore"
)

// Defaults of the checks leadscore adds to Model Monitor's.
const (
	// DefaultCompletenessTolerance is how far below the baseline's
	// completeness a feature may fall before completeness_check fires (the
	// tolerance grows to three standard errors on small samples).
	DefaultCompletenessTolerance = 0.02
	// DefaultOutOfRangeThreshold is the largest share of values outside
	// the baseline's [min, max] that is not an out_of_range_check violation.
	DefaultOutOfRangeThreshold = 0.05
	// DefaultMinRows is the fewest rows (present values, for distribution
	// checks) a feature needs before it is checked.
	DefaultMinRows = 100
)

// Feature statuses in a report.
const (
	StatusOK           = "ok"
	StatusViolation    = "violation"
	StatusInsufficient = "insufficient_data"
	StatusMissing      = "missing"     // the baseline feature is not in the model or the data
	StatusNotNumeric   = "not_numeric" // a string feature of a Model Monitor baseline
)

// Checks tunes the checks. Zero values take the baseline's constraints or
// the defaults above.
type Checks struct {
	// ComparisonThreshold is the largest baseline drift distance that is
	// not drift (default: the constraints', else 0.1).
	ComparisonThreshold float64 `json:"comparison_threshold"`
	// ComparisonMethod is Robust or Simple (default: the constraints').
	ComparisonMethod string `json:"comparison_method"`
	// DatatypeCheckThreshold is the largest share of non-integers in an
	// Integral feature (default: the constraints', else 0.1).
	DatatypeCheckThreshold float64 `json:"datatype_check_threshold"`
	// CompletenessTolerance: see DefaultCompletenessTolerance.
	CompletenessTolerance float64 `json:"completeness_tolerance"`
	// OutOfRangeThreshold: see DefaultOutOfRangeThreshold; negative turns
	// the check off.
	OutOfRangeThreshold float64 `json:"out_of_range_threshold"`
	// PSIThreshold, when positive, also flags baseline_drift_check when a
	// feature's PSI exceeds it (0.2 is the usual "significant shift").
	PSIThreshold float64 `json:"psi_threshold,omitempty"`
	// MinRows: see DefaultMinRows.
	MinRows int `json:"min_rows"`
	// QualityThreshold is the probability from which a lead counts as
	// predicted to convert in binary_classification_metrics (default 0.5).
	QualityThreshold float64 `json:"quality_threshold"`
}

// resolve fills the defaults from the baseline and validates.
func (c Checks) resolve(b *Baseline) (Checks, error) {
	if c.ComparisonThreshold == 0 {
		c.ComparisonThreshold = b.comparisonThreshold()
	}
	if c.ComparisonMethod == "" {
		c.ComparisonMethod = b.comparisonMethod()
	}
	if c.DatatypeCheckThreshold == 0 {
		c.DatatypeCheckThreshold = b.datatypeThreshold()
	}
	if c.CompletenessTolerance == 0 {
		c.CompletenessTolerance = DefaultCompletenessTolerance
	}
	if c.OutOfRangeThreshold == 0 {
		c.OutOfRangeThreshold = DefaultOutOfRangeThreshold
	}
	if c.MinRows == 0 {
		c.MinRows = DefaultMinRows
	}
	if c.QualityThreshold == 0 {
		c.QualityThreshold = DefaultQualityThreshold
	}
	switch {
	case !(c.ComparisonThreshold > 0 && c.ComparisonThreshold <= 1):
		return c, fmt.Errorf("comparison threshold %v is not in (0, 1]", c.ComparisonThreshold)
	case c.ComparisonMethod != MethodRobust && c.ComparisonMethod != MethodSimple:
		return c, fmt.Errorf("comparison method %q: want %s or %s", c.ComparisonMethod, MethodRobust, MethodSimple)
	case !(c.DatatypeCheckThreshold > 0 && c.DatatypeCheckThreshold <= 1):
		return c, fmt.Errorf("data type check threshold %v is not in (0, 1]", c.DatatypeCheckThreshold)
	case !(c.CompletenessTolerance > 0 && c.CompletenessTolerance <= 1):
		return c, fmt.Errorf("completeness tolerance %v is not in (0, 1]", c.CompletenessTolerance)
	case c.OutOfRangeThreshold > 1 || math.IsNaN(c.OutOfRangeThreshold):
		return c, fmt.Errorf("out-of-range threshold %v is above 1", c.OutOfRangeThreshold)
	case c.PSIThreshold < 0 || math.IsNaN(c.PSIThreshold):
		return c, fmt.Errorf("PSI threshold %v is negative", c.PSIThreshold)
	case c.MinRows < 1:
		return c, fmt.Errorf("min rows %d is below 1", c.MinRows)
	case !(c.QualityThreshold > 0 && c.QualityThreshold < 1):
		return c, fmt.Errorf("quality threshold %v is not in (0, 1)", c.QualityThreshold)
	}
	return c, nil
}

// Report is the state of monitoring: per-feature drift against the
// baseline, the prediction's drift, model quality from ground truth, and
// the violations in constraint_violations.json form. GET /v1/monitoring
// returns it; `leadscore monitor` writes it as monitoring.json.
type Report struct {
	Model       ModelRef  `json:"model"`
	GeneratedAt time.Time `json:"generated_at"`
	Window      Window    `json:"window"`
	Checks      Checks    `json:"checks"`
	// Features are the baseline's features, in its order.
	Features   []FeatureReport   `json:"features"`
	Prediction *PredictionReport `json:"prediction,omitempty"`
	Quality    *QualityReport    `json:"quality,omitempty"`
	// Bias holds Clarify's bias metrics of the declared facets; absent
	// when none are declared.
	Bias *BiasReport `json:"bias,omitempty"`
	// Attribution compares the live global feature attribution with the
	// baseline's; absent when attribution drift is off.
	Attribution *AttributionReport `json:"attribution,omitempty"`
	// ConstraintViolations has exactly the schema of Model Monitor's
	// constraint_violations.json.
	ConstraintViolations Violations `json:"constraint_violations"`
}

// Window describes the rows a report covers: the live sliding window, or
// the lake's time range.
type Window struct {
	Rows int64 `json:"rows"`
	// MaxRows and MaxAgeSeconds bound the live window (0: no bound).
	MaxRows       int        `json:"max_rows,omitempty"`
	MaxAgeSeconds float64    `json:"max_age_seconds,omitempty"`
	Oldest        *time.Time `json:"oldest,omitempty"`
	Newest        *time.Time `json:"newest,omitempty"`
	// Received, Dropped and Rejected count the live monitor's records
	// since start: handed to it, dropped because its queue was full, and
	// refused for not matching the model's feature count.
	Received int64 `json:"received,omitempty"`
	Dropped  int64 `json:"dropped,omitempty"`
	Rejected int64 `json:"rejected,omitempty"`
	// From, To and Files describe a lake run: rows with From <= event
	// time < To, read from Files files.
	From  *time.Time `json:"from,omitempty"`
	To    *time.Time `json:"to,omitempty"`
	Files int        `json:"files,omitempty"`
}

// FeatureReport compares one feature's current values with the baseline.
// Ratios are NaN (written "NaN") when there is nothing to divide by.
type FeatureReport struct {
	Name         string `json:"name"`
	InferredType string `json:"inferred_type"`
	Status       string `json:"status"`
	Rows         int64  `json:"rows"`
	NumPresent   int64  `json:"num_present"`
	NumMissing   int64  `json:"num_missing"`
	// Completeness is the share of rows where the feature is present.
	Completeness         Float `json:"completeness"`
	BaselineCompleteness Float `json:"baseline_completeness"`
	// Distance is the largest gap between the baseline and the current
	// cumulative distributions; DistanceLimit is what it must exceed to be
	// drift: the comparison threshold, or for the Robust method the larger
	// of it and the Kolmogorov-Smirnov critical value.
	Distance      Float `json:"distance"`
	DistanceLimit Float `json:"distance_limit"`
	// PSI is the population stability index over the baseline's buckets.
	PSI Float `json:"psi"`
	// OutOfRangeRatio is the share of present values outside the
	// baseline's [min, max]; NonIntegralRatio the share that are not whole
	// numbers.
	OutOfRangeRatio  Float `json:"out_of_range_ratio"`
	NonIntegralRatio Float `json:"non_integral_ratio"`
	Mean             Float `json:"mean"`
	BaselineMean     Float `json:"baseline_mean"`
	Min              Float `json:"min"`
	Max              Float `json:"max"`
	// Buckets are the baseline's histogram buckets with the baseline's
	// and the current share of present values in each.
	Buckets []BucketShare `json:"buckets"`
}

// BucketShare is one histogram bucket's share of values in the baseline
// and now.
type BucketShare struct {
	LowerBound float64 `json:"lower_bound"`
	UpperBound float64 `json:"upper_bound"`
	Baseline   float64 `json:"baseline"`
	Current    float64 `json:"current"`
}

// PredictionReport is the drift of the predicted probability (checked
// like a feature) and of the tiers.
type PredictionReport struct {
	FeatureReport
	Tiers []TierShare `json:"tiers"`
	// TierPSI is the PSI of the tier shares against the baseline's.
	TierPSI Float `json:"tier_psi"`
}

// TierShare is one tier's share of the rows now and in the baseline.
type TierShare struct {
	Tier          int   `json:"tier"`
	Count         int64 `json:"count"`
	Share         Float `json:"share"`
	BaselineShare Float `json:"baseline_share"`
}

// QualityReport is the model's quality on the rows with a known outcome.
type QualityReport struct {
	LabeledRows int64   `json:"labeled_rows"`
	Positives   int64   `json:"positives"`
	Threshold   float64 `json:"threshold"`
	// BinaryClassificationMetrics is nil without labelled rows.
	BinaryClassificationMetrics *BinaryClassificationMetrics `json:"binary_classification_metrics,omitempty"`
	TierCutoffs                 []CutoffQuality              `json:"tier_cutoffs"`
	Tiers                       []TierQuality                `json:"tiers"`
}

// TierQuality is a tier's conversion rate now and in the baseline.
type TierQuality struct {
	Tier                   int   `json:"tier"`
	Labeled                int64 `json:"labeled"`
	Conversions            int64 `json:"conversions"`
	ConversionRate         Float `json:"conversion_rate"`
	BaselineConversionRate Float `json:"baseline_conversion_rate"`
}

// compare checks a feature's current values against its baseline.
func compare(bf *baseFeature, c *column, ck Checks) (FeatureReport, []Violation) {
	nan := Float(math.NaN())
	r := FeatureReport{
		Name: bf.name, InferredType: TypeFractional, Status: StatusOK,
		Rows: c.rows, NumPresent: c.present, NumMissing: c.rows - c.present,
		Completeness: Float(ratio(c.present, c.rows)), BaselineCompleteness: Float(bf.completeness),
		Distance: nan, DistanceLimit: nan, PSI: nan,
		OutOfRangeRatio: Float(ratio(c.outOfRange, c.present)), NonIntegralRatio: Float(ratio(c.nonIntegral, c.present)),
		Mean: nan, BaselineMean: Float(bf.mean), Min: nan, Max: nan,
		Buckets: []BucketShare{},
	}
	if bf.integral {
		r.InferredType = TypeIntegral
	}
	if c.present > 0 {
		r.Mean, r.Min, r.Max = Float(c.mean), Float(c.min), Float(c.max)
	}
	for i, bk := range bf.buckets {
		bs := BucketShare{LowerBound: bk.LowerBound, UpperBound: bk.UpperBound, Baseline: bf.shares[i]}
		if c.present > 0 && c.bucketCount != nil {
			bs.Current = float64(c.bucketCount[i]) / float64(c.present)
		}
		r.Buckets = append(r.Buckets, bs)
	}
	if !bf.numeric {
		r.Status = StatusNotNumeric
		return r, nil
	}
	if c.rows < int64(ck.MinRows) {
		r.Status = StatusInsufficient
		return r, nil
	}
	var vs []Violation
	if bf.check {
		cur := float64(c.present) / float64(c.rows)
		tol := math.Max(ck.CompletenessTolerance, 3*math.Sqrt(bf.completeness*(1-bf.completeness)/float64(c.rows)))
		if cur < bf.completeness-tol {
			vs = append(vs, newViolation(bf.name, CheckCompleteness, fmt.Sprintf(
				"Data completeness %.4g is below the baseline completeness %.4g by more than the tolerance %.4g.",
				cur, bf.completeness, tol)))
		}
	}
	if c.present < int64(ck.MinRows) {
		if len(vs) == 0 {
			r.Status = StatusInsufficient
		} else {
			r.Status = StatusViolation
		}
		return r, vs
	}
	if bf.integral {
		if share := float64(c.nonIntegral) / float64(c.present); share > ck.DatatypeCheckThreshold {
			vs = append(vs, newViolation(bf.name, CheckDataType, fmt.Sprintf(
				"Data type match requirement is not met. Expected data type: Integral, Expected match: %.4g%%. Observed: only %.4g%% of data is Integral.",
				100*(1-ck.DatatypeCheckThreshold), 100*(1-share))))
		}
	}
	cur := c.distribution()
	var d float64
	if bf.points != nil {
		d = distanceAt(bf.points, bf.dist, cur)
	} else {
		d = distance(bf.dist, cur)
	}
	limit := ck.ComparisonThreshold
	if ck.ComparisonMethod == MethodRobust {
		limit = math.Max(limit, ksCritical(bf.present, float64(c.present)))
	}
	r.Distance, r.DistanceLimit = Float(d), Float(limit)
	if len(bf.shares) > 0 && c.bucketCount != nil {
		shares := make([]float64, len(bf.shares))
		for i, n := range c.bucketCount {
			shares[i] = float64(n) / float64(c.present)
		}
		r.PSI = Float(psi(bf.shares, shares))
	}
	var why []string
	if d > limit {
		why = append(why, fmt.Sprintf("Baseline drift distance: %.4g exceeds threshold: %.4g", d, limit))
	}
	if ck.PSIThreshold > 0 && float64(r.PSI) > ck.PSIThreshold {
		why = append(why, fmt.Sprintf("PSI: %.4g exceeds threshold: %.4g", float64(r.PSI), ck.PSIThreshold))
	}
	if len(why) > 0 {
		desc := why[0]
		if len(why) == 2 {
			desc += "; " + why[1]
		}
		vs = append(vs, newViolation(bf.name, CheckDrift, desc+"."))
	}
	if ck.OutOfRangeThreshold > 0 {
		if share := float64(r.OutOfRangeRatio); share > ck.OutOfRangeThreshold {
			vs = append(vs, newViolation(bf.name, CheckOutOfRange, fmt.Sprintf(
				"%.4g%% of values are outside the baseline range [%v, %v], more than %.4g%%.",
				100*share, bf.lo, bf.hi, 100*ck.OutOfRangeThreshold)))
		}
	}
	if len(vs) > 0 {
		r.Status = StatusViolation
	}
	return r, vs
}

// tierShares compares the rows' tier counts (index 1..5) with the
// baseline's shares.
func tierShares(b *Baseline, counts [6]int64) ([]TierShare, Float) {
	var n int64
	for _, c := range counts[1:] {
		n += c
	}
	base, _, ok := b.tierShares()
	out := make([]TierShare, 0, 5)
	var bs, cs []float64
	for t := 1; t <= 5; t++ {
		ts := TierShare{Tier: t, Count: counts[t], Share: Float(ratio(counts[t], n)), BaselineShare: Float(math.NaN())}
		if ok {
			ts.BaselineShare = Float(base[t])
			bs, cs = append(bs, base[t]), append(cs, float64(ts.Share))
		}
		out = append(out, ts)
	}
	if !ok || n == 0 {
		return out, Float(math.NaN())
	}
	return out, Float(psi(bs, cs))
}

// qualityReport computes model quality over labelled rows.
func qualityReport(b *Baseline, tiers leadscore.Tiers, rows []labeled, threshold float64) *QualityReport {
	q := &QualityReport{LabeledRows: int64(len(rows)), Threshold: threshold, TierCutoffs: cutoffQuality(rows, tiers[:])}
	var labeledN, conv [6]int64
	for _, r := range rows {
		t := tiers.Tier(r.p)
		labeledN[t]++
		if r.pos {
			conv[t]++
			q.Positives++
		}
	}
	_, baseConv, _ := b.tierShares()
	for t := 1; t <= 5; t++ {
		q.Tiers = append(q.Tiers, TierQuality{Tier: t, Labeled: labeledN[t], Conversions: conv[t],
			ConversionRate: Float(ratio(conv[t], labeledN[t])), BaselineConversionRate: Float(baseConv[t])})
	}
	if len(rows) > 0 {
		q.BinaryClassificationMetrics = binaryClassification(rows, threshold)
	}
	return q
}
