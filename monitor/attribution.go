package monitor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CheckAttribution is the constraint check type of feature attribution
// drift, Model Monitor's explainability check.
const CheckAttribution = "feature_attribution_drift_check"

// AttributionFeatureName is the feature_name of an attribution drift
// violation: the check is about the ranking of all features together.
const AttributionFeatureName = "feature_attribution"

// AttributionFile is the baseline file of the global feature attributions.
const AttributionFile = "attribution.json"

// Defaults of live attribution drift.
const (
	// DefaultAttributionThreshold is the NDCG below which attribution has
	// drifted (Model Monitor's 0.9).
	DefaultAttributionThreshold = 0.9
	// DefaultAttributionShare is the share of scored leads explained live.
	DefaultAttributionShare = 0.01
	// DefaultAttributionRate is the most leads explained per second: the
	// share alone would let explaining (a few hundred microseconds of CPU
	// per lead) grow with traffic until it costs more than scoring. At
	// 10/s the 2,000-lead average turns over in under three and a half
	// minutes, and explaining costs under 1% of a core even when a
	// loaded host's caches make an explanation take 0.7 ms.
	DefaultAttributionRate = 10
	// DefaultAttributionGather is how long the explainer, once a sampled
	// lead arrives, waits for more to explain with it in one call. At the
	// rate cap, one by one, every call found the TreeSHAP tables (a few
	// MB) cold in cache and cost about 2 ms of CPU: 20 ms a second, 8% of
	// a server scoring 200 100-lead requests a second. Ten leads a call
	// share that cost; an explanation seen a second later changes nothing
	// in an average of 2,000.
	DefaultAttributionGather = time.Second
	// DefaultAttributionQueue bounds the leads waiting to be explained;
	// beyond it they are shed and counted.
	DefaultAttributionQueue = 256
	// DefaultAttributionRows is how many of the latest explained leads the
	// live attribution averages over.
	DefaultAttributionRows = 2000
	// DefaultAttributionMinRows is the fewest explained leads before the
	// rankings are compared.
	DefaultAttributionMinRows = 100
	// attributionLabel names the explained output, as Model Monitor's
	// placeholder for an unnamed label.
	attributionLabel = "label0"
	// movedMost is how many features a report names as moved most.
	movedMost = 5
)

// AttributionBaseline is a baseline's attribution.json, in the shape of
// Model Monitor's explainability analysis.json: the global attribution
// (mean |SHAP| over the baseline rows) of each feature.
type AttributionBaseline struct {
	Version      float64          `json:"version"`
	Rows         int64            `json:"rows"`
	Explanations AttributionTypes `json:"explanations"`
}

// AttributionTypes holds the explanations by method.
type AttributionTypes struct {
	TreeSHAP map[string]GlobalAttribution `json:"tree_shap"`
}

// GlobalAttribution are one output's global SHAP values and the expected
// value (the mean margin the contributions start from).
type GlobalAttribution struct {
	GlobalSHAPValues map[string]float64 `json:"global_shap_values"`
	ExpectedValue    float64            `json:"expected_value"`
}

// Explainer computes the TreeSHAP contributions of whole rows: rows holds
// n rows of the model's features (row-major), out receives n rows of one
// contribution per feature and the bias, as
// forest.(*Forest).ContributionsBatch does; explaining several rows in one
// call is much cheaper per row than one by one. It must be safe for
// concurrent use.
type Explainer func(rows, out []float32) error

// explainBlock is the most rows the monitor explains in one call.
const explainBlock = 64

