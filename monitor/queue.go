package monitor

import (
	"sync"

	"github.com/leadscore/leadscore"
)

// batchQueue is the bounded hand-off from Capture (the request path) to
// the monitor's goroutine: batches of records, at most limit of them. A
// put signals ready only when the queue was empty or has just reached
// half its limit, so that the goroutine wakes once per DrainInterval
// under load, not once per request (each wake-up is a futex pair).
type batchQueue struct {
	mu      sync.Mutex
	batches [][]leadscore.Record
	limit   int
	ready   chan struct{} // one token: the goroutine has work to take

	// drainMu serialises the takers (the goroutine, Evaluate, Feedback),
	// so that records reach the window in the order they were captured;
	// spare is the emptied slice of the last take, reused by the next.
	drainMu sync.Mutex
	spare   [][]leadscore.Record
}

func newBatchQueue(limit int) batchQueue {
	return batchQueue{limit: limit, ready: make(chan struct{}, 1)}
}

// put queues recs; false when the queue holds limit batches already.
func (q *batchQueue) put(recs []leadscore.Record) bool {
	q.mu.Lock()
	n := len(q.batches)
	if n >= q.limit {
		q.mu.Unlock()
		return false
	}
	q.batches = append(q.batches, recs)
	q.mu.Unlock()
	if n == 0 || n+1 == (q.limit+1)/2 {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return true
}

// take returns every queued batch, in order. Callers hold drainMu and
// hand the slice back with recycle once applied.
func (q *batchQueue) take() [][]leadscore.Record {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.batches
	q.batches = q.spare[:0]
	q.spare = nil
	return out
}

// recycle keeps an applied take's slice for the next take, dropping its
// references to the records. Callers hold drainMu.
func (q *batchQueue) recycle(batches [][]leadscore.Record) {
	clear(batches)
	if cap(batches) <= q.limit {
		q.spare = batches[:0]
	}
}
