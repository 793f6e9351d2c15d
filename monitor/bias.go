package monitor

import (
	"fmt"
	"math"
	"sort"

	"github.com/leadscore/leadscore"
)

// CheckBias is the constraint check type of a bias metric outside its
// allowed range, Model Monitor's bias drift check.
const CheckBias = "bias_drift_check"

// Bias metrics, by SageMaker Clarify's short names. Facet d is the group,
// facet a the rest of the rows; n are row counts, a hat marks predicted
// labels, (1) positive and (0) negative outcomes.
const (
	// MetricCI is class imbalance, (n_a - n_d) / (n_a + n_d), on the
	// baseline's labelled rows.
	MetricCI = "CI"
	// MetricDPL is the difference in proportions of labels,
	// n_a(1)/n_a - n_d(1)/n_d.
	MetricDPL = "DPL"
	// MetricKL is the Kullback-Leibler divergence of the label
	// distributions, sum P_a log(P_a/P_d) over the outcomes both have.
	MetricKL = "KL"
	// MetricJS is the Jensen-Shannon divergence of the label distributions.
	MetricJS = "JS"
	// MetricKS is the Kolmogorov-Smirnov distance of the label
	// distributions, max |P_a - P_d|.
	MetricKS = "KS"
	// MetricDPPL is the difference in positive proportions in predicted
	// labels, n̂_a(1)/n_a - n̂_d(1)/n_d.
	MetricDPPL = "DPPL"
	// MetricDI is disparate impact, (n̂_d(1)/n_d) / (n̂_a(1)/n_a).
	MetricDI = "DI"
	// MetricCDDPL is the conditional demographic disparity in predicted
	// labels: the row-weighted mean over the group-by strata of
	// n̂_d(0)/n̂(0) - n̂_d(1)/n̂(1).
	MetricCDDPL = "CDDPL"
	// MetricDCA is the difference in conditional acceptance,
	// n_a(1)/n̂_a(1) - n_d(1)/n̂_d(1).
	MetricDCA = "DCA"
	// MetricDCR is the difference in conditional rejection,
	// n_d(0)/n̂_d(0) - n_a(0)/n̂_a(0).
	MetricDCR = "DCR"
	// MetricRD is the recall difference, TP_a/(TP_a+FN_a) - TP_d/(TP_d+FN_d).
	MetricRD = "RD"
	// MetricDAR is the difference in acceptance rates (precision),
	// TP_a/n̂_a(1) - TP_d/n̂_d(1).
	MetricDAR = "DAR"
	// MetricDRR is the difference in rejection rates,
	// TN_d/n̂_d(0) - TN_a/n̂_a(0).
	MetricDRR = "DRR"
	// MetricAD is the accuracy difference, ACC_a - ACC_d.
	MetricAD = "AD"
	// MetricTE is treatment equality, FN_d/FP_d - FN_a/FP_a.
	MetricTE = "TE"
)

// metricInfo describes a metric: its long name, its fair value and the
// range it can take.
type metricInfo struct {
	desc     string
	fair     float64
	lo, hi   float64
	labelled bool // needs outcomes
}

var metricInfos = map[string]metricInfo{
	MetricCI:    {"Class Imbalance (CI)", 0, -1, 1, true},
	MetricDPL:   {"Difference in Positive Proportions in Labels (DPL)", 0, -1, 1, true},
	MetricKL:    {"Kullback-Liebler Divergence (KL)", 0, 0, math.Inf(1), true},
	MetricJS:    {"Jensen-Shannon Divergence (JS)", 0, 0, math.Ln2, true},
	MetricKS:    {"Kolmogorov-Smirnov Distance (KS)", 0, 0, 1, true},
	MetricDPPL:  {"Difference in Positive Proportions in Predicted Labels (DPPL)", 0, -1, 1, false},
	MetricDI:    {"Disparate Impact (DI)", 1, 0, math.Inf(1), false},
	MetricCDDPL: {"Conditional Demographic Disparity in Predicted Labels (CDDPL)", 0, -1, 1, false},
	MetricDCA:   {"Difference in Conditional Acceptance (DCA)", 0, math.Inf(-1), math.Inf(1), true},
	MetricDCR:   {"Difference in Conditional Rejection (DCR)", 0, math.Inf(-1), math.Inf(1), true},
	MetricRD:    {"Recall Difference (RD)", 0, -1, 1, true},
	MetricDAR:   {"Difference in Acceptance Rates (DAR)", 0, -1, 1, true},
	MetricDRR:   {"Difference in Rejection Rates (DRR)", 0, -1, 1, true},
	MetricAD:    {"Accuracy Difference (AD)", 0, -1, 1, true},
	MetricTE:    {"Treatment Equality (TE)", 0, math.Inf(-1), math.Inf(1), true},
}

