package leadscore

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// BiasConfig declares the groups of leads whose treatment by the model is
// watched (facets, as SageMaker Clarify calls them), what counts as a
// positive outcome, and the limits of the bias metrics. A bundle's
// manifest carries it as "bias"; `leadscore baseline` and `bundle init`
// take it from flags.
type BiasConfig struct {
	// Facets are the features whose groups are compared; each group of
	// each facet is compared with the rest of the rows.
	Facets []Facet `json:"facets"`
	// Positive is what counts as a positive prediction.
	Positive Positive `json:"positive"`
	// GroupBy names the feature whose values are the strata of the
	// conditional demographic disparity (CDDPL); empty: CDDPL is not
	// computed.
	GroupBy string `json:"group_by,omitempty"`
	// MinGroupRows is the fewest rows a group and the rest each need (rows
	// with a known outcome, for metrics that need one) before a metric is
	// computed; below it the metric is "insufficient_data". Default 100.
	MinGroupRows int `json:"min_group_rows,omitempty"`
	// Tolerance is the half-width of the band around a metric's fair value
	// that is never a violation, for metrics without a range of their own
	// in Constraints (default 0.1; DI's band is [0.8, 1.25] unless set).
	Tolerance float64 `json:"tolerance,omitempty"`
	// Constraints overrides the allowed range of a metric by its short
	// name, such as {"DPPL": [-0.05, 0.05], "DI": [0.8, 1.25]}.
	Constraints map[string][2]float64 `json:"constraints,omitempty"`
}

// Facet is one feature whose groups are compared: either listed groups of
// values ({"facet": "country_tier", "groups": [[1], [2, 3]]}) or a
// numeric threshold ({"facet": "company_size_log", "threshold": 3}: the
// groups below 3 and at or above 3).
type Facet struct {
	Feature   string      `json:"facet"`
	Groups    [][]float64 `json:"groups,omitempty"`
	Threshold *float64    `json:"threshold,omitempty"`
}

// Positive says which predictions count as positive (the lead is sent on):
// a tier at or above Tier, or a probability at or above Probability. The
// observed positive outcome is always a conversion.
type Positive struct {
	Tier        int     `json:"tier,omitempty"`
	Probability float64 `json:"probability,omitempty"`
}

// DefaultMinGroupRows is BiasConfig.MinGroupRows's default.
const DefaultMinGroupRows = 100

// DefaultBiasTolerance is BiasConfig.Tolerance's default.
const DefaultBiasTolerance = 0.1

// Predicted reports whether a lead of probability p in tier t is a
// positive prediction.
func (p Positive) Predicted(prob float64, tiers Tiers) bool {
	if p.Tier > 0 {
		return tiers.Tier(prob) >= p.Tier
	}
	return prob >= p.Probability
}

// String is the outcome in the flag syntax, "tier>=4" or
// "probability>=0.3".
func (p Positive) String() string {
	if p.Tier > 0 {
		return "tier>=" + strconv.Itoa(p.Tier)
	}
	return "probability>=" + strconv.FormatFloat(p.Probability, 'g', -1, 64)
}

// ParsePositive reads "tier>=4" or "probability>=0.3".
func ParsePositive(s string) (Positive, error) {
	s = strings.ReplaceAll(s, " ", "")
	if v, ok := strings.CutPrefix(s, "tier>="); ok {
		t, err := strconv.Atoi(v)
		if err != nil || t < 2 || t > 5 {
			return Positive{}, fmt.Errorf("positive outcome %q: want tier>=N with N from 2 to 5", s)
		}
		return Positive{Tier: t}, nil
	}
	if v, ok := strings.CutPrefix(s, "probability>="); ok {
		p, err := strconv.ParseFloat(v, 64)
		if err != nil || !(p > 0 && p < 1) {
			return Positive{}, fmt.Errorf("positive outcome %q: want probability>=P with P in (0, 1)", s)
		}
		return Positive{Probability: p}, nil
	}
	return Positive{}, fmt.Errorf("positive outcome %q: want tier>=N or probability>=P", s)
}

