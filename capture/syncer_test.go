package capture

import (
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// stuckDisk is an fsync (tuning.fsync) of journal segments whose calls
// block until released, one release per call, and that reports whether
// the file was closed under a running sync.
type stuckDisk struct {
	entered chan struct{} // one per call, when it begins
	release chan struct{} // one per call, to let it return
	calls   atomic.Int64
	mu      sync.Mutex
	misuse  []string
}

func newStuckDisk() *stuckDisk {
	return &stuckDisk{entered: make(chan struct{}, 64), release: make(chan struct{}, 64)}
}

func (d *stuckDisk) fsync(f *os.File) error {
	if !strings.HasSuffix(f.Name(), segmentExt) {
		return f.Sync() // lake files: closer_test.go
	}
	d.calls.Add(1)
	select {
	case d.entered <- struct{}{}:
	default: // nobody counts them any more
	}
	<-d.release
	err := f.Sync()
	if _, serr := f.Stat(); errors.Is(serr, os.ErrClosed) || errors.Is(err, os.ErrClosed) {
		d.mu.Lock()
		d.misuse = append(d.misuse, f.Name()+" closed while its fsync ran")
		d.mu.Unlock()
	}
	return err
}

func (d *stuckDisk) check(t *testing.T) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.misuse) > 0 {
		t.Fatal(strings.Join(d.misuse, "; "))
	}
}

func waitEntered(t *testing.T, d *stuckDisk) {
	t.Helper()
	select {
	case <-d.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no fsync began")
	}
}

// An fsync that does not return (a slow or hung disk) must not stop the
// journal: records captured meanwhile are written to the segment (the
// queue keeps draining), and Synced claims only the records journaled
// before the stuck fsync began, until a sync that began after them
// returns.
func TestJournalWritesWhileFsyncBlocks(t *testing.T) {
	dir := t.TempDir()
	disk := newStuckDisk()
	tune := testTuning()
	tune.fsync = disk.fsync
	// A queue of two batches: without the syncer, the third batch would
	// wait for the stuck fsync (QueueWait) and then be dropped.
	w := newFaultyWriter(t, Config{Dir: dir, SyncInterval: 5 * time.Millisecond, QueueDepth: 100,
		QueueWait: -1}, tune)
	recs := makeRecords(1050, t0, time.Second)
	w.Capture(recs[:50])
	waitEntered(t, disk) // the first group commit, of those 50, is stuck
	if s := w.Stats(); s.Journaled != 50 || s.Synced != 0 {
		t.Fatalf("journaled %d synced %d before any fsync returned", s.Journaled, s.Synced)
	}
	for i := 50; i < 1050; i += 50 {
		w.Capture(recs[i : i+50])
		eventually(t, "the batch to be journaled while the fsync is stuck", func() bool {
			return w.Stats().Journaled == uint64(i+50)
		})
	}
	if s := w.Stats(); s.Synced != 0 || s.Dropped[DropQueueFull] != 0 || disk.calls.Load() != 1 {
		t.Fatalf("while the first fsync is stuck: synced %d, queue_full %d, fsync calls %d (want 0, 0, 1)",
			s.Synced, s.Dropped[DropQueueFull], disk.calls.Load())
	}
	// The stuck fsync returns: it covered the first 50 records only. The
	// next one (begun at once, ticks having come meanwhile) is stuck too.
	disk.release <- struct{}{}
	eventually(t, "the first fsync's records to count as synced", func() bool { return w.Stats().Synced == 50 })
	waitEntered(t, disk)
	time.Sleep(20 * time.Millisecond) // ticks come and go; nothing else may count
	if s := w.Stats(); s.Synced != 50 {
		t.Fatalf("synced %d while the second fsync is stuck, want 50", s.Synced)
	}
	disk.release <- struct{}{}
	eventually(t, "the second fsync's records to count as synced", func() bool { return w.Stats().Synced == 1050 })
	close(disk.release) // later fsyncs return at once
	closeWriter(t, w)
	disk.check(t)
	if !w.Healthy() {
		t.Fatalf("unhealthy after the fsyncs returned: %+v", w.Stats())
	}
	checkRows(t, readLake(t, dir), recs)
	assertNoLeftovers(t, dir)
}

