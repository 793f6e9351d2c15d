// Package monitor watches a served model the way SageMaker Model Monitor
// did, from inside the service: training baselines in Model Monitor's
// statistics.json and constraints.json schema, a live sliding window of
// scored leads checked against the baseline (distribution distance, PSI,
// completeness, range, data type, and the same for the predicted
// probability), model quality from ground-truth feedback, violations in
// constraint_violations.json form, Prometheus gauges, webhook alerts, and a
// batch check of the captured data lake.
//
// The request path feeds a Monitor through leadscore.Sink, which never
// blocks: records go through a bounded queue to a goroutine, and what does
// not fit is dropped and counted.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
)

// Defaults of a Monitor's Config.
const (
	DefaultWindowRows   = 10000
	DefaultQueueBatches = 1024
	// DefaultQueueRecords bounds the records waiting for the monitor's
	// goroutine: six takes of 8,192 (what wakes it early), about 80-100
	// ms of a saturated 2-core server's 100-lead traffic, and at most
	// about 24 MB of request batches (50 features) pinned while it runs
	// late. 65,536 (31.5 MiB) raised --memory-limit auto from 71 to 79
	// MiB for the demo model and its peak RSS in bench/service_vs_peer.sh
	// to 100.6 MB, past issue 13's 100 MB; 32,768 dropped records on a
	// saturated server at load 8, where the goroutine waited for a core.
	DefaultQueueRecords = 48 << 10
	DefaultEvalInterval = 30 * time.Second
	// DefaultDrainInterval is how long the monitor's goroutine lets
	// captured batches gather before adding them to the window. Each
	// wake-up of a background goroutine costs far more than the records
	// it applies (scheduler hand-offs: on a 2-core VM a 20 ms interval
	// cost 15% of a 100-lead request at 200 requests/s); Evaluate applies
	// what is queued first, so reports are never staler for it.
	DefaultDrainInterval = 100 * time.Millisecond
	// MaxWindowRows bounds the window's memory (about 4 bytes per feature
	// and 80 bytes of bookkeeping per row).
	MaxWindowRows = 1 << 20
)

// Config configures a Monitor. Baseline and Features are required; zero
// values elsewhere take the defaults.
type Config struct {
	// Baseline is what the window is compared with.
	Baseline *Baseline
	// Features are the model's input columns, in the order of
	// leadscore.Record.Features. Baseline features missing here are
	// missing_column_check violations; features without a baseline are
	// extra_column_check violations.
	Features []string
	// Tiers are the model's tier cut-offs (default: the baseline's).
	Tiers leadscore.Tiers
	// Model names the model in reports and alerts.
	Model ModelRef
	// WindowRows is how many of the latest rows the window keeps (default
	// 10000); WindowAge, when positive, also drops rows older than it.
	WindowRows int
	WindowAge  time.Duration
	// QueueBatches is how many Capture (or CaptureBatch) calls may wait
	// for the monitor's goroutine, and QueueRecords how many records they
	// may hold in all (a single call's records are taken however many
	// when nothing waits); beyond either, a call's records are dropped
	// and counted (defaults 1024 and 49,152). CaptureBatch's batches wait
	// by reference: QueueRecords bounds the request storage they pin.
	QueueBatches int
	QueueRecords int
	// DrainInterval is how long records may wait in the queue before the
	// monitor's goroutine adds them to the window (default 100ms; the
	// goroutine also starts as soon as half of QueueBatches is taken or
	// 8,192 records, or half of QueueRecords if fewer, wait). One
	// wake-up then serves every batch captured meanwhile, where a wake-up
	// per batch would cost the request path a futex pair each. Reports,
	// Evaluate and Feedback add what is queued first, so they never miss
	// a record for it.
	DrainInterval time.Duration
	// EvalInterval is how often Run evaluates the checks, updating the
	// gauges and alerts (default 30s).
	EvalInterval time.Duration
	// Checks tunes the checks.
	Checks Checks
	// Registerer receives the monitor's metrics (default: none are
	// exported). Register one Monitor per Registerer.
	Registerer prometheus.Registerer
	// Alerts, when its WebhookURL is set, posts violations.
	Alerts AlertConfig
	// FeedbackSink, when set, receives every accepted outcome for the lake.
	FeedbackSink FeedbackSink
	// Bias, when set, adds Clarify's bias metrics of its facets over the
	// window (default: the facets of the baseline's bias.json, if any).
	Bias *leadscore.BiasConfig
	// Attribution, when its Explain is set and the baseline (or
	// Attribution.Baseline) has global attributions, explains a sample of
	// the scored leads off the request path and checks attribution drift.
	Attribution AttributionConfig
	// IDs bounds the ids of feedback outcomes (zero: the defaults).
	IDs leadscore.IDLimits
	// Outcomes bounds the time of feedback outcomes (zero: the defaults).
	Outcomes OutcomeWindow
	// Logger receives warnings (default: discarded).
	Logger *slog.Logger
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time
}

