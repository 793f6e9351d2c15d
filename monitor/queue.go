package monitor

import (
	"sync"

	"github.com/leadscore/leadscore"
)

// batchQueue is the bounded hand-off from Capture (the request path) to
// the monitor's goroutine: copies of the records of at most limit Capture
// calls (batches). A put signals ready only when the queue was empty or
// has just reached half its limit, so that the goroutine wakes once per
// DrainInterval under load, not once per request (each wake-up is a futex
// pair). Records are copied in, so the caller may reuse its slice
// (leadscore.SliceCopier); the copies' buffer is recycled from one take
// to the next.
type batchQueue struct {
	mu      sync.Mutex
	records []leadscore.Record
	batches int // Capture calls whose records are in records
	limit   int
	ready   chan struct{} // one token: the goroutine has work to take

	// drainMu serialises the takers (the goroutine, Evaluate, Feedback),
	// so that records reach the window in the order they were captured;
	// spare is the emptied buffer of the last take, reused by the next.
	drainMu sync.Mutex
	spare   []leadscore.Record
}

// maxSpareRecords bounds the buffer kept for the next take, so that one
// burst does not pin its memory.
const maxSpareRecords = 16 << 10

func newBatchQueue(limit int) batchQueue {
	return batchQueue{limit: limit, ready: make(chan struct{}, 1)}
}

// put queues copies of recs; false when the queue holds limit batches
// already.
func (q *batchQueue) put(recs []leadscore.Record) bool {
	q.mu.Lock()
	n := q.batches
	if n >= q.limit {
		q.mu.Unlock()
		return false
	}
	q.records = append(q.records, recs...)
	q.batches++
	q.mu.Unlock()
	if n == 0 || n+1 == (q.limit+1)/2 {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return true
}

// take returns every queued record, in order. Callers hold drainMu and
// hand the slice back with recycle once applied.
func (q *batchQueue) take() []leadscore.Record {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.records
	spare := q.spare
	if spare == nil {
		// The first take, or one after a burst: size the next buffer for
		// a take like this one rather than growing it on the request path.
		spare = make([]leadscore.Record, 0, min(len(out), maxSpareRecords))
	}
	q.records, q.batches = spare, 0
	q.spare = nil
	return out
}

// recycle keeps an applied take's buffer for the next take, dropping its
// references to the records' data. Callers hold drainMu.
func (q *batchQueue) recycle(recs []leadscore.Record) {
	clear(recs)
	if cap(recs) <= maxSpareRecords {
		q.spare = recs[:0]
	}
}
