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
// (leadscore.SliceCopier), and so are their Features, so the caller may
// reuse those too (leadscore.FeatureCopier); the copies' buffers are
// recycled from one take to the next, once applied.
type batchQueue struct {
	mu      sync.Mutex
	records []leadscore.Record
	// feats holds the queued records' Features, copied in by put (the
	// caller's slices are not kept); only appended to until a take hands
	// it over. The taken array comes back with recycle.
	feats   []float32
	batches int // Capture calls whose records are in records
	limit   int
	ready   chan struct{} // one token: the goroutine has work to take

	// drainMu serialises the takers (the goroutine, Evaluate, Feedback),
	// so that records reach the window in the order they were captured;
	// spare is the emptied buffer of the last take, reused by the next.
	drainMu    sync.Mutex
	spare      []leadscore.Record
	spareFeats []float32
	// taken is the feature array of the last take, recycled with it.
	taken []float32
}

// maxSpareRecords bounds the buffer kept for the next take, so that one
// burst does not pin its memory.
const maxSpareRecords = 16 << 10

// maxSpareFeatures bounds the feature array kept for the next take.
const maxSpareFeatures = 1 << 20

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
	for i := range recs {
		start := len(q.feats)
		// When append moves feats, the records queued before keep the
		// old array, which nothing writes again.
		q.feats = append(q.feats, recs[i].Features...)
		c := recs[i]
		c.Features = q.feats[start:len(q.feats):len(q.feats)]
		q.records = append(q.records, c)
	}
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
	// A spare smaller than this take (or none) is replaced by one with
	// room for half as much again, rather than grown step by step on the
	// request path: the buffers settle at the size of the largest takes.
	spare := q.spare
	if n := len(out); cap(spare) < n {
		spare = make([]leadscore.Record, 0, min(n+n/2, maxSpareRecords))
	}
	spareFeats := q.spareFeats
	if n := len(q.feats); cap(spareFeats) < n {
		spareFeats = make([]float32, 0, min(n+n/2, maxSpareFeatures))
	}
	q.taken = q.feats
	q.records, q.feats, q.batches = spare, spareFeats, 0
	q.spare, q.spareFeats = nil, nil
	return out
}

// recycle keeps an applied take's buffer for the next take, dropping its
// references to the records' data. Callers hold drainMu.
func (q *batchQueue) recycle(recs []leadscore.Record) {
	clear(recs)
	if cap(recs) <= maxSpareRecords {
		q.spare = recs[:0]
	}
	if cap(q.taken) <= maxSpareFeatures {
		q.spareFeats = q.taken[:0]
	}
	q.taken = nil
}
