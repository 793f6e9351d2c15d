package variant

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/leadscore/leadscore"
)

// Defaults of LiveConfig.
const (
	DefaultWindow    = 50000
	DefaultLatencies = 4096
	DefaultQueue     = 4096
	// DefaultPendingOutcomes is how many outcomes that arrived before
	// their lead's score are kept waiting for it.
	DefaultPendingOutcomes = 10000
	// MaxPendingOutcomes bounds LiveConfig.PendingOutcomes.
	MaxPendingOutcomes = 10_000_000
	// maxSlots bounds the variant names a Live keeps scores for: a
	// reconfiguration may rename variants, and each name seen takes a slot
	// until the window forgets it.
	maxSlots = 2 * MaxVariants
)

// LiveConfig configures a Live comparison.
type LiveConfig struct {
	// Window is how many latest leads (by inference id) are kept with
	// their scores for the paired comparison (default 50,000).
	Window int
	// Latencies is how many latest live latencies per variant the
	// percentiles are taken over (default 4,096).
	Latencies int
	// Queue is how many captured batches may wait; beyond it batches are
	// dropped and counted (default 4,096).
	Queue int
	// PendingOutcomes is how many outcomes that joined no lead in the
	// window are kept, waiting for the lead's score record to arrive
	// (feedback can race the capture pipeline, and a shadow's score comes
	// after the live answer): when the record arrives the outcome is
	// attached to it. Beyond the bound the oldest waiting outcome is
	// evicted and counted (PendingEvicted). 0: the default (10,000);
	// negative: none kept, an outcome that finds no lead is not joined.
	PendingOutcomes int
}

// Live compares variants on live traffic. It is a leadscore.Sink (fed the
// captured records, live and shadow, from the side) and takes outcomes
// with Feedback. Capture never blocks: batches queue and are applied by
// Run, or by Report. Safe for concurrent use.
type Live struct {
	cfg   LiveConfig
	queue chan []leadscore.Record
	// Dropped counts records dropped because the queue was full.
	dropped atomic.Int64

	mu       sync.Mutex
	specs    []Spec
	champion string
	slots    []string // variant name of each slot
	traffic  map[string]*liveTraffic
	leads    map[string]*liveLead // by inference id
	order    []string             // inference ids, a ring of cfg.Window
	next     int
	byLead   map[string]string // lead id -> latest inference id
	matched  int64
	// feedbacks counts Feedback calls (and late joins of pending
	// outcomes), so that a cached report can tell it is older than the
	// latest outcomes.
	feedbacks atomic.Uint64

	// pending holds outcomes that joined no lead yet (a ring of
	// cfg.PendingOutcomes, oldest evicted), found by inference id and by
	// lead id; guarded by mu.
	pending     []pendingOutcome
	pendNext    int
	pendLive    int
	pendByInf   map[string]int
	pendByLead  map[string]int
	pendEvicted atomic.Int64
	pendJoined  atomic.Int64
	pendCount   atomic.Int64 // pendLive, for readers without mu
}

// pendingOutcome is an outcome waiting for its lead's score record.
type pendingOutcome struct {
	inference, lead string
	converted       bool
	live            bool // still waiting (not joined, superseded or evicted)
}

type liveTraffic struct {
	leads, shadow int64
	tiers         [5]int64
	lat           []float64 // ring
	latNext       int
}

type liveLead struct {
	lead    string
	prob    [maxSlots]float32
	tier    [maxSlots]int8
	outcome int8
}

// NewLive builds a Live comparison of specs.
func NewLive(specs []Spec, cfg LiveConfig) *Live {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Latencies <= 0 {
		cfg.Latencies = DefaultLatencies
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	switch {
	case cfg.PendingOutcomes == 0:
		cfg.PendingOutcomes = DefaultPendingOutcomes
	case cfg.PendingOutcomes < 0:
		cfg.PendingOutcomes = 0
	case cfg.PendingOutcomes > MaxPendingOutcomes:
		cfg.PendingOutcomes = MaxPendingOutcomes
	}
	l := &Live{
		cfg: cfg, queue: make(chan []leadscore.Record, cfg.Queue),
		traffic: map[string]*liveTraffic{}, leads: map[string]*liveLead{}, byLead: map[string]string{},
		order:     make([]string, cfg.Window),
		pendByInf: map[string]int{}, pendByLead: map[string]int{},
	}
	l.SetSpecs(specs)
	return l
}

// SetSpecs changes the variants compared (after a reconfiguration). The
// traffic and scores of variants that keep their names are kept.
func (l *Live) SetSpecs(specs []Spec) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.specs = append([]Spec(nil), specs...)
	l.champion = ""
	if c := Champion(specs); c >= 0 {
		l.champion = specs[c].Name
	}
	for _, s := range specs {
		l.slot(s.Name)
	}
}

