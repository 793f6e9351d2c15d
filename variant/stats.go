package variant

import (
	"math"
	"sort"
)

// AUC is the area under the ROC curve of scores against outcomes (the
// Mann-Whitney statistic, ties counting one half); NaN unless both
// classes are present.
func AUC(scores []float64, pos []bool) float64 {
	v10, v01 := placements(scores, pos)
	if len(v10) == 0 || len(v01) == 0 {
		return math.NaN()
	}
	return mean(v10)
}

// placements returns DeLong's structural components: for each positive,
// the share of negatives it outranks (ties one half), and for each
// negative, the share of positives that outrank it.
func placements(scores []float64, pos []bool) (v10, v01 []float64) {
	var ps, ns []float64
	for i, s := range scores {
		if math.IsNaN(s) {
			continue
		}
		if pos[i] {
			ps = append(ps, s)
		} else {
			ns = append(ns, s)
		}
	}
	if len(ps) == 0 || len(ns) == 0 {
		return nil, nil
	}
	sortedN := append([]float64(nil), ns...)
	sortedP := append([]float64(nil), ps...)
	sort.Float64s(sortedN)
	sort.Float64s(sortedP)
	v10 = make([]float64, len(ps))
	for i, x := range ps {
		below := sort.SearchFloat64s(sortedN, x)                                      // negatives < x
		upto := sort.Search(len(sortedN), func(j int) bool { return sortedN[j] > x }) // negatives <= x
		v10[i] = (float64(below) + 0.5*float64(upto-below)) / float64(len(ns))
	}
	v01 = make([]float64, len(ns))
	for i, y := range ns {
		above := len(sortedP) - sort.Search(len(sortedP), func(j int) bool { return sortedP[j] > y })
		ties := sort.Search(len(sortedP), func(j int) bool { return sortedP[j] > y }) - sort.SearchFloat64s(sortedP, y)
		v01[i] = (float64(above) + 0.5*float64(ties)) / float64(len(ps))
	}
	return v10, v01
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// covariance of two equally long samples (n-1 denominator); 0 for n < 2.
func covariance(a, b []float64) float64 {
	n := len(a)
	if n < 2 {
		return 0
	}
	ma, mb := mean(a), mean(b)
	var s float64
	for i := range a {
		s += (a[i] - ma) * (b[i] - mb)
	}
	return s / float64(n-1)
}

// AUCDiff is the paired comparison of two scorings of the same leads.
type AUCDiff struct {
	// AUCA and AUCB are the two AUCs; Diff is AUCB - AUCA.
	AUCA float64 `json:"auc_champion"`
	AUCB float64 `json:"auc_challenger"`
	Diff float64 `json:"difference"`
	// SE is DeLong's standard error of Diff; Low and High the 95%
	// confidence interval; P the two-sided p-value of Diff == 0.
	SE   float64 `json:"standard_error"`
	Low  float64 `json:"ci95_low"`
	High float64 `json:"ci95_high"`
	P    float64 `json:"p_value"`
	// Positives and Negatives count the leads with outcomes.
	Positives int `json:"positives"`
	Negatives int `json:"negatives"`
}

// z95 is the two-sided 95% normal quantile.
const z95 = 1.959963984540054

// DeLong compares the AUCs of two scorings a and b of the same leads
// (DeLong, DeLong and Clarke-Pearson 1988): the variance of the
// difference comes from the covariance of the structural components, so
// it accounts for the two scorings being correlated. Leads where either
// score is NaN are left out. ok is false unless both classes are present.
func DeLong(a, b []float64, pos []bool) (d AUCDiff, ok bool) {
	var fa, fb []float64
	var fp []bool
	for i := range a {
		if math.IsNaN(a[i]) || math.IsNaN(b[i]) {
			continue
		}
		fa, fb, fp = append(fa, a[i]), append(fb, b[i]), append(fp, pos[i])
	}
	a10, a01 := placements(fa, fp)
	b10, b01 := placements(fb, fp)
	if len(a10) == 0 || len(a01) == 0 {
		return AUCDiff{}, false
	}
	m, n := float64(len(a10)), float64(len(a01))
	d.Positives, d.Negatives = len(a10), len(a01)
	d.AUCA, d.AUCB = mean(a10), mean(b10)
	d.Diff = d.AUCB - d.AUCA
	v := (covariance(a10, a10)+covariance(b10, b10)-2*covariance(a10, b10))/m +
		(covariance(a01, a01)+covariance(b01, b01)-2*covariance(a01, b01))/n
	if v < 0 {
		v = 0
	}
	d.SE = math.Sqrt(v)
	d.Low, d.High = d.Diff-z95*d.SE, d.Diff+z95*d.SE
	switch {
	case d.SE > 0:
		d.P = math.Erfc(math.Abs(d.Diff) / d.SE / math.Sqrt2)
	case d.Diff == 0:
		d.P = 1
	default:
		d.P = 0
	}
	return d, true
}

// Spearman is the rank correlation of two scorings of the same leads
// (Pearson's correlation of their mid-ranks); NaN with fewer than two
// leads or when either is constant.
func Spearman(a, b []float64) float64 {
	if len(a) < 2 || len(a) != len(b) {
		return math.NaN()
	}
	return pearson(ranks(a), ranks(b))
}

// ranks returns the mid-ranks (1-based, ties averaged) of xs.
func ranks(xs []float64) []float64 {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return xs[idx[i]] < xs[idx[j]] })
	r := make([]float64, len(xs))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && xs[idx[j+1]] == xs[idx[i]] {
			j++
		}
		mid := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = mid
		}
		i = j + 1
	}
	return r
}