// Monitor checks a live sliding window of scored leads against a
// baseline. It implements leadscore.Sink and leadscore.BatchSink. Its methods are safe for
// concurrent use; Run must be running for records to be processed in the
// background (Evaluate and Feedback also process what is queued).
type Monitor struct {
	cfg     Config
	checks  Checks
	base    *Baseline
	tiers   leadscore.Tiers
	nf      int
	modelIx []int       // per baseline feature: its index in Features, or -1
	static  []Violation // missing and extra columns: they never change
	queue   batchQueue
	met     *metrics
	alerter *Alerter
	log     *slog.Logger
	now     func() time.Time

	received, dropped, rejected atomic.Int64

	mu sync.Mutex // guards win, bias, attr, seenNames
	// seenNames is the last Record.FeatureNames slice found equal to
	// cfg.Features (a pointer compare settles most records).
	seenNames []string
	win       *window
	bias      *biasState
	attr      *attributor
	// attrChanged is closed when Rebase replaces attr.
	attrChanged chan struct{}

	evalMu      sync.Mutex // serialises evaluations; guards the cache
	last        *Report
	lastVersion uint64
	lastReal    time.Time // when last was validated, by the real clock
}

// reportMaxAge is how old a report Report may return, so that frequent
// GET /v1/monitoring calls do not each evaluate.
const reportMaxAge = time.Second

var (
	_ leadscore.SliceCopier = (*Monitor)(nil)
	_ leadscore.BatchSink   = (*Monitor)(nil)
)

// CopiesRecords reports true: Capture copies the records into its queue,
// so the caller may reuse recs (leadscore.SliceCopier). CaptureBatch
// keeps the batch itself instead.
func (m *Monitor) CopiesRecords() bool { return true }

var _ leadscore.FeatureCopier = (*Monitor)(nil)

// CopiesFeatures reports true: Capture copies the records' Features into
// the queue's own storage too (leadscore.FeatureCopier).
func (m *Monitor) CopiesFeatures() bool { return true }

