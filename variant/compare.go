package variant

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Num is a float that encodes NaN and infinities as JSON null.
type Num float64

// MarshalJSON writes n, or null when it is not finite.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number or null (NaN).
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Num(f)
	return nil
}

// Lead is one lead's scores by variant (indexed like Table.Names): NaN
// probability and tier 0 where a variant did not score it.
type Lead struct {
	Prob []float64
	Tier []int
	// Outcome is 1 converted, 0 not, -1 unknown.
	Outcome int8
}

// Traffic is one variant's live answers: leads answered, their
// latencies (milliseconds) and tiers.
type Traffic struct {
	Leads     int64
	Shadow    int64 // leads scored as a shadow
	Latencies []float64
	Tiers     [5]int64
}

// Table is the input of a comparison: variants by name (Champion is the
// index of the champion), their traffic, and the leads they scored.
type Table struct {
	Names    []string
	Roles    []Role // optional, for the report
	Champion int
	Traffic  []Traffic
	Leads    []Lead
}

// Report is a comparison of variants, as GET /v1/variants and
// `leadscore compare` return it.
type Report struct {
	Champion    string       `json:"champion"`
	Variants    []Stats      `json:"variants"`
	Comparisons []Comparison `json:"comparisons"`
}

// Stats is one variant's traffic and, with outcomes, quality.
type Stats struct {
	Name string `json:"name"`
	Role Role   `json:"role,omitempty"`
	// Leads is how many leads it answered live, Share their share of all
	// live answers; Shadow how many it scored as a shadow.
	Leads  int64 `json:"leads"`
	Share  Num   `json:"share"`
	Shadow int64 `json:"shadow_scored"`
	// Latency of its live answers, milliseconds.
	Latency Latency `json:"latency_ms"`
	// Tiers is the share of its live answers in each tier 1..5.
	Tiers [5]Num `json:"tier_distribution"`
	// Quality is over every lead it scored (live or shadow) whose outcome
	// is known; nil without outcomes.
	Quality *Quality `json:"quality"`
}

// Latency percentiles in milliseconds.
type Latency struct {
	P50 Num `json:"p50"`
	P90 Num `json:"p90"`
	P99 Num `json:"p99"`
}

// Quality is a variant's ranking quality on leads with known outcomes.
type Quality struct {
	Leads       int             `json:"leads_with_outcomes"`
	Conversions int             `json:"conversions"`
	AUC         Num             `json:"auc"`
	Cutoffs     []CutoffJSON    `json:"tier_cutoffs"`
	Conversion  [5]TierOutcomes `json:"conversion_by_tier"`
}

// CutoffJSON is CutoffQuality for JSON.
type CutoffJSON struct {
	MinTier   int `json:"min_tier"`
	Leads     int `json:"leads"`
	Precision Num `json:"precision"`
	Recall    Num `json:"recall"`
}

// TierOutcomes is one tier's conversion rate.
type TierOutcomes struct {
	Tier  int `json:"tier"`
	Leads int `json:"leads"`
	Rate  Num `json:"rate"`
}

// Comparison is one challenger against the champion on the leads both
// scored.
type Comparison struct {
	Challenger string `json:"challenger"`
	Champion   string `json:"champion"`
	// Leads is how many leads both scored.
	Leads int `json:"paired_leads"`
	// RankCorrelation is Spearman's rho of their probabilities.
	RankCorrelation Num `json:"rank_correlation"`
	// TierAgreement is the share of leads both put in the same tier;
	// Confusion[i][j] counts champion tier i+1, challenger tier j+1.
	TierAgreement Num       `json:"tier_agreement"`
	Confusion     Confusion `json:"tier_confusion"`
	// MeanShift is the mean of challenger minus champion probability.
	MeanShift Num `json:"mean_shift"`
	// AUC compares the two on paired leads with outcomes (nil without).
	AUC *AUCJSON `json:"auc"`
	// Verdict is "challenger better", "challenger worse", "not yet
	// significant" or "no outcomes yet"; Summary says it in a sentence
	// with the figures.
	Verdict string `json:"verdict"`
	Summary string `json:"summary"`
}

// AUCJSON is AUCDiff for JSON.
type AUCJSON struct {
	Champion   Num    `json:"champion"`
	Challenger Num    `json:"challenger"`
	Difference Num    `json:"difference"`
	SE         Num    `json:"standard_error"`
	CI95       [2]Num `json:"ci95"`
	P          Num    `json:"p_value"`
	Method     string `json:"method"`
	Leads      int    `json:"leads_with_outcomes"`
	Positives  int    `json:"conversions"`
}

// Percentile returns the q-quantile (0..1) of sorted xs by linear
// interpolation; NaN when empty.
func Percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

