// Package evaluation measures a lead-scoring model on labelled leads: the
// figures a data scientist checks before a model is served (AUC, log loss,
// precision and recall at each tier cut-off, conversion and lift per tier,
// calibration), the tier cut-offs chosen from a score distribution, and the
// comparison of a candidate with the current model that gates a promotion.
// It does no I/O: callers pass probabilities and labels.
package evaluation

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/leadscore/leadscore"
)

// DefaultShares are the shares of leads in tiers 1..5 that bundle init
// aims for, as the demo bundle's: the bottom 30% in tier 1, then 30%, 20%,
// 10% and the top 10% in tier 5.
var DefaultShares = [5]float64{0.3, 0.3, 0.2, 0.1, 0.1}

// Cutoffs returns the tier cut-offs that put the given shares of probs in
// tiers 1..5: each cut-off is the score quantile at the cumulative share,
// rounded to two significant digits, and nudged up where rounding or ties
// would make two cut-offs equal.
func Cutoffs(probs []float32, shares [5]float64) (leadscore.Tiers, error) {
	var t leadscore.Tiers
	if len(probs) == 0 {
		return t, errors.New("no scores to choose cut-offs from")
	}
	sum := 0.0
	for i, s := range shares {
		if !(s > 0) {
			return t, fmt.Errorf("tier %d share %v: want more than 0", i+1, s)
		}
		sum += s
	}
	if math.Abs(sum-1) > 1e-6 {
		return t, fmt.Errorf("tier shares add up to %v, want 1", sum)
	}
	sorted := slices.Clone(probs)
	slices.Sort(sorted)
	if sorted[0] == sorted[len(sorted)-1] {
		return t, fmt.Errorf("all %d scores are %v: no cut-offs split them into tiers", len(sorted), sorted[0])
	}
	cum := 0.0
	for i := range t {
		cum += shares[i]
		k := min(int(cum*float64(len(sorted))), len(sorted)-1)
		q := float64(sorted[k])
		c, _ := strconv.ParseFloat(strconv.FormatFloat(q, 'g', 2, 64), 64)
		c = math.Min(math.Max(c, 1e-4), 0.9999)
		if i > 0 && c <= t[i-1] {
			c = math.Nextafter(t[i-1], 1)
			c, _ = strconv.ParseFloat(strconv.FormatFloat(math.Max(c, t[i-1]*1.01), 'g', 3, 64), 64)
		}
		t[i] = c
	}
	if err := t.Validate(); err != nil {
		return t, fmt.Errorf("the scores are too concentrated to split into 5 tiers: %w", err)
	}
	return t, nil
}

// TierRow is one tier's share of leads and, with labels, of conversions.
type TierRow struct {
	Tier int     `json:"tier"`
	Lo   float64 `json:"min_probability"`
	Hi   float64 `json:"max_probability"`
	// Leads is the number of leads in the tier and Share their share of all.
	Leads int     `json:"leads"`
	Share float64 `json:"share"`
	// With labels: conversions, the conversion rate, the tier's share of
	// all conversions and its lift (conversion rate over the base rate).
	Labelled           int     `json:"labelled,omitempty"`
	Conversions        int     `json:"conversions,omitempty"`
	ConversionRate     float64 `json:"conversion_rate,omitempty"`
	ShareOfConversions float64 `json:"share_of_conversions,omitempty"`
	Lift               float64 `json:"lift,omitempty"`
}

// TierTable returns tiers 5 down to 1. labels may be nil; a NaN label is
// unknown and counts only in Leads.
func TierTable(probs []float32, labels []float64, t leadscore.Tiers) []TierRow {
	rows := make([]TierRow, 5)
	bounds := []float64{0, t[0], t[1], t[2], t[3], 1}
	for k := 1; k <= 5; k++ {
		rows[5-k] = TierRow{Tier: k, Lo: bounds[k-1], Hi: bounds[k]}
	}
	labelled, conv := 0, 0
	for i, p := range probs {
		r := &rows[5-t.Tier(float64(p))]
		r.Leads++
		if labels != nil && !math.IsNaN(labels[i]) {
			r.Labelled++
			labelled++
			if labels[i] == 1 {
				r.Conversions++
				conv++
			}
		}
	}
	base := 0.0
	if labelled > 0 {
		base = float64(conv) / float64(labelled)
	}
	for i := range rows {
		r := &rows[i]
		if len(probs) > 0 {
			r.Share = float64(r.Leads) / float64(len(probs))
		}
		if r.Labelled > 0 {
			r.ConversionRate = float64(r.Conversions) / float64(r.Labelled)
			if base > 0 {
				r.Lift = r.ConversionRate / base
			}
		}
		if conv > 0 {
			r.ShareOfConversions = float64(r.Conversions) / float64(conv)
		}
	}
	return rows
}

