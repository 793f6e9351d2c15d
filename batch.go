package leadscore

import (
	"math/bits"
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
// The producer fills Records (their Features may point into Features,
// their ids into IDs), hands the batch to a sink with CaptureBatch, and
// Releases its own reference. A sink that keeps the records past
// CaptureBatch calls Retain before it returns and Release when done; the
// last Release gives the batch back to its pool. Nothing may change the
// records, or what they reference, from the first CaptureBatch until the
// last Release; after it, Features and IDs are reused for another
// request's records, so a sink that keeps any of the records' strings
// longer (an id in a lookup table, say) keeps a copy of it.
type Batch struct {
	Records []Record
	// Features is storage for the records' Features, which the producer
	// may use (record i's values at Features[i*k:(i+1)*k] for k features).
	Features []float32
	// IDs is storage for the records' strings (a request's inference and
	// lead ids), which the producer may use when the sink takes batches
	// only (OnlyBatches): it is handed over empty, with the room the
	// batch's last use left in it.
	IDs  []byte
	refs atomic.Int32
	pool *BatchPool
}

// BatchPool recycles batches: a busy server reuses a few dozen instead of
// allocating two arrays per request. It keeps them by size class (the
// record count rounded up to a power of two), so that a small request
// never pins the storage of a large one: a saturated server holds
// thousands of single-lead batches in its queues, where one 100-lead
// batch's storage each would have pinned hundreds of megabytes (measured:
// single leads after a round of 100-lead requests served at half the rate,
// the collector and the scavenger busy). The zero value is ready to use.
type BatchPool struct {
	classes [poolClasses]sync.Pool
}

// poolClasses are the size classes, 1 to maxPooledRecords records.
const poolClasses = 13

// maxPooledRecords bounds the batches a pool keeps: a rare very large
// request's arrays are left to the collector rather than pinned.
const maxPooledRecords = 1 << (poolClasses - 1)

// maxPooledIDBytes bounds the IDs storage a pooled batch keeps: 4,096
// records' generated inference ids; a batch of long lead ids gives its
// array back to the collector.
const maxPooledIDBytes = 128 << 10

// poolClass is the size class of n records (n <= maxPooledRecords).
func poolClass(n int) int {
	return bits.Len(uint(max(n, 1) - 1))
}

// Get returns a batch holding n zeroed records and nf feature values (not
// zeroed: the caller fills them), with one reference: the caller's.
func (p *BatchPool) Get(n, nf int) *Batch {
	if n > maxPooledRecords {
		b := &Batch{Records: make([]Record, n), Features: make([]float32, nf)}
		b.refs.Store(1)
		return b
	}
	b := p.get(n)
	if cap(b.Features) < nf {
		// Room for the class's largest batch of as many features a
		// record.
		b.Features = make([]float32, nf, max(nf, featuresPer(n, nf)<<poolClass(n)))
	}
	b.Features = b.Features[:nf]
	return b
}

// GetRows returns a batch holding n zeroed records whose Features are
// rows (n records' values one after the other), with one reference: the
// caller's. The batch takes rows' storage itself, rather than copying it,
// when it fits n's size class (no more than the class's largest batch of
// as many features a record would hold, so that a small batch never pins
// a large request's storage), and hands back the storage it held before:
// spare, empty, is what the caller may fill next (its own rows' storage
// when they were copied instead). The caller must not touch rows once
// they are taken. A request parses its leads into one buffer and then
// hands them on this way: the rows are never copied.
func (p *BatchPool) GetRows(n int, rows []float32) (b *Batch, spare []float32) {
	nf := len(rows)
	if n < 1 || n > maxPooledRecords || cap(rows) > featuresPer(n, nf)<<poolClass(n) {
		b = p.Get(n, nf)
		copy(b.Features, rows)
		return b, rows[:0]
	}
	b = p.get(n)
	spare = b.Features[:0]
	if cap(spare) < nf {
		// The batch is new, or held a smaller request's storage: the
		// caller's next rows get storage as large as these had.
		spare = make([]float32, 0, cap(rows))
	}
	b.Features = rows[:nf]
	return b, spare
}

// get returns a batch of n zeroed records (n <= maxPooledRecords) from
// its size class, with one reference.
func (p *BatchPool) get(n int) *Batch {
	c := poolClass(n)
	b, _ := p.classes[c].Get().(*Batch)
	if b == nil {
		b = &Batch{pool: p}
	}
	if cap(b.Records) < n {
		b.Records = make([]Record, n, 1<<c)
	}
	b.Records = b.Records[:n]
	b.refs.Store(1)
	return b
}

// featuresPer is the feature values a record of n holding nf in all.
func featuresPer(n, nf int) int {
	return (nf + max(n, 1) - 1) / max(n, 1)
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
	if b.pool == nil {
		return
	}
	clear(b.Records)
	b.Records = b.Records[:0]
	if cap(b.IDs) > maxPooledIDBytes {
		b.IDs = nil
	}
	b.IDs = b.IDs[:0]
	b.pool.classes[poolClass(cap(b.Records))].Put(b)
}

// A BatchSink is a Sink that can keep a Batch by reference instead of
// copying its records.
type BatchSink interface {
	Sink
	// CaptureBatch hands over b's records as Capture would. The sink
	// may Retain b (before it returns) to keep the records, and must
	// never change them. The records' strings may be b's storage
	// (Batch.IDs): whatever the sink keeps of them past its Release of
	// b (or past CaptureBatch, when it does not Retain b) it copies.
	CaptureBatch(b *Batch)
}

// OnlyBatches reports whether every sink s fans out to is a BatchSink,
// so that a producer may build its records' strings in a batch's IDs:
// a Sink that is not would be handed the records by Capture, and might
// keep their strings past the batch's reuse.
func OnlyBatches(s Sink) bool {
	return everySink(s, func(Sink) bool { return false })
}

// everySink reports whether every sink s fans out to is a BatchSink or
// passes other (false for a nil s): the walk OnlyBatches and PoolSafe
// share.
func everySink(s Sink, other func(Sink) bool) bool {
	switch s := s.(type) {
	case nil:
		return false
	case multiSink:
		for _, e := range s {
			if !everySink(e, other) {
				return false
			}
		}
		return true
	case BatchSink:
		return true
	}
	return other(s)
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
	return everySink(s, func(s Sink) bool { return CopiesRecords(s) && CopiesFeatures(s) })
}
