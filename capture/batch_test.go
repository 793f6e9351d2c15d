package capture

import (
	"fmt"
	"math"
	"testing"
	"time"
	"unsafe"

	"github.com/leadscore/leadscore"
)

// TestCaptureBatch: batches queued by reference, interleaved with copied
// records and with batches that must be copied (a zero Time, another
// feature count), reach the lake exactly as Capture would put them, and
// every batch goes back to its pool once written, never while queued.
func TestCaptureBatch(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	recs := makeRecords(3000, t0, 3*time.Second)
	var pool leadscore.BatchPool
	var batches []*leadscore.Batch
	var want []leadscore.Record
	for i, k := 0, 0; i < len(recs); k++ {
		n := min(1+i%37, len(recs)-i)
		part := recs[i : i+n]
		i += n
		switch k % 5 {
		case 0: // the copying path
			w.Capture(part)
			want = append(want, part...)
			continue
		case 1: // a zero Time: the journal sets it, so the batch is copied
			part = append([]leadscore.Record(nil), part...)
			part[0].Time = time.Time{}
		}
		b := pool.Get(len(part), 3*len(part))
		for j := range part {
			b.Records[j] = part[j]
			b.Records[j].Features = b.Features[3*j : 3*j+3 : 3*j+3]
			copy(b.Records[j].Features, part[j].Features)
		}
		w.CaptureBatch(b)
		b.Release()
		batches = append(batches, b)
		if k%5 == 1 {
			continue // its first record's time is the capture's: checked below
		}
		want = append(want, part...)
	}
	// One more batch whose records cannot be columns (2 features for 3):
	// dropped as schema_mismatch, never kept.
	bad := leadscore.NewBatch([]leadscore.Record{{Time: t0, InferenceID: "bad", Features: []float32{1, 2}}})
	w.CaptureBatch(bad)
	closeWriter(t, w)

	rows := readLake(t, dir)
	if got, wantN := len(rows), 3000; got != wantN {
		t.Fatalf("lake has %d rows, want %d", got, wantN)
	}
	byID := make(map[string]lakeRow, len(rows))
	for _, r := range rows {
		byID[r.InferenceID] = r
	}
	var kept []lakeRow
	for _, r := range want {
		kept = append(kept, byID[r.InferenceID])
	}
	checkRows(t, kept, want)
	s := w.Stats()
	if s.Captured != 3000 || s.Written != 3000 || s.Journaled != 3000 {
		t.Fatalf("stats %+v", s)
	}
	if s.Dropped[DropSchemaMismatch] != 1 {
		t.Errorf("dropped %v, want one schema_mismatch", s.Dropped)
	}
	// Every batch is back in its pool: released, its records cleared.
	for i, b := range batches {
		if len(b.Records) != 0 {
			t.Fatalf("batch %d not released after Close (%d records)", i, len(b.Records))
		}
	}
	assertNoLeftovers(t, dir)
}

// captureHeld hands w the two-record batch b and its producer's
// reference, checks that b is held while queued (what names that state in
// the failure), then closes w and checks that b was released once written.
func captureHeld(t *testing.T, w *Writer, b *leadscore.Batch, while string) {
	t.Helper()
	w.CaptureBatch(b)
	b.Release()
	if len(b.Records) != 2 {
		t.Fatal("the batch was released while " + while)
	}
	closeWriter(t, w)
	if len(b.Records) != 0 {
		t.Fatal("the batch was not released once written")
	}
}

// TestCaptureBatchHeldUntilWritten: a batch queued by reference is not
// released (its storage not reused) before the lake has written it.
func TestCaptureBatchHeldUntilWritten(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	var pool leadscore.BatchPool
	b := pool.Get(2, 6)
	for j := range b.Records {
		b.Records[j] = leadscore.Record{Time: t0, InferenceID: fmt.Sprint("held-", j),
			Model: "m", Features: b.Features[3*j : 3*j+3], Probability: 0.5}
		copy(b.Records[j].Features, []float32{1, float32(math.Inf(1)), 3})
	}
	captureHeld(t, w, b, "queued")
	if rows := readLake(t, dir); len(rows) != 2 || rows[0].Income == nil || !math.IsInf(float64(*rows[0].Income), 1) {
		t.Fatalf("rows %+v", rows)
	}
}

// TestCaptureBatchCopiedHeldForIDs: a batch whose records must be copied
// into the queue (here a zero Time) is still held until the lake has
// written them, since the copies' ids are the batch's storage
// (leadscore.Batch.IDs), another request's once it is released; the lake
// then has the ids as they were.
func TestCaptureBatchCopiedHeldForIDs(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir}, nil)
	var pool leadscore.BatchPool
	b := pool.Get(2, 6)
	b.IDs = append(b.IDs[:0], "copied-0copied-1lead-0lead-1"...)
	ids := string(b.IDs) // what the records' ids say, kept aside
	for j := range b.Records {
		b.Records[j] = leadscore.Record{Model: "m", Features: b.Features[3*j : 3*j+3], Probability: 0.5}
		b.Records[j].InferenceID = unsafeView(b.IDs[8*j : 8*j+8])
		b.Records[j].LeadID = unsafeView(b.IDs[16+6*j : 22+6*j])
		copy(b.Records[j].Features, []float32{1, 2, 3})
	}
	b.Records[1].Time = t0 // b.Records[0].Time is zero: the batch is copied
	captureHeld(t, w, b, "its copies were queued")
	rows := readLake(t, dir)
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	for j, r := range rows {
		if want := ids[8*j : 8*j+8]; r.InferenceID != want || r.LeadID == nil || *r.LeadID != ids[16+6*j:22+6*j] {
			t.Errorf("row %d: ids %q, %v; want %q", j, r.InferenceID, r.LeadID, want)
		}
	}
}

// unsafeView is a string sharing b's bytes, as a producer building ids in
// a batch's storage makes them.
func unsafeView(b []byte) string { return unsafe.String(&b[0], len(b)) } // #nosec G103 -- test: a view, as httpapi makes
