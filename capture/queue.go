package capture

import (
	"hash/maphash"
	"log/slog"
	randv2 "math/rand/v2"
	"slices"
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
// It holds runs of records in capture order: a request's batch, kept by
// reference (CaptureBatch), or records copied into the queue's own storage
// (Capture, and batches that need a check record by record).
type recordQueue struct {
	mu sync.Mutex
	// runs are the queued records in order; n counts them all, at most
	// depth.
	runs []queuedRun
	n    int
	// records holds the copied records, feats their Features: the
	// caller's slices are not kept. Only appended to; a take hands them
	// over, and they come back (spareBatches) once the lake goroutine has
	// written every record of that take.
	records []leadscore.Record
	feats   []float32
	// batches are the batches runs reference, each Retained once, to be
	// Released when the lake goroutine has written their records.
	batches []*leadscore.Batch
	// marks are the feature list switches among records, in order (a
	// record naming another list, or SetFeatures), at positions counted
	// across runs.
	marks []schemaMark
	depth int
	// batch is the queue length that ends the journal's linger: a
	// quarter of depth, so that Captures never wait for room while the
	// journal lingers.
	batch int
	// tail is the schema of the records at the end of records (the last
	// mark's, or the one the journal goroutine has); tailNames the
	// FeatureNames slice last seen equal to it (a pointer compare settles
	// most records). Records without names must match tail's length.
	tail      *lakeSchema
	tailNames []string
	// recent caches the schemas last switched to, most recent first, so
	// that records of two models interleaving during a reload do not
	// rebuild one each time.
	recent []*lakeSchema
	// badNames is the last FeatureNames slice that could not be columns.
	badNames []string
	closed   bool
	ready    chan struct{} // signalled (never blocking) when records grows
	// room, when not nil, is closed (and set to nil) by take: Captures
	// waiting for room wait on it.
	room chan struct{}
}

// queuedRun is a run of queued records: a batch's (recs), or, when recs
// is nil, records[lo:hi] of the queue's own storage (indexes, since the
// storage may move as it grows).
type queuedRun struct {
	recs   []leadscore.Record
	lo, hi int
}

func (q *recordQueue) init(depth int, s *lakeSchema) {
	q.depth = depth
	q.batch = max(depth/4, 1)
	q.tail = s
	q.recent = []*lakeSchema{s}
	q.ready = make(chan struct{}, 1)
}

// maxRecentSchemas bounds recordQueue.recent.
const maxRecentSchemas = 4

// mark switches the schema of the records queued from now on; names, when
// not nil, is the FeatureNames slice that asked for it. Callers hold mu.
func (q *recordQueue) mark(s *lakeSchema, names []string) {
	q.marks = append(q.marks, schemaMark{pos: q.n, schema: s})
	q.tail, q.tailNames = s, names
	if i := slices.Index(q.recent, s); i >= 0 {
		q.recent = slices.Delete(q.recent, i, i+1)
	}
	q.recent = slices.Insert(q.recent, 0, s)
	if len(q.recent) > maxRecentSchemas {
		q.recent = q.recent[:maxRecentSchemas]
	}
}

// follow makes r's feature list the tail schema, marking a switch when it
// differs, and reports whether r can be queued: false when r names no
// features and its count differs from the tail's, or names features that
// cannot be lake columns. Callers hold mu.
func (q *recordQueue) follow(r *leadscore.Record, log *slog.Logger) bool {
	names := r.FeatureNames
	if names == nil {
		return len(r.Features) == len(q.tail.features)
	}
	if len(names) != len(r.Features) {
		return false
	}
	if sameSlice(names, q.tailNames) {
		return true
	}
	if sameSlice(names, q.badNames) {
		return false
	}
	if slices.Equal(names, q.tail.features) {
		q.tailNames = names
		return true
	}
	for _, s := range q.recent {
		if slices.Equal(names, s.features) {
			q.mark(s, names)
			return true
		}
	}
	err := validateFeatures(names)
	var s *lakeSchema
	if err == nil {
		s, err = newLakeSchema(slices.Clone(names))
	}
	if err != nil {
		q.badNames = names // warned once per model
		log.Warn("capture: a record's feature list cannot be lake columns; dropped (schema_mismatch)",
			"model", r.Model, "version", r.ModelVersion, "error", err.Error())
		return false
	}
	q.mark(s, names)
	return true
}

// fast reports whether r can be queued under the tail schema as it is:
// it names the features the tail was last seen with (a pointer compare)
// or, naming none, has as many. Otherwise follow decides (and may mark a
// switch). Callers hold mu.
func (q *recordQueue) fast(r *leadscore.Record) bool {
	if r.FeatureNames == nil {
		return len(r.Features) == len(q.tail.features)
	}
	return len(r.FeatureNames) == len(r.Features) && sameSlice(r.FeatureNames, q.tailNames)
}

// fastBatch reports whether every record of recs can be queued by
// reference as it is: fast, and with its Time set (the journal sets a
// zero Time, which a shared record must not have written). Callers hold
// mu.
func (q *recordQueue) fastBatch(recs []leadscore.Record) bool {
	for i := range recs {
		if !q.fast(&recs[i]) || recs[i].Time.IsZero() {
			return false
		}
	}
	return true
}

// sameSlice reports whether a and b are the same slice (same backing array
// and length).
func sameSlice(a, b []string) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// batchBuf is the storage of one take of the queue: the runs, the copied
// records and their features, and the batches to release.
type batchBuf struct {
	runs    [][]leadscore.Record
	recs    []leadscore.Record
	feats   []float32
	batches []*leadscore.Batch
}

// empty reports whether b holds nothing to recycle.
func (b *batchBuf) empty() bool {
	return b.runs == nil && b.recs == nil && b.feats == nil && b.batches == nil
}

// recycle releases the batches of a take whose records are all written and
// empties the buffers for the next take.
func (b *batchBuf) recycle() batchBuf {
	for _, bt := range b.batches {
		bt.Release()
	}
	clear(b.batches)
	clear(b.recs)
	clear(b.runs)
	return batchBuf{runs: b.runs[:0], recs: b.recs[:0], feats: b.feats[:0], batches: b.batches[:0]}
}

// own extends the runs with the records copied into records since from:
// the last run grows when it ends there.
func (q *recordQueue) own(from int) {
	to := len(q.records)
	if to == from {
		return
	}
	q.n += to - from
	if k := len(q.runs) - 1; k >= 0 && q.runs[k].recs == nil && q.runs[k].hi == from {
		q.runs[k].hi = to
		return
	}
	q.runs = append(q.runs, queuedRun{lo: from, hi: to})
}

// putBatch queues b's records by reference. Callers hold mu.
func (q *recordQueue) putBatch(b *leadscore.Batch) {
	b.Retain()
	q.runs = append(q.runs, queuedRun{recs: b.Records})
	q.batches = append(q.batches, b)
	q.n += len(b.Records)
}

// put queues a copy of r whose Features are copied into q.feats. Callers
// hold mu.
func (q *recordQueue) put(r *leadscore.Record) {
	start := len(q.feats)
	// When append moves feats, the records queued before keep the old
	// array, which nothing writes again.
	q.feats = append(q.feats, r.Features...)
	c := *r
	c.Features = q.feats[start:len(q.feats):len(q.feats)]
	from := len(q.records)
	q.records = append(q.records, c)
	q.own(from)
}

// putRun queues copies of recs, which fast accepted, in one copy of the
// records and one of each record's features, and returns how many.
// Callers hold mu.
func (q *recordQueue) putRun(recs []leadscore.Record) int {
	if len(recs) == 0 {
		return 0
	}
	nfeat := 0
	for i := range recs {
		nfeat += len(recs[i].Features)
	}
	// When append moves feats, the records queued before keep the old
	// array, which nothing writes again.
	fo := len(q.feats)
	q.feats = slices.Grow(q.feats, nfeat)[:fo+nfeat]
	ro := len(q.records)
	q.records = append(q.records, recs...)
	for i := range recs {
		f := recs[i].Features
		end := fo + copy(q.feats[fo:], f)
		q.records[ro+i].Features = q.feats[fo:end:end]
		fo = end
	}
	q.own(ro)
	return len(recs)
}

// take swaps the queued runs and their storage for spare (emptied) and
// returns them: buf is to be recycled (spareBatches) once nothing reads
// the records any more. False when there is nothing (spare is not used
// then).
func (q *recordQueue) take(spare batchBuf) (runs [][]leadscore.Record, buf batchBuf, marks []schemaMark, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 && len(q.marks) == 0 {
		return nil, batchBuf{}, nil, false
	}
	runs = spare.runs[:0]
	for _, r := range q.runs {
		if r.recs == nil {
			r.recs = q.records[r.lo:r.hi:r.hi]
		}
		runs = append(runs, r.recs)
	}
	marks = q.marks
	buf = batchBuf{runs: runs, recs: q.records, feats: q.feats, batches: q.batches}
	// A spare with less room than the whole queue (or than this take, or
	// none: none came back from the lake yet) is replaced by one with room
	// for the queue's depth, or half as much again as this take, rather
	// than grown step by step under the lock on the request path: under
	// saturation the queue fills to its depth between takes, and a spare
	// sized by the last (smaller) take grew several times per cycle in put,
	// each time a fresh multi-megabyte allocation that the collector and
	// the scavenger then returned to the kernel, page by page (measured:
	// recordQueue.put 11% of the CPU of a saturated server, madvise 7%).
	// Copied records are the exception once requests come as batches, so
	// the spare's copy storage grows only as far as copies need.
	nfeat := len(q.tail.features)
	if cap(spare.recs) < len(q.records) {
		spare.recs = make([]leadscore.Record, 0, max(len(q.records)+len(q.records)/2, min(q.depth, 2*len(q.records))))
	}
	if cap(spare.feats) < len(q.feats) {
		spare.feats = make([]float32, 0, max(len(q.feats)+len(q.feats)/2, min(q.depth*nfeat, 2*len(q.feats))))
	}
	q.records, q.feats, q.marks = spare.recs[:0], spare.feats[:0], nil
	q.batches = spare.batches[:0]
	q.runs, q.n = q.runs[:0], 0
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	return runs, buf, marks, true
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
	return q.n
}

// waitForRoom waits, with w.queue.mu held (released while waiting), until the
// queue has room for need more records, it is empty (a batch larger than
// the whole queue goes in alone), Close began, or QueueWait passed.
func (w *Writer) waitForRoom(need int) {
	q := &w.queue
	if q.n+need <= q.depth || q.n == 0 {
		return
	}
	w.counters.waits.Add(1)
	t := time.NewTimer(w.cfg.QueueWait)
	defer t.Stop()
	for q.n+need > q.depth && q.n > 0 && !q.closed {
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

// sampleHash picks the records SamplePercent keeps: a keyed hash (a
// per-Writer random seed no caller knows) of the server's request id and
// the inference id. A caller therefore cannot pick ids that keep its rows
// out of the lake, while a shadow variant's record and the live one it
// shadows (same request and inference id) are kept or left out together.
// Records with neither id get a random number.
func (w *Writer) sampleHash(r *leadscore.Record) uint64 {
	if r.RequestID == "" && r.InferenceID == "" {
		return randv2.Uint64() //nolint:gosec // G404: sampling needs spread, not secrecy
	}
	var h maphash.Hash
	h.SetSeed(w.sampleSeed)
	_, _ = h.WriteString(r.RequestID)
	_ = h.WriteByte(0)
	_, _ = h.WriteString(r.InferenceID)
	return h.Sum64()
}