// PreTrainingMetrics and PostTrainingMetrics list the metrics in report
// order.
var (
	PreTrainingMetrics  = []string{MetricCI, MetricDPL, MetricKL, MetricJS, MetricKS}
	PostTrainingMetrics = []string{MetricDPPL, MetricDI, MetricCDDPL, MetricDCA, MetricDCR, MetricRD, MetricDAR, MetricDRR, MetricAD, MetricTE}
)

// BiasRows are the rows bias metrics are computed over: per row the facet
// features' values (NaN: missing), the group-by value, whether the
// prediction is positive and the outcome (-1 unknown, 0, 1).
type BiasRows struct {
	// Facets[i] holds the values of cfg.Facets[i]'s feature, one per row.
	Facets    [][]float64
	GroupBy   []float64 // nil without a group-by feature
	Predicted []bool    // nil for pre-training metrics (labels only)
	Labels    []int8
}

// BiasReport is the bias section of a report: for each facet group
// against the rest, Clarify's post-training metrics over the window (or
// lake range), and the pre-training metrics of the baseline's data.
type BiasReport struct {
	Positive     string  `json:"positive"`
	GroupBy      string  `json:"group_by,omitempty"`
	MinGroupRows int     `json:"min_group_rows"`
	Tolerance    float64 `json:"tolerance"`
	// Facets are the live (or lake) post-training metrics.
	Facets []FacetBias `json:"facets"`
	// PreTraining are the baseline's pre-training metrics (from its
	// training data); absent when the baseline has none.
	PreTraining []FacetBias `json:"pre_training,omitempty"`
}

// FacetBias is one facet group (facet d) against the rest (facet a).
type FacetBias struct {
	Facet      string `json:"facet"`
	FacetValue string `json:"facet_value"`
	// Rows and RestRows count the group's and the rest's rows; Labeled and
	// RestLabeled those with a known outcome.
	Rows        int64        `json:"rows"`
	RestRows    int64        `json:"rest_rows"`
	Labeled     int64        `json:"labeled"`
	RestLabeled int64        `json:"rest_labeled"`
	Metrics     []BiasMetric `json:"metrics"`
}

// BiasMetric is one metric of a facet group. Value is null when Status is
// insufficient_data (a group or the rest has fewer than min_group_rows
// rows, or rows with an outcome) or the metric is not defined.
type BiasMetric struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Value       *Float `json:"value"`
	// Status is ok, violation or insufficient_data.
	Status string `json:"status"`
	// Allowed is the range the value must stay in.
	Allowed [2]Float `json:"allowed"`
	// Baseline is the metric on the baseline's data, when known.
	Baseline *Float `json:"baseline,omitempty"`
}

// biasSettings are a BiasConfig with defaults filled in.
type biasSettings struct {
	cfg       leadscore.BiasConfig
	minRows   int64
	tolerance float64
}

func newBiasSettings(cfg leadscore.BiasConfig) biasSettings {
	s := biasSettings{cfg: cfg, minRows: int64(cfg.MinGroupRows), tolerance: cfg.Tolerance}
	if s.minRows == 0 {
		s.minRows = leadscore.DefaultMinGroupRows
	}
	if s.tolerance == 0 {
		s.tolerance = leadscore.DefaultBiasTolerance
	}
	return s
}

