//go:build unix

package capture

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
)

// fileBlocks is the bytes of disk blocks f holds (0 where the platform
// does not say).
func fileBlocks(t *testing.T, f *os.File) int64 {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	return st.Blocks * 512
}

// A segment reserves its blocks a chunk ahead of its writes without
// changing its size (a reader sees only what was written), and gives the
// unwritten part back when trimmed, its bytes untouched.
func TestSegmentPrealloc(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "seg.wal"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := fallocate(f, 0, preallocChunk); err != nil {
		t.Skipf("no preallocation here: %v", err)
	}
	if err := f.Truncate(0); err != nil { // frees the probe's blocks
		t.Fatal(err)
	}
	s := &segmentWriter{f: f}
	s.reserve(100, fallocate)
	if s.allocated != preallocChunk || s.noPrealloc {
		t.Fatalf("allocated %d (refused %v), want %d", s.allocated, s.noPrealloc, preallocChunk)
	}
	s.reserve(preallocChunk, fallocate) // within the chunk: no call
	if s.allocated != preallocChunk {
		t.Fatalf("allocated %d after a write inside the chunk", s.allocated)
	}
	s.reserve(preallocChunk+1, fallocate)
	if s.allocated != 2*preallocChunk {
		t.Fatalf("allocated %d, want two chunks", s.allocated)
	}
	data := []byte("LSCAPJ2\nsome frames")
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	if fi.Size() != int64(len(data)) {
		t.Fatalf("size %d with blocks reserved, want %d", fi.Size(), len(data))
	}
	if b := fileBlocks(t, f); b != 0 && b < 2*preallocChunk {
		t.Fatalf("%d bytes of blocks, want %d reserved", b, 2*preallocChunk)
	}
	s.trimPrealloc()
	if b := fileBlocks(t, f); b >= preallocChunk {
		t.Fatalf("%d bytes of blocks after the trim", b)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil || string(got) != string(data) {
		t.Fatalf("after the trim: %q, %v", got, err)
	}
}

// A segment crashed while preallocated replays exactly (its size is what
// was written). Where preallocation fails (a filesystem without it, a full
// disk), the journal writes as it did without: every record journaled and
// replayed, no journal failure, and one try a segment only.
func TestJournalPrealloc(t *testing.T) {
	for _, refusal := range []error{nil, errors.ErrUnsupported, syscall.EOPNOTSUPP, syscall.ENOSPC} {
		name := "allowed"
		if refusal != nil {
			name = refusal.Error()
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			var calls atomic.Int64
			tune := testTuning()
			tune.journalBufSize = 1 << 10
			tune.fallocate = func(f *os.File, off, n int64) error {
				calls.Add(1)
				if refusal == nil {
					return fallocate(f, off, n)
				}
				return refusal
			}
			w, err := newWriter(Config{Dir: dir}, testFeatures, nil, nil, tune)
			if err != nil {
				t.Fatal(err)
			}
			var all []leadscore.Record
			for i := range 30 {
				run := sharedRun(fmt.Sprintf("req-%d", i), 1+i%7*5, t0.Add(time.Duration(i)*time.Millisecond))
				w.Capture(run)
				all = append(all, run...)
			}
			eventually(t, "records to be journaled", func() bool { return w.Stats().Journaled == uint64(len(all)) })
			w.crash()
			decodesTo(t, onlySegment(t, dir), all)
			if n := calls.Load(); n != 1 {
				t.Fatalf("%d preallocation tries in one segment, want 1", n)
			}
			if f := w.counters.errors[opJournalWrite].Load(); f != 0 {
				t.Fatalf("%d journal failures", f)
			}
		})
	}
}