func pearson(a, b []float64) float64 {
	va, vb := covariance(a, a), covariance(b, b)
	if va == 0 || vb == 0 {
		return math.NaN()
	}
	return covariance(a, b) / math.Sqrt(va*vb)
}

// Confusion is the 5x5 tier confusion of two scorings of the same leads:
// [i][j] counts leads the champion put in tier i+1 and the challenger in
// tier j+1.
type Confusion [5][5]int64

// Add counts one lead; tiers outside 1..5 are ignored.
func (c *Confusion) Add(champion, challenger int) {
	if champion < 1 || champion > 5 || challenger < 1 || challenger > 5 {
		return
	}
	c[champion-1][challenger-1]++
}

// Agreement is the share of leads both put in the same tier; NaN when
// empty.
func (c *Confusion) Agreement() float64 {
	var same, all int64
	for i := range c {
		for j := range c[i] {
			all += c[i][j]
			if i == j {
				same += c[i][j]
			}
		}
	}
	if all == 0 {
		return math.NaN()
	}
	return float64(same) / float64(all)
}

// CutoffQuality is the precision and recall of calling every lead at or
// above a tier a conversion.
type CutoffQuality struct {
	MinTier   int     `json:"min_tier"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	// Leads is how many leads are at or above the tier.
	Leads int `json:"leads"`
}

// TierQuality returns, for each tier cut-off 2..5, precision and recall
// of "tier >= cut-off", and the conversion rate of each tier 1..5 (NaN
// for an empty tier) with its lead count.
func TierQuality(tiers []int, pos []bool) (cut []CutoffQuality, conv [5]float64, count [5]int) {
	var conversions [5]int
	total := 0
	for i, t := range tiers {
		if t < 1 || t > 5 {
			continue
		}
		count[t-1]++
		if pos[i] {
			conversions[t-1]++
			total++
		}
	}
	for t := range conv {
		conv[t] = math.NaN()
		if count[t] > 0 {
			conv[t] = float64(conversions[t]) / float64(count[t])
		}
	}
	for k := 2; k <= 5; k++ {
		var tp, n int
		for t := k; t <= 5; t++ {
			tp += conversions[t-1]
			n += count[t-1]
		}
		q := CutoffQuality{MinTier: k, Leads: n, Precision: math.NaN(), Recall: math.NaN()}
		if n > 0 {
			q.Precision = float64(tp) / float64(n)
		}
		if total > 0 {
			q.Recall = float64(tp) / float64(total)
		}
		cut = append(cut, q)
	}
	return cut, conv, count
}

// Verdicts.
const (
	Better         = "challenger better"
	Worse          = "challenger worse"
	NotSignificant = "not yet significant"
	NoOutcomes     = "no outcomes yet"
)

// MinClass is the fewest leads of each outcome (converted and not) a
// verdict needs: below it the normal approximation of DeLong's test is
// not to be trusted and the verdict stays "not yet significant".
const MinClass = 10

// Verdict reads a paired AUC comparison: "challenger better" when the 95%
// interval of the difference lies above 0, "challenger worse" when below,
// else "not yet significant" (also with fewer than MinClass leads of
// either outcome).
func Verdict(d AUCDiff, ok bool) string {
	switch {
	case !ok:
		return NoOutcomes
	case d.Positives < MinClass || d.Negatives < MinClass:
		return NotSignificant
	case d.Low > 0:
		return Better
	case d.High < 0:
		return Worse
	}
	return NotSignificant
}
