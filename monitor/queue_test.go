package monitor

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

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
	testutil.EventuallyState(t, 5*time.Second, "every record in the window", func() (bool, string) {
		n := windowRows(m)
		return n == total, "rows " + itoa(n)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := m.dropped.Load(); got != 0 {
		t.Errorf("dropped %d", got)
	}
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

// TestQueueCopiesFeatures: put copies the records' features into the
// queue's own storage, recycled from take to take: concurrent callers
// that overwrite their feature buffer right after Capture (as the HTTP
// server does) while takes and recycles go on still leave every record
// with its own features.
func TestQueueCopiesFeatures(t *testing.T) {
	q := newBatchQueue(1 << 20)
	const callers, requests, rows, nf = 6, 200, 9, 4
	var wg sync.WaitGroup
	for g := range callers {
		wg.Go(func() {
			feats := make([]float32, rows*nf)
			recs := make([]leadscore.Record, rows)
			for k := range requests {
				for j := range rows {
					f := feats[j*nf : (j+1)*nf : (j+1)*nf]
					for i := range f {
						f[i] = float32(g*1_000_000 + k*100 + j)
					}
					recs[j] = leadscore.Record{InferenceID: strconv.Itoa(g*1_000_000 + k*100 + j), Features: f}
				}
				if !q.put(recs) {
					t.Error("queue full")
				}
				clear(feats) // the caller reuses its buffer at once
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	total := 0
	check := func(recs []leadscore.Record) {
		for _, r := range recs {
			id, _ := strconv.Atoi(r.InferenceID)
			for _, v := range r.Features {
				if v != float32(id) {
					t.Fatalf("record %s has features %v", r.InferenceID, r.Features)
				}
			}
		}
		total += len(recs)
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		q.drainMu.Lock()
		recs := q.take()
		check(recs)
		q.recycle(recs)
		q.drainMu.Unlock()
	}
	if total != callers*requests*rows {
		t.Fatalf("%d records, want %d", total, callers*requests*rows)
	}
}
