package monitor

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/internal/testutil"
)

// windowRows reads how many rows the window holds now, without draining
// the queue first (as Evaluate would).
func windowRows(m *Monitor) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.win.len()
}

// TestDrainBatches checks the timed drain: Run wakes once the queue
// holds records, lets them gather for DrainInterval (sooner once half the
// queue is taken), and reports and feedback never wait for it.
func TestDrainBatches(t *testing.T) {
	d := loadDemo(t, "leads_10k.csv")
	m := newMonitor(t, Config{Baseline: baselineOf(t, d, 0, 1000), Features: d.names, QueueBatches: 4,
		DrainInterval: time.Hour, EvalInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()

	// One batch waits for the interval (an hour here).
	m.Capture(records(d, 0, 10, "a", t0))
	time.Sleep(50 * time.Millisecond)
	if n := windowRows(m); n != 0 {
		t.Fatalf("window has %d rows before the drain interval passed", n)
	}
	// A second takes half the queue: Run drains both at once.
	m.Capture(records(d, 10, 30, "b", t0))
	testutil.EventuallyState(t, 5*time.Second, "the half-full queue drained", func() (bool, string) {
		n := windowRows(m)
		return n == 30, "rows " + itoa(n)
	})
	// A report adds what is queued, whatever the interval.
	m.Capture(records(d, 30, 35, "c", t0))
	if r := m.Evaluate(); r.Window.Rows != 35 || r.Window.Received != 35 || r.Window.Dropped != 0 {
		t.Errorf("report window: rows %d, received %d, dropped %d; want 35, 35, 0", r.Window.Rows, r.Window.Received, r.Window.Dropped)
	}
	// So does feedback: the outcome of a lead still queued matches.
	m.Capture(records(d, 35, 36, "d", t0))
	if res := m.Feedback([]Feedback{{InferenceID: "d35", Converted: true}}); res.Matched != 1 {
		t.Errorf("feedback on a queued lead: %+v", res)
	}
	// Shutdown adds what is left.
	m.Capture(records(d, 36, 40, "e", t0))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := windowRows(m); n != 40 {
		t.Errorf("after Run returned the window has %d rows, want 40", n)
	}
}

// TestDrainKeepsEveryRecord captures from many goroutines at once while
// Run drains on its timer: every record reaches the window (none dropped
// with a queue large enough), and each goroutine's records in the order
// it captured them.
func TestDrainKeepsEveryRecord(t *testing.T) {
	d := loadDemo(t, "leads_10k.csv")
	const writers, perWriter, batch = 8, 50, 5
	m := newMonitor(t, Config{Baseline: baselineOf(t, d, 0, 1000), Features: d.names, WindowRows: writers * perWriter * batch,
		DrainInterval: time.Millisecond, EvalInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			lo := w * perWriter * batch
			for i := range perWriter {
				m.Capture(records(d, lo+i*batch, lo+(i+1)*batch, "w", t0))
			}
		})
	}
	wg.Wait()
	total := writers * perWriter * batch
	windowComplete(t, m, total, cancel, done)
	// Per writer, the window holds its leads in capture order.
	last := make(map[int]int)
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := m.win.start; k < m.win.next; k++ {
		id := m.win.inf[m.win.slot(k)] // "w<row>"
		row := atoiTest(id[1:])
		w := row / (perWriter * batch)
		if prev, ok := last[w]; ok && row <= prev {
			t.Fatalf("writer %d: row %d after row %d", w, row, prev)
		}
		last[w] = row
	}
}

func atoiTest(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestQueueCopiesFeatures: Capture's copies hold the records' features
// in the queue's own storage, recycled from take to take: concurrent
// callers that overwrite their feature buffer right after the copy (as
// the HTTP server does) while takes and releases go on still leave every
// record with its own features.
func TestQueueCopiesFeatures(t *testing.T) {
	q := newBatchQueue(1<<20, 1<<30)
	const callers, requests, rows, nf = 6, 200, 9, 4
	var wg sync.WaitGroup
	for g := range callers {
		wg.Go(func() {
			feats := make([]float32, rows*nf)
			recs := make([]leadscore.Record, rows)
			ids := make([]byte, 0, 64*rows)
			for k := range requests {
				ids = ids[:0]
				for j := range rows {
					f := feats[j*nf : (j+1)*nf : (j+1)*nf]
					for i := range f {
						f[i] = float32(g*1_000_000 + k*100 + j)
					}
					// The ids are views of the caller's storage too
					// (a batch's IDs).
					at := len(ids)
					ids = strconv.AppendInt(ids, int64(g*1_000_000+k*100+j), 10)
					mid := len(ids)
					ids = append(ids, "lead"...)
					inf := unsafe.String(&ids[at], mid-at)         // #nosec G103 -- test: a view, as a batch's ids are
					lead := unsafe.String(&ids[mid], len(ids)-mid) // #nosec G103 -- as above
					recs[j] = leadscore.Record{InferenceID: inf, LeadID: lead, Features: f}
				}
				if q.put(q.copyOf(recs), true) != putQueued {
					t.Error("queue full")
				}
				clear(feats) // the caller reuses its buffers at once
				clear(ids)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	total := 0
	check := func(bs []*leadscore.Batch) {
		for _, b := range bs {
			for _, r := range b.Records {
				id, err := strconv.Atoi(r.InferenceID)
				if err != nil || r.LeadID != "lead" {
					t.Fatalf("record with ids %q, %q", r.InferenceID, r.LeadID)
				}
				if len(r.Features) != nf {
					t.Fatalf("record %s has %d features", r.InferenceID, len(r.Features))
				}
				for _, v := range r.Features {
					if v != float32(id) {
						t.Fatalf("record %s has features %v", r.InferenceID, r.Features)
					}
				}
			}
			total += len(b.Records)
		}
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		q.drainMu.Lock()
		bs := q.take()
		check(bs)
		q.recycle(bs)
		q.drainMu.Unlock()
	}
	if total != callers*requests*rows {
		t.Fatalf("%d records, want %d", total, callers*requests*rows)
	}
}

// TestApplyMatchesRecords captures batches of every kind of record
// (another model's feature list, a wrong width, no feature names, no
// time, no ids) in takes of changing sizes, so that the queue's reused
// buffers would leak a previous take's values if any field were left
// behind, into a window smaller than some takes: after every drain the
// window holds exactly the latest rows of the model in force, with their
// own values, ids and times, the rest are rejected, feedback finds the
// rows by their ids, and the attribution sampler got every third lead,
// as offering them one by one would.
func TestApplyMatchesRecords(t *testing.T) {
	bd, base := demoBaseline(t)
	names := bd.FeatureNames()
	nf := len(names)
	other := slices.Clone(names)
	other[3] = "renamed"
	same := slices.Clone(names) // equal, another slice
	clock := &fixedClock{t: t0}
	const capacity, every = 7, 3
	m := newMonitor(t, Config{Baseline: base, Features: names, WindowRows: capacity, Now: clock.Now,
		Attribution: AttributionConfig{Explain: bd.Forest().ContributionsBatch, SampleShare: 1.0 / every,
			MaxPerSecond: -1, Queue: 1 << 16}})
	type row struct {
		feats     []float32
		prob      float64
		at        int64
		inf, lead string
		label     int8
	}
	var want []row // every accepted record, in order
	var sampled [][]float32
	rejected := 0
	rng := rand.New(rand.NewPCG(7, 13)) // #nosec G404 -- test data
	seq := 0
	for round := range 300 {
		// Batches of 1 to 40 records, their buffers reused like the
		// server's and overwritten after Capture.
		n := 1 + rng.IntN(40)
		if round%10 < 5 {
			n = 1 + rng.IntN(3)
		}
		recs := make([]leadscore.Record, n)
		var pending []row
		for i := range recs {
			seq++
			r := randomRecord(rng, seq, nf, names, same, other)
			width := len(r.Features)
			recs[i] = r
			if r.FeatureNames != nil && &r.FeatureNames[0] == &other[0] || width != nf {
				rejected++
				continue
			}
			pending = append(pending, row{feats: slices.Clone(r.Features), prob: r.Probability, inf: r.InferenceID,
				lead: r.LeadID, at: r.Time.UnixNano(), label: -1})
			if r.Time.IsZero() {
				pending[len(pending)-1].at = -1 // the clock's time when applied
			}
		}
		m.Capture(recs)
		for i := range recs {
			clear(recs[i].Features)
			recs[i] = leadscore.Record{}
		}
		want = append(want, pending...)
		if rng.IntN(3) != 0 && round != 299 {
			continue
		}
		clock.Add(time.Second)
		now := clock.Now().UnixNano()
		for i := range want {
			if want[i].at == -1 {
				want[i].at = now
			}
		}
		m.drain()
		m.mu.Lock()
		w := m.win
		if got, wantN := w.len(), min(len(want), capacity); got != wantN {
			m.mu.Unlock()
			t.Fatalf("round %d: window of %d rows, want %d", round, got, wantN)
		}
		for k := range w.len() {
			s := w.slot(w.start + uint64(k))
			r := want[len(want)-w.len()+k]
			if !slices.Equal(w.feats[s*nf:(s+1)*nf], r.feats) || w.prob[s] != r.prob || w.at[s] != r.at ||
				w.inf[s] != r.inf || w.lead[s] != r.lead || w.label[s] != r.label {
				m.mu.Unlock()
				t.Fatalf("round %d: row %d holds %v %v %v %q %q, want %v %v %v %q %q", round, k,
					w.feats[s*nf], w.prob[s], w.at[s], w.inf[s], w.lead[s], r.feats[0], r.prob, r.at, r.inf, r.lead)
			}
		}
		m.mu.Unlock()
		for i, r := range want {
			if (i+1)%every == 0 && (len(sampled) == 0 || i+1 > len(sampled)*every) {
				sampled = append(sampled, r.feats)
			}
		}
		// Feedback finds the window's newest row of an id, no other.
		if r := &want[len(want)-1]; r.inf != "" {
			if res := m.Feedback([]Feedback{{InferenceID: r.inf, Converted: true}}); res.Matched != 1 {
				t.Fatalf("round %d: feedback for %s: %+v", round, r.inf, res)
			}
			r.label = 1
		}
		if len(want) > capacity {
			if r := want[len(want)-capacity-1]; r.inf != "" {
				if res := m.Feedback([]Feedback{{InferenceID: r.inf}}); res.Matched != 0 {
					t.Fatalf("round %d: feedback for %s, which left the window: %+v", round, r.inf, res)
				}
			}
		}
	}
	if got := m.rejected.Load(); got != int64(rejected) {
		t.Errorf("rejected %d, want %d", got, rejected)
	}
	a := m.attr
	if got := a.seen.Load(); got != uint64(len(want)) {
		t.Errorf("the sampler saw %d leads, want %d", got, len(want))
	}
	for i, wantRow := range sampled {
		select {
		case got := <-a.queue:
			if !slices.Equal(got, wantRow) {
				t.Fatalf("sample %d: lead %v, want %v", i, got[0], wantRow[0])
			}
		default:
			t.Fatalf("%d leads sampled, want %d", i, len(sampled))
		}
	}
	if len(a.queue) != 0 {
		t.Errorf("%d leads sampled beyond the %d wanted", len(a.queue), len(sampled))
	}
}