// ComputeAttribution averages |SHAP| over rows rows of len(names) values,
// explaining at most maxRows of them, evenly spaced (0: all).
func ComputeAttribution(names []string, values []float32, rows, maxRows int, explain Explainer) (*AttributionBaseline, error) {
	nf := len(names)
	if nf == 0 || rows <= 0 || len(values) != rows*nf {
		return nil, fmt.Errorf("attribution: %d values are not %d rows of %d features", len(values), rows, nf)
	}
	step := 1.0
	n := rows
	if maxRows > 0 && rows > maxRows {
		step, n = float64(rows)/float64(maxRows), maxRows
	}
	sum := make([]float64, nf)
	var bias float64
	block := make([]float32, min(n, explainBlock)*nf)
	out := make([]float32, min(n, explainBlock)*(nf+1))
	for k0 := 0; k0 < n; k0 += explainBlock {
		m := min(explainBlock, n-k0)
		for k := range m {
			i := int(float64(k0+k) * step)
			copy(block[k*nf:(k+1)*nf], values[i*nf:(i+1)*nf])
		}
		if err := explain(block[:m*nf], out[:m*(nf+1)]); err != nil {
			return nil, fmt.Errorf("attribution: rows %d to %d: %w", int(float64(k0)*step), int(float64(k0+m-1)*step), err)
		}
		for k := range m {
			o := out[k*(nf+1) : (k+1)*(nf+1)]
			for j := range nf {
				sum[j] += math.Abs(float64(o[j]))
			}
			bias += float64(o[nf])
		}
	}
	g := GlobalAttribution{GlobalSHAPValues: make(map[string]float64, nf), ExpectedValue: bias / float64(n)}
	for j, name := range names {
		g.GlobalSHAPValues[name] = sum[j] / float64(n)
	}
	return &AttributionBaseline{Version: 1, Rows: int64(n),
		Explanations: AttributionTypes{TreeSHAP: map[string]GlobalAttribution{attributionLabel: g}}}, nil
}

// ParseAttribution reads an attribution.json.
func ParseAttribution(raw []byte) (*AttributionBaseline, error) {
	var a AttributionBaseline
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%s: %w", AttributionFile, err)
	}
	if len(a.global()) == 0 {
		return nil, fmt.Errorf("%s: no tree_shap global_shap_values", AttributionFile)
	}
	return &a, nil
}

// global is the baseline's global attribution of its one output.
func (a *AttributionBaseline) global() map[string]float64 {
	if a == nil {
		return nil
	}
	if g, ok := a.Explanations.TreeSHAP[attributionLabel]; ok {
		return g.GlobalSHAPValues
	}
	for _, g := range a.Explanations.TreeSHAP {
		return g.GlobalSHAPValues
	}
	return nil
}

// TopFeatures names the n features of largest global attribution.
func (a *AttributionBaseline) TopFeatures(n int) []string {
	g := a.global()
	names := make([]string, 0, len(g))
	for k := range g {
		names = append(names, k)
	}
	names = rankBy(names, g)
	return names[:min(n, len(names))]
}

// NDCG compares a current ranking of features with the baseline's as
// Model Monitor's explainability monitor does: with F the features by
// descending baseline attribution, F' by descending current attribution
// and a(f) the baseline attribution of f, DCG = Σ a(F'_i)/log2(i+1),
// iDCG = Σ a(F_i)/log2(i+1), NDCG = DCG/iDCG (1 when the order is
// unchanged). Features missing from current rank last. Ties are broken
// by name so that the result is deterministic.
func NDCG(baseline, current map[string]float64) float64 {
	names := make([]string, 0, len(baseline))
	for n := range baseline {
		names = append(names, n)
	}
	byBase := rankBy(names, baseline)
	byCur := rankBy(names, current)
	var dcg, idcg float64
	for i := range names {
		w := 1 / math.Log2(float64(i)+2)
		idcg += baseline[byBase[i]] * w
		dcg += baseline[byCur[i]] * w
	}
	if idcg == 0 {
		return 1
	}
	return dcg / idcg
}

// rankBy sorts names by descending score, then by name.
func rankBy(names []string, score map[string]float64) []string {
	out := append([]string(nil), names...)
	val := func(n string) float64 {
		v, ok := score[n]
		if !ok || math.IsNaN(v) {
			return math.Inf(-1)
		}
		return v
	}
	sort.Slice(out, func(i, j int) bool {
		vi, vj := val(out[i]), val(out[j])
		if vi != vj {
			return vi > vj
		}
		return out[i] < out[j]
	})
	return out
}

