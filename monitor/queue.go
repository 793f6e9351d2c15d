package monitor

import (
	"sync"

	"github.com/leadscore/leadscore"
)

// batchQueue is the bounded hand-off from Capture (the request path) to
// the monitor's goroutine: what the window needs of the records of at
// most limit Capture calls (batches). A put signals ready only when the
// queue was empty, has just reached half its limit or holds drainRecords
// records, so that the goroutine wakes once per DrainInterval under load,
// not once per request (each wake-up is a futex pair). The records are
// copied in, so the caller may reuse its slice (leadscore.SliceCopier),
// and so are their Features, so the caller may reuse those too
// (leadscore.FeatureCopier).
//
// Two buffers take turns: put appends to one while the goroutine applies
// the other, emptied and handed back for the next take with its capacity
// kept, so that the steady state allocates nothing.
type batchQueue struct {
	mu      sync.Mutex
	fill    *queueBuf // the buffer put appends to
	batches int       // Capture calls whose records are in fill
	limit   int
	ready   chan struct{} // one token: the goroutine has work to take

	// drainMu serialises the takers (the goroutine, Evaluate, Feedback),
	// so that records reach the window in the order they were captured;
	// spare is the other buffer, empty, which the next take puts in
	// fill's place (nil while a take is being applied).
	drainMu sync.Mutex
	spare   *queueBuf
}

// queued is what the window keeps of a captured record (leadscore.Record
// is four times the size): a queue copies this and the record's features
// only.
type queued struct {
	prob      float64
	at        int64 // Record.Time in unix nanoseconds, unless noTime
	inf, lead string
	nf        int32 // how many Features: the record's values are the next nf of the buffer's feats
	names     int32 // the record's FeatureNames: an index into the buffer's names, -1 for nil
	noTime    bool  // the record's Time is zero: the window takes the time it is applied
}

// queueBuf holds queued records in capture order, their features one
// after the other in feats.
type queueBuf struct {
	recs  []queued
	feats []float32
	// names are the distinct FeatureNames slices of recs (a pointer
	// compare: a model's records all share one slice), in order of first
	// use; ok is scratch for apply, one verdict per name list.
	names [][]string
	ok    []bool
}

// drainRecords is how many queued records wake the goroutine before the
// drain interval is over: bursts of large batches are applied in takes
// of about this size, which the buffers keep (maxSpareRecords), rather
// than in ever larger ones that would be allocated anew each time.
const drainRecords = 8 << 10

// maxSpareRecords bounds the records a buffer keeps room for across takes,
// so that one burst does not pin its memory (64 bytes a record).
const maxSpareRecords = 2 * drainRecords

// maxSpareFeatures bounds the feature values a buffer keeps room for.
const maxSpareFeatures = 1 << 20

func newBatchQueue(limit int) batchQueue {
	return batchQueue{limit: limit, ready: make(chan struct{}, 1), fill: &queueBuf{}, spare: &queueBuf{}}
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
	b := q.fill
	before, fo, nfeat := len(b.recs), len(b.feats), 0
	for i := range recs {
		nfeat += len(recs[i].Features)
	}
	// Room for the whole batch first, then each record's fields in place:
	// appending whole queued values costs twice as much.
	b.recs = grow(b.recs, len(recs), maxSpareRecords)[:before+len(recs)]
	b.feats = grow(b.feats, nfeat, maxSpareFeatures)[:fo+nfeat]
	for i := range recs {
		r, e := &recs[i], &b.recs[before+i]
		fo += copy(b.feats[fo:], r.Features)
		e.prob, e.inf, e.lead = r.Probability, r.InferenceID, r.LeadID
		e.nf = int32(len(r.Features)) // #nosec G115 -- a record's features are far fewer than 2^31
		e.names = b.nameIndex(r.FeatureNames)
		e.noTime = r.Time.IsZero()
		e.at = 0
		if !e.noTime {
			e.at = r.Time.UnixNano()
		}
	}
	q.batches++
	after := len(b.recs)
	q.mu.Unlock()
	if n == 0 || n+1 == (q.limit+1)/2 || (before < drainRecords && after >= drainRecords) {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return true
}

// grow returns s with room for n more elements, doubling its capacity
// when it has not: the buffers settle at the size of the largest takes in
// a few steps, where append's growth of large slices by a quarter would
// allocate five times that size on the way. Doubling stops at bound (what
// recycle keeps) when that is room enough: a buffer that overshot it was
// dropped at its next recycle and grown again from nothing, doubling after
// doubling, a take later (measured: 3.5% of a busy server's CPU, in
// BenchmarkServeCost/full/100, with takes of 8K-13K records).
func grow[T any](s []T, n, bound int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	c := max(2*cap(s), len(s)+n, 256)
	if c > bound && len(s)+n <= bound {
		c = bound
	}
	out := make([]T, len(s), c)
	copy(out, s)
	return out
}

// nameIndex returns the index of names in b.names, adding it if new; -1
// for nil.
func (b *queueBuf) nameIndex(names []string) int32 {
	if names == nil {
		return -1
	}
	// Newest first: a buffer holds one list, or a few around a reload.
	for i := len(b.names) - 1; i >= 0; i-- {
		if seen := b.names[i]; len(seen) == len(names) && (len(names) == 0 || &seen[0] == &names[0]) {
			return int32(i) // #nosec G115 -- a few lists
		}
	}
	b.names = append(b.names, names)
	return int32(len(b.names) - 1) // #nosec G115 -- as above
}

// take returns the queued records, in order, and puts the spare buffer in
// their place. Callers hold drainMu and hand the buffer back with recycle
// once applied.
func (q *batchQueue) take() *queueBuf {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.fill
	q.fill, q.spare, q.batches = q.spare, nil, 0
	return out
}

// recycle empties an applied buffer and keeps it as the spare, dropping
// its references to the records' ids and, when a burst made it larger
// than the bounds, its arrays. Callers hold drainMu.
func (q *batchQueue) recycle(b *queueBuf) {
	clear(b.recs)
	clear(b.names)
	b.recs, b.feats, b.names = b.recs[:0], b.feats[:0], b.names[:0]
	if cap(b.recs) > maxSpareRecords {
		b.recs = nil
	}
	if cap(b.feats) > maxSpareFeatures {
		b.feats = nil
	}
	q.spare = b
}
