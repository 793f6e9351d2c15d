package capture

import (
	randv2 "math/rand/v2"
	"sync"
	"time"

	"github.com/leadscore/leadscore"
)

// schemaMark switches the feature list at position pos of the queue.
type schemaMark struct {
	pos    int
	schema *lakeSchema
}

// recordQueue is the bounded hand-off from Capture to the journal goroutine.
type recordQueue struct {
	mu sync.Mutex
	// records wait here for the journal goroutine, at most depth of them.
	records []leadscore.Record
	// marks are the SetFeatures calls among records, in order.
	marks []schemaMark
	depth int
	// featureCount is the length of the feature list in force: records of
	// another length are dropped (schema_mismatch).
	featureCount int
	closed       bool
	ready        chan struct{} // signalled (never blocking) when records grows
	// room, when not nil, is closed (and set to nil) by take: Captures
	// waiting for room wait on it.
	room chan struct{}
}

func (q *recordQueue) init(depth int, s *lakeSchema) {
	q.depth = depth
	q.featureCount = len(s.features)
	q.ready = make(chan struct{}, 1)
}

// take swaps the queued records for spare (emptied) and returns them;
// false when there is nothing (spare is not used then).
func (q *recordQueue) take(spare []leadscore.Record) ([]leadscore.Record, []schemaMark, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.records) == 0 && len(q.marks) == 0 {
		return nil, nil, false
	}
	recs, marks := q.records, q.marks
	q.records, q.marks = spare[:0], nil
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	return recs, marks, true
}

func (q *recordQueue) close() {
	q.mu.Lock()
	q.closed = true
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	q.mu.Unlock()
}

func (q *recordQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.records)
}

// waitForRoom waits, with w.queue.mu held (released while waiting), until the
// queue has room for need more records, it is empty (a batch larger than
// the whole queue goes in alone), Close began, or QueueWait passed.
func (w *Writer) waitForRoom(need int) {
	q := &w.queue
	if len(q.records)+need <= q.depth || len(q.records) == 0 {
		return
	}
	w.counters.waits.Add(1)
	t := time.NewTimer(w.cfg.QueueWait)
	defer t.Stop()
	for len(q.records)+need > q.depth && len(q.records) > 0 && !q.closed {
		if q.room == nil {
			q.room = make(chan struct{})
		}
		room := q.room
		select { // wake the journal if it sleeps
		case q.ready <- struct{}{}:
		default:
		}
		q.mu.Unlock()
		select {
		case <-room:
			q.mu.Lock()
		case <-t.C:
			q.mu.Lock()
			return
		case <-w.kill:
			q.mu.Lock()
			return
		}
	}
}

// sampleHash is FNV-1a of the inference id, or a random number when there
// is none.
func sampleHash(id string) uint64 {
	if id == "" {
		return randv2.Uint64() //nolint:gosec // G404: sampling needs spread, not secrecy
	}
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	// FNV's low bits mix poorly for short keys; finish with a multiply
	// and shift (splitmix64's finaliser).
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
