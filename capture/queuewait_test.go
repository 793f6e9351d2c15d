package capture

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

// A full queue makes Capture wait for the journal instead of dropping:
// many concurrent callers, a queue of one batch, nothing lost. The
// journal's writes are held until a Capture waits, so that the queue
// fills whatever the scheduler does (without it, 2-8% of runs on a busy
// host found room every time and failed).
func TestQueueWaitsForRoom(t *testing.T) {
	dir := t.TempDir()
	release := make(chan struct{})
	tune := testTuning()
	tune.journalBufSize = 16 // every frame reaches the (held) file
	tune.wrapJournal = func(w io.Writer) io.Writer { return &blockingWriter{w: w, release: release} }
	w, err := newWriter(Config{Dir: dir, QueueDepth: 10, QueueWait: 10 * time.Second}, testFeatures, nil, nil, tune)
	if err != nil {
		t.Fatal(err)
	}
	recs := makeRecords(500, t0, time.Millisecond)
	var wg sync.WaitGroup
	for i := 0; i < len(recs); i += 10 {
		wg.Go(func() { w.Capture(recs[i : i+10]) })
	}
	eventually(t, "a Capture to wait for room", func() bool { return w.counters.waits.Load() > 0 })
	close(release)
	wg.Wait()
	closeWriter(t, w)
	s := w.Stats()
	if s.Dropped[DropQueueFull] != 0 || s.Captured != 500 || s.Written != 500 {
		t.Fatalf("stats %+v", s)
	}
	if w.counters.waits.Load() == 0 {
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
	eventually(t, "the journal to take the first batch", func() bool { return w.queue.len() == 0 })
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

// Close ends a wait for room at once: the waiting records are counted as
// closed, and the ones already queued are still written.
func TestQueueWaitEndsAtClose(t *testing.T) {
	dir := t.TempDir()
	release := make(chan struct{})
	tune := testTuning()
	tune.journalBufSize = 16
	tune.wrapJournal = func(w io.Writer) io.Writer { return &blockingWriter{w: w, release: release} }
	w, err := newWriter(Config{Dir: dir, QueueDepth: 10, QueueWait: time.Minute}, testFeatures, nil, nil, tune)
	if err != nil {
		t.Fatal(err)
	}
	first := makeRecords(10, t0, time.Millisecond)
	w.Capture(first)
	eventually(t, "the journal to take the first batch", func() bool { return w.queue.len() == 0 })
	second := makeRecords(10, t0.Add(time.Second), time.Millisecond)
	for i := range second {
		second[i].InferenceID = "second-" + second[i].InferenceID
	}
	w.Capture(second)
	done := make(chan time.Duration)
	go func() {
		start := time.Now()
		w.Capture(makeRecords(3, t0.Add(2*time.Second), time.Millisecond)) // waits: no room
		done <- time.Since(start)
	}()
	eventually(t, "the third Capture to wait", func() bool { return w.counters.waits.Load() == 1 })
	closed := make(chan error)
	go func() { closed <- w.Close(context.Background()) }()
	select {
	case took := <-done:
		if took > 30*time.Second {
			t.Fatalf("the waiting Capture returned after %v", took)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not end the wait for room")
	}
	close(release) // the disk comes back: Close finishes the first two batches
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	s := w.Stats()
	if s.Dropped[DropClosed] != 3 || s.Dropped[DropQueueFull] != 0 || s.Written != 20 {
		t.Fatalf("stats %+v", s)
	}
	checkRows(t, readLake(t, dir), append(first, second...))
}