// New checks cfg and returns a Monitor; call Run to start it.
func New(cfg Config) (*Monitor, error) {
	if cfg.Baseline == nil {
		return nil, errors.New("monitor: no baseline")
	}
	if len(cfg.Features) == 0 {
		return nil, errors.New("monitor: no model features")
	}
	if cfg.WindowRows == 0 {
		cfg.WindowRows = DefaultWindowRows
	}
	if cfg.WindowRows < 1 || cfg.WindowRows > MaxWindowRows {
		return nil, fmt.Errorf("monitor: window of %d rows: want 1 to %d", cfg.WindowRows, MaxWindowRows)
	}
	if cfg.WindowAge < 0 {
		return nil, fmt.Errorf("monitor: window age %v is negative", cfg.WindowAge)
	}
	if cfg.QueueBatches <= 0 {
		cfg.QueueBatches = DefaultQueueBatches
	}
	if cfg.QueueRecords <= 0 {
		cfg.QueueRecords = DefaultQueueRecords
	}
	if cfg.EvalInterval <= 0 {
		cfg.EvalInterval = DefaultEvalInterval
	}
	if cfg.DrainInterval < 0 {
		return nil, fmt.Errorf("monitor: drain interval %v is negative", cfg.DrainInterval)
	}
	if cfg.DrainInterval == 0 {
		cfg.DrainInterval = DefaultDrainInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	checks, err := cfg.Checks.resolve(cfg.Baseline)
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	tiers := cfg.Tiers
	if tiers == (leadscore.Tiers{}) {
		var ok bool
		if tiers, ok = cfg.Baseline.tiers(); !ok {
			return nil, errors.New("monitor: no tier cut-offs in the config or the baseline")
		}
	}
	if err := tiers.Validate(); err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	m := &Monitor{
		cfg: cfg, checks: checks, base: cfg.Baseline, tiers: tiers, nf: len(cfg.Features),
		queue: newBatchQueue(cfg.QueueBatches, cfg.QueueRecords),
		log:   cfg.Logger, now: cfg.Now,
		win:         newWindow(len(cfg.Features), cfg.WindowRows, cfg.WindowAge),
		attrChanged: make(chan struct{}),
	}
	m.static = m.matchFeatures()
	if m.met, err = newMetrics(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	if m.bias, err = newBiasState(cfg.Bias, cfg.Baseline, cfg.Features); err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	if m.attr, err = newAttribution(cfg.Attribution, cfg.Baseline, cfg.Features); err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	if cfg.Alerts.WebhookURL != "" || len(cfg.Alerts.Notifiers) > 0 {
		if cfg.Alerts.Title == "" {
			cfg.Alerts.Title = "leadscore " + cfg.Model.Name + " " + cfg.Model.Version
		}
		if m.alerter, err = NewAlerter(cfg.Alerts, cfg.Registerer); err != nil {
			return nil, fmt.Errorf("monitor: %w", err)
		}
	}
	return m, nil
}

// matchFeatures maps baseline features to model inputs and lists the
// columns either side lacks.
func (m *Monitor) matchFeatures() []Violation {
	model := make(map[string]int, len(m.cfg.Features))
	for i, name := range m.cfg.Features {
		model[name] = i
	}
	var vs []Violation
	m.modelIx = make([]int, len(m.base.features))
	for i, bf := range m.base.features {
		j, ok := model[bf.name]
		if !ok {
			m.modelIx[i] = -1
			vs = append(vs, newViolation(bf.name, CheckMissingCol, fmt.Sprintf(
				"Baseline feature %s is not an input of the model (%d inputs, %d baseline features).",
				bf.name, len(m.cfg.Features), len(m.base.features))))
			continue
		}
		m.modelIx[i] = j
	}
	for _, name := range m.cfg.Features {
		if _, ok := m.base.index[name]; !ok {
			vs = append(vs, newViolation(name, CheckExtraCol, fmt.Sprintf(
				"Model input %s has no baseline statistics (%d inputs, %d baseline features).",
				name, len(m.cfg.Features), len(m.base.features))))
		}
	}
	return vs
}

// Capture queues copies of what the window reads of the records (their
// features included) without blocking; when the queue is full they are
// dropped and counted. The caller may reuse recs and the records'
// Features after the call.
func (m *Monitor) Capture(recs []leadscore.Record) {
	if len(recs) == 0 {
		return
	}
	m.count(len(recs))
	m.captureCopy(recs)
}

// CaptureBatch queues b by reference for the window without blocking
// (leadscore.BatchSink): b is retained until the monitor's goroutine, or
// an Evaluate or Feedback, has added its records to the window, and then
// released. When the queue is full the records are dropped and counted,
// and b is not kept. Once Run has returned, the records are copied
// as by Capture instead, so that no request's batch waits for an
// Evaluate that may never come.
func (m *Monitor) CaptureBatch(b *leadscore.Batch) {
	if len(b.Records) == 0 {
		return
	}
	m.count(len(b.Records))
	switch m.queue.put(b, false) {
	case putFull:
		m.drop(len(b.Records))
	case putClosed:
		m.captureCopy(b.Records)
	}
}

// captureCopy queues a copy of recs, which count has counted.
func (m *Monitor) captureCopy(recs []leadscore.Record) {
	// The check spares the copy of records that would be dropped; put
	// checks again.
	if !m.queue.room(len(recs)) {
		m.drop(len(recs))
		return
	}
	c := m.queue.copyOf(recs)
	if m.queue.put(c, true) != putQueued {
		c.Release()
		m.drop(len(recs))
	}
}

// count counts n captured records.
func (m *Monitor) count(n int) {
	m.received.Add(int64(n))
	m.met.records.Add(float64(n))
}

// drop counts n records dropped for a full queue.
func (m *Monitor) drop(n int) {
	m.dropped.Add(int64(n))
	m.met.dropped.Add(float64(n))
}

// apply adds the records of a take's batches to the window, in order,
// and offers them to the attribution sampler. It reads the records where
// the producer left them: each is read once, its features copied straight
// into the window's ring.
func (m *Monitor) apply(bs []*leadscore.Batch, now time.Time) {
	bad := 0
	m.mu.Lock()
	a := m.attr
	var left uint64 // leads until the sampler's next
	if a != nil {
		left = a.untilNext()
	}
	nowNS, nf := now.UnixNano(), m.nf
	// Runs of records of the model in force go in at once.
	flush := func(run []leadscore.Record) {
		if len(run) == 0 {
			return
		}
		m.win.pushRecords(run, nowNS)
		if a != nil {
			// Of the run's leads, the sampler takes the left-th, then
			// every every-th: those offer would take one by one.
			n := uint64(len(run)) // #nosec G115 -- a count
			for k := left; k <= n; k += a.every {
				a.sample(run[k-1].Features)
			}
			if n < left {
				left -= n
			} else {
				left = a.every - (n-left)%a.every
			}
			a.seen.Add(n)
		}
	}
	// The verdict on the last FeatureNames list seen: a model's records
	// share one slice, so a pointer compare settles nearly every record.
	var names []string
	namesOK := false
	for _, b := range bs {
		recs, run := b.Records, 0
		for i := range recs {
			r := &recs[i]
			ok := len(r.Features) == nf
			if fn := r.FeatureNames; ok && fn != nil {
				if len(fn) != len(names) || len(fn) == 0 || &fn[0] != &names[0] {
					names, namesOK = fn, m.sameFeatures(fn)
				}
				ok = namesOK
			}
			if !ok {
				flush(recs[run:i])
				bad++ // scored by a model with another feature list (a reload)
				run = i + 1
				continue
			}
			if i+1-run == m.win.capacity {
				flush(recs[run : i+1])
				run = i + 1
			}
		}
		flush(recs[run:])
	}
	m.mu.Unlock()
	if bad > 0 {
		m.rejected.Add(int64(bad))
		m.met.rejected.Add(float64(bad))
	}
}

// sameFeatures reports whether names (a record's FeatureNames) is the
// feature list in force. Callers hold mu.
func (m *Monitor) sameFeatures(names []string) bool {
	if len(names) == len(m.seenNames) && len(names) > 0 && &names[0] == &m.seenNames[0] {
		return true
	}
	if !slices.Equal(names, m.cfg.Features) {
		return false
	}
	m.seenNames = names
	return true
}

// drain applies what is queued now, in the order it was captured, and
// releases the batches: one take of the queue, so that a busy producer
// cannot keep it going.
func (m *Monitor) drain() {
	m.queue.drainMu.Lock()
	defer m.queue.drainMu.Unlock()
	bs := m.queue.take()
	if len(bs) > 0 {
		m.apply(bs, m.now())
	}
	m.queue.recycle(bs)
}

// Run processes captured records and, every EvalInterval, evaluates the
// checks and posts due alerts, until ctx is done; it then processes what
// is queued, releasing every batch CaptureBatch queued, and returns nil.
// Call it once.
func (m *Monitor) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.explainLoop(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(m.cfg.EvalInterval)
		defer t.Stop()
		var dropped int64
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r := m.Evaluate()
				if d := r.Window.Dropped; d > dropped {
					m.log.Warn("drift monitor queue full: records dropped", "dropped", d-dropped, "dropped_total", d)
					dropped = d
				}
				m.alert(ctx, r)
			}
		}
	}()
	linger := time.NewTimer(m.cfg.DrainInterval)
	linger.Stop()
	for {
		select {
		case <-m.queue.ready:
			// Let batches gather for DrainInterval (less when half the
			// queue is taken: put signals again), then take them all.
			linger.Reset(m.cfg.DrainInterval)
			select {
			case <-linger.C:
			case <-m.queue.ready:
				linger.Stop()
			case <-ctx.Done():
				linger.Stop()
			}
			m.drain()
		case <-ctx.Done():
			wg.Wait()
			// Closed first: a CaptureBatch racing with the return is
			// either in this last take or copied.
			m.queue.close()
			m.drain()
			return nil
		}
	}
}