// AttributionReport is the attribution section of a report: the live
// global attribution of the explained sample against the baseline's.
type AttributionReport struct {
	Method string `json:"method"`
	// SampleShare is the share of scored leads explained; Samples how many
	// are averaged now (the latest, at most WindowRows); Explained and
	// Shed count since start the leads explained and those dropped because
	// the explainer was busy.
	SampleShare float64 `json:"sample_share"`
	Samples     int64   `json:"samples"`
	WindowRows  int     `json:"window_rows"`
	Explained   int64   `json:"explained"`
	Shed        int64   `json:"shed"`
	// MaxPerSecond is the most leads explained per second (0: no cap);
	// RateLimited counts since start the sampled leads left out by it.
	MaxPerSecond float64 `json:"max_per_second"`
	RateLimited  int64   `json:"rate_limited"`
	// NDCG compares the rankings (1: unchanged); Threshold is the value
	// below which it is a violation. NaN until MinRows leads are explained.
	NDCG      Float   `json:"ndcg"`
	Threshold float64 `json:"threshold"`
	MinRows   int     `json:"min_rows"`
	// Status is ok, violation or insufficient_data.
	Status string `json:"status"`
	// MovedMost names the features whose share of the total attribution
	// moved most, largest first.
	MovedMost []string `json:"moved_most"`
	// Features are every feature, by descending baseline attribution.
	Features []FeatureAttribution `json:"features"`
}

// FeatureAttribution is one feature's global attribution (mean |SHAP|, in
// margin units) and rank (1 = most important) now and in the baseline.
type FeatureAttribution struct {
	Name         string `json:"name"`
	Baseline     Float  `json:"baseline"`
	Current      Float  `json:"current"`
	BaselineRank int    `json:"baseline_rank"`
	CurrentRank  int    `json:"current_rank"`
	// ShareChange is the change of the feature's share of the total
	// attribution (current minus baseline).
	ShareChange Float `json:"share_change"`
}

// compareAttribution builds the attribution report of a current global
// attribution over samples rows.
func compareAttribution(base, cur map[string]float64, samples int64, threshold float64, minRows int) (AttributionReport, []Violation) {
	r := AttributionReport{Method: "tree_shap", Samples: samples, Threshold: threshold, MinRows: minRows,
		Status: StatusOK, NDCG: Float(math.NaN()), MovedMost: []string{}}
	names := make([]string, 0, len(base))
	for n := range base {
		names = append(names, n)
	}
	byBase, byCur := rankBy(names, base), rankBy(names, cur)
	curRank := make(map[string]int, len(names))
	for i, n := range byCur {
		curRank[n] = i + 1
	}
	var sb, sc float64
	for _, n := range byBase { // a fixed order: the same values give the same bits
		sb += base[n]
		sc += cur[n]
	}
	type moved struct {
		name string
		d    float64
	}
	var mv []moved
	for i, n := range byBase {
		fa := FeatureAttribution{Name: n, Baseline: Float(base[n]), Current: Float(math.NaN()), BaselineRank: i + 1,
			ShareChange: Float(math.NaN())}
		if samples > 0 {
			fa.Current, fa.CurrentRank = Float(cur[n]), curRank[n]
			if sb > 0 && sc > 0 {
				d := cur[n]/sc - base[n]/sb
				fa.ShareChange = Float(d)
				mv = append(mv, moved{n, math.Abs(d)})
			}
		}
		r.Features = append(r.Features, fa)
	}
	if samples < int64(minRows) {
		r.Status = StatusInsufficient
		return r, nil
	}
	sort.SliceStable(mv, func(i, j int) bool { return mv[i].d > mv[j].d })
	for i := 0; i < len(mv) && i < movedMost; i++ {
		r.MovedMost = append(r.MovedMost, mv[i].name)
	}
	ndcg := NDCG(base, cur)
	r.NDCG = Float(ndcg)
	if ndcg >= threshold {
		return r, nil
	}
	r.Status = StatusViolation
	return r, []Violation{{FeatureName: AttributionFeatureName, ConstraintCheckType: CheckAttribution,
		MetricName: "shap", Label: attributionLabel,
		Description: fmt.Sprintf("Feature attribution drift: NDCG %.4g is below the threshold %.4g; moved most: %s.",
			ndcg, threshold, strings.Join(r.MovedMost, ", "))}}
}