// allowed is a metric's allowed range: the configured one, else the band
// of half-width tolerance around the fair value (TE, a difference of
// ratios of counts that swings widely, five times the tolerance; DI:
// [0.8, 1.25], the four-fifths rule), widened to tolerance around the baseline's value, so
// that, as in Model Monitor's bias drift check, a metric is a violation
// only once it is worse than on the baseline data.
func (s *biasSettings) allowed(name string, base float64) (lo, hi float64) {
	if r, ok := s.cfg.Constraints[name]; ok {
		return r[0], r[1]
	}
	info := metricInfos[name]
	t := s.tolerance
	if name == MetricTE {
		t *= 5
	}
	lo, hi = info.fair-t, info.fair+t
	if name == MetricDI {
		lo, hi = 0.8, 1.25
		if s.cfg.Tolerance > 0 {
			lo, hi = 1-t, 1/(1-math.Min(t, 0.99))
		}
	}
	if !math.IsNaN(base) && !math.IsInf(base, 0) {
		lo, hi = math.Min(lo, base-t), math.Max(hi, base+t)
	}
	return math.Max(lo, info.lo), math.Min(hi, info.hi)
}

// divide is Clarify's division: 0/0 is 0 and x/0 is ±infinity.
func divide(a, b float64) float64 {
	if b == 0 {
		switch {
		case a == 0:
			return 0
		case a < 0:
			return math.Inf(-1)
		default:
			return math.Inf(1)
		}
	}
	return a / b
}

// diff is a - b, 0 when both are +infinity (Clarify's convention).
func diff(a, b float64) float64 {
	if math.IsInf(a, 1) && math.IsInf(b, 1) {
		return 0
	}
	return a - b
}

// confusion counts a group's rows.
type confusion struct {
	n, predPos         int64 // all rows; predicted positive
	labeled            int64
	pos, neg           int64 // labelled: outcome positive, negative
	predPosL, predNegL int64 // labelled: predicted positive, negative
	tp, fp, tn, fn     int64
}

func (c *confusion) add(pred bool, label int8) {
	c.n++
	if pred {
		c.predPos++
	}
	if label < 0 {
		return
	}
	c.labeled++
	switch {
	case label == 1 && pred:
		c.tp++
	case label == 1:
		c.fn++
	case pred:
		c.fp++
	default:
		c.tn++
	}
}

func (c *confusion) finish() {
	c.pos, c.neg = c.tp+c.fn, c.fp+c.tn
	c.predPosL, c.predNegL = c.tp+c.fp, c.tn+c.fn
}

// postTraining computes the post-training metrics of group d against the
// rest a; NaN marks a metric that cannot be computed.
func postTraining(d, a *confusion, cdd float64) map[string]float64 {
	f := func(x int64) float64 { return float64(x) }
	m := map[string]float64{}
	qa, qd := f(a.predPos)/f(a.n), f(d.predPos)/f(d.n)
	m[MetricDPPL] = qa - qd
	m[MetricDI] = divide(qd, qa)
	m[MetricCDDPL] = cdd
	// DCA and DCR: observed over predicted outcomes.
	ca, cd := divide(f(a.pos), f(a.predPosL)), divide(f(d.pos), f(d.predPosL))
	ra, rd := divide(f(a.neg), f(a.predNegL)), divide(f(d.neg), f(d.predNegL))
	m[MetricDCA] = diff(ca, cd)
	m[MetricDCR] = diff(rd, ra)
	m[MetricRD] = diff(divide(f(a.tp), f(a.tp+a.fn)), divide(f(d.tp), f(d.tp+d.fn)))
	m[MetricDAR] = diff(divide(f(a.tp), f(a.predPosL)), divide(f(d.tp), f(d.predPosL)))
	m[MetricDRR] = diff(divide(f(d.tn), f(d.predNegL)), divide(f(a.tn), f(a.predNegL)))
	m[MetricAD] = diff(divide(f(a.tp+a.tn), f(a.labeled)), divide(f(d.tp+d.tn), f(d.labeled)))
	m[MetricTE] = diff(divide(f(d.fn), f(d.fp)), divide(f(a.fn), f(a.fp)))
	return m
}