// A generation that rolls while its segment's fsync is stuck: the journal
// goes on into the next segment, the old segment is closed only after its
// fsync returned (and its tail was synced), and the lake removes it only
// then.
func TestJournalRollWhileFsyncBlocks(t *testing.T) {
	dir := t.TempDir()
	disk := newStuckDisk()
	tune := testTuning()
	tune.fsync = disk.fsync
	w := newFaultyWriter(t, Config{Dir: dir, SyncInterval: 5 * time.Millisecond, RollAge: 20 * time.Millisecond}, tune)
	recs := makeRecords(600, t0, time.Second)
	w.Capture(recs[:300])
	waitEntered(t, disk)
	first := journalFiles(t, dir)
	if len(first) != 1 {
		t.Fatalf("journal %v, want one segment", first)
	}
	time.Sleep(50 * time.Millisecond) // past RollAge: the generation rolls
	w.Capture(recs[300:])
	eventually(t, "the next generation to be journaled", func() bool {
		segs := journalFiles(t, dir)
		return w.Stats().Journaled == 600 && len(segs) == 2 && segs[0] == first[0]
	})
	// The lake closed the first generation's files but must keep its
	// segment while the fsync of it runs.
	eventually(t, "the first generation's files", func() bool { return w.Stats().Written == 300 })
	time.Sleep(20 * time.Millisecond)
	if segs := journalFiles(t, dir); len(segs) == 0 || segs[0] != first[0] {
		t.Fatalf("segment %s removed while its fsync was stuck (journal %v)", first[0], segs)
	}
	if s := w.Stats(); s.Synced != 0 {
		t.Fatalf("synced %d while the first fsync is stuck", s.Synced)
	}
	close(disk.release)
	eventually(t, "the first segment to be removed", func() bool {
		segs := journalFiles(t, dir)
		return len(segs) == 0 || segs[0] != first[0]
	})
	closeWriter(t, w)
	disk.check(t)
	checkRows(t, readLake(t, dir), recs)
	assertNoLeftovers(t, dir)
}

// A failed fsync, now run off the journal goroutine, is handled as before:
// counted (journal_sync), the segment given up (journal_write, unhealthy),
// nothing claimed as synced, the records still reach the lake, and a fresh
// segment is tried later.
func TestJournalSyncErrorFailsSegment(t *testing.T) {
	dir := t.TempDir()
	var fail atomic.Bool
	fail.Store(true)
	var failed atomic.Int64
	tune := testTuning()
	tune.fsync = func(f *os.File) error {
		if fail.Load() && strings.HasSuffix(f.Name(), segmentExt) {
			failed.Add(1)
			return syscall.EIO
		}
		return f.Sync()
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	w, err := newWriter(Config{Dir: dir, SyncInterval: 5 * time.Millisecond}, testFeatures, nil, log, tune)
	if err != nil {
		t.Fatal(err)
	}
	recs := makeRecords(600, t0, time.Second)
	w.Capture(recs[:300])
	eventually(t, "the fsync failure to be handled", func() bool {
		return w.counters.errors[opJournalSync].Load() == 1 && w.counters.errors[opJournalWrite].Load() == 1
	})
	if s := w.Stats(); s.Healthy || s.Synced != 0 || s.Journaled != 300 {
		t.Fatalf("after a failed fsync: %+v", s)
	}
	if !strings.Contains(logs.String(), "fsync: "+syscall.EIO.Error()) {
		t.Fatalf("logs: %s", logs)
	}
	// The segment was given up: later records go to the lake unjournaled
	// until a fresh segment (logEvery later) syncs fine.
	fail.Store(false)
	sent := 300
	eventually(t, "a fresh segment to sync", func() bool {
		if sent < len(recs) {
			w.Capture(recs[sent : sent+10])
			sent += 10
		}
		s := w.Stats()
		return s.Synced > 300 && s.Healthy
	})
	w.Capture(recs[sent:])
	closeWriter(t, w)
	if n := failed.Load(); n != 1 {
		t.Fatalf("%d failed fsyncs, want 1 (a failed segment is never synced again)", n)
	}
	if s := w.Stats(); s.Dropped[DropDiskError] != 0 || s.Written != 600 {
		t.Fatalf("stats %+v", s)
	}
	checkRows(t, readLake(t, dir), recs)
	assertNoLeftovers(t, dir)
}
