package leadscore

import (
	"sync"
	"sync/atomic"
)

// A Batch holds the records of one Capture call (a request's leads) in
// reference-counted storage, so that the sinks that queue records
// (capture's journal and lake, the monitor's window) keep the batch itself
// rather than copying every record and its features on the request path.
// Copying was most of what capture cost a request: about 420 bytes a
// record into each of two queues, measured at 8% of a saturated server's
// CPU with 100-lead requests.
//
// The producer fills Records (their Features may point into Features),
// hands the batch to a sink with CaptureBatch, and Releases its own
// reference. A sink that keeps the records past CaptureBatch calls Retain
// before it returns and Release when done; the last Release gives the
// batch back to its pool. Nothing may change the records, or what they
// reference, from the first CaptureBatch until the last Release.
type Batch struct {
	Records []Record
	// Features is storage for the records' Features, which the producer
	// may use (record i's values at Features[i*k:(i+1)*k] for k features).
	Features []float32
	refs     atomic.Int32
	pool     *BatchPool
}

// BatchPool recycles batches: a busy server reuses a few dozen instead of
// allocating two arrays per request. The zero value is ready to use.
type BatchPool struct {
	p sync.Pool
}

// maxPooledRecords and maxPooledFeatures bound the batches a pool keeps:
// a rare very large request's arrays are left to the collector rather
// than pinned.
const (
	maxPooledRecords  = 4096
	maxPooledFeatures = 1 << 18
)

// Get returns a batch holding n zeroed records and nf feature values (not
// zeroed: the caller fills them, or swaps in storage of its own), with one
// reference: the caller's.
func (p *BatchPool) Get(n, nf int) *Batch {
	b, _ := p.p.Get().(*Batch)
	if b == nil {
		b = &Batch{pool: p}
	}
	if cap(b.Records) < n {
		b.Records = make([]Record, n)
	}
	b.Records = b.Records[:n]
	if cap(b.Features) < nf {
		b.Features = make([]float32, nf)
	}
	b.Features = b.Features[:nf]
	b.refs.Store(1)
	return b
}

// NewBatch returns a batch of recs that belongs to no pool, with one
// reference: the caller's.
func NewBatch(recs []Record) *Batch {
	b := &Batch{Records: recs}
	b.refs.Store(1)
	return b
}

// Retain adds a reference to b, which must hold one already.
func (b *Batch) Retain() {
	if b.refs.Add(1) <= 1 {
		panic("leadscore: Retain of a released Batch")
	}
}

// Release drops a reference; the last one gives b back to its pool, its
// records cleared (so that the pool keeps no request's strings alive).
func (b *Batch) Release() {
	switch n := b.refs.Add(-1); {
	case n > 0:
		return
	case n < 0:
		panic("leadscore: Batch released more often than retained")
	}
	if b.pool == nil || cap(b.Records) > maxPooledRecords {
		return
	}
	clear(b.Records)
	b.Records = b.Records[:0]
	if cap(b.Features) > maxPooledFeatures {
		b.Features = nil
	}
	b.pool.p.Put(b)
}

// A BatchSink is a Sink that can keep a Batch by reference instead of
// copying its records.
type BatchSink interface {
	Sink
	// CaptureBatch hands over b's records as Capture would. The sink
	// may Retain b (before it returns) to keep the records, and must
	// never change them.
	CaptureBatch(b *Batch)
}

// CaptureBatch hands b to s: by reference when s is a BatchSink, else
// as Capture(b.Records).
func CaptureBatch(s Sink, b *Batch) {
	if bs, ok := s.(BatchSink); ok {
		bs.CaptureBatch(b)
		return
	}
	s.Capture(b.Records)
}

// PoolSafe reports whether s may be handed batches whose storage is
// reused after their last Release: every sink it fans out to is a
// BatchSink (which retains what it keeps), or copies the records and the
// features it keeps (SliceCopier and FeatureCopier).
func PoolSafe(s Sink) bool {
	switch s := s.(type) {
	case nil:
		return false
	case multiSink:
		for _, e := range s {
			if !PoolSafe(e) {
				return false
			}
		}
		return true
	case BatchSink:
		return true
	}
	return CopiesRecords(s) && CopiesFeatures(s)
}
