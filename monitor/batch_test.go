package monitor

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/internal/testutil"
)

// pooledBatch returns a batch of pool holding copies of recs, their
// features in the batch's Features, as httpapi builds a request's batch.
func pooledBatch(pool *leadscore.BatchPool, recs []leadscore.Record) *leadscore.Batch {
	nfeat := 0
	for i := range recs {
		nfeat += len(recs[i].Features)
	}
	b := pool.Get(len(recs), nfeat)
	fo := 0
	for i, r := range recs {
		n := copy(b.Features[fo:], r.Features)
		r.Features = b.Features[fo : fo+n : fo+n]
		fo += n
		b.Records[i] = r
	}
	return b
}

// released reports whether the last reference to b, a batch of a pool
// that held records, is gone: Release clears a batch it gives back to its
// pool. Only the test takes batches from the pool, so b is not reused
// meanwhile.
func released(b *leadscore.Batch) bool { return len(b.Records) == 0 }

// deepCopy copies recs and their features, to see whether anything
// changed them.
func deepCopy(recs []leadscore.Record) []leadscore.Record {
	out := slices.Clone(recs)
	for i := range out {
		out[i].Features = slices.Clone(out[i].Features)
	}
	return out
}

// sameRecords compares records field by field, their features by value
// and their feature names by identity.
func sameRecords(a, b []leadscore.Record) bool {
	return slices.EqualFunc(a, b, func(x, y leadscore.Record) bool {
		nx, ny := x.FeatureNames, y.FeatureNames
		return x.Time.Equal(y.Time) && x.RequestID == y.RequestID && x.InferenceID == y.InferenceID &&
			x.LeadID == y.LeadID && x.Model == y.Model && x.ModelVersion == y.ModelVersion &&
			slices.EqualFunc(x.Features, y.Features, sameBits) && len(nx) == len(ny) && (len(nx) == 0 || &nx[0] == &ny[0]) &&
			x.Margin == y.Margin && x.Probability == y.Probability && x.Tier == y.Tier &&
			x.LatencyMS == y.LatencyMS && x.Variant == y.Variant && x.Shadow == y.Shadow
	})
}

func sameBits(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }

// windowState is everything a window holds, oldest row first.
type windowState struct {
	feats     []float32
	prob      []float64
	at        []int64
	inf, lead []string
	label     []int8
	version   uint64
}

func stateOf(m *Monitor) windowState {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.win
	var s windowState
	for seq := w.start; seq < w.next; seq++ {
		k := w.slot(seq)
		s.feats = append(s.feats, w.feats[k*w.nf:(k+1)*w.nf]...)
		s.prob = append(s.prob, w.prob[k])
		s.at = append(s.at, w.at[k])
		s.inf = append(s.inf, w.inf[k])
		s.lead = append(s.lead, w.lead[k])
		s.label = append(s.label, w.label[k])
	}
	s.version = w.version
	return s
}

func (s windowState) equal(o windowState) bool {
	return slices.EqualFunc(s.feats, o.feats, sameBits) && slices.Equal(s.prob, o.prob) && slices.Equal(s.at, o.at) &&
		slices.Equal(s.inf, o.inf) && slices.Equal(s.lead, o.lead) && slices.Equal(s.label, o.label) &&
		s.version == o.version
}