// labelled returns the scores and labels of the rows with a 0/1 label.
func labelled(probs []float32, labels []float64) ([]float64, []bool) {
	p := make([]float64, 0, len(probs))
	y := make([]bool, 0, len(probs))
	for i, v := range labels {
		if v == 0 || v == 1 {
			p = append(p, float64(probs[i]))
			y = append(y, v == 1)
		}
	}
	return p, y
}

// AUC is the area under the ROC curve (ties count half); NaN without both
// classes.
func AUC(probs []float32, labels []float64) float64 {
	p, y := labelled(probs, labels)
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	var pos, neg, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && p[idx[j]] == p[idx[i]] {
			j++
		}
		avgRank := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if y[idx[k]] {
				pos++
				rankSum += avgRank
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

// LogLoss is the mean negative log-likelihood, probabilities clipped to
// [1e-15, 1-1e-15] as scikit-learn does.
func LogLoss(probs []float32, labels []float64) float64 {
	p, y := labelled(probs, labels)
	if len(p) == 0 {
		return math.NaN()
	}
	sum := 0.0
	for i, v := range p {
		v = math.Min(math.Max(v, 1e-15), 1-1e-15)
		if y[i] {
			sum -= math.Log(v)
		} else {
			sum -= math.Log(1 - v)
		}
	}
	return sum / float64(len(p))
}

// CutoffMetrics are the precision and recall of calling a lead converted
// when its probability is at or above a tier's cut-off (tiers Tier..5).
type CutoffMetrics struct {
	Tier      int     `json:"tier"`
	Cutoff    float64 `json:"cutoff"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
}

// PrecisionRecall returns the metrics at each cut-off of t (tiers 2..5).
func PrecisionRecall(probs []float32, labels []float64, t leadscore.Tiers) []CutoffMetrics {
	p, y := labelled(probs, labels)
	out := make([]CutoffMetrics, len(t))
	for k, c := range t {
		var tp, fp, fn float64
		for i, v := range p {
			switch {
			case v >= c && y[i]:
				tp++
			case v >= c:
				fp++
			case y[i]:
				fn++
			}
		}
		m := CutoffMetrics{Tier: k + 2, Cutoff: c}
		if tp+fp > 0 {
			m.Precision = tp / (tp + fp)
		}
		if tp+fn > 0 {
			m.Recall = tp / (tp + fn)
		}
		out[k] = m
	}
	return out
}

// CalibrationBin compares the mean predicted probability with the observed
// conversion rate in one band of predictions.
type CalibrationBin struct {
	Lo            float64 `json:"lo"`
	Hi            float64 `json:"hi"`
	Leads         int     `json:"leads"`
	MeanPredicted float64 `json:"mean_predicted"`
	Observed      float64 `json:"observed_rate"`
}

// Calibration returns bins equal-width bands of [0, 1] that hold leads and
// the expected calibration error (the lead-weighted mean of
// |predicted - observed|).
func Calibration(probs []float32, labels []float64, bins int) ([]CalibrationBin, float64) {
	p, y := labelled(probs, labels)
	all := make([]CalibrationBin, bins)
	sumP := make([]float64, bins)
	pos := make([]float64, bins)
	for i := range all {
		all[i].Lo, all[i].Hi = float64(i)/float64(bins), float64(i+1)/float64(bins)
	}
	for i, v := range p {
		b := min(int(v*float64(bins)), bins-1)
		all[b].Leads++
		sumP[b] += v
		if y[i] {
			pos[b]++
		}
	}
	var out []CalibrationBin
	ece := 0.0
	for i, b := range all {
		if b.Leads == 0 {
			continue
		}
		b.MeanPredicted = sumP[i] / float64(b.Leads)
		b.Observed = pos[i] / float64(b.Leads)
		ece += float64(b.Leads) / float64(len(p)) * math.Abs(b.MeanPredicted-b.Observed)
		out = append(out, b)
	}
	return out, ece
}

// TierStability is the share of leads whose tier differs between two
// models' scores (a under ta, b under tb).
func TierStability(a []float32, ta leadscore.Tiers, b []float32, tb leadscore.Tiers) float64 {
	if len(a) == 0 || len(a) != len(b) {
		return math.NaN()
	}
	changed := 0
	for i := range a {
		if ta.Tier(float64(a[i])) != tb.Tier(float64(b[i])) {
			changed++
		}
	}
	return float64(changed) / float64(len(a))
}

// Report is one model's figures on a labelled data set.
type Report struct {
	Model       string           `json:"model"`
	Version     string           `json:"version,omitempty"`
	Rows        int              `json:"rows"`
	Labelled    int              `json:"labelled"`
	Conversions int              `json:"conversions"`
	BaseRate    float64          `json:"base_rate"`
	AUC         float64          `json:"auc"`
	LogLoss     float64          `json:"log_loss"`
	Cutoffs     leadscore.Tiers  `json:"cutoffs"`
	AtCutoffs   []CutoffMetrics  `json:"precision_recall"`
	Tiers       []TierRow        `json:"tiers"`
	Calibration []CalibrationBin `json:"calibration"`
	ECE         float64          `json:"expected_calibration_error"`
}

// Evaluate computes a model's report.
func Evaluate(model, version string, probs []float32, labels []float64, t leadscore.Tiers) Report {
	r := Report{Model: model, Version: version, Rows: len(probs), Cutoffs: t}
	for _, v := range labels {
		if v == 0 || v == 1 {
			r.Labelled++
			if v == 1 {
				r.Conversions++
			}
		}
	}
	if r.Labelled > 0 {
		r.BaseRate = float64(r.Conversions) / float64(r.Labelled)
	}
	r.AUC, r.LogLoss = AUC(probs, labels), LogLoss(probs, labels)
	r.AtCutoffs = PrecisionRecall(probs, labels, t)
	r.Tiers = TierTable(probs, labels, t)
	r.Calibration, r.ECE = Calibration(probs, labels, 10)
	return r
}

// Verdict says whether a candidate may replace the current model.
type Verdict struct {
	// AUCChange and LogLossChange are candidate minus current.
	AUCChange     float64 `json:"auc_change"`
	LogLossChange float64 `json:"log_loss_change"`
	// TierChanged is the share of leads whose tier differs.
	TierChanged   float64 `json:"tier_changed"`
	MaxRegression float64 `json:"max_regression"`
	// Pass is false when the candidate's AUC is lower than the current
	// model's by more than MaxRegression.
	Pass   bool   `json:"pass"`
	Reason string `json:"reason"`
}

// Compare judges candidate against current: it fails when the candidate's
// AUC is lower by more than maxRegression (absolute AUC points, e.g. 0.01).
func Compare(candidate, current Report, tierChanged, maxRegression float64) Verdict {
	v := Verdict{AUCChange: candidate.AUC - current.AUC, LogLossChange: candidate.LogLoss - current.LogLoss,
		TierChanged: tierChanged, MaxRegression: maxRegression}
	switch {
	case math.IsNaN(candidate.AUC) || math.IsNaN(current.AUC):
		v.Reason = "AUC undefined: the data needs both converted and unconverted leads"
	case v.AUCChange < -maxRegression:
		v.Reason = fmt.Sprintf("candidate AUC %.4f is %.4f below the current %.4f (allowed %.4f)",
			candidate.AUC, -v.AUCChange, current.AUC, maxRegression)
	default:
		v.Pass = true
		v.Reason = fmt.Sprintf("candidate AUC %.4f vs current %.4f (%+.4f, allowed regression %.4f)",
			candidate.AUC, current.AUC, v.AUCChange, maxRegression)
	}
	return v
}
