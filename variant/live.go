package variant

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

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
	cfg LiveConfig
	// queue holds copies of the parts of captured records Live uses, of
	// at most cfg.Queue batches (Capture calls): the caller may reuse its
	// slice (leadscore.SliceCopier). spare is the buffer of the last
	// drain, reused by the next.
	qmu      sync.Mutex
	queue    []liveRec
	qbatches int
	spare    []liveRec
	wake     chan struct{} // Run: the queue is half full
	// Dropped counts records dropped because the queue was full.
	dropped atomic.Int64

	mu       sync.Mutex
	specs    []Spec
	champion string
	slots    []string // variant name of each slot
	traffic  map[string]*liveTraffic
	// leads is the window, a ring of cfg.Window leads (next is the
	// oldest), found by the hash of their inference id (index) or lead id
	// (byLead: its latest). Free of pointers, so the collector need not
	// scan it, and nothing is allocated per lead.
	leads   []liveLead
	next    int
	count   int
	index   map[uint64]int32
	byLead  map[uint64]int32
	seed    maphash.Seed
	matched int64
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
	inference, lead uint64 // hashes of the ids (lead 0: none)
	prob            [maxSlots]float32
	tier            [maxSlots]int8
	outcome         int8
	used            bool
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
		cfg: cfg, wake: make(chan struct{}, 1),
		traffic: map[string]*liveTraffic{},
		index:   map[uint64]int32{}, byLead: map[uint64]int32{}, seed: maphash.MakeSeed(),
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
			for k := range l.leads {
				l.leads[k].prob[i], l.leads[k].tier[i] = float32(math.NaN()), 0
			}
			return i
		}
	}
	return -1
}

// applyInterval is how often Run applies the queued records: batching
// them spares the request path a goroutine wake-up per request (the
// comparison lags by at most this; Report and Feedback apply what is
// queued first).
const applyInterval = 20 * time.Millisecond