// TestCaptureBatchMatchesCapture feeds two monitors the same requests,
// one by Capture and one by CaptureBatch (pooled batches, released by the
// producer right after, as httpapi does), with records of every kind
// (another model's feature list, a wrong width, no names, no time, no
// ids), requests larger than the queue's record bound, queue-full drops,
// drains, feedback and evaluations in between: the windows, the counters
// and the attribution sampler's leads are the same after every step, and
// every batch is back in its pool once drained or dropped.
func TestCaptureBatchMatchesCapture(t *testing.T) {
	bd, base := demoBaseline(t)
	names := bd.FeatureNames()
	nf := len(names)
	other := slices.Clone(names)
	other[3] = "renamed"
	same := slices.Clone(names)
	clock := &fixedClock{t: t0}
	cfg := Config{Baseline: base, Features: names, WindowRows: 50, QueueBatches: 6, QueueRecords: 60, Now: clock.Now,
		Attribution: AttributionConfig{Explain: bd.Forest().ContributionsBatch, SampleShare: 1.0 / 3,
			MaxPerSecond: -1, Queue: 1 << 16}}
	byCopy, byRef := newMonitor(t, cfg), newMonitor(t, cfg)
	var pool leadscore.BatchPool
	var held []*leadscore.Batch        // queued by reference since the last drain
	rng := rand.New(rand.NewPCG(3, 5)) // #nosec G404 -- test data
	seq := 0
	check := func(round int, what string) {
		t.Helper()
		if a, b := stateOf(byCopy), stateOf(byRef); !a.equal(b) {
			t.Fatalf("round %d, after %s: windows differ:\ncopy  %v %v %v\nbatch %v %v %v", round, what,
				a.inf, a.at, a.label, b.inf, b.at, b.label)
		}
		for _, c := range [][2]int64{{byCopy.received.Load(), byRef.received.Load()},
			{byCopy.dropped.Load(), byRef.dropped.Load()}, {byCopy.rejected.Load(), byRef.rejected.Load()},
			{int64(byCopy.attr.seen.Load()), int64(byRef.attr.seen.Load())}} { // #nosec G115 -- test counts
			if c[0] != c[1] {
				t.Fatalf("round %d, after %s: counters differ (received, dropped, rejected, sampled): copy %d, batch %d",
					round, what, c[0], c[1])
			}
		}
	}
	drained := func(round int) {
		t.Helper()
		for _, b := range held {
			if !released(b) {
				t.Fatalf("round %d: a drained batch was not released", round)
			}
		}
		held = held[:0]
	}
	for round := range 400 {
		n := 1 + rng.IntN(20)
		if round%13 == 0 {
			n = 61 + rng.IntN(20) // above QueueRecords
		}
		recs := make([]leadscore.Record, n)
		for i := range recs {
			seq++
			r := randomRecord(rng, seq, nf, names, same, other)
			r.RequestID, r.Model = "r", "m"
			recs[i] = r
		}
		b := pooledBatch(&pool, recs)
		before := byRef.dropped.Load()
		byRef.CaptureBatch(b)
		b.Release() // the producer's reference
		if byRef.dropped.Load() > before {
			if !released(b) {
				t.Fatalf("round %d: a dropped batch is still referenced", round)
			}
		} else {
			if released(b) {
				t.Fatalf("round %d: a queued batch went back to its pool", round)
			}
			held = append(held, b)
		}
		byCopy.Capture(recs)
		for i := range recs {
			clear(recs[i].Features) // Capture's caller may reuse them
		}
		check(round, "capture")
		switch k := rng.IntN(6); {
		case k == 0:
			clock.Add(time.Second)
			byCopy.drain()
			byRef.drain()
			drained(round)
			check(round, "drain")
		case k == 1:
			fb := []Feedback{{InferenceID: "inf-" + strconv.Itoa(seq-rng.IntN(30)), Converted: true},
				{LeadID: "lead-" + strconv.Itoa(rng.IntN(17))}}
			clock.Add(time.Second)
			rc, rb := byCopy.Feedback(slices.Clone(fb)), byRef.Feedback(slices.Clone(fb))
			if rc != rb {
				t.Fatalf("round %d: feedback %+v by copy, %+v by reference", round, rc, rb)
			}
			drained(round)
			check(round, "feedback")
		case k == 2 && round%10 == 0:
			clock.Add(time.Second)
			rc, rb := byCopy.Evaluate(), byRef.Evaluate()
			if a, b := rc.Window, rb.Window; a.Rows != b.Rows || a.Received != b.Received || a.Dropped != b.Dropped ||
				a.Rejected != b.Rejected {
				t.Fatalf("round %d: report windows %+v and %+v", round, a, b)
			}
			drained(round)
			check(round, "evaluate")
		}
	}
	if byRef.dropped.Load() == 0 || byRef.rejected.Load() == 0 {
		t.Errorf("dropped %d, rejected %d: the test should exercise both", byRef.dropped.Load(), byRef.rejected.Load())
	}
	for len(byCopy.attr.queue) > 0 {
		if a, b := <-byCopy.attr.queue, <-byRef.attr.queue; !slices.Equal(a, b) {
			t.Fatalf("sampled leads differ: %v and %v", a[0], b[0])
		}
	}
	if len(byRef.attr.queue) != 0 {
		t.Errorf("%d more leads sampled by reference", len(byRef.attr.queue))
	}
}