// slot returns the slot of a variant name, taking a new one (or -1 when
// all are taken). Callers hold mu.
func (l *Live) slot(name string) int {
	for i, n := range l.slots {
		if n == name {
			return i
		}
	}
	if len(l.slots) < maxSlots {
		l.slots = append(l.slots, name)
		return len(l.slots) - 1
	}
	// Reuse the slot of a name no longer declared.
	for i, n := range l.slots {
		declared := false
		for _, s := range l.specs {
			declared = declared || s.Name == n
		}
		if !declared {
			l.slots[i] = name
			for _, ld := range l.leads {
				ld.prob[i], ld.tier[i] = float32(math.NaN()), 0
			}
			return i
		}
	}
	return -1
}

// Capture queues records; when the queue is full they are dropped and
// counted.
func (l *Live) Capture(recs []leadscore.Record) {
	select {
	case l.queue <- recs:
	default:
		l.dropped.Add(int64(len(recs)))
	}
}

// Window is how many latest leads the comparison keeps.
func (l *Live) Window() int { return l.cfg.Window }

// Dropped reports the records dropped because the queue was full.
func (l *Live) Dropped() int64 { return l.dropped.Load() }

// Run applies queued records until done is closed.
func (l *Live) Run(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case recs := <-l.queue:
			l.mu.Lock()
			l.apply(recs)
			l.mu.Unlock()
		}
	}
}

// drain applies what is queued. Callers hold mu.
func (l *Live) drain() {
	for {
		select {
		case recs := <-l.queue:
			l.apply(recs)
		default:
			return
		}
	}
}

// apply adds records. Callers hold mu.
func (l *Live) apply(recs []leadscore.Record) {
	for i := range recs {
		r := &recs[i]
		if r.Variant == "" || r.InferenceID == "" {
			continue
		}
		s := l.slot(r.Variant)
		if s < 0 {
			continue
		}
		tr := l.traffic[r.Variant]
		if tr == nil {
			tr = &liveTraffic{lat: make([]float64, 0, l.cfg.Latencies)}
			l.traffic[r.Variant] = tr
		}
		if r.Shadow {
			tr.shadow++
		} else {
			tr.leads++
			if r.Tier >= 1 && r.Tier <= 5 {
				tr.tiers[r.Tier-1]++
			}
			if len(tr.lat) < cap(tr.lat) {
				tr.lat = append(tr.lat, r.LatencyMS)
			} else {
				tr.lat[tr.latNext] = r.LatencyMS
				tr.latNext = (tr.latNext + 1) % len(tr.lat)
			}
		}
		ld := l.leads[r.InferenceID]
		if ld == nil {
			ld = l.admit(r.InferenceID, r.LeadID)
		}
		ld.prob[s] = float32(r.Probability)
		ld.tier[s] = int8(min(max(r.Tier, 0), 5)) //nolint:gosec // clamped to 0..5
	}
}

// admit adds a lead to the window, evicting the oldest. Callers hold mu.
func (l *Live) admit(inference, lead string) *liveLead {
	if old := l.order[l.next]; old != "" {
		if ol := l.leads[old]; ol != nil && ol.lead != "" && l.byLead[ol.lead] == old {
			delete(l.byLead, ol.lead)
		}
		delete(l.leads, old)
	}
	l.order[l.next] = inference
	l.next = (l.next + 1) % len(l.order)
	ld := &liveLead{lead: lead, outcome: -1}
	for i := range ld.prob {
		ld.prob[i] = float32(math.NaN())
	}
	l.leads[inference] = ld
	if lead != "" {
		l.byLead[lead] = inference
	}
	l.joinPending(inference, lead, ld)
	return ld
}

// joinPending attaches the outcome waiting for a lead just admitted, by
// its inference id, else its lead id. Callers hold mu.
func (l *Live) joinPending(inference, lead string, ld *liveLead) {
	if l.pendLive == 0 {
		return
	}
	i, ok := l.pendByInf[inference]
	if !ok && lead != "" {
		i, ok = l.pendByLead[lead]
	}
	if !ok {
		return
	}
	p := &l.pending[i]
	ld.outcome = 0
	if p.converted {
		ld.outcome = 1
	}
	l.dropPending(i)
	l.matched++
	l.pendJoined.Add(1)
	l.feedbacks.Add(1) // a cached report lacks this outcome
}

// dropPending forgets the waiting outcome in ring slot i. Callers hold
// mu.
func (l *Live) dropPending(i int) {
	p := &l.pending[i]
	if !p.live {
		return
	}
	p.live = false
	if j, ok := l.pendByInf[p.inference]; ok && j == i {
		delete(l.pendByInf, p.inference)
	}
	if j, ok := l.pendByLead[p.lead]; ok && j == i {
		delete(l.pendByLead, p.lead)
	}
	l.pendLive--
	l.pendCount.Store(int64(l.pendLive))
}

