package monitor

import (
	"context"
	"fmt"
	"math"

	"github.com/leadscore/leadscore"
)

// biasState is the live monitor's bias configuration: the settings and
// where the facet and group-by features are in a record.
type biasState struct {
	s        biasSettings
	facetIx  []int
	groupIx  int // -1: no group-by
	baseVals map[[3]string]float64
	pre      []FacetBias
}

// newBiasState resolves the facets (cfg, else the baseline's bias.json)
// against the model's features; nil when no facets are declared.
func newBiasState(cfg *leadscore.BiasConfig, base *Baseline, features []string) (*biasState, error) {
	if cfg == nil && base.Bias != nil {
		cfg = &base.Bias.Config
	}
	if cfg == nil {
		return nil, nil
	}
	if err := cfg.Validate(features); err != nil {
		return nil, err
	}
	idx := make(map[string]int, len(features))
	for i, f := range features {
		idx[f] = i
	}
	st := &biasState{s: newBiasSettings(*cfg), groupIx: -1}
	for _, f := range cfg.Facets {
		st.facetIx = append(st.facetIx, idx[f.Feature])
	}
	if cfg.GroupBy != "" {
		st.groupIx = idx[cfg.GroupBy]
	}
	if base.Bias != nil {
		st.baseVals = base.Bias.baselineValues()
		st.pre = base.Bias.PreTraining
	}
	return st, nil
}

// counts starts counting rows for the bias section.
func (st *biasState) counts() *biasCounts {
	return newBiasCounts(&st.s, false, st.groupIx >= 0)
}

// addBiasRow counts one row: row holds the features (in the order st was
// made for), prob the probability, label the outcome (-1 unknown, 0, 1);
// buf holds len(st.facetIx) values.
func addBiasRow[T float32 | float64](st *biasState, c *biasCounts, buf []float64, row []T, prob float64, label int8, tiers leadscore.Tiers) {
	for k, j := range st.facetIx {
		buf[k] = float64(row[j])
	}
	g := math.NaN()
	if st.groupIx >= 0 {
		g = float64(row[st.groupIx])
	}
	c.add(buf, g, st.s.cfg.Positive.Predicted(prob, tiers), label)
}

// result is the bias section of the counted rows and its violations.
func (st *biasState) result(c *biasCounts) (*BiasReport, []Violation) {
	facets, vs := c.finish(st.baseVals)
	r := &BiasReport{Positive: st.s.cfg.Positive.String(), GroupBy: st.s.cfg.GroupBy, MinGroupRows: int(st.s.minRows),
		Tolerance: st.s.tolerance, Facets: facets, PreTraining: st.pre}
	if r.Facets == nil {
		r.Facets = []FacetBias{}
	}
	return r, vs
}

// report computes the bias section over rows of nf features with their
// probabilities and labels.
func (st *biasState) report(feats []float32, nf int, probs []float64, labels []int8, tiers leadscore.Tiers) (*BiasReport, []Violation) {
	c := st.counts()
	buf := make([]float64, len(st.facetIx))
	for i, p := range probs {
		row := feats[i*nf : (i+1)*nf]
		label := int8(-1)
		if labels != nil {
			label = labels[i]
		}
		addBiasRow(st, c, buf, row, p, label, tiers)
	}
	return st.result(c)
}

// addBias adds the bias section of a window snapshot to r.
func (m *Monitor) addBias(r *Report, snap snapshot) {
	m.mu.Lock()
	st, nf := m.bias, m.nf
	m.mu.Unlock()
	if st == nil {
		return
	}
	br, vs := st.report(snap.feats, nf, snap.probs, snap.labels, m.tiers)
	r.Bias = br
	r.ConstraintViolations.Violations = append(r.ConstraintViolations.Violations, vs...)
}

// newAttribution builds the live attribution sampler, or nil when it is
// off (no explainer, or no baseline attributions).
func newAttribution(cfg AttributionConfig, base *Baseline, features []string) (*attributor, error) {
	if cfg.Explain == nil {
		return nil, nil
	}
	if cfg.Baseline == nil {
		cfg.Baseline = base.Attribution
	}
	if cfg.Baseline == nil {
		return nil, nil
	}
	a, err := newAttributor(cfg, features)
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	return a, nil
}

// explainLoop explains sampled leads until ctx is done, following the
// sampler a Rebase installs.
func (m *Monitor) explainLoop(ctx context.Context) {
	for {
		m.mu.Lock()
		a := m.attr
		changed := m.attrChanged
		m.mu.Unlock()
		if a == nil {
			select {
			case <-ctx.Done():
				return
			case <-changed:
				continue
			}
		}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			a.run(stop)
		}()
		select {
		case <-ctx.Done():
			close(stop)
			<-done
			return
		case <-changed:
			close(stop)
			<-done
		}
	}
}

// refreshAttribution replaces r's attribution section and violations with
// the sampler's current state.
func (m *Monitor) refreshAttribution(r *Report) {
	m.mu.Lock()
	a := m.attr
	m.mu.Unlock()
	if a == nil {
		return
	}
	ar, vs := a.report()
	r.Attribution = &ar
	kept := make([]Violation, 0, len(r.ConstraintViolations.Violations)+len(vs))
	for _, v := range r.ConstraintViolations.Violations {
		if v.ConstraintCheckType != CheckAttribution {
			kept = append(kept, v)
		}
	}
	r.ConstraintViolations.Violations = append(kept, vs...)
}