// TestCaptureBatchReleases: a batch queued by reference is released once,
// after its records reached the window, on every path that takes the
// queue (Run's goroutine, Evaluate, Feedback, Run's return with work
// queued), is never retained when the queue is full, and is copied
// rather than held once Run has returned; nothing changes its records
// meanwhile. A second Release, or a missing one, shows: Release panics
// when called once too often, and a batch still referenced is not
// cleared.
func TestCaptureBatchReleases(t *testing.T) {
	d := loadDemo(t, "leads_10k.csv")
	base := baselineOf(t, d, 0, 1000)
	var pool leadscore.BatchPool
	capture := func(m *Monitor, lo, hi int) (*leadscore.Batch, []leadscore.Record) {
		b := pooledBatch(&pool, records(d, lo, hi, "x", t0))
		want := deepCopy(b.Records)
		m.CaptureBatch(b)
		return b, want
	}
	// settle checks that b holds its records unchanged, the producer's
	// reference released, and that it went back to its pool once taken
	// (when taken is true).
	settle := func(t *testing.T, b *leadscore.Batch, want []leadscore.Record, take func()) {
		t.Helper()
		if !sameRecords(b.Records, want) {
			t.Fatal("the monitor changed the batch's records")
		}
		b.Release()
		if released(b) {
			t.Fatal("the batch went back to its pool while queued")
		}
		take()
		if !released(b) {
			t.Fatal("the batch was not released once its records were taken")
		}
	}
	newMon := func(t *testing.T, cfg Config) *Monitor {
		cfg.Baseline, cfg.Features = base, d.names
		if cfg.EvalInterval == 0 {
			cfg.EvalInterval = time.Hour
		}
		return newMonitor(t, cfg)
	}
	t.Run("evaluate", func(t *testing.T) {
		m := newMon(t, Config{})
		b, want := capture(m, 0, 10)
		settle(t, b, want, func() {
			if r := m.Evaluate(); r.Window.Rows != 10 {
				t.Fatalf("window of %d rows", r.Window.Rows)
			}
		})
	})
	t.Run("feedback", func(t *testing.T) {
		m := newMon(t, Config{})
		b, want := capture(m, 0, 10)
		settle(t, b, want, func() {
			if res := m.Feedback([]Feedback{{InferenceID: "x3"}}); res.Matched != 1 {
				t.Fatalf("feedback %+v", res)
			}
		})
	})
	t.Run("run", func(t *testing.T) {
		m := newMon(t, Config{DrainInterval: time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		b := pooledBatch(&pool, records(d, 0, 10, "x", t0))
		m.CaptureBatch(b)
		b.Release()
		testutil.EventuallyState(t, 5*time.Second, "Run applied the batch", func() (bool, string) {
			n := windowRows(m)
			return n == 10, "rows " + itoa(n)
		})
		// The take releases its batches before it lets go of drainMu.
		m.queue.drainMu.Lock()
		ok := released(b)
		m.queue.drainMu.Unlock()
		if !ok {
			t.Error("Run applied the batch and did not release it")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("run returns with work queued", func(t *testing.T) {
		m := newMon(t, Config{DrainInterval: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		var bs []*leadscore.Batch
		for k := range 3 {
			b, want := capture(m, 10*k, 10*k+10)
			if !sameRecords(b.Records, want) {
				t.Fatal("the monitor changed the batch's records")
			}
			b.Release()
			bs = append(bs, b)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		for i, b := range bs {
			if !released(b) {
				t.Errorf("batch %d still referenced after Run returned", i)
			}
		}
		if n := windowRows(m); n != 30 {
			t.Errorf("window of %d rows after Run returned, want 30", n)
		}
		// Later batches are copied, not held: nothing would take them
		// but an Evaluate.
		b := pooledBatch(&pool, records(d, 30, 40, "x", t0))
		m.CaptureBatch(b)
		b.Release()
		if !released(b) {
			t.Error("a batch captured after Run returned is still referenced")
		}
		if r := m.Evaluate(); r.Window.Rows != 40 || r.Window.Received != 40 {
			t.Errorf("window %+v, want 40 rows received and kept", r.Window)
		}
	})
	t.Run("queue full", func(t *testing.T) {
		m := newMon(t, Config{QueueBatches: 2, QueueRecords: 25})
		b1, want1 := capture(m, 0, 10)
		b2, _ := capture(m, 10, 30) // 10+20 records: over QueueRecords
		b2.Release()
		if !released(b2) {
			t.Error("a batch over the record bound was retained")
		}
		b3, want3 := capture(m, 30, 40)
		b4, _ := capture(m, 40, 41) // a third batch: over QueueBatches
		b4.Release()
		if !released(b4) {
			t.Error("a batch over the batch bound was retained")
		}
		if got := m.dropped.Load(); got != 21 {
			t.Errorf("dropped %d records, want 21", got)
		}
		if !sameRecords(b3.Records, want3) {
			t.Fatal("the monitor changed the batch's records")
		}
		b3.Release()
		settle(t, b1, want1, func() {
			if r := m.Evaluate(); r.Window.Rows != 20 || r.Window.Dropped != 21 || r.Window.Received != 41 {
				t.Errorf("window %+v: want 20 rows, 21 dropped, 41 received", r.Window)
			}
		})
		if !released(b3) {
			t.Error("the second queued batch was not released")
		}
		// A request larger than the record bound is taken when nothing
		// waits: dropping it would leave every such request out.
		big, wantBig := capture(m, 100, 140)
		settle(t, big, wantBig, func() { m.Evaluate() })
		if got := m.dropped.Load(); got != 21 {
			t.Errorf("a lone batch above the record bound was dropped (%d dropped)", got)
		}
	})
	t.Run("batch released by its producer", func(t *testing.T) {
		// A producer's bug panics in its own request, and leaves the
		// queue working for the next ones.
		// (A pooled batch is emptied by its last Release: one of no pool
		// keeps its records.)
		m := newMon(t, Config{})
		b := leadscore.NewBatch(records(d, 0, 10, "x", t0))
		b.Release()
		func() {
			defer func() {
				if recover() == nil {
					t.Error("CaptureBatch of a released batch did not panic")
				}
			}()
			m.CaptureBatch(b)
		}()
		next, want := capture(m, 10, 20)
		settle(t, next, want, func() {
			if r := m.Evaluate(); r.Window.Rows != 10 {
				t.Errorf("window of %d rows after the panic, want 10", r.Window.Rows)
			}
		})
	})
	t.Run("rebase", func(t *testing.T) {
		m := newMon(t, Config{})
		b, want := capture(m, 0, 10)
		// One feature fewer: the queued records (no FeatureNames) are
		// rejected by their width.
		other := slices.Clone(d.names[:len(d.names)-1])
		if err := m.Rebase(Rebase{Baseline: base, Features: other}); err != nil {
			t.Fatal(err)
		}
		settle(t, b, want, func() {
			if r := m.Evaluate(); r.Window.Rows != 0 || r.Window.Rejected != 10 {
				t.Errorf("window %+v: want the old model's 10 records rejected", r.Window)
			}
		})
	})
}

// TestDrainKeepsEveryRecordBatches is TestDrainKeepsEveryRecord by
// reference, with Evaluate and Feedback taking the queue too while the
// writers capture: every record reaches the window, each writer's in the
// order it captured them, and every batch is released.
func TestDrainKeepsEveryRecordBatches(t *testing.T) {
	d := loadDemo(t, "leads_10k.csv")
	const writers, perWriter, batch = 8, 50, 5
	m := newMonitor(t, Config{Baseline: baselineOf(t, d, 0, 1000), Features: d.names, WindowRows: writers * perWriter * batch,
		DrainInterval: time.Millisecond, EvalInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var pool leadscore.BatchPool
	var mu sync.Mutex
	var all []*leadscore.Batch
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			lo := w * perWriter * batch
			for i := range perWriter {
				b := pooledBatch(&pool, records(d, lo+i*batch, lo+(i+1)*batch, "w", t0))
				m.CaptureBatch(b)
				b.Release()
				mu.Lock()
				all = append(all, b)
				mu.Unlock()
			}
		})
	}
	stop := make(chan struct{})
	var takers sync.WaitGroup
	takers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			m.Evaluate()
			m.Feedback([]Feedback{{InferenceID: "w1"}})
		}
	})
	wg.Wait()
	close(stop)
	takers.Wait()
	total := writers * perWriter * batch
	windowComplete(t, m, total, cancel, done)
	// The pool is the test's only: a batch is cleared at its last Release
	// (and is empty when taken again).
	for i, b := range all {
		if !released(b) {
			t.Fatalf("batch %d still referenced", i)
		}
	}
	last := make(map[int]int)
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := m.win.start; k < m.win.next; k++ {
		row := atoiTest(m.win.inf[m.win.slot(k)][1:])
		w := row / (perWriter * batch)
		if prev, ok := last[w]; ok && row <= prev {
			t.Fatalf("writer %d: row %d after row %d", w, row, prev)
		}
		last[w] = row
	}
}

// TestDrainWakesAtHalfTheRecordBound: with a small QueueRecords, Run
// wakes once half of it waits, whatever the drain interval, so that a
// late drain does not drop what a larger bound would have kept.
func TestDrainWakesAtHalfTheRecordBound(t *testing.T) {
	d := loadDemo(t, "leads_10k.csv")
	m := newMonitor(t, Config{Baseline: baselineOf(t, d, 0, 1000), Features: d.names, QueueRecords: 100,
		DrainInterval: time.Hour, EvalInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var pool leadscore.BatchPool
	capture := func(lo, hi int) {
		b := pooledBatch(&pool, records(d, lo, hi, "h", t0))
		m.CaptureBatch(b)
		b.Release()
	}
	capture(0, 30)
	capture(30, 45)
	time.Sleep(50 * time.Millisecond)
	if n := windowRows(m); n != 0 {
		t.Fatalf("window has %d rows with 45 of 100 records queued and an hour's interval", n)
	}
	capture(45, 60) // 60 of 100: over half
	testutil.EventuallyState(t, 5*time.Second, "the queue drained at half its record bound", func() (bool, string) {
		n := windowRows(m)
		return n == 60, "rows " + itoa(n)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := m.dropped.Load(); got != 0 {
		t.Errorf("dropped %d", got)
	}
}