// alert hands a report's violations to the alerter, if any.
func (m *Monitor) alert(ctx context.Context, r *Report) {
	if m.alerter == nil {
		return
	}
	if err := m.alerter.Update(ctx, r.GeneratedAt, r.ConstraintViolations.Violations); err != nil && ctx.Err() == nil {
		m.log.Warn("monitoring alert not delivered; will retry at the next evaluation", "error", err)
	}
}

// Evaluate processes the queued records and checks the window against the
// baseline, updating the gauges. The report is shared with other callers
// and must not be modified. While the window is unchanged, the last
// report is returned with fresh counters.
func (m *Monitor) Evaluate() *Report {
	m.evalMu.Lock()
	defer m.evalMu.Unlock()
	m.drain()
	now := m.now().UTC()
	m.mu.Lock()
	m.win.expire(now)
	if m.last != nil && m.win.version == m.lastVersion {
		m.mu.Unlock()
		m.lastReal = time.Now()
		r := *m.last
		r.GeneratedAt = now
		r.Window = m.windowInfo(r.Window)
		m.refreshAttribution(&r)
		m.met.observe(&r)
		return &r
	}
	version := m.win.version
	snap := m.win.snapshot()
	m.mu.Unlock()
	cols, prob, tierCounts, rows := m.accumulate(snap)
	w := snap.info

	r := &Report{Model: m.cfg.Model, GeneratedAt: now, Window: m.windowInfo(w), Checks: m.checks}
	assemble(r, m.base, m.checks, m.tiers, m.static, cols, prob, tierCounts, rows)
	m.addBias(r, snap)
	m.refreshAttribution(r)
	m.met.observe(r)
	m.last, m.lastVersion, m.lastReal = r, version, time.Now()
	return r
}

