package monitor

import (
	"slices"
	"sync"
	"unsafe"

	"github.com/leadscore/leadscore"
)

// batchQueue is the bounded hand-off from the request path to the
// monitor's goroutine: the batches of at most limit Capture or
// CaptureBatch calls holding at most recordLimit records (a lone batch
// larger than that is taken when the queue is empty), in capture order.
//
// CaptureBatch's batches are queued by reference (leadscore.Batch.Retain),
// so that the request path copies nothing: the goroutine reads their
// records once, into the window, and releases them. Copying every record
// and its features into a queue buffer cost a saturated server's request
// path more than the window's own work (0.67 of 13.2 CPU-s, half of it
// reallocating the buffers). Capture, whose caller may reuse its records
// and their features at once (leadscore.SliceCopier, FeatureCopier),
// copies what the window needs into a batch of the queue's own pool
// instead, sized to the call, so that no buffer grows and is dropped in
// turn under a burst.
//
// A put signals ready only when the queue was empty, has just reached half
// its limit or holds wakeRecords records, so that the goroutine wakes once
// per DrainInterval under load, not once per request (each wake-up is a
// futex pair).
type batchQueue struct {
	mu      sync.Mutex
	fill    []*leadscore.Batch // queued batches, in capture order
	records int                // records in fill
	limit   int                // batches
	// recordLimit bounds the records fill holds: the batches are the
	// request path's storage, which a slow goroutine must not pin
	// without bound.
	recordLimit int
	wake        int // records that wake the goroutine before the interval is over
	// closed is set once Run has returned: nothing will drain the queue
	// soon, so CaptureBatch copies rather than holding the request's
	// batch until some Evaluate.
	closed bool
	ready  chan struct{} // one token: the goroutine has work to take

	// drainMu serialises the takers (the goroutine, Evaluate, Feedback),
	// so that records reach the window in the order they were captured;
	// spare is the other slice of batches, empty, which the next take puts
	// in fill's place (nil while a take is being applied).
	drainMu sync.Mutex
	spare   []*leadscore.Batch

	// pool recycles the batches Capture copies records into.
	pool leadscore.BatchPool
}

// drainRecords is how many queued records wake the goroutine before the
// drain interval is over (less when that is more than half recordLimit):
// bursts are applied in takes of about this size.
const drainRecords = 8 << 10

func newBatchQueue(limit, recordLimit int) batchQueue {
	return batchQueue{limit: limit, recordLimit: recordLimit, wake: min(drainRecords, max(recordLimit/2, 1)),
		ready: make(chan struct{}, 1)}
}

// putStatus is what a put did with a batch.
type putStatus int

const (
	putQueued putStatus = iota
	putFull             // over the queue's bounds: dropped
	putClosed           // the queue is closed and the batch is not the queue's own: not queued
)

// put queues b: by reference, retained, unless own (b is the queue's, its
// only reference handed over). A batch the queue refuses is left with the
// references it came with.
func (q *batchQueue) put(b *leadscore.Batch, own bool) putStatus {
	n := len(b.Records)
	if !own {
		// Before a taker can see the batch (its Release would otherwise
		// take the producer's reference), and before the lock: Retain
		// panics on a batch its producer has released already, which
		// must not leave the queue locked for every later request.
		b.Retain()
	}
	q.mu.Lock()
	batches, before := len(q.fill), q.records
	st := putQueued
	switch {
	case !own && q.closed:
		st = putClosed
	case batches >= q.limit || (batches > 0 && before+n > q.recordLimit):
		st = putFull
	}
	if st != putQueued {
		q.mu.Unlock()
		if !own {
			b.Release() // the producer still holds its own
		}
		return st
	}
	q.fill = append(q.fill, b)
	q.records = before + n
	q.mu.Unlock()
	if batches == 0 || batches+1 == (q.limit+1)/2 || (before < q.wake && before+n >= q.wake) {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return putQueued
}

// room reports whether a batch of n records would fit now, so that
// Capture copies nothing only to drop it.
func (q *batchQueue) room(n int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	batches := len(q.fill)
	return batches < q.limit && (batches == 0 || q.records+n <= q.recordLimit)
}

// copyOf returns a batch of the queue's pool holding what the window
// reads of recs (times, ids, probabilities, feature names) and copies of
// their features, one after the other.
func (q *batchQueue) copyOf(recs []leadscore.Record) *leadscore.Batch {
	nfeat := 0
	for i := range recs {
		nfeat += len(recs[i].Features)
	}
	c := q.pool.Get(len(recs), nfeat)
	// The ids too: the caller's may be its batch's storage (Batch.IDs),
	// another request's once it is released.
	nid := 0
	for i := range recs {
		nid += len(recs[i].InferenceID) + len(recs[i].LeadID)
	}
	ids := slices.Grow(c.IDs[:0], nid)
	fo := 0
	for i := range recs {
		r, e := &recs[i], &c.Records[i]
		nf := copy(c.Features[fo:], r.Features)
		e.Features = c.Features[fo : fo+nf : fo+nf]
		fo += nf
		e.Time, e.Probability, e.FeatureNames = r.Time, r.Probability, r.FeatureNames
		e.InferenceID, ids = appendString(ids, r.InferenceID)
		e.LeadID, ids = appendString(ids, r.LeadID)
	}
	c.IDs = ids
	return c
}

// appendString appends s to buf, which has room for it, and returns the
// copy, a view of buf's bytes (never written again while it is in use).
func appendString(buf []byte, s string) (string, []byte) {
	if s == "" {
		return "", buf
	}
	at := len(buf)
	buf = append(buf, s...)
	return unsafe.String(&buf[at], len(s)), buf // #nosec G103 -- bytes never written again while the batch is in use
}

// close makes later puts of batches not the queue's own refuse them
// (closed); what is queued stays for the next take.
func (q *batchQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// take returns the queued batches, in order, and puts the spare slice in
// their place. Callers hold drainMu and hand the slice back with recycle
// once applied.
func (q *batchQueue) take() []*leadscore.Batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.fill
	q.fill, q.spare, q.records = q.spare[:0], nil, 0
	return out
}

// recycle releases the batches of an applied take and keeps the slice as
// the spare (at most limit pointers). Callers hold drainMu.
func (q *batchQueue) recycle(bs []*leadscore.Batch) {
	for _, b := range bs {
		b.Release()
	}
	clear(bs)
	q.spare = bs[:0]
}
