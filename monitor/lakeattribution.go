package monitor

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// lakeSeed seeds the lake's attribution sample: the same lake and range
// give the same sample, and so the same report.
const lakeSeed = 17

// lakeSampler keeps a uniform sample of a lake's selected rows (reservoir
// sampling) in the explainer's feature order, for attribution drift.
type lakeSampler struct {
	cfg  LakeAttribution
	base map[string]float64
	ix   []int // baseline feature index of each explainer feature
	rows []float32
	kept int
	seen int64
	rng  *rand.Rand
}

// newLakeSampler returns nil when attribution is off: no explainer, or
// no baseline attribution.
func newLakeSampler(cfg LakeAttribution, base *Baseline) (*lakeSampler, error) {
	if cfg.Explain == nil || base.Attribution == nil {
		return nil, nil
	}
	if cfg.Rows == 0 {
		cfg.Rows = DefaultAttributionRows
	}
	if cfg.Rows < 0 || cfg.Rows > MaxWindowRows {
		return nil, fmt.Errorf("attribution: sample of %d rows: want 1 to %d", cfg.Rows, MaxWindowRows)
	}
	if cfg.MinRows <= 0 {
		cfg.MinRows = DefaultAttributionMinRows
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = DefaultAttributionThreshold
	}
	if !(cfg.Threshold > 0 && cfg.Threshold <= 1) {
		return nil, fmt.Errorf("attribution: NDCG threshold %v is not in (0, 1]", cfg.Threshold)
	}
	g := base.Attribution.global()
	s := &lakeSampler{cfg: cfg, base: g, rng: rand.New(rand.NewPCG(lakeSeed, lakeSeed))} // #nosec G404 -- a reproducible sample, not a secret
	for _, name := range cfg.Features {
		i, ok := base.index[name]
		if !ok {
			return nil, fmt.Errorf("attribution: model feature %s is not a baseline feature", name)
		}
		if _, ok := g[name]; !ok {
			return nil, fmt.Errorf("attribution: model feature %s has no baseline attribution", name)
		}
		s.ix = append(s.ix, i)
	}
	if len(s.ix) == 0 {
		return nil, fmt.Errorf("attribution: no model features")
	}
	s.rows = make([]float32, 0, min(cfg.Rows, 256)*len(s.ix))
	return s, nil
}

// offer considers one selected row (baseline feature order, NaN missing)
// for the sample.
func (s *lakeSampler) offer(vals []float64) {
	s.seen++
	nf := len(s.ix)
	var row []float32
	switch {
	case s.kept < s.cfg.Rows:
		s.rows = append(s.rows, make([]float32, nf)...)
		row = s.rows[s.kept*nf:]
		s.kept++
	default:
		j := s.rng.Int64N(s.seen)
		if j >= int64(s.cfg.Rows) {
			return
		}
		row = s.rows[j*int64(nf) : (j+1)*int64(nf)]
	}
	for k, i := range s.ix {
		row[k] = float32(vals[i])
	}
}

// report explains the sample and compares its global attribution with
// the baseline's.
func (s *lakeSampler) report(ctx context.Context) (AttributionReport, []Violation, error) {
	nf := len(s.ix)
	sum := make([]float64, nf)
	out := make([]float32, explainBlock*(nf+1))
	for k := 0; k < s.kept; k += explainBlock {
		if ctx.Err() != nil {
			return AttributionReport{}, nil, ctx.Err()
		}
		m := min(explainBlock, s.kept-k)
		if err := s.cfg.Explain(s.rows[k*nf:(k+m)*nf], out[:m*(nf+1)]); err != nil {
			return AttributionReport{}, nil, fmt.Errorf("attribution: %w", err)
		}
		for i := range m {
			for j := range nf {
				sum[j] += math.Abs(float64(out[i*(nf+1)+j]))
			}
		}
	}
	cur := make(map[string]float64, nf)
	if s.kept > 0 {
		for j, name := range s.cfg.Features {
			cur[name] = sum[j] / float64(s.kept)
		}
	}
	r, vs := compareAttribution(s.base, cur, int64(s.kept), s.cfg.Threshold, s.cfg.MinRows)
	r.WindowRows, r.Explained = s.cfg.Rows, int64(s.kept)
	if s.seen > 0 {
		r.SampleShare = float64(s.kept) / float64(s.seen)
	}
	return r, vs, nil
}