// preTraining computes the pre-training metrics of group d against the
// rest a from their outcomes.
func preTraining(d, a *confusion) map[string]float64 {
	f := func(x int64) float64 { return float64(x) }
	m := map[string]float64{}
	m[MetricCI] = (f(a.labeled) - f(d.labeled)) / f(a.labeled+d.labeled)
	qa, qd := f(a.pos)/f(a.labeled), f(d.pos)/f(d.labeled)
	m[MetricDPL] = qa - qd
	// The label distributions over the outcomes present in both groups
	// (Clarify's aligned non-zero pdfs; not renormalised).
	var pa, pd []float64
	for _, p := range [][2]float64{{1 - qa, 1 - qd}, {qa, qd}} {
		if p[0] > 0 && p[1] > 0 {
			pa, pd = append(pa, p[0]), append(pd, p[1])
		}
	}
	if len(pa) == 0 {
		m[MetricKL], m[MetricJS], m[MetricKS] = math.NaN(), math.NaN(), math.NaN()
		return m
	}
	var kl, js, ks float64
	for i := range pa {
		kl += pa[i] * math.Log(pa[i]/pd[i])
		mid := (pa[i] + pd[i]) / 2
		js += 0.5 * (pa[i]*math.Log(pa[i]/mid) + pd[i]*math.Log(pd[i]/mid))
		ks = math.Max(ks, math.Abs(pa[i]-pd[i]))
	}
	m[MetricKL], m[MetricJS], m[MetricKS] = kl, js, ks
	return m
}

// MaxBiasStrata bounds the distinct group-by values CDDPL is stratified
// by; a group-by feature with more (a continuous feature, not a category)
// leaves CDDPL as insufficient data rather than growing without bound.
const MaxBiasStrata = 10000

// stratum counts the rows of one group-by value: all rows with a facet
// value, the accepted and rejected ones, and per facet group those of the
// group (facet d).
type stratum struct {
	n, acc, rej int64
	accD, rejD  []int64
}

// facetCounts are one facet's counts: per group the group's (d) and the
// rest's (a) confusion, and the CDDPL strata.
type facetCounts struct {
	groups   []leadscore.FacetGroup
	d, a     []confusion
	strata   map[float64]*stratum
	nan      *stratum // the rows whose group-by value is missing
	overflow bool     // more than MaxBiasStrata strata
}

// biasCounts accumulates the rows of a bias computation one at a time, so
// that a lake's rows need no memory per row: the live window and
// `leadscore monitor` compute the metrics through it alike. Pre-training
// counts (no predictions) keep only labelled rows.
type biasCounts struct {
	s       *biasSettings
	pre     bool
	groupBy bool
	facets  []facetCounts
}

func newBiasCounts(s *biasSettings, pre, groupBy bool) *biasCounts {
	c := &biasCounts{s: s, pre: pre, groupBy: groupBy && !pre}
	for i := range s.cfg.Facets {
		gs := s.cfg.Facets[i].FacetGroups()
		c.facets = append(c.facets, facetCounts{groups: gs, d: make([]confusion, len(gs)), a: make([]confusion, len(gs)),
			strata: map[float64]*stratum{}})
	}
	return c
}

// add counts one row: its facet features' values (NaN: missing, the row
// is not counted for that facet), its group-by value, whether the
// prediction is positive and the outcome (-1 unknown, 0, 1).
func (c *biasCounts) add(facets []float64, groupBy float64, pred bool, label int8) {
	if c.pre {
		if label < 0 {
			return
		}
		pred = false
	}
	for fi := range c.facets {
		fc := &c.facets[fi]
		x := facets[fi]
		if math.IsNaN(x) {
			continue
		}
		var st *stratum
		if c.groupBy && !fc.overflow {
			st = fc.stratum(groupBy)
		}
		if st != nil {
			st.n++
			if pred {
				st.acc++
			} else {
				st.rej++
			}
		}
		for gi := range fc.groups {
			if fc.groups[gi].Contains(x) {
				fc.d[gi].add(pred, label)
				if st != nil && pred {
					st.accD[gi]++
				} else if st != nil {
					st.rejD[gi]++
				}
			} else {
				fc.a[gi].add(pred, label)
			}
		}
	}
}

// stratum returns the stratum of group-by value v, nil once there are
// too many.
func (fc *facetCounts) stratum(v float64) *stratum {
	if math.IsNaN(v) {
		if fc.nan == nil {
			fc.nan = &stratum{accD: make([]int64, len(fc.groups)), rejD: make([]int64, len(fc.groups))}
		}
		return fc.nan
	}
	st := fc.strata[v]
	if st == nil {
		if len(fc.strata) >= MaxBiasStrata {
			fc.overflow, fc.strata, fc.nan = true, nil, nil
			return nil
		}
		st = &stratum{accD: make([]int64, len(fc.groups)), rejD: make([]int64, len(fc.groups))}
		fc.strata[v] = st
	}
	return st
}

