package capture

import (
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// stuckFiles is an fsync (tuning.fsync) of lake files that blocks until
// release is closed; journal segments sync at once.
type stuckFiles struct {
	entered chan struct{}
	release chan struct{}
}

func newStuckFiles() *stuckFiles {
	return &stuckFiles{entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (d *stuckFiles) fsync(f *os.File) error {
	if strings.HasSuffix(f.Name(), tempExt) {
		select {
		case d.entered <- struct{}{}:
		default:
		}
		<-d.release
	}
	return f.Sync()
}

func (d *stuckFiles) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-d.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no lake file was fsync'd")
	}
}

// A lake file whose fsync does not return (a slow disk at a roll) must not
// stop the lake goroutine, nor through it the journal and the queue: the
// generations that follow are journaled and written while the closer
// waits, nothing is renamed or removed before its fsync returned, and in
// the end every record is in the lake once.
func TestLakeWritesWhileCloseBlocks(t *testing.T) {
	dir := t.TempDir()
	disk := newStuckFiles()
	tune := testTuning()
	tune.fsync = disk.fsync
	// A queue of one batch, no waiting: a stalled lake goroutine would
	// make Captures drop (queue_full) within a few batches.
	w := newFaultyWriter(t, Config{Dir: dir, SyncInterval: 5 * time.Millisecond, RollAge: 20 * time.Millisecond,
		QueueDepth: 100, QueueWait: -1}, tune)
	recs := makeRecords(1200, t0, time.Second)
	w.Capture(recs[:100])
	disk.waitEntered(t) // the first generation rolled; its file's fsync is stuck
	for i := 100; i < len(recs); i += 100 {
		time.Sleep(25 * time.Millisecond) // past RollAge: each batch is a generation
		w.Capture(recs[i : i+100])
		eventually(t, "the batch to be journaled and taken by the lake", func() bool {
			s := w.Stats()
			return s.Journaled == uint64(i+100) && s.QueueDepth == 0
		})
	}
	s := w.Stats()
	if s.Dropped[DropQueueFull] != 0 || s.Written != 0 || s.Files != 0 {
		t.Fatalf("while a close is stuck: %+v", s)
	}
	if files := lakeFiles(t, dir); len(files) != 0 {
		t.Fatalf("files renamed before their fsync returned: %v", files)
	}
	if segs := journalFiles(t, dir); len(segs) < 2 {
		t.Fatalf("journal %v: segments removed before their files were in place", segs)
	}
	close(disk.release)
	eventually(t, "the closes to finish", func() bool { return w.Stats().Written == uint64(len(recs)) })
	closeWriter(t, w)
	checkRows(t, readLake(t, dir), recs)
	assertNoLeftovers(t, dir)
}

// A lake file that fails to close in the closer (after the lake goroutine
// went on writing its partition into later files): the later files of that
// partition in that generation are discarded, not renamed after a gap, and
// the segment is kept and replayed, so every record is in the lake exactly
// once (replay skips the rows of a partition's closed files by count).
func TestLakeCloseErrorKeepsPartitionPrefix(t *testing.T) {
	dir := t.TempDir()
	var calls atomic.Int64
	tune := testTuning()
	tune.fsync = func(f *os.File) error {
		if strings.HasSuffix(f.Name(), tempExt) && calls.Add(1) == 1 {
			return syscall.EIO
		}
		return f.Sync()
	}
	logs := &logBuffer{}
	w, err := newWriter(Config{Dir: dir, SyncInterval: 5 * time.Millisecond, RollBytes: 1, RowGroupRows: 50},
		testFeatures, nil, slog.New(slog.NewTextHandler(logs, nil)), tune)
	if err != nil {
		t.Fatal(err)
	}
	recs := makeRecords(600, t0.Add(5*time.Minute), time.Second) // one partition, files of 64 rows
	for i := 0; i < len(recs); i += 100 {
		w.Capture(recs[i : i+100])
	}
	eventually(t, "the failed close", func() bool { return w.counters.errors[opParquetClose].Load() == 1 })
	eventually(t, "the records to be journaled", func() bool { return w.Stats().Journaled == 600 })
	closeWriter(t, w)
	if !strings.Contains(logs.String(), "cannot write lake file") || !strings.Contains(logs.String(), "journal segment kept") {
		t.Fatalf("logs: %s", logs)
	}
	s := w.Stats()
	if n := w.counters.errors[opParquetClose].Load(); n != 1 {
		t.Errorf("parquet_close errors %d, want 1 (the later files are discarded, not failed)", n)
	}
	if s.Replayed != 600 || s.Written != 600 || s.Dropped[DropDiskError] != 0 {
		t.Fatalf("stats %+v; want the whole generation replayed from its kept segment", s)
	}
	checkRows(t, readLake(t, dir), recs)
	assertNoLeftovers(t, dir)
}

// A crash while files wait for the closer: the files renamed before it
// are a prefix of their partition, the others are temporary files, and
// the segment is still there, so the restart's replay writes each record
// once.
func TestCrashWithClosesInFlight(t *testing.T) {
	dir := t.TempDir()
	disk := newStuckFiles()
	tune := testTuning()
	tune.fsync = disk.fsync
	cfg := Config{Dir: dir, SyncInterval: 5 * time.Millisecond, RollBytes: 1, RowGroupRows: 50}
	w := newFaultyWriter(t, cfg, tune)
	recs := makeRecords(600, t0.Add(5*time.Minute), time.Second) // one partition, files of 64 rows
	for i := 0; i < len(recs); i += 100 {
		w.Capture(recs[i : i+100])
	}
	disk.waitEntered(t) // the first file's fsync is stuck
	eventually(t, "the records to be journaled", func() bool {
		s := w.Stats()
		return s.Journaled == 600 && s.QueueDepth == 0
	})
	time.Sleep(50 * time.Millisecond) // the lake goroutine hands over the later files
	go func() {
		time.Sleep(50 * time.Millisecond)
		close(disk.release) // the stuck fsync returns after the crash began
	}()
	w.crash()
	if files := lakeFiles(t, dir); len(files) != 1 || !strings.HasSuffix(files[0], "-0000"+partExt) {
		t.Fatalf("after the crash: %v, want only the first file of the partition", files)
	}
	if n := len(segments(t, dir)); n != 1 {
		t.Fatalf("%d segments after the crash, want 1", n)
	}

	w = newTestWriter(t, Config{Dir: dir}, nil)
	closeWriter(t, w)
	if s := w.Stats(); s.Replayed != 600-64 {
		t.Fatalf("replayed %d, want the %d records after the first file", s.Replayed, 600-64)
	}
	checkRows(t, readLake(t, dir), recs)
	assertNoLeftovers(t, dir)
}