// Report returns the state of monitoring: the last evaluation when it is
// less than a second old (with fresh counters), else a new one. Like
// Evaluate's, the report must not be modified.
func (m *Monitor) Report() *Report {
	m.evalMu.Lock()
	if m.last != nil && time.Since(m.lastReal) < reportMaxAge {
		r := *m.last
		r.Window = m.windowInfo(r.Window)
		m.evalMu.Unlock()
		return &r
	}
	m.evalMu.Unlock()
	return m.Evaluate()
}

// accumulate turns a snapshot into per-feature accumulators (nil for a
// baseline feature the model lacks), the probability's accumulator, the
// tier counts and the labelled rows.
func (m *Monitor) accumulate(snap snapshot) ([]*column, *column, [6]int64, []labeled) {
	n, nf := len(snap.probs), m.nf
	cols := make([]*column, len(m.base.features))
	for i := range cols {
		j := m.modelIx[i]
		if j < 0 {
			continue
		}
		c := newColumn(false)
		c.against(&m.base.features[i])
		c.exact = make([]float64, 0, n)
		for k := range n {
			c.add(float64(snap.feats[k*nf+j]))
		}
		cols[i] = c
	}
	var prob *column
	if m.base.prob != nil {
		prob = newColumn(false)
		prob.against(m.base.prob)
		prob.exact = make([]float64, 0, n)
	}
	var tiers [6]int64
	rows := []labeled{}
	for k, p := range snap.probs {
		if prob != nil {
			prob.add(p)
		}
		tiers[m.tiers.Tier(p)]++
		if l := snap.labels[k]; l >= 0 {
			rows = append(rows, labeled{p: p, pos: l == 1})
		}
	}
	return cols, prob, tiers, rows
}

// windowInfo adds the bounds and counters to w.
func (m *Monitor) windowInfo(w Window) Window {
	w.MaxRows = m.cfg.WindowRows
	w.MaxAgeSeconds = m.cfg.WindowAge.Seconds()
	w.Received, w.Dropped, w.Rejected = m.received.Load(), m.dropped.Load(), m.rejected.Load()
	return w
}

// missingReport is the report of a baseline feature with no data.
func missingReport(bf *baseFeature) FeatureReport {
	nan := Float(math.NaN())
	t := TypeFractional
	if bf.integral {
		t = TypeIntegral
	}
	return FeatureReport{Name: bf.name, InferredType: t, Status: StatusMissing,
		Completeness: nan, BaselineCompleteness: Float(bf.completeness), Distance: nan, DistanceLimit: nan,
		PSI: nan, OutOfRangeRatio: nan, NonIntegralRatio: nan, Mean: nan, BaselineMean: Float(bf.mean),
		Min: nan, Max: nan, Buckets: []BucketShare{}}
}

// Feedback joins outcomes to the window's predictions (after processing
// what is queued), marking each Matched, and hands them all to the
// FeedbackSink. Outcomes of predictions no longer in the window only reach
// the lake.
func (m *Monitor) Feedback(fbs []Feedback) FeedbackResult {
	m.drain()
	res := FeedbackResult{Accepted: len(fbs)}
	m.mu.Lock()
	for i := range fbs {
		fbs[i].Matched = m.win.setLabel(&fbs[i])
		if fbs[i].Matched {
			res.Matched++
		}
	}
	m.mu.Unlock()
	res.Unmatched = res.Accepted - res.Matched
	m.met.feedback.WithLabelValues("matched").Add(float64(res.Matched))
	m.met.feedback.WithLabelValues("unmatched").Add(float64(res.Unmatched))
	if m.cfg.FeedbackSink != nil && len(fbs) > 0 {
		outs := make([]leadscore.Outcome, len(fbs))
		for i := range fbs {
			outs[i] = fbs[i].Outcome()
		}
		m.cfg.FeedbackSink.CaptureFeedback(outs)
		res.Stored = true
	}
	return res
}