// cddpl is the conditional demographic disparity in predicted labels of
// group gi among the rows with a facet value, stratified by the group-by
// feature: the row-weighted mean over the strata of n̂_d(0)/n̂(0) -
// n̂_d(1)/n̂(1). NaN when it cannot be computed.
func (fc *facetCounts) cddpl(gi int) float64 {
	if fc.overflow {
		return math.NaN()
	}
	keys := make([]float64, 0, len(fc.strata))
	for k := range fc.strata {
		keys = append(keys, k)
	}
	sort.Float64s(keys) // a fixed order of the sum: the same data gives the same bits
	all := make([]*stratum, 0, len(keys)+1)
	for _, k := range keys {
		all = append(all, fc.strata[k])
	}
	if fc.nan != nil {
		all = append(all, fc.nan)
	}
	var accAll, rejAll int64
	for _, s := range all {
		accAll += s.acc
		rejAll += s.rej
	}
	if accAll == 0 || rejAll == 0 {
		return math.NaN() // Clarify: no positive (or negative) predictions
	}
	var sum float64
	var n int64
	for _, s := range all {
		var a, d float64
		if s.acc > 0 {
			a = float64(s.accD[gi]) / float64(s.acc)
		}
		if s.rej > 0 {
			d = float64(s.rejD[gi]) / float64(s.rej)
		}
		sum += float64(s.n) * (d - a)
		n += s.n
	}
	return divide(sum, float64(n))
}

// computeBias computes the metrics of every facet group; with Predicted
// nil, the pre-training metrics from the labels. base, when not nil, gives
// the baseline value of each facet group's metric for the allowed ranges
// (key facet, facet value, metric). It returns the facet reports and the
// violations.
func computeBias(s *biasSettings, rows BiasRows, base map[[3]string]float64) ([]FacetBias, []Violation) {
	c := newBiasCounts(s, rows.Predicted == nil, rows.GroupBy != nil)
	vals := make([]float64, len(rows.Facets))
	n := len(rows.Labels)
	if rows.Predicted != nil {
		n = len(rows.Predicted)
	}
	for i := range n {
		for fi := range vals {
			vals[fi] = rows.Facets[fi][i]
		}
		g, pred, label := math.NaN(), false, int8(-1)
		if rows.GroupBy != nil {
			g = rows.GroupBy[i]
		}
		if rows.Predicted != nil {
			pred = rows.Predicted[i]
		}
		if rows.Labels != nil {
			label = rows.Labels[i]
		}
		c.add(vals, g, pred, label)
	}
	return c.finish(base)
}

// finish computes the metrics of the counted rows; base as computeBias's.
func (c *biasCounts) finish(base map[[3]string]float64) ([]FacetBias, []Violation) {
	var out []FacetBias
	var vs []Violation
	s := c.s
	for fi, facet := range s.cfg.Facets {
		fc := &c.facets[fi]
		for gi := range fc.groups {
			g := &fc.groups[gi]
			d, a := fc.d[gi], fc.a[gi]
			d.finish()
			a.finish()
			fb := FacetBias{Facet: facet.Feature, FacetValue: g.Value, Rows: d.n, RestRows: a.n,
				Labeled: d.labeled, RestLabeled: a.labeled}
			var values map[string]float64
			names := PostTrainingMetrics
			if c.pre {
				names = PreTrainingMetrics
				if d.labeled >= s.minRows && a.labeled >= s.minRows {
					values = preTraining(&d, &a)
				}
			} else {
				cdd := math.NaN()
				if c.groupBy {
					cdd = fc.cddpl(gi)
				}
				values = postTraining(&d, &a, cdd)
			}
			for _, name := range names {
				if name == MetricCDDPL && !c.groupBy {
					continue
				}
				info := metricInfos[name]
				bv := math.NaN()
				if b, ok := base[[3]string{facet.Feature, g.Value, name}]; ok {
					bv = b
				}
				lo, hi := s.allowed(name, bv)
				bm := BiasMetric{Name: name, Description: info.desc, Status: StatusOK, Allowed: [2]Float{Float(lo), Float(hi)}}
				if !math.IsNaN(bv) {
					f := Float(bv)
					bm.Baseline = &f
				}
				enough := d.n >= s.minRows && a.n >= s.minRows
				if info.labelled {
					enough = d.labeled >= s.minRows && a.labeled >= s.minRows
				}
				v, ok := values[name]
				if !enough || !ok || math.IsNaN(v) {
					bm.Status = StatusInsufficient
					fb.Metrics = append(fb.Metrics, bm)
					continue
				}
				f := Float(v)
				bm.Value = &f
				if v < lo || v > hi {
					bm.Status = StatusViolation
					vs = append(vs, Violation{FeatureName: facet.Feature, ConstraintCheckType: CheckBias,
						Facet: facet.Feature, FacetValue: g.Value, MetricName: name,
						Description: fmt.Sprintf("Value %.6g of %s for %s %s against the rest does not meet the constraint requirement [%.4g, %.4g].",
							v, name, facet.Feature, g.Value, lo, hi)})
				}
				fb.Metrics = append(fb.Metrics, bm)
			}
			out = append(out, fb)
		}
	}
	return out, vs
}