// Compare builds the report of t.
func Compare(t *Table) *Report {
	r := &Report{Variants: make([]Stats, len(t.Names)), Comparisons: []Comparison{}}
	if t.Champion >= 0 && t.Champion < len(t.Names) {
		r.Champion = t.Names[t.Champion]
	}
	var live int64
	for i := range t.Traffic {
		live += t.Traffic[i].Leads
	}
	for i, name := range t.Names {
		vr := &r.Variants[i]
		vr.Name = name
		if i < len(t.Roles) {
			vr.Role = t.Roles[i]
		}
		vr.Share = Num(math.NaN())
		for k := range vr.Tiers {
			vr.Tiers[k] = Num(math.NaN())
		}
		if i < len(t.Traffic) {
			tr := &t.Traffic[i]
			vr.Leads, vr.Shadow = tr.Leads, tr.Shadow
			if live > 0 {
				vr.Share = Num(float64(tr.Leads) / float64(live))
			}
			lat := append([]float64(nil), tr.Latencies...)
			sort.Float64s(lat)
			vr.Latency = Latency{Num(Percentile(lat, .5)), Num(Percentile(lat, .9)), Num(Percentile(lat, .99))}
			var n int64
			for _, c := range tr.Tiers {
				n += c
			}
			if n > 0 {
				for k, c := range tr.Tiers {
					vr.Tiers[k] = Num(float64(c) / float64(n))
				}
			}
		} else {
			vr.Latency = Latency{Num(math.NaN()), Num(math.NaN()), Num(math.NaN())}
		}
		vr.Quality = quality(t.Leads, i)
	}
	for i, name := range t.Names {
		if i == t.Champion || t.Champion < 0 {
			continue
		}
		r.Comparisons = append(r.Comparisons, compareTwo(t.Leads, t.Champion, i, t.Names[t.Champion], name))
	}
	return r
}

// quality is variant v's quality over leads it scored with outcomes.
func quality(leads []Lead, v int) *Quality {
	var probs []float64
	var tiers []int
	var pos []bool
	for i := range leads {
		l := &leads[i]
		if l.Outcome < 0 || v >= len(l.Prob) || math.IsNaN(l.Prob[v]) {
			continue
		}
		probs = append(probs, l.Prob[v])
		tiers = append(tiers, l.Tier[v])
		pos = append(pos, l.Outcome == 1)
	}
	if len(probs) == 0 {
		return nil
	}
	q := &Quality{Leads: len(probs), AUC: Num(AUC(probs, pos))}
	for _, p := range pos {
		if p {
			q.Conversions++
		}
	}
	cut, conv, count := TierQuality(tiers, pos)
	for _, c := range cut {
		q.Cutoffs = append(q.Cutoffs, CutoffJSON{MinTier: c.MinTier, Leads: c.Leads, Precision: Num(c.Precision), Recall: Num(c.Recall)})
	}
	for k := range conv {
		q.Conversion[k] = TierOutcomes{Tier: k + 1, Leads: count[k], Rate: Num(conv[k])}
	}
	return q
}

// compareTwo compares variant b with champion a on the leads both scored.
func compareTwo(leads []Lead, a, b int, nameA, nameB string) Comparison {
	c := Comparison{Challenger: nameB, Champion: nameA}
	var pa, pb []float64
	var la, lb []float64
	var pos []bool
	var shift float64
	for i := range leads {
		l := &leads[i]
		if a >= len(l.Prob) || b >= len(l.Prob) || math.IsNaN(l.Prob[a]) || math.IsNaN(l.Prob[b]) {
			continue
		}
		pa, pb = append(pa, l.Prob[a]), append(pb, l.Prob[b])
		shift += l.Prob[b] - l.Prob[a]
		c.Confusion.Add(l.Tier[a], l.Tier[b])
		if l.Outcome >= 0 {
			la, lb = append(la, l.Prob[a]), append(lb, l.Prob[b])
			pos = append(pos, l.Outcome == 1)
		}
	}
	c.Leads = len(pa)
	c.RankCorrelation = Num(Spearman(pa, pb))
	c.TierAgreement = Num(c.Confusion.Agreement())
	c.MeanShift = Num(math.NaN())
	if c.Leads > 0 {
		c.MeanShift = Num(shift / float64(c.Leads))
	}
	d, ok := DeLong(la, lb, pos)
	c.Verdict = Verdict(d, ok)
	if ok {
		c.AUC = &AUCJSON{
			Champion: Num(d.AUCA), Challenger: Num(d.AUCB), Difference: Num(d.Diff), SE: Num(d.SE),
			CI95: [2]Num{Num(d.Low), Num(d.High)}, P: Num(d.P), Method: "DeLong (paired)",
			Leads: d.Positives + d.Negatives, Positives: d.Positives,
		}
		c.Summary = fmt.Sprintf("%s: %s vs %s on %d leads with outcomes (%d converted): AUC %.4f vs %.4f, difference %+.4f, 95%% CI [%+.4f, %+.4f], p = %.3g",
			c.Verdict, nameB, nameA, d.Positives+d.Negatives, d.Positives, d.AUCB, d.AUCA, d.Diff, d.Low, d.High, d.P)
		if c.Verdict == NotSignificant && (d.Positives < MinClass || d.Negatives < MinClass) {
			c.Summary += fmt.Sprintf(" (a verdict needs at least %d leads of each outcome)", MinClass)
		}
	} else {
		c.Summary = fmt.Sprintf("%s: %d paired leads, %d with outcomes; send outcomes to /v1/feedback (both converted and not)", c.Verdict, c.Leads, len(pos))
	}
	return c
}
