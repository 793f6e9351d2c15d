package monitor

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/leadscore/leadscore/internal/testutil"
)

// TestNDCG checks Model Monitor's formula on a small ranking.
func TestNDCG(t *testing.T) {
	base := map[string]float64{"a": 3, "b": 2, "c": 1}
	if v := NDCG(base, map[string]float64{"a": 30, "b": 2, "c": 0.1}); v != 1 {
		t.Errorf("same order: %v", v)
	}
	// Reversed: DCG = 1/log2(2) + 2/log2(3) + 3/log2(4); iDCG = 3 + 2/log2(3) + 1/2.
	want := (1 + 2/math.Log2(3) + 3.0/2) / (3 + 2/math.Log2(3) + 0.5)
	if v := NDCG(base, map[string]float64{"a": 1, "b": 2, "c": 3}); math.Abs(v-want) > 1e-15 {
		t.Errorf("reversed: %v, want %v", v, want)
	}
	if v := NDCG(base, map[string]float64{}); math.IsNaN(v) || v > 1 {
		t.Errorf("no current values: %v", v)
	}
}

// liveAttribution explains rows [2000, 2000+n) of the demo leads, after
// modify, through a live Monitor that explains every lead.
func liveAttribution(t *testing.T, n int, modify func(names []string, row []float32)) AttributionReport {
	t.Helper()
	bd, base := demoBaseline(t)
	d := loadDemo(t, "leads_10k.csv")
	reg := prometheus.NewRegistry()
	m, err := New(Config{Baseline: base, Features: d.names, Registerer: reg, Attribution: AttributionConfig{
		Explain: bd.Forest().ContributionsBatch, SampleShare: 1, MaxPerSecond: -1, Queue: n, MinRows: n}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { checkAttributionGauges(t, m, reg) }()
	recs := records(d, 2000, 2000+n, "a-", time.Now())
	for i := range recs {
		recs[i].Features = append([]float32(nil), recs[i].Features...)
		modify(d.names, recs[i].Features)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	m.Capture(recs)
	var r *Report
	testutil.EventuallyState(t, 2*time.Minute, fmt.Sprintf("%d leads explained", n), func() (bool, string) {
		r = m.Evaluate()
		if r.Attribution == nil {
			t.Fatal("no attribution section")
		}
		return r.Attribution.Samples >= int64(n), fmt.Sprintf("%d explained", r.Attribution.Samples)
	})
	if r.Attribution.Shed != 0 || r.Attribution.Explained != int64(n) {
		t.Errorf("explained %d, shed %d of %d", r.Attribution.Explained, r.Attribution.Shed, n)
	}
	var found bool
	for _, v := range r.ConstraintViolations.Violations {
		found = found || v.ConstraintCheckType == CheckAttribution
	}
	if found != (r.Attribution.Status == StatusViolation) {
		t.Errorf("status %s, violation listed: %v", r.Attribution.Status, found)
	}
	return *r.Attribution
}

// TestAttributionDrift: the demo leads rank the features as the baseline
// does (NDCG near 1); with two upstream columns swapped (intent score
// arriving as 30-day page views and back), NDCG falls below 0.9 and the
// report names the two features first.
func TestAttributionDrift(t *testing.T) {
	const n = 200
	ok := liveAttribution(t, n, func([]string, []float32) {})
	if ok.Status != StatusOK || float64(ok.NDCG) < 0.99 {
		t.Errorf("demo leads: NDCG %v, status %s", ok.NDCG, ok.Status)
	}
	broken := liveAttribution(t, n, func(names []string, row []float32) {
		i, j := slices.Index(names, "pages_viewed_30d"), slices.Index(names, "intent_score_3p")
		row[i], row[j] = row[j], row[i]
	})
	if broken.Status != StatusViolation || float64(broken.NDCG) >= 0.9 {
		t.Fatalf("swapped columns: NDCG %v, status %s", broken.NDCG, broken.Status)
	}
	if len(broken.MovedMost) < 2 || !slices.Contains(broken.MovedMost[:2], "intent_score_3p") || !slices.Contains(broken.MovedMost[:2], "pages_viewed_30d") {
		t.Errorf("moved most: %v", broken.MovedMost)
	}
	t.Logf("NDCG %.4f on the demo leads, %.4f with the columns swapped; moved most %v", float64(ok.NDCG), float64(broken.NDCG), broken.MovedMost)
}

// TestAttributionGather: leads sampled one at a time, as the rate cap
// spaces them, are gathered for Gather and explained in one call; with
// Gather negative each is explained alone, as soon as it arrives.
func TestAttributionGather(t *testing.T) {
	bd, base := demoBaseline(t)
	d := loadDemo(t, "leads_10k.csv")
	nf := len(d.names)
	for _, tc := range []struct {
		gather time.Duration
		calls  int
	}{{2 * time.Second, 1}, {-1, 5}} {
		var calls atomic.Int32
		explain := func(rows, out []float32) error {
			calls.Add(1)
			return bd.Forest().ContributionsBatch(rows, out)
		}
		a, err := newAttributor(AttributionConfig{Baseline: base.Attribution, Explain: explain,
			SampleShare: 1, MaxPerSecond: -1, Gather: tc.gather}, d.names)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		finished := make(chan struct{})
		go func() { a.run(done); close(finished) }()
		const n = 5
		for i := range n {
			a.offer(d.t.Values[i*nf : (i+1)*nf])
			if tc.gather > 0 {
				time.Sleep(20 * time.Millisecond) // the explainer would have woken for each
			} else { // each explained before the next arrives
				for deadline := time.Now().Add(10 * time.Second); a.explained.Load() <= int64(i) && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
			}
		}
		for deadline := time.Now().Add(10 * time.Second); a.explained.Load() < n && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		close(done)
		<-finished
		if got := a.explained.Load(); got != n {
			t.Fatalf("gather %v: explained %d of %d", tc.gather, got, n)
		}
		if got := int(calls.Load()); got != tc.calls {
			t.Errorf("gather %v: %d calls for %d leads, want %d", tc.gather, got, n, tc.calls)
		}
	}
}

// TestAttributionBatches: leads waiting in the queue when the explainer
// wakes are explained together, in calls of at most explainBlock rows,
// each row getting its own contributions, and none is lost.
func TestAttributionBatches(t *testing.T) {
	bd, base := demoBaseline(t)
	d := loadDemo(t, "leads_10k.csv")
	nf := len(d.names)
	var calls, most int
	explain := func(rows, out []float32) error {
		calls++
		most = max(most, len(rows)/nf)
		return bd.Forest().ContributionsBatch(rows, out)
	}
	const n = 150
	a, err := newAttributor(AttributionConfig{Baseline: base.Attribution, Explain: explain,
		SampleShare: 1, MaxPerSecond: -1, Queue: n, WindowRows: n}, d.names)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		a.offer(d.t.Values[i*nf : (i+1)*nf])
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() { a.run(done); close(finished) }()
	for deadline := time.Now().Add(10 * time.Second); a.explained.Load() < n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	close(done)
	<-finished
	if got := a.explained.Load(); got != n {
		t.Fatalf("explained %d of %d", got, n)
	}
	if calls != 3 || most != explainBlock {
		t.Errorf("%d calls, at most %d rows a call; want 3 calls of up to %d", calls, most, explainBlock)
	}
	// The ring holds |SHAP| of each lead in order: check one against a
	// one-lead explanation.
	one := make([]float32, nf+1)
	if err := bd.Forest().Contributions(d.t.Values[70*nf:71*nf], one); err != nil {
		t.Fatal(err)
	}
	for j := range nf {
		if got, want := a.ring[70*nf+j], float32(math.Abs(float64(one[j]))); math.Abs(float64(got-want)) > 1e-6 {
			t.Fatalf("lead 70 feature %d: |SHAP| %v in the ring, %v alone", j, got, want)
		}
	}
}

// TestAttributionSheds: when the explainer cannot keep up, sampled leads
// are shed and counted, and the request path never waits.
func TestAttributionSheds(t *testing.T) {
	bd, base := demoBaseline(t)
	d := loadDemo(t, "leads_10k.csv")
	m, err := New(Config{Baseline: base, Features: d.names, Attribution: AttributionConfig{
		Explain: bd.Forest().ContributionsBatch, SampleShare: 0.1, MaxPerSecond: -1, Queue: 2}})
	if err != nil {
		t.Fatal(err)
	}
	m.Capture(records(d, 0, 1000, "s-", time.Now())) // Run is not running: nothing is explained
	r := m.Evaluate().Attribution
	if r.SampleShare != 0.1 || r.Explained != 0 || r.Shed != 98 || r.Status != StatusInsufficient {
		t.Errorf("share %v, explained %d, shed %d (want 100 sampled, 2 queued), status %s", r.SampleShare, r.Explained, r.Shed, r.Status)
	}
}

// TestAttributionRateCap: however many leads are sampled at once, at most
// MaxPerSecond are taken for explaining; the rest are counted as rate
// limited, neither queued nor shed.
func TestAttributionRateCap(t *testing.T) {
	bd, base := demoBaseline(t)
	d := loadDemo(t, "leads_10k.csv")
	// One lead per 1,000 s: the first sampled lead is taken, the others
	// of this burst are over the cap.
	m, err := New(Config{Baseline: base, Features: d.names, Attribution: AttributionConfig{
		Explain: bd.Forest().ContributionsBatch, SampleShare: 0.1, MaxPerSecond: 0.001, Queue: 256}})
	if err != nil {
		t.Fatal(err)
	}
	m.Capture(records(d, 0, 1000, "c-", time.Now())) // Run is not running: nothing is explained
	r := m.Evaluate().Attribution
	if r.MaxPerSecond != 0.001 || r.RateLimited != 99 || r.Shed != 0 || r.Explained != 0 {
		t.Errorf("max %v/s: rate limited %d (want 99 of 100 sampled), shed %d, explained %d", r.MaxPerSecond, r.RateLimited, r.Shed, r.Explained)
	}
	// The default caps at DefaultAttributionRate.
	m, err = New(Config{Baseline: base, Features: d.names, Attribution: AttributionConfig{
		Explain: bd.Forest().ContributionsBatch}})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Evaluate().Attribution.MaxPerSecond; got != DefaultAttributionRate {
		t.Errorf("default max per second %v, want %v", got, DefaultAttributionRate)
	}
}

// checkAttributionGauges: the /metrics gauges of attribution drift hold
// the report's NDCG, explained count and each feature's attribution.
func checkAttributionGauges(t *testing.T, m *Monitor, reg *prometheus.Registry) {
	t.Helper()
	a := m.Evaluate().Attribution
	if got := promtest.ToFloat64(m.met.ndcg); got != float64(a.NDCG) {
		t.Errorf("leadscore_monitor_attribution_ndcg %v, report %v", got, a.NDCG)
	}
	if got := promtest.ToFloat64(m.met.explained); got != float64(a.Explained) {
		t.Errorf("leadscore_monitor_attribution_explained %v, report %v", got, a.Explained)
	}
	for _, f := range a.Features {
		if got := promtest.ToFloat64(m.met.attribution.WithLabelValues(f.Name)); got != float64(f.Current) {
			t.Errorf("leadscore_monitor_feature_attribution{feature=%q} %v, report %v", f.Name, got, f.Current)
		}
	}
	if n, err := promtest.GatherAndCount(reg, "leadscore_monitor_feature_attribution"); err != nil || n != len(a.Features) {
		t.Errorf("%d feature attribution gauges for %d features: %v", n, len(a.Features), err)
	}
}