// addPending keeps an outcome that joined no lead until its lead's
// record arrives, evicting (and counting) the oldest waiting one when the
// store is full. A later outcome for the same inference or lead id
// replaces an earlier one. Callers hold mu.
func (l *Live) addPending(o leadscore.Outcome) {
	if l.cfg.PendingOutcomes == 0 || o.InferenceID == "" && o.LeadID == "" {
		return
	}
	if l.pending == nil {
		l.pending = make([]pendingOutcome, 0, min(l.cfg.PendingOutcomes, 1024))
	}
	// An outcome for an id already waiting replaces it in its slot.
	i, byInf := l.pendByInf[o.InferenceID]
	byInf = byInf && o.InferenceID != ""
	j, byLead := l.pendByLead[o.LeadID]
	byLead = byLead && o.LeadID != ""
	switch {
	case byInf && byLead && i != j:
		l.dropPending(j)
		l.dropPending(i)
	case byInf:
		l.dropPending(i)
	case byLead:
		l.dropPending(j)
		i = j
	}
	switch {
	case byInf || byLead: // reuse the slot
	case len(l.pending) < l.cfg.PendingOutcomes:
		l.pending = append(l.pending, pendingOutcome{})
		i = len(l.pending) - 1
	default:
		i = l.pendNext
		l.pendNext = (l.pendNext + 1) % len(l.pending)
		if l.pending[i].live {
			l.dropPending(i)
			l.pendEvicted.Add(1)
		}
	}
	l.pending[i] = pendingOutcome{inference: o.InferenceID, lead: o.LeadID, converted: o.Converted, live: true}
	if o.InferenceID != "" {
		l.pendByInf[o.InferenceID] = i
	}
	if o.LeadID != "" {
		l.pendByLead[o.LeadID] = i
	}
	l.pendLive++
	l.pendCount.Store(int64(l.pendLive))
}

// PendingStats is the store of outcomes waiting for their lead's score.
type PendingStats struct {
	// Pending is how many wait now, Limit how many may wait.
	Pending int64 `json:"pending"`
	Limit   int   `json:"limit"`
	// Joined counts outcomes attached when their lead's record arrived,
	// Evicted those dropped from a full store before it did.
	Joined  int64 `json:"joined_late"`
	Evicted int64 `json:"evicted"`
}

// Pending reports the outcomes waiting for their lead's score.
func (l *Live) Pending() PendingStats {
	return PendingStats{Pending: l.pendCount.Load(), Limit: l.cfg.PendingOutcomes,
		Joined: l.pendJoined.Load(), Evicted: l.pendEvicted.Load()}
}

// Feedback joins outcomes to the leads in the window, by inference id,
// else by lead id (its latest prediction); it returns how many joined.
// An outcome that joins no lead is kept (up to PendingOutcomes) and
// joined when its lead's score record arrives: feedback can race the
// capture pipeline.
func (l *Live) Feedback(outcomes []leadscore.Outcome) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.drain()
	n := 0
	for _, o := range outcomes {
		ld := l.leads[o.InferenceID]
		if ld == nil && o.LeadID != "" {
			ld = l.leads[l.byLead[o.LeadID]]
		}
		if ld == nil {
			l.addPending(o)
			continue
		}
		ld.outcome = 0
		if o.Converted {
			ld.outcome = 1
		}
		n++
	}
	l.matched += int64(n)
	l.feedbacks.Add(1)
	return n
}

// Feedbacks is how many times outcomes were joined so far: a report
// computed before the count last changed lacks some outcomes.
func (l *Live) Feedbacks() uint64 { return l.feedbacks.Load() }

// CaptureFeedback is Feedback for monitor.FeedbackSink.
func (l *Live) CaptureFeedback(outcomes []leadscore.Outcome) { l.Feedback(outcomes) }

// Report compares the variants declared now on the window.
func (l *Live) Report() *Report {
	l.mu.Lock()
	l.drain()
	t := &Table{Champion: -1}
	slotOf := make([]int, len(l.specs))
	for i, s := range l.specs {
		t.Names = append(t.Names, s.Name)
		t.Roles = append(t.Roles, s.Role)
		if s.Name == l.champion {
			t.Champion = i
		}
		slotOf[i] = l.slot(s.Name)
		var tr Traffic
		if lt := l.traffic[s.Name]; lt != nil {
			tr = Traffic{Leads: lt.leads, Shadow: lt.shadow, Tiers: lt.tiers, Latencies: append([]float64(nil), lt.lat...)}
		}
		t.Traffic = append(t.Traffic, tr)
	}
	t.Leads = make([]Lead, 0, len(l.leads))
	for _, ld := range l.leads {
		lead := Lead{Prob: make([]float64, len(l.specs)), Tier: make([]int, len(l.specs)), Outcome: ld.outcome}
		for i, s := range slotOf {
			lead.Prob[i] = math.NaN()
			if s >= 0 {
				lead.Prob[i], lead.Tier[i] = float64(ld.prob[s]), int(ld.tier[s])
			}
		}
		t.Leads = append(t.Leads, lead)
	}
	l.mu.Unlock()
	return Compare(t)
}
