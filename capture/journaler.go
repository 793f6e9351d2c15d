package capture

import (
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/leadscore/leadscore"
)

// generation is one journal segment and the Parquet files (one per
// partition) that hold its records; the files are named after its id.
type generation struct {
	id      string
	schema  *lakeSchema
	created time.Time // journal goroutine only
	// hasSegment: the segment file exists, maybe partially written. Set
	// before the generation's first item is sent.
	hasSegment bool
	// segClosed is closed once the segment's file is closed (by the
	// syncer after its last sync, or after a failure): the lake goroutine
	// removes the segment only then. Nil without a segment.
	segClosed chan struct{}
}

// item is what the journal goroutine hands to the lake goroutine.
type item struct {
	gen       *generation
	runs      [][]leadscore.Record
	journaled bool     // the runs' records are in the segment
	end       bool     // gen is complete: close its files
	buf       batchBuf // batch buffers to recycle once the runs are written
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// segmentWriter appends frames to one journal segment. Its pending bytes
// (not yet written to the file) are the journaler's frameEncoder buffer,
// where the frames are encoded: written out once journalBufSize gather, and
// at the end of every drain (journaler.flush).
type segmentWriter struct {
	gen       *generation
	f         *os.File
	cw        countWriter
	reported  int64 // bytes already added to the local-bytes gauge
	dirSynced bool
	// syncFailed: an fsync of the segment failed; no later one counts.
	syncFailed bool
}

// journaler is the state of the journal goroutine.
type journaler struct {
	w      *Writer
	schema *lakeSchema
	gen    *generation
	seg    *segmentWriter
	// enc encodes the frames. While a segment is open its buffer holds
	// the segment's pending bytes (empty after every flush); without one
	// it holds a frame at a time, encoded only to be sized.
	enc   frameEncoder
	dirty bool // written since the last fsync began
	tick  *time.Ticker
	// The syncer (syncer.go): jobs made and not yet applied, the segment
	// whose periodic sync is in flight, and whether a tick came meanwhile.
	syncJobs    chan syncJob
	syncResults chan syncResult
	inflight    int
	syncing     *segmentWriter
	syncDue     bool
	syncStopped bool
	// lingerT times linger; nil until first used.
	lingerT *time.Timer

	// drop reporting
	logged     [nDropReasons]uint64 // dropped counts at the last warning
	seenLoss   uint64               // loss total at the last tick
	lastLossAt time.Time
	lastLogAt  time.Time
	errLog     logLimiter
}

// lossReasons are the drop reasons that mean lost data (sampling and
// shutdown are intended).
var lossReasons = [...]int{dropQueueFull, dropDiskError, dropBacklogFull, dropSchemaMismatch, dropTooLarge}

func (w *Writer) runJournal(schema *lakeSchema) {
	defer close(w.journalDone)
	j := &journaler{w: w, schema: schema, tick: time.NewTicker(w.cfg.SyncInterval),
		syncJobs: make(chan syncJob, maxSyncJobs), syncResults: make(chan syncResult, maxSyncJobs)}
	j.errLog.every = w.tune.logEvery
	defer j.tick.Stop()
	go w.runSyncer(j.syncJobs, j.syncResults)
	for {
		select {
		case res := <-j.syncResults:
			j.applySync(res)
		case <-w.kill:
			j.abandon()
			return
		case <-w.queue.ready:
			if !j.linger() {
				j.abandon()
				return
			}
			if !j.drain() {
				j.abandon()
				return
			}
		case now := <-j.tick.C:
			if !j.onTick(now) {
				j.abandon()
				return
			}
		case <-w.stop:
			if !j.drain() || !j.endGen() {
				j.abandon()
				return
			}
			j.report(time.Now(), true)
			close(w.toLake)
			j.stopSyncer()
			return
		}
	}
}

// linger lets records gather for up to tune.linger (100 ms, at most
// SyncInterval) after the first arrives in an empty queue, unless a
// quarter of the queue's depth (recordQueue.batch) is waiting or arrives
// meanwhile, so that one journal write, one hand-off to the lake
// goroutine and one wake-up of each serve many records instead of a few:
// each such cycle costs far more than its records' encoding (the write
// system call of a background goroutine, the scheduler's hand-offs and
// wake-ups, measured at about 0.5 ms of CPU per cycle on a 2-core VM), so
// the journal wakes about 10 times a second at moderate rates and once
// per batch at high ones. A process killed meanwhile loses what lingers,
// which the documented bound (the last SyncInterval) covers. Close does
// not wait for it (the next drain takes everything). It returns false
// when the Writer was abandoned.
func (j *journaler) linger() bool {
	d := min(j.w.tune.linger, j.w.cfg.SyncInterval)
	if d <= 0 || j.w.queue.len() >= j.w.queue.batch {
		return true
	}
	if j.lingerT == nil {
		j.lingerT = time.NewTimer(d)
	} else {
		j.lingerT.Reset(d)
	}
	select {
	case <-j.w.kill:
		return false
	case <-j.w.stop:
	case <-j.w.queue.ready: // the batch is full, or a Capture waits for room
	case <-j.lingerT.C:
	}
	return true
}

// drain journals everything queued and hands it to the lake goroutine. It
// returns false when the Writer was abandoned.
func (j *journaler) drain() bool {
	var spare batchBuf
	select {
	case spare = <-j.w.spareBatches:
	default:
	}
	runs, buf, marks, ok := j.w.queue.take(spare)
	if !ok {
		select {
		case j.w.spareBatches <- spare:
		default:
		}
		return true
	}
	if len(marks) == 0 {
		return j.write(runs, buf)
	}
	// Feature list switches (a reload, or records naming another list)
	// are rare: the take is flattened into one run, which groupBySchema
	// reorders. The batches stay referenced (buf) until the lake is done.
	n := 0
	for _, r := range runs {
		n += len(r)
	}
	recs := make([]leadscore.Record, 0, n)
	for _, r := range runs {
		recs = append(recs, r...)
	}
	recs, marks = groupBySchema(recs, marks, j.schema)
	start := 0
	for _, m := range marks {
		if !j.write([][]leadscore.Record{recs[start:m.pos]}, batchBuf{}) || !j.endGen() {
			return false
		}
		j.schema = m.schema
		start = m.pos
	}
	return j.write([][]leadscore.Record{recs[start:]}, buf)
}

// groupBySchema reorders one take of the queue so that records of one
// feature list are together: cur's first (the generation open now), the
// list of the last record last (the one likely to follow), others by first
// appearance. While a reload is under way, records of the old and the new
// model interleave; grouping them keeps that to a generation or two per
// take rather than one per switch. The journal, and so the lake and a
// replay, see the records in the order returned.
func groupBySchema(recs []leadscore.Record, marks []schemaMark, cur *lakeSchema) ([]leadscore.Record, []schemaMark) {
	type span struct {
		lo, hi int
		schema *lakeSchema
	}
	spans := make([]span, 0, len(marks)+1)
	lo, s := 0, cur
	for _, m := range marks {
		if m.pos > lo {
			spans = append(spans, span{lo, m.pos, s})
		}
		lo, s = m.pos, m.schema
	}
	tail := s
	if len(recs) > lo {
		spans = append(spans, span{lo, len(recs), s})
	}
	order := []*lakeSchema{cur}
	for _, sp := range spans {
		if !slices.Contains(order, sp.schema) {
			order = append(order, sp.schema)
		}
	}
	if i := slices.Index(order, tail); i >= 0 {
		order = append(slices.Delete(order, i, i+1), tail)
	} else {
		order = append(order, tail)
	}
	out := make([]leadscore.Record, 0, len(recs))
	var outMarks []schemaMark
	for i, sc := range order {
		if i > 0 || sc != cur {
			outMarks = append(outMarks, schemaMark{pos: len(out), schema: sc})
		}
		for _, sp := range spans {
			if sp.schema == sc {
				out = append(out, recs[sp.lo:sp.hi]...)
			}
		}
	}
	clear(recs) // the records live on in out
	return out, outMarks
}

// write journals the records of runs and passes them on; buf, when not
// empty, is recycled by the lake goroutine once done with (the copied
// records and their features, and the batches the runs reference: nothing
// reads them after that). Records that a batch shares are never changed:
// they have their Time set (recordQueue.fastBatch), and a run that loses a
// record is copied without it.
func (j *journaler) write(runs [][]leadscore.Record, buf batchBuf) bool {
	n := 0
	for _, r := range runs {
		n += len(r)
	}
	if n == 0 {
		return true
	}
	now := time.Now()
	if j.gen == nil {
		j.newGen(now)
	}
	for _, run := range runs {
		for i := range run {
			if run[i].Time.IsZero() {
				run[i].Time = now
			}
		}
	}
	// The journal and the lake hold the same records: a record too large
	// for a journal frame is dropped from both (too_large), never written
	// to Parquet alone, since replay skips the records already in closed
	// files by counting them (docs/lake.md, "Crash safety").
	if j.w.tune.noJournal {
		return j.send(item{gen: j.gen, runs: runs, buf: buf})
	}
	journaled := j.seg != nil
	kept := 0
	for ri, run := range runs {
		runs[ri] = j.journalRun(run, &journaled)
		kept += len(runs[ri])
	}
	if j.seg != nil {
		if err := j.flush(); err != nil {
			j.segFailed(fmt.Errorf("write: %w", err))
			journaled = false
		}
	}
	if journaled {
		j.w.counters.journaled.Add(uint64(kept)) //nolint:gosec // a count
		j.dirty = true
		j.w.counters.journalOK.Store(true)
	}
	if kept == 0 {
		// buf is not recycled here: records of its earlier schema
		// groups may still be in the lake goroutine's hands.
		return true
	}
	g := j.gen
	if !j.send(item{gen: g, runs: runs, journaled: journaled, buf: buf}) {
		return false
	}
	// Roll when the segment is large, or when the lake asked for it (too
	// many open files). After a journal failure onTick rolls soon, to try
	// a fresh segment.
	if (j.seg != nil && j.seg.cw.n >= j.w.segmentBytes) || j.w.rollRequest.CompareAndSwap(g, nil) {
		return j.endGen()
	}
	return true
}

// journalRun appends run's records to the segment, if there is one, in
// batch frames (one per request run: frameEncoder.batch), and returns
// those kept: all, or a copy without the records too large for a frame
// (run is shared with the request's other sinks). A failed append gives
// the segment up (*journaled false) and the rest of the records go on to
// Parquet unjournaled.
func (j *journaler) journalRun(run []leadscore.Record, journaled *bool) []leadscore.Record {
	out, copied := run, false
	for i := 0; i < len(run); {
		var frame []byte
		var n int
		if j.seg != nil {
			frame, n = j.enc.appendBatch(run[i:])
		} else {
			frame, n = j.enc.batch(run[i:])
		}
		if frame == nil {
			j.tooLarge(&run[i])
			if !copied {
				out, copied = slices.Clone(run[:i]), true
			}
			i++
			continue
		}
		if copied {
			out = append(out, run[i:i+n]...)
		}
		i += n
		if j.seg == nil || len(j.enc.buf) < j.w.tune.journalBufSize {
			continue // unjournaled (or after a failed append), or buffered
		}
		if err := j.writePending(); err != nil {
			j.segFailed(fmt.Errorf("append: %w", err))
			*journaled = false
		}
	}
	return out
}

// journalWriteSize is how many pending bytes make the journal write them
// before its drain ends (tuning.journalBufSize). A drain of a saturated
// server holds about 1.6 MB of 100-lead requests; in writes of 1 MiB
// rather than 256 KiB the kernel took about 30% less CPU a byte (its page
// cache allocated in larger folios, fewer per-write costs), and the
// pending bytes stay bounded.
const journalWriteSize = 1 << 20

// writePending writes the segment's pending bytes to its file, in one
// write (a write of a few hundred KiB costs the kernel less a byte than
// smaller ones).
func (j *journaler) writePending() error {
	p := j.enc.buf
	j.enc.buf = p[:0]
	if len(p) == 0 {
		return nil
	}
	_, err := j.seg.cw.Write(p)
	return err
}

// tooLarge drops a record no journal frame can hold (its strings and
// features over maxFrame): counted as too_large, logged without its ids.
func (j *journaler) tooLarge(r *leadscore.Record) {
	j.w.counters.drop(dropTooLarge, 1)
	j.warn("capture: record too large for a journal frame; dropped from the journal and the lake alike",
		"max_frame_bytes", maxFrame, "features", len(r.Features),
		"id_bytes", len(r.RequestID)+len(r.InferenceID)+len(r.LeadID))
}

// flush writes buffered frames to the file (not yet synced): a process
// crash no longer loses them.
func (j *journaler) flush() error {
	s := j.seg
	err := j.writePending()
	j.w.counters.localBytes.Add(s.cw.n - s.reported)
	s.reported = s.cw.n
	return err
}

// newGen starts a generation and its segment. When the segment cannot be
// created the generation goes on unjournaled.
func (j *journaler) newGen(now time.Time) {
	g := &generation{id: j.w.segmentIDs.next(now), schema: j.schema, created: now}
	j.gen = g
	f, err := j.w.root.OpenFile(segmentPath(g.id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		j.w.counters.fail(opJournalWrite)
		j.w.counters.journalOK.Store(false)
		j.warn("cannot create journal segment; records are captured without crash protection", "error", err.Error())
		return
	}
	g.hasSegment = true
	g.segClosed = make(chan struct{})
	s := &segmentWriter{gen: g, f: f}
	s.cw.w = f
	if wrap := j.w.tune.wrapJournal; wrap != nil {
		s.cw.w = wrap(f)
	}
	j.seg = s
	j.enc.buf = append(j.enc.buf[:0], journalMagic...)
	j.enc.appendHeader(g.schema.features)
	if len(j.enc.buf) >= j.w.tune.journalBufSize {
		if err := j.writePending(); err != nil {
			j.segFailed(fmt.Errorf("header: %w", err))
		}
	}
}

// segFailed gives up on the current segment after an error: its intact
// prefix is kept, the generation goes on unjournaled and is rolled soon.
// The segment is closed once its fsync in flight, if any, has returned.
func (j *journaler) segFailed(err error) {
	j.awaitSync()
	if j.seg == nil {
		return // the sync's own failure gave it up already
	}
	j.segError(j.gen, err)
	_ = j.seg.close()
	j.seg = nil
	j.enc.buf = j.enc.buf[:0] // what was pending is given up with the segment
	j.dirty = false
	j.syncDue = false
}

// segError counts and reports a failure of g's segment.
// The warning is logged before the failure is counted, so that whoever
// sees the count finds the log line (TestJournalSyncErrorFailsSegment
// waits for the count, then reads the log).
func (j *journaler) segError(g *generation, err error) {
	j.warn("journal write failed; records are captured without crash protection until the next segment",
		"segment", g.id, "error", err.Error())
	j.w.counters.fail(opJournalWrite)
	j.w.counters.journalOK.Store(false)
}

// endGen ends the current segment, handing its last sync and its close to
// the syncer (which runs them after the sync in flight, if any), and tells
// the lake goroutine to close the generation's files. The journal goes on
// with the next generation at once.
func (j *journaler) endGen() bool {
	g := j.gen
	if g == nil {
		return true
	}
	if j.seg != nil {
		if err := j.flush(); err != nil {
			j.segFailed(fmt.Errorf("close: %w", err))
		}
	}
	if s := j.seg; s != nil {
		j.submit(syncJob{seg: s, gen: g, upto: j.w.counters.journaled.Load(),
			sync: j.dirty, dir: !s.dirSynced, final: true})
	}
	j.gen, j.seg, j.dirty, j.syncDue = nil, nil, false, false
	return j.send(item{gen: g, end: true})
}

// send hands it to the lake goroutine, keeping the group commit going while
// waiting. It returns false when the Writer was abandoned.
func (j *journaler) send(it item) bool {
	for {
		select {
		case j.w.toLake <- it:
			return true
		case res := <-j.syncResults:
			j.applySync(res)
		case now := <-j.tick.C:
			j.startSync()
			j.report(now, false)
		case <-j.w.kill:
			return false
		}
	}
}

func (j *journaler) onTick(now time.Time) bool {
	j.startSync()
	ok := true
	if g := j.gen; g != nil {
		age := now.Sub(g.created)
		// A generation without a working segment is rolled early (but not
		// at once, which would make a file per batch while a disk is
		// full), so that the journal is retried soon.
		if age >= j.w.cfg.RollAge || (j.seg == nil && age >= j.w.tune.logEvery) || j.w.rollRequest.CompareAndSwap(g, nil) {
			ok = j.endGen()
		}
	}
	j.report(now, false)
	return ok
}

// report logs records lost since the last warning, at most once per
// logEvery (always when final), and keeps the drop part of the health
// signal.
func (j *journaler) report(now time.Time, final bool) {
	c := j.w.counters
	var loss uint64
	for _, r := range lossReasons {
		loss += c.dropped[r].Load()
	}
	if loss != j.seenLoss {
		j.seenLoss, j.lastLossAt = loss, now
	}
	c.dropsOK.Store(j.lastLossAt.IsZero() || now.Sub(j.lastLossAt) >= j.w.tune.logEvery)

	if !final && now.Sub(j.lastLogAt) < j.w.tune.logEvery {
		return
	}
	var attrs []any
	for i, name := range dropReasons {
		v := c.dropped[i].Load()
		if i != dropSampledOut && v != j.logged[i] {
			attrs = append(attrs, name, v-j.logged[i])
		}
		j.logged[i] = v
	}
	if len(attrs) == 0 {
		return
	}
	j.lastLogAt = now
	attrs = append(attrs, "queue_capacity", j.w.cfg.QueueDepth)
	j.w.log.Warn("capture dropped records", attrs...)
}

func (j *journaler) warn(msg string, attrs ...any) {
	if ok, suppressed := j.errLog.allow(time.Now()); ok {
		if suppressed > 0 {
			attrs = append(attrs, "suppressed", suppressed)
		}
		j.w.log.Warn(msg, attrs...)
	}
}

// abandon stops as a crash would: the open segment is closed without
// flushing or syncing (the syncer runs no job once the Writer is killed;
// the fsync it may be in is waited for).
func (j *journaler) abandon() {
	j.syncStopped = true
	close(j.syncJobs)
	for range j.syncResults { //nolint:revive // drained, not applied: a crash
	}
	if j.seg != nil {
		_ = j.seg.close()
		j.seg = nil
		j.enc.buf = j.enc.buf[:0]
	}
}

// logLimiter lets a repeated warning through at most once per every.
type logLimiter struct {
	every      time.Duration
	last       time.Time
	suppressed int
}

func (l *logLimiter) allow(now time.Time) (bool, int) {
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return true, n
}