// ParseFacet reads a facet in the flag syntax: "country_tier=1;2,3" (groups
// separated by ";", values by ",") or "company_size_log<3" (a threshold).
func ParseFacet(s string) (Facet, error) {
	s = strings.ReplaceAll(s, " ", "")
	if name, v, ok := strings.Cut(s, "<"); ok {
		t, err := strconv.ParseFloat(v, 64)
		if err != nil || name == "" || math.IsNaN(t) || math.IsInf(t, 0) {
			return Facet{}, fmt.Errorf("facet %q: want NAME<NUMBER", s)
		}
		return Facet{Feature: name, Threshold: &t}, nil
	}
	name, groups, ok := strings.Cut(s, "=")
	if !ok || name == "" || groups == "" {
		return Facet{}, fmt.Errorf("facet %q: want NAME=V1,V2;V3 (groups of values) or NAME<NUMBER", s)
	}
	f := Facet{Feature: name}
	for g := range strings.SplitSeq(groups, ";") {
		var vals []float64
		for v := range strings.SplitSeq(g, ",") {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return Facet{}, fmt.Errorf("facet %q: %q is not a number", s, v)
			}
			vals = append(vals, x)
		}
		f.Groups = append(f.Groups, vals)
	}
	return f, nil
}

// FacetGroup is one group of a facet, compared with the rest of the rows.
type FacetGroup struct {
	// Value names the group as Clarify's facet_value does: the values
	// joined by "," or "<3" / ">=3" for a threshold.
	Value  string
	values []float64
	below  bool
	thr    float64
	isThr  bool
}

// Contains reports whether a facet value x (not NaN) is in the group.
func (g *FacetGroup) Contains(x float64) bool {
	if g.isThr {
		return (x < g.thr) == g.below
	}
	return slices.Contains(g.values, x)
}

// FacetGroups lists the facet's groups in order.
func (f *Facet) FacetGroups() []FacetGroup {
	if f.Threshold != nil {
		t := *f.Threshold
		ts := strconv.FormatFloat(t, 'g', -1, 64)
		return []FacetGroup{{Value: "<" + ts, below: true, thr: t, isThr: true}, {Value: ">=" + ts, thr: t, isThr: true}}
	}
	out := make([]FacetGroup, 0, len(f.Groups))
	for _, g := range f.Groups {
		parts := make([]string, len(g))
		for i, v := range g {
			parts[i] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		out = append(out, FacetGroup{Value: strings.Join(parts, ","), values: g})
	}
	return out
}

// Validate checks c against the model's feature names.
func (c *BiasConfig) Validate(features []string) error {
	has := make(map[string]bool, len(features))
	for _, f := range features {
		has[f] = true
	}
	if len(c.Facets) == 0 {
		return errors.New("bias: no facets")
	}
	for i, f := range c.Facets {
		if !has[f.Feature] {
			return fmt.Errorf("bias: facets[%d]: %q is not a model feature", i, f.Feature)
		}
		switch {
		case f.Threshold != nil && len(f.Groups) > 0:
			return fmt.Errorf("bias: facets[%d]: give groups or a threshold, not both", i)
		case f.Threshold != nil:
			if math.IsNaN(*f.Threshold) || math.IsInf(*f.Threshold, 0) {
				return fmt.Errorf("bias: facets[%d]: threshold is not a number", i)
			}
		case len(f.Groups) == 0:
			return fmt.Errorf("bias: facets[%d]: give groups of values or a threshold", i)
		}
		seen := map[float64]bool{}
		for j, g := range f.Groups {
			if len(g) == 0 {
				return fmt.Errorf("bias: facets[%d].groups[%d] is empty", i, j)
			}
			for _, v := range g {
				if seen[v] {
					return fmt.Errorf("bias: facets[%d]: value %v is in two groups", i, v)
				}
				seen[v] = true
			}
		}
	}
	switch p := c.Positive; {
	case p.Tier != 0 && p.Probability != 0:
		return errors.New("bias: positive: give a tier or a probability, not both")
	case p.Tier != 0 && (p.Tier < 2 || p.Tier > 5):
		return fmt.Errorf("bias: positive: tier %d: want 2 to 5", p.Tier)
	case p.Tier == 0 && !(p.Probability > 0 && p.Probability < 1):
		return errors.New("bias: positive: want a tier (2 to 5) or a probability in (0, 1)")
	}
	if c.GroupBy != "" && !has[c.GroupBy] {
		return fmt.Errorf("bias: group_by: %q is not a model feature", c.GroupBy)
	}
	if c.MinGroupRows < 0 {
		return fmt.Errorf("bias: min_group_rows %d is negative", c.MinGroupRows)
	}
	if c.Tolerance < 0 || math.IsNaN(c.Tolerance) {
		return fmt.Errorf("bias: tolerance %v is negative", c.Tolerance)
	}
	for name, r := range c.Constraints {
		if !(r[0] <= r[1]) {
			return fmt.Errorf("bias: constraints.%s: [%v, %v] is not a range", name, r[0], r[1])
		}
	}
	return nil
}
