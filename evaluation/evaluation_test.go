package evaluation

import (
	"math"
	"testing"

	"github.com/leadscore/leadscore"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestAUC(t *testing.T) {
	tests := []struct {
		p    []float32
		y    []float64
		want float64
	}{
		{[]float32{0.1, 0.4, 0.35, 0.8}, []float64{0, 0, 1, 1}, 0.75}, // scikit-learn's roc_auc_score example
		{[]float32{0.1, 0.2, 0.3}, []float64{0, 1, 1}, 1},
		{[]float32{0.5, 0.5}, []float64{0, 1}, 0.5},
		{[]float32{0.3, 0.2, 0.1}, []float64{0, math.NaN(), 1}, 0},
	}
	for _, tt := range tests {
		if got := AUC(tt.p, tt.y); !near(got, tt.want) {
			t.Errorf("AUC(%v, %v) = %v, want %v", tt.p, tt.y, got, tt.want)
		}
	}
	if !math.IsNaN(AUC([]float32{0.1}, []float64{1})) {
		t.Error("AUC of one class is not NaN")
	}
}

func TestLogLoss(t *testing.T) {
	// -(log 0.9 + log 0.8) / 2
	if got, want := LogLoss([]float32{0.9, 0.2}, []float64{1, 0}), -(math.Log(0.9)+math.Log(0.8))/2; math.Abs(got-want) > 1e-6 {
		t.Errorf("log loss %v, want %v", got, want)
	}
}

func TestCutoffsAndTierTable(t *testing.T) {
	probs := make([]float32, 1000)
	labels := make([]float64, 1000)
	for i := range probs {
		probs[i] = (float32(i) + 0.5) / 1000
		if i%10 == 0 || i >= 900 {
			labels[i] = 1
		}
	}
	tiers, err := Cutoffs(probs, DefaultShares)
	if err != nil || tiers != (leadscore.Tiers{0.3, 0.6, 0.8, 0.9}) {
		t.Fatalf("cut-offs %v %v", tiers, err)
	}
	rows := TierTable(probs, labels, tiers)
	wantLeads := []int{100, 100, 200, 300, 300} // tiers 5..1
	for i, r := range rows {
		if r.Tier != 5-i || r.Leads != wantLeads[i] {
			t.Errorf("row %d: %+v", i, r)
		}
	}
	if r := rows[0]; r.Conversions != 100 || r.ConversionRate != 1 || !near(r.Lift, 1/0.19) {
		t.Errorf("tier 5: %+v", r)
	}
	if _, err := Cutoffs(make([]float32, 100), DefaultShares); err == nil {
		t.Error("constant scores gave cut-offs")
	}
	if _, err := Cutoffs(probs, [5]float64{0.5, 0.5, 0.5, 0.1, 0.1}); err == nil {
		t.Error("shares over 1 accepted")
	}
}

func TestPrecisionRecallCalibrationStability(t *testing.T) {
	probs := []float32{0.05, 0.15, 0.55, 0.95}
	labels := []float64{0, 0, 1, 1}
	pr := PrecisionRecall(probs, labels, leadscore.Tiers{0.1, 0.5, 0.9, 0.99})
	if pr[0].Precision != 2.0/3 || pr[0].Recall != 1 || pr[2].Recall != 0.5 || pr[3].Precision != 0 {
		t.Errorf("precision/recall %+v", pr)
	}
	bins, ece := Calibration(probs, labels, 10)
	if len(bins) != 4 || math.Abs(ece-(0.05+0.15+0.45+0.05)/4) > 1e-6 {
		t.Errorf("calibration %+v %v", bins, ece)
	}
	a := leadscore.Tiers{0.1, 0.2, 0.3, 0.4}
	if got := TierStability(probs, a, []float32{0.05, 0.25, 0.55, 0.95}, a); got != 0.25 {
		t.Errorf("tier stability %v", got)
	}
}

func TestCompare(t *testing.T) {
	cur := Report{AUC: 0.80, LogLoss: 0.4}
	if v := Compare(Report{AUC: 0.795}, cur, 0.1, 0.01); !v.Pass {
		t.Errorf("small regression failed: %+v", v)
	}
	if v := Compare(Report{AUC: 0.75}, cur, 0.1, 0.01); v.Pass || !near(v.AUCChange, -0.05) {
		t.Errorf("large regression passed: %+v", v)
	}
	if v := Compare(Report{AUC: math.NaN()}, cur, 0, 0.01); v.Pass {
		t.Error("undefined AUC passed")
	}
}