// AttributionConfig turns on live attribution drift in a Monitor.
type AttributionConfig struct {
	// Baseline is the global attribution to compare with; Explain computes
	// a row's contributions. Both are required.
	Baseline *AttributionBaseline
	Explain  Explainer
	// SampleShare of the scored leads are explained (default 0.01: one
	// lead in 100, taken evenly).
	SampleShare float64
	// MaxPerSecond caps the leads explained per second, whatever the
	// traffic (default 10; negative: no cap), so that the explainer's CPU
	// stays a small, fixed cost; sampled leads over the cap are counted
	// (rate_limited).
	MaxPerSecond float64
	// Queue bounds the leads waiting for the explainer (default 256);
	// beyond it they are shed and counted.
	Queue int
	// Gather is how long the explainer waits, after a lead arrives, for
	// more to explain in the same call (default 1s; negative: none).
	Gather time.Duration
	// WindowRows is how many of the latest explained leads are averaged
	// (default 2000); MinRows how many are needed before the rankings are
	// compared (default 100).
	WindowRows int
	MinRows    int
	// Threshold is the NDCG below which attribution has drifted (default
	// 0.9).
	Threshold float64
}

// attributor samples scored leads, explains them off the request path and
// keeps the latest explanations' |SHAP|.
type attributor struct {
	cfg   AttributionConfig
	base  map[string]float64
	names []string
	every uint64 // explain one lead in every
	seen  atomic.Uint64
	queue chan []float32
	// gap is the least time between two explained leads in nanoseconds
	// (0: no cap); nextAt the earliest time, in nanoseconds since start,
	// the next sampled lead may be taken.
	gap    int64
	nextAt atomic.Int64
	start  time.Time

	explained, shed, limited atomic.Int64

	mu    sync.Mutex
	ring  []float32 // WindowRows rows of len(names) |SHAP|
	sum   []float64
	next  int
	count int
}

