package monitor

import (
	"math"
	"testing"
)

func rowsOf(ps []float64, ys []int) []labeled {
	out := make([]labeled, len(ps))
	for i := range ps {
		out[i] = labeled{ps[i], ys[i] == 1}
	}
	return out
}

// TestAUC checks the AUC against pair counts done by hand.
func TestAUC(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    []float64
		y    []int
		want float64
	}{
		// Positives 0.35, 0.8; negatives 0.1, 0.4: of the 4 pairs, 0.35 < 0.4
		// is the one misordered: 3/4.
		{"one swap", []float64{0.1, 0.4, 0.35, 0.8}, []int{0, 0, 1, 1}, 0.75},
		// Positives 0.5, 0.9; negatives 0.5, 0.2: the tie counts 1/2: 3.5/4.
		{"tie", []float64{0.5, 0.5, 0.2, 0.9}, []int{1, 0, 0, 1}, 0.875},
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []int{0, 0, 1, 1}, 1},
		{"reversed", []float64{0.9, 0.8, 0.2, 0.1}, []int{0, 0, 1, 1}, 0},
	} {
		if got := auc(rowsOf(tc.p, tc.y)); got != tc.want {
			t.Errorf("%s: AUC %v, want %v", tc.name, got, tc.want)
		}
		// The trapezoid area under the ROC curve is the same number.
		roc, _ := curves(rowsOf(tc.p, tc.y))
		area := 0.0
		for i := 1; i < len(roc.FalsePositiveRates); i++ {
			area += (roc.FalsePositiveRates[i] - roc.FalsePositiveRates[i-1]) * (roc.TruePositiveRates[i] + roc.TruePositiveRates[i-1]) / 2
		}
		if math.Abs(area-tc.want) > 1e-12 {
			t.Errorf("%s: ROC area %v, want %v", tc.name, area, tc.want)
		}
	}
	if !math.IsNaN(auc(rowsOf([]float64{0.2, 0.3}, []int{1, 1}))) {
		t.Error("AUC of one class is not NaN")
	}
}

// TestBinaryClassification reproduces the example of Model Monitor's
// documentation: confusion matrix {"0": {"0": 1, "1": 2}, "1": {"0": 0,
// "1": 1}}, recall 1, precision 1/3, accuracy 0.5, best constant
// classifier precision and accuracy 0.25.
func TestBinaryClassification(t *testing.T) {
	m := binaryClassification(rowsOf([]float64{0.9, 0.7, 0.6, 0.1}, []int{1, 0, 0, 0}), 0.5)
	cm := m.ConfusionMatrix
	if cm["0"]["0"] != 1 || cm["0"]["1"] != 2 || cm["1"]["0"] != 0 || cm["1"]["1"] != 1 {
		t.Errorf("confusion matrix %v", cm)
	}
	for _, c := range []struct {
		name string
		got  Metric
		want float64
	}{
		{"recall", m.Recall, 1}, {"precision", m.Precision, 1.0 / 3}, {"accuracy", m.Accuracy, 0.5},
		{"recall_best_constant_classifier", m.RecallBestConstantClassifier, 1},
		{"precision_best_constant_classifier", m.PrecisionBestConstantClassifier, 0.25},
		{"accuracy_best_constant_classifier", m.AccuracyBestConstantClassifier, 0.25},
		{"true_positive_rate", m.TruePositiveRate, 1}, {"true_negative_rate", m.TrueNegativeRate, 1.0 / 3},
		{"false_positive_rate", m.FalsePositiveRate, 2.0 / 3}, {"false_negative_rate", m.FalseNegativeRate, 0},
		{"auc", m.AUC, 1}, {"f1", m.F1, 0.5}, {"f2", m.F2, 5.0 / 7}, {"f0_5", m.F05, 1.25 / 3.0 * 1 / (0.25/3 + 1)},
		{"f1_best_constant_classifier", m.F1BestConstantClassifier, 0.4},
	} {
		if math.Abs(float64(c.got.Value)-c.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", c.name, c.got.Value, c.want)
		}
		if !math.IsNaN(float64(c.got.StandardDeviation)) {
			t.Errorf("%s: standard deviation %v on 4 rows", c.name, c.got.StandardDeviation)
		}
	}
	// From 200 rows the standard deviation is computed.
	var ps []float64
	var ys []int
	for i := range 400 {
		ps = append(ps, float64(i%100)/100)
		ys = append(ys, (i*7)%3%2)
	}
	big := binaryClassification(rowsOf(ps, ys), 0.5)
	if sd := float64(big.AUC.StandardDeviation); math.IsNaN(sd) || sd < 0 || sd > 0.1 {
		t.Errorf("AUC standard deviation %v", sd)
	}
	if n := len(big.ROCCurve.FalsePositiveRates); n > curvePoints || n < 50 {
		t.Errorf("ROC curve of %d points", n)
	}
	cq := cutoffQuality(rowsOf([]float64{0.9, 0.7, 0.6, 0.1}, []int{1, 0, 0, 1}), []float64{0.5, 0.8})
	if cq[0].Tier != 2 || float64(cq[0].Precision) != 1.0/3 || float64(cq[0].Recall) != 0.5 || float64(cq[0].Flagged) != 0.75 ||
		cq[1].Tier != 3 || float64(cq[1].Precision) != 1 || float64(cq[1].Recall) != 0.5 {
		t.Errorf("cut-offs %+v", cq)
	}
}
