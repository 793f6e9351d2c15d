package monitor

import (
	"math"
	"slices"
	"sort"
)

// minRowsForStdDev is the number of labelled rows from which Model Monitor
// reports a metric's standard deviation.
const minRowsForStdDev = 200

// curvePoints bounds the points of the ROC and precision-recall curves.
const curvePoints = 101

// labeled is a prediction with a known outcome.
type labeled struct {
	p   float64
	pos bool
}

// scalars are the single-number quality metrics of a set of predictions.
type scalars struct {
	recall, precision, accuracy    float64
	tpr, tnr, fpr, fnr             float64
	auc, f05, f1, f2               float64
	bcRecall, bcPrecision, bcAcc   float64
	bcF05, bcF1, bcF2              float64
	tp, fp, tn, fn, positives, all int64
}

// ratio is a/b, NaN when b is 0.
func ratio(a, b int64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// fbeta is the F-beta score of a precision and a recall.
func fbeta(beta, precision, recall float64) float64 {
	b2 := beta * beta
	d := b2*precision + recall
	if d == 0 || math.IsNaN(d) {
		return math.NaN()
	}
	return (1 + b2) * precision * recall / d
}

// score computes the scalar metrics, predicting positive at p >= threshold.
func score(rows []labeled, threshold float64) scalars {
	var s scalars
	for _, r := range rows {
		pred := r.p >= threshold
		switch {
		case r.pos && pred:
			s.tp++
		case r.pos:
			s.fn++
		case pred:
			s.fp++
		default:
			s.tn++
		}
	}
	s.all = int64(len(rows))
	s.positives = s.tp + s.fn
	s.recall = ratio(s.tp, s.tp+s.fn)
	s.precision = ratio(s.tp, s.tp+s.fp)
	s.accuracy = ratio(s.tp+s.tn, s.all)
	s.tpr, s.fnr = s.recall, ratio(s.fn, s.tp+s.fn)
	s.tnr, s.fpr = ratio(s.tn, s.tn+s.fp), ratio(s.fp, s.tn+s.fp)
	s.f05, s.f1, s.f2 = fbeta(0.5, s.precision, s.recall), fbeta(1, s.precision, s.recall), fbeta(2, s.precision, s.recall)
	s.auc = auc(rows)
	// The best constant classifier predicts every row positive.
	s.bcRecall = ratio(s.positives, s.positives)
	s.bcPrecision = ratio(s.positives, s.all)
	s.bcAcc = s.bcPrecision
	s.bcF05, s.bcF1, s.bcF2 = fbeta(0.5, s.bcPrecision, s.bcRecall), fbeta(1, s.bcPrecision, s.bcRecall), fbeta(2, s.bcPrecision, s.bcRecall)
	return s
}

// auc is the area under the ROC curve: the probability that a random
// positive scores above a random negative, ties counting one half
// (the Mann-Whitney U statistic over P*N). NaN without both classes.
func auc(rows []labeled) float64 {
	sorted := slices.Clone(rows)
	slices.SortFunc(sorted, func(a, b labeled) int {
		switch {
		case a.p < b.p:
			return -1
		case a.p > b.p:
			return 1
		}
		return 0
	})
	var pos, neg int64
	rankSum := 0.0
	for i := 0; i < len(sorted); {
		j := i
		for j < len(sorted) && sorted[j].p == sorted[i].p {
			j++
		}
		rank := float64(i+j+1) / 2 // average of ranks i+1..j
		for _, r := range sorted[i:j] {
			if r.pos {
				pos++
				rankSum += rank
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return (rankSum - float64(pos)*float64(pos+1)/2) / (float64(pos) * float64(neg))
}

// curves sweeps the threshold from the highest score down and returns the
// ROC and precision-recall curves, thinned to at most curvePoints points.
func curves(rows []labeled) (ROCCurve, PRCurve) {
	sorted := slices.Clone(rows)
	sort.SliceStable(sorted, func(a, b int) bool { return sorted[a].p > sorted[b].p })
	var pos, neg int64
	for _, r := range sorted {
		if r.pos {
			pos++
		} else {
			neg++
		}
	}
	roc := ROCCurve{FalsePositiveRates: []float64{0}, TruePositiveRates: []float64{0}}
	var pr PRCurve
	var tp, fp int64
	for i := 0; i < len(sorted); {
		j := i
		for j < len(sorted) && sorted[j].p == sorted[i].p {
			if sorted[j].pos {
				tp++
			} else {
				fp++
			}
			j++
		}
		i = j
		roc.FalsePositiveRates = append(roc.FalsePositiveRates, finite(ratio(fp, neg)))
		roc.TruePositiveRates = append(roc.TruePositiveRates, finite(ratio(tp, pos)))
		pr.Precisions = append(pr.Precisions, finite(ratio(tp, tp+fp)))
		pr.Recalls = append(pr.Recalls, finite(ratio(tp, pos)))
	}
	roc.FalsePositiveRates, roc.TruePositiveRates = thin(roc.FalsePositiveRates), thin(roc.TruePositiveRates)
	pr.Precisions, pr.Recalls = thin(pr.Precisions), thin(pr.Recalls)
	return roc, pr
}

// thin keeps at most curvePoints evenly spaced points, the ends included.
func thin(xs []float64) []float64 {
	if len(xs) <= curvePoints {
		return xs
	}
	out := make([]float64, curvePoints)
	for i := range out {
		out[i] = xs[i*(len(xs)-1)/(curvePoints-1)]
	}
	return out
}

// binaryClassification computes Model Monitor's binary classification
// metrics at a probability threshold. The standard deviations come from
// five subsamples of 80% of the rows (row i left out of subsample i mod
// 5), deterministic where Model Monitor samples at random, and only from
// minRowsForStdDev rows.
func binaryClassification(rows []labeled, threshold float64) *BinaryClassificationMetrics {
	full := score(rows, threshold)
	var folds []scalars
	if len(rows) >= minRowsForStdDev {
		for k := range 5 {
			sub := make([]labeled, 0, len(rows))
			for i, r := range rows {
				if i%5 != k {
					sub = append(sub, r)
				}
			}
			folds = append(folds, score(sub, threshold))
		}
	}
	m := func(get func(s scalars) float64) Metric {
		out := Metric{Value: Float(get(full)), StandardDeviation: Float(math.NaN())}
		if len(folds) > 0 {
			mean := 0.0
			for _, f := range folds {
				mean += get(f)
			}
			mean /= float64(len(folds))
			ss := 0.0
			for _, f := range folds {
				ss += (get(f) - mean) * (get(f) - mean)
			}
			out.StandardDeviation = Float(math.Sqrt(ss / float64(len(folds)-1)))
		}
		return out
	}
	roc, pr := curves(rows)
	return &BinaryClassificationMetrics{
		ConfusionMatrix: map[string]map[string]int64{
			"0": {"0": full.tn, "1": full.fp},
			"1": {"0": full.fn, "1": full.tp},
		},
		Recall:                          m(func(s scalars) float64 { return s.recall }),
		Precision:                       m(func(s scalars) float64 { return s.precision }),
		Accuracy:                        m(func(s scalars) float64 { return s.accuracy }),
		RecallBestConstantClassifier:    m(func(s scalars) float64 { return s.bcRecall }),
		PrecisionBestConstantClassifier: m(func(s scalars) float64 { return s.bcPrecision }),
		AccuracyBestConstantClassifier:  m(func(s scalars) float64 { return s.bcAcc }),
		TruePositiveRate:                m(func(s scalars) float64 { return s.tpr }),
		TrueNegativeRate:                m(func(s scalars) float64 { return s.tnr }),
		FalsePositiveRate:               m(func(s scalars) float64 { return s.fpr }),
		FalseNegativeRate:               m(func(s scalars) float64 { return s.fnr }),
		ROCCurve:                        roc,
		PRCurve:                         pr,
		AUC:                             m(func(s scalars) float64 { return s.auc }),
		F05:                             m(func(s scalars) float64 { return s.f05 }),
		F1:                              m(func(s scalars) float64 { return s.f1 }),
		F2:                              m(func(s scalars) float64 { return s.f2 }),
		F05BestConstantClassifier:       m(func(s scalars) float64 { return s.bcF05 }),
		F1BestConstantClassifier:        m(func(s scalars) float64 { return s.bcF1 }),
		F2BestConstantClassifier:        m(func(s scalars) float64 { return s.bcF2 }),
	}
}

// CutoffQuality is how well one tier cut-off separates converting leads:
// the leads at or above it are the ones predicted to convert.
type CutoffQuality struct {
	// Tier is the tier the cut-off opens (2..5).
	Tier      int     `json:"tier"`
	Threshold float64 `json:"threshold"`
	Precision Float   `json:"precision"`
	Recall    Float   `json:"recall"`
	// Flagged is the share of labelled leads at or above the cut-off.
	Flagged Float `json:"flagged_share"`
}

// cutoffQuality computes precision and recall at each tier cut-off.
func cutoffQuality(rows []labeled, cutoffs []float64) []CutoffQuality {
	out := make([]CutoffQuality, 0, len(cutoffs))
	for i, c := range cutoffs {
		s := score(rows, c)
		out = append(out, CutoffQuality{Tier: i + 2, Threshold: c, Precision: Float(s.precision),
			Recall: Float(s.recall), Flagged: Float(ratio(s.tp+s.fp, s.all))})
	}
	return out
}
