package capture

import (
	"io"
	"sync"
	"testing"
	"time"
)

// A full queue makes Capture wait for the journal instead of dropping:
// many concurrent callers, a queue of one batch, nothing lost.
func TestQueueWaitsForRoom(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, Config{Dir: dir, QueueDepth: 10, QueueWait: 10 * time.Second}, nil)
	recs := makeRecords(500, t0, time.Millisecond)
	var wg sync.WaitGroup
	for i := 0; i < len(recs); i += 10 {
		wg.Go(func() { w.Capture(recs[i : i+10]) })
	}
	wg.Wait()
	closeWriter(t, w)
	s := w.Stats()
	if s.Dropped[DropQueueFull] != 0 || s.Captured != 500 || s.Written != 500 {
		t.Fatalf("stats %+v", s)
	}
	if w.c.waits.Load() == 0 {
		t.Fatal("no Capture waited: the test did not fill the queue")
	}
	checkRows(t, readLake(t, dir), recs)
}

// blockingWriter blocks every Write until released.
type blockingWriter struct {
	w       io.Writer
	release chan struct{}
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	return b.w.Write(p)
}

// A stalled journal (a hung disk) holds Capture for QueueWait at most;
// then what does not fit is dropped and counted, and the request path
// goes on.
func TestQueueWaitGivesUp(t *testing.T) {
	dir := t.TempDir()
	release := make(chan struct{})
	tune := testTuning()
	tune.journalBufSize = 16 // every frame reaches the (blocked) file
	tune.wrapJournal = func(w io.Writer) io.Writer { return &blockingWriter{w: w, release: release} }
	w, err := newWriter(Config{Dir: dir, QueueDepth: 10, QueueWait: 150 * time.Millisecond}, testFeatures, nil, nil, tune)
	if err != nil {
		t.Fatal(err)
	}
	first := makeRecords(10, t0, time.Millisecond)
	w.Capture(first) // the journal takes these and blocks writing them
	eventually(t, "the journal to take the first batch", func() bool { return w.q.len() == 0 })
	second := makeRecords(10, t0.Add(time.Second), time.Millisecond)
	for i := range second {
		second[i].InferenceID = "second-" + second[i].InferenceID
	}
	w.Capture(second) // fills the queue again, no wait
	third := makeRecords(4, t0.Add(2*time.Second), time.Millisecond)
	for i := range third {
		third[i].InferenceID = "third-" + third[i].InferenceID
	}
	start := time.Now()
	w.Capture(third) // no room and none coming: waits, then drops
	took := time.Since(start)
	if took < 150*time.Millisecond || took > 5*time.Second {
		t.Fatalf("Capture took %v with a stalled journal, want about the 150ms QueueWait", took)
	}
	if d := w.Stats().Dropped[DropQueueFull]; d != 4 {
		t.Fatalf("queue_full drops %d, want 4", d)
	}
	close(release)
	closeWriter(t, w)
	checkRows(t, readLake(t, dir), append(first, second...))
}