// Capture queues records; when the queue is full they are dropped and
// counted. Run is woken early when the queue is half full.
func (l *Live) Capture(recs []leadscore.Record) {
	l.qmu.Lock()
	full := l.qbatches >= l.cfg.Queue
	if !full {
		for i := range recs {
			r := &recs[i]
			l.queue = append(l.queue, liveRec{
				variant: r.Variant, inference: r.InferenceID, lead: r.LeadID,
				prob: r.Probability, lat: r.LatencyMS, tier: r.Tier, shadow: r.Shadow,
			})
		}
		l.qbatches++
	}
	half := l.qbatches >= l.cfg.Queue/2
	l.qmu.Unlock()
	if full {
		l.dropped.Add(int64(len(recs)))
	}
	if half {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// liveRec is what Live keeps of a captured record.
type liveRec struct {
	variant, inference, lead string
	prob, lat                float64
	tier                     int
	shadow                   bool
}

// maxSpareRecs bounds the buffer kept for the next drain.
const maxSpareRecs = 16 << 10

var _ leadscore.SliceCopier = (*Live)(nil)

// CopiesRecords reports true: Capture copies what it keeps of the
// records (leadscore.SliceCopier), so the caller may reuse recs.
func (l *Live) CopiesRecords() bool { return true }

var _ leadscore.FeatureCopier = (*Live)(nil)

// CopiesFeatures reports true: Live never reads the records' Features
// (leadscore.FeatureCopier), so the caller may reuse them.
func (l *Live) CopiesFeatures() bool { return true }

// Window is how many latest leads the comparison keeps.
func (l *Live) Window() int { return l.cfg.Window }

// Dropped reports the records dropped because the queue was full.
func (l *Live) Dropped() int64 { return l.dropped.Load() }

// Run applies queued records every applyInterval (or sooner when the
// queue fills) until done is closed.
func (l *Live) Run(done <-chan struct{}) {
	t := time.NewTicker(applyInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		case <-l.wake:
		}
		l.mu.Lock()
		l.drain()
		l.mu.Unlock()
	}
}

// drain applies what is queued, at most the queue's capacity of batches
// so that a busy producer cannot keep it going. Callers hold mu.
func (l *Live) drain() {
	l.qmu.Lock()
	recs := l.queue
	spare := l.spare
	if n := len(recs); cap(spare) < n { // room to settle, not grow per Capture
		spare = make([]liveRec, 0, min(n+n/2, maxSpareRecs))
	}
	l.queue, l.qbatches, l.spare = spare[:0], 0, nil
	l.qmu.Unlock()
	if len(recs) == 0 {
		l.qmu.Lock()
		l.spare = recs
		l.qmu.Unlock()
		return
	}
	l.apply(recs)
	clear(recs)
	if cap(recs) <= maxSpareRecs {
		l.qmu.Lock()
		l.spare = recs[:0]
		l.qmu.Unlock()
	}
}

// apply adds records. Callers hold mu.
func (l *Live) apply(recs []liveRec) {
	for i := range recs {
		r := &recs[i]
		if r.variant == "" || r.inference == "" {
			continue
		}
		s := l.slot(r.variant)
		if s < 0 {
			continue
		}
		tr := l.traffic[r.variant]
		if tr == nil {
			tr = &liveTraffic{lat: make([]float64, 0, l.cfg.Latencies)}
			l.traffic[r.variant] = tr
		}
		if r.shadow {
			tr.shadow++
		} else {
			tr.leads++
			if r.tier >= 1 && r.tier <= 5 {
				tr.tiers[r.tier-1]++
			}
			if len(tr.lat) < cap(tr.lat) {
				tr.lat = append(tr.lat, r.lat)
			} else {
				tr.lat[tr.latNext] = r.lat
				tr.latNext = (tr.latNext + 1) % len(tr.lat)
			}
		}
		ld := l.find(r.inference)
		if ld == nil {
			ld = l.admit(r.inference, r.lead)
		}
		ld.prob[s] = float32(r.prob)
		ld.tier[s] = int8(min(max(r.tier, 0), 5)) //nolint:gosec // clamped to 0..5
	}
}

// hash is the window's key of an id: 64 bits of maphash (a collision
// among a window's leads is about as likely as 1 in 10^10).
func (l *Live) hash(id string) uint64 {
	h := maphash.String(l.seed, id)
	if h == 0 {
		h = 1 // 0 is "no lead id"
	}
	return h
}

// find returns the window's lead of an inference id, nil when it is not
// in the window. Callers hold mu.
func (l *Live) find(inference string) *liveLead {
	if i, ok := l.index[l.hash(inference)]; ok {
		return &l.leads[i]
	}
	return nil
}

// findLead returns the window's latest lead of a lead id. Callers hold
// mu.
func (l *Live) findLead(lead string) *liveLead {
	if lead == "" {
		return nil
	}
	if i, ok := l.byLead[l.hash(lead)]; ok {
		return &l.leads[i]
	}
	return nil
}

// admit adds a lead to the window, evicting the oldest. Callers hold mu.
func (l *Live) admit(inference, lead string) *liveLead {
	if len(l.leads) < l.cfg.Window { // filling up: grows as leads come
		l.leads = append(l.leads, liveLead{})
		l.next = len(l.leads) - 1
	}
	pos := int32(l.next) // #nosec G115 -- the window is at most 10^7
	ld := &l.leads[pos]
	if ld.used {
		if i, ok := l.index[ld.inference]; ok && i == pos {
			delete(l.index, ld.inference)
		}
		if i, ok := l.byLead[ld.lead]; ok && ld.lead != 0 && i == pos {
			delete(l.byLead, ld.lead)
		}
	} else {
		l.count++
	}
	l.next = (l.next + 1) % l.cfg.Window
	*ld = liveLead{inference: l.hash(inference), outcome: -1, used: true}
	for i := range ld.prob {
		ld.prob[i] = float32(math.NaN())
	}
	l.index[ld.inference] = pos
	if lead != "" {
		ld.lead = l.hash(lead)
		l.byLead[ld.lead] = pos
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
		ld := l.find(o.InferenceID)
		if ld == nil {
			ld = l.findLead(o.LeadID)
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
	t.Leads = make([]Lead, 0, l.count)
	for k := range l.leads {
		ld := &l.leads[k]
		if !ld.used {
			continue
		}
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
