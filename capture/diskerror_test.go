package capture

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// blockDay makes the day's partition folder impossible to create (a file
// stands where it should be), as a failing disk would.
func blockDay(t *testing.T, dir string) (unblock func()) {
	t.Helper()
	p := filepath.Join(dir, "predictions", "dt=2025-11-26")
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}

// blockJournal makes journal segments impossible to create.
func blockJournal(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, journalDir)
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDiskErrorKeepsJournalAndRetries(t *testing.T) {
	dir := t.TempDir()
	unblock := blockDay(t, dir)
	logs := &logBuffer{}
	w := newTestWriter(t, Config{Dir: dir, RollAge: 20 * time.Millisecond, SyncInterval: 5 * time.Millisecond}, logs)
	recs := makeRecords(500, t0, time.Second)
	w.Capture(recs)
	eventually(t, "the segment to be kept", func() bool { return w.counters.retainedSegments.Load() == 1 })
	if w.counters.errors[opParquetWrite].Load() == 0 || w.Healthy() {
		t.Fatalf("errors %d, healthy %v", w.counters.errors[opParquetWrite].Load(), w.Healthy())
	}
	if s := w.Stats(); s.Dropped[DropDiskError] != 0 || s.Written != 0 {
		t.Fatalf("nothing may be lost while the journal holds it: %+v", s)
	}
	if !strings.Contains(logs.String(), "cannot write lake file") {
		t.Fatalf("logs: %s", logs)
	}
	// The disk recovers: the kept segment is replayed on the next retry.
	unblock()
	eventually(t, "the retry to succeed", func() bool { return w.counters.retainedSegments.Load() == 0 })
	closeWriter(t, w)
	if s := w.Stats(); s.Replayed != 500 || !s.Healthy {
		t.Fatalf("stats %+v", s)
	}
	checkRows(t, readLake(t, dir), recs)
	assertNoLeftovers(t, dir)
}

func TestDiskErrorUntilRestart(t *testing.T) {
	dir := t.TempDir()
	unblock := blockDay(t, dir)
	w := newTestWriter(t, Config{Dir: dir}, nil)
	recs := makeRecords(300, t0, time.Second)
	w.Capture(recs)
	err := w.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "1 journal segment(s) could not be written") {
		t.Fatalf("close: %v", err)
	}
	// Next start, with the disk fixed: the segment is replayed.
	unblock()
	w = newTestWriter(t, Config{Dir: dir}, nil)
	closeWriter(t, w)
	checkRows(t, readLake(t, dir), recs)
}

func TestJournalUnavailable(t *testing.T) {
	dir := t.TempDir()
	logs := &logBuffer{}
	w := newTestWriter(t, Config{Dir: dir}, logs)
	blockJournal(t, dir)
	recs := makeRecords(200, t0, time.Second)
	w.Capture(recs)
	closeWriter(t, w)
	// Without the journal the records still reach the lake (only crash
	// protection is lost), and the failure is visible.
	checkRows(t, readLake(t, dir), recs)
	if s := w.Stats(); s.Journaled != 0 || s.Healthy || w.counters.errors[opJournalWrite].Load() == 0 {
		t.Fatalf("stats %+v", s)
	}
	if !strings.Contains(logs.String(), "cannot create journal segment") {
		t.Fatalf("logs: %s", logs)
	}
}

func TestJournalAndLakeUnavailable(t *testing.T) {
	dir := t.TempDir()
	blockDay(t, dir)
	w := newTestWriter(t, Config{Dir: dir}, nil)
	blockJournal(t, dir)
	w.Capture(makeRecords(200, t0, time.Second))
	err := w.Close(context.Background())
	// Neither the journal nor the lake could take them: lost, and counted.
	if got := w.Stats().Dropped[DropDiskError]; got != 200 {
		t.Fatalf("disk_error drops = %d, want 200", got)
	}
	if err == nil || !strings.Contains(err.Error(), "200 record(s) lost to disk errors") {
		t.Fatalf("close: %v", err)
	}
}