// BiasBaseline is a baseline's bias.json: the facets, the pre-training
// metrics of its data and the post-training metrics of the model on it,
// which widen the allowed ranges of the live metrics.
type BiasBaseline struct {
	Version      float64              `json:"version"`
	Config       leadscore.BiasConfig `json:"config"`
	Rows         int64                `json:"rows"`
	PreTraining  []FacetBias          `json:"pre_training_bias_metrics"`
	PostTraining []FacetBias          `json:"post_training_bias_metrics"`
	// Violations are the pre-training metrics outside their allowed range.
	Violations []Violation `json:"violations"`
}

// BiasFile is the baseline file of the bias metrics.
const BiasFile = "bias.json"

// ComputeBiasBaseline computes the bias baseline of scored, labelled data:
// values holds rows rows of len(names) features, probs the model's
// probabilities, labels the outcomes (NaN unknown).
func ComputeBiasBaseline(cfg leadscore.BiasConfig, names []string, values []float32, rows int, probs []float32,
	labels []float64, tiers leadscore.Tiers) (*BiasBaseline, error) {
	if err := cfg.Validate(names); err != nil {
		return nil, err
	}
	br := biasRowsFrom(cfg, names, values, rows, func(i int) float64 { return float64(probs[i]) }, tiers)
	br.Labels = make([]int8, rows)
	for i := range br.Labels {
		br.Labels[i] = -1
		if labels != nil && !math.IsNaN(labels[i]) {
			br.Labels[i] = int8(labels[i]) // #nosec G115 -- 0 or 1
		}
	}
	s := newBiasSettings(cfg)
	out := &BiasBaseline{Version: 1, Config: cfg, Rows: int64(rows), Violations: []Violation{}}
	out.PostTraining, _ = computeBias(&s, br, nil)
	pred := br.Predicted
	br.Predicted = nil
	out.PreTraining, out.Violations = computeBias(&s, br, nil)
	br.Predicted = pred
	if out.Violations == nil {
		out.Violations = []Violation{}
	}
	return out, nil
}

// biasRowsFrom gathers the facet and group-by columns and the predicted
// labels of row-major values.
func biasRowsFrom(cfg leadscore.BiasConfig, names []string, values []float32, rows int, prob func(int) float64, tiers leadscore.Tiers) BiasRows {
	idx := make(map[string]int, len(names))
	for i, n := range names {
		idx[n] = i
	}
	nf := len(names)
	col := func(name string) []float64 {
		j := idx[name]
		out := make([]float64, rows)
		for i := range out {
			out[i] = float64(values[i*nf+j])
		}
		return out
	}
	br := BiasRows{Predicted: make([]bool, rows)}
	for _, f := range cfg.Facets {
		br.Facets = append(br.Facets, col(f.Feature))
	}
	if cfg.GroupBy != "" {
		br.GroupBy = col(cfg.GroupBy)
	}
	for i := range br.Predicted {
		br.Predicted[i] = cfg.Positive.Predicted(prob(i), tiers)
	}
	return br
}

// baselineValues indexes a bias baseline's post-training values.
func (b *BiasBaseline) baselineValues() map[[3]string]float64 {
	if b == nil {
		return nil
	}
	out := map[[3]string]float64{}
	for _, fb := range b.PostTraining {
		for _, m := range fb.Metrics {
			if m.Value != nil {
				out[[3]string{fb.Facet, fb.FacetValue, m.Name}] = float64(*m.Value)
			}
		}
	}
	return out
}