func newAttributor(cfg AttributionConfig, names []string) (*attributor, error) {
	if cfg.Baseline == nil || cfg.Explain == nil {
		return nil, errors.New("attribution: a baseline and an explainer are required")
	}
	if cfg.SampleShare == 0 {
		cfg.SampleShare = DefaultAttributionShare
	}
	if !(cfg.SampleShare > 0 && cfg.SampleShare <= 1) {
		return nil, fmt.Errorf("attribution: sample share %v is not in (0, 1]", cfg.SampleShare)
	}
	if cfg.MaxPerSecond == 0 {
		cfg.MaxPerSecond = DefaultAttributionRate
	}
	if math.IsNaN(cfg.MaxPerSecond) {
		return nil, errors.New("attribution: max per second is NaN")
	}
	var gap int64
	if cfg.MaxPerSecond > 0 {
		gap = int64(math.Max(1, math.Round(1e9/cfg.MaxPerSecond)))
	} else {
		cfg.MaxPerSecond = 0
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultAttributionQueue
	}
	if cfg.Gather == 0 {
		cfg.Gather = DefaultAttributionGather
	}
	if cfg.WindowRows <= 0 {
		cfg.WindowRows = DefaultAttributionRows
	}
	if cfg.WindowRows > MaxWindowRows {
		return nil, fmt.Errorf("attribution: window of %d rows: at most %d", cfg.WindowRows, MaxWindowRows)
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
	base := cfg.Baseline.global()
	if len(base) == 0 {
		return nil, errors.New("attribution: the baseline has no global SHAP values")
	}
	for _, n := range names {
		if _, ok := base[n]; !ok {
			return nil, fmt.Errorf("attribution: model feature %s has no baseline attribution", n)
		}
	}
	return &attributor{
		cfg: cfg, base: base, names: names,
		every: uint64(math.Max(1, math.Round(1/cfg.SampleShare))),
		queue: make(chan []float32, cfg.Queue),
		gap:   gap, start: time.Now(),
		ring: make([]float32, cfg.WindowRows*len(names)),
		sum:  make([]float64, len(names)),
	}, nil
}

// offer takes one lead in every `every` for explaining, without blocking:
// when the queue is full the lead is shed and counted. row must not be
// modified afterwards.
func (a *attributor) offer(row []float32) {
	if a.seen.Add(1)%a.every != 0 {
		return
	}
	a.sample(row)
}

// untilNext is how many more leads make the next one offer takes: a
// caller offering a run of leads itself (Monitor.apply) takes that one,
// then every `every`th, with sample, and adds the run's length to seen.
// The leads taken are those offer would take.
func (a *attributor) untilNext() uint64 { return a.every - a.seen.Load()%a.every }

// sample queues a copy of row for explaining, unless the rate cap leaves
// it out or the queue is full (shed).
func (a *attributor) sample(row []float32) {
	if a.gap > 0 {
		// One lead per gap: the first sampled lead at or after nextAt
		// takes the turn; a lead losing the race is left out too.
		now := int64(time.Since(a.start))
		next := a.nextAt.Load()
		if now < next || !a.nextAt.CompareAndSwap(next, now+a.gap) {
			a.limited.Add(1)
			return
		}
	}
	select {
	// A copy: row is in the monitor queue's storage, reused once applied.
	case a.queue <- slices.Clone(row):
	default:
		a.shed.Add(1)
	}
}

// explain explains queued rows (n of them, concatenated in rows) in one
// call and adds them to the ring.
func (a *attributor) explain(rows, out []float32, n int) {
	nf := len(a.names)
	if n == 0 || a.cfg.Explain(rows[:n*nf], out[:n*(nf+1)]) != nil {
		return
	}
	a.mu.Lock()
	for i := range n {
		slot := a.ring[a.next*nf : (a.next+1)*nf]
		if a.count == a.cfg.WindowRows {
			for j, v := range slot {
				a.sum[j] -= float64(v)
			}
		} else {
			a.count++
		}
		for j := range nf {
			v := float32(math.Abs(float64(out[i*(nf+1)+j])))
			slot[j] = v
			a.sum[j] += float64(v)
		}
		a.next = (a.next + 1) % a.cfg.WindowRows
	}
	a.mu.Unlock()
	a.explained.Add(int64(n))
}

// run explains queued rows until done is closed. Once a row is queued it
// waits up to Gather for more (at most explainBlock rows, and whatever is
// already waiting), then explains them in one call, which costs far less
// per row than one by one: the tables are brought into cache once.
func (a *attributor) run(done <-chan struct{}) {
	nf := len(a.names)
	rows := make([]float32, explainBlock*nf)
	out := make([]float32, explainBlock*(nf+1))
	gather := time.NewTimer(time.Hour)
	gather.Stop()
	defer gather.Stop()
	for {
		select {
		case row := <-a.queue:
			n := a.take(rows, 0, row)
			n, open := a.gather(rows, n, gather, done)
			a.explain(rows, out, n)
			if !open {
				return
			}
		case <-done:
			return
		}
	}
}

// gather adds queued rows to rows (n held) until explainBlock are held,
// Gather has passed (timed by t) or done is closed; it returns the rows
// held and false when done was closed.
func (a *attributor) gather(rows []float32, n int, t *time.Timer, done <-chan struct{}) (int, bool) {
	if a.cfg.Gather > 0 {
		t.Reset(a.cfg.Gather)
		defer t.Stop()
	}
	for n < explainBlock {
		if a.cfg.Gather <= 0 {
			select {
			case row := <-a.queue:
				n = a.take(rows, n, row)
			default:
				return n, true
			}
			continue
		}
		select {
		case row := <-a.queue:
			n = a.take(rows, n, row)
		case <-t.C:
			return n, true
		case <-done:
			return n, false
		}
	}
	return n, true
}

// take copies a queued row into slot n of rows, skipping a row of the
// wrong width, and returns the rows held.
func (a *attributor) take(rows []float32, n int, row []float32) int {
	nf := len(a.names)
	if len(row) != nf {
		return n
	}
	copy(rows[n*nf:(n+1)*nf], row)
	return n + 1
}

// report compares the explained leads with the baseline.
func (a *attributor) report() (AttributionReport, []Violation) {
	a.mu.Lock()
	cur := make(map[string]float64, len(a.names))
	n := a.count
	for j, name := range a.names {
		if n > 0 {
			cur[name] = a.sum[j] / float64(n)
		}
	}
	a.mu.Unlock()
	r, vs := compareAttribution(a.base, cur, int64(n), a.cfg.Threshold, a.cfg.MinRows)
	r.SampleShare, r.WindowRows = 1/float64(a.every), a.cfg.WindowRows
	r.Explained, r.Shed = a.explained.Load(), a.shed.Load()
	r.MaxPerSecond, r.RateLimited = a.cfg.MaxPerSecond, a.limited.Load()
	return r, vs
}