// faultyDisk fails writes with ENOSPC while full is set.
type faultyDisk struct{ full atomic.Bool }

func (d *faultyDisk) wrap(w io.Writer) io.Writer { return faultWriter{w: w, d: d} }

type faultWriter struct {
	w io.Writer
	d *faultyDisk
}

func (f faultWriter) Write(p []byte) (int, error) {
	if f.d.full.Load() {
		return 0, syscall.ENOSPC
	}
	return f.w.Write(p)
}

func newFaultyWriter(t *testing.T, cfg Config, tune tuning) *Writer {
	t.Helper()
	w, err := newWriter(cfg, testFeatures, nil, nil, tune)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// A disk that fills up while a partition's files roll by size: the failed
// file's records, and the partition's later ones, stay in the journal and
// are replayed after the closed files' rows, without loss or duplicates.
func TestLakeDiskFullMidPartition(t *testing.T) {
	dir := t.TempDir()
	disk := &faultyDisk{}
	tune := testTuning()
	tune.wrapLake = disk.wrap
	w := newFaultyWriter(t, Config{Dir: dir, RollBytes: 16 << 10, RowGroupRows: 256,
		RollAge: 100 * time.Millisecond, SyncInterval: 5 * time.Millisecond}, tune)
	recs := makeRecords(6000, t0.Add(5*time.Minute), 100*time.Millisecond) // one hour
	for i := 0; i < 3000; i += 100 {
		w.Capture(recs[i : i+100])
	}
	eventually(t, "files rolled by size", func() bool { return w.Stats().Files >= 2 })
	disk.full.Store(true)
	for i := 3000; i < 6000; i += 100 {
		w.Capture(recs[i : i+100])
	}
	eventually(t, "the segment to be kept", func() bool { return w.counters.retainedSegments.Load() >= 1 })
	if w.Healthy() || w.Stats().Dropped[DropDiskError] != 0 {
		t.Fatalf("stats %+v", w.Stats())
	}
	disk.full.Store(false)
	eventually(t, "the retries to succeed", func() bool { return w.counters.retainedSegments.Load() == 0 })
	closeWriter(t, w)
	checkRows(t, readLake(t, dir), recs)
	if s := w.Stats(); s.Replayed == 0 || s.Written != 6000 {
		t.Fatalf("stats %+v", s)
	}
	assertNoLeftovers(t, dir)
}

// A journal disk that fills up mid-segment: capture goes on without crash
// protection (records still reach the lake), and the journal resumes once
// the disk has room.
func TestJournalDiskFullMidSegment(t *testing.T) {
	dir := t.TempDir()
	disk := &faultyDisk{}
	tune := testTuning()
	tune.wrapJournal = disk.wrap
	w := newFaultyWriter(t, Config{Dir: dir, SyncInterval: 5 * time.Millisecond}, tune)
	recs := makeRecords(900, t0, time.Second)
	w.Capture(recs[:300])
	eventually(t, "the first records journaled", func() bool { return w.Stats().Journaled == 300 })
	disk.full.Store(true)
	w.Capture(recs[300:600])
	eventually(t, "the journal failure", func() bool { return w.counters.errors[opJournalWrite].Load() > 0 })
	if w.Healthy() {
		t.Fatal("healthy with a failing journal")
	}
	disk.full.Store(false)
	// A fresh segment is tried once the failed generation is old enough.
	sent := slices.Clone(recs[:600])
	eventually(t, "the journal to resume", func() bool {
		probe := makeRecords(1, t0, 0)
		probe[0].InferenceID = fmt.Sprintf("probe-%d", len(sent))
		w.Capture(probe)
		sent = append(sent, probe[0])
		time.Sleep(5 * time.Millisecond)
		return w.Stats().Journaled > 300
	})
	w.Capture(recs[600:])
	sent = append(sent, recs[600:]...)
	closeWriter(t, w)
	checkRows(t, readLake(t, dir), sent)
	if s := w.Stats(); s.Dropped[DropDiskError] != 0 {
		t.Fatalf("stats %+v", s)
	}
	assertNoLeftovers(t, dir)
}
