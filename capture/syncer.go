package capture

import (
	"fmt"
	"os"
	"time"
)

// The group commit runs on its own goroutine, the syncer, so that the
// journal goroutine keeps appending while an fsync is under way: on a
// VM's disk an fsync takes 7 to 120 ms, and while the journal goroutine
// sat in one, the queue (QueueDepth records, about 35 ms of a saturated
// server's traffic) filled and request handlers waited for room. A
// write(2) to the segment while another goroutine fsyncs it is safe; the
// fsync makes durable at least what was written before it began, so a
// sync job carries the journaled count taken when it was made, and only
// that count becomes Synced when it succeeds.
//
// The journal goroutine owns every decision: it makes the jobs, one
// periodic sync at a time per segment (ticks that come while it runs start
// the next one as soon as it returns), and applies their results (Synced,
// health, errors, giving a failed segment up) in the order it made them.
// The syncer only runs them, one after the other. A segment's last job
// (final: its generation ended) syncs its tail and then closes it, so a
// segment is never closed while an fsync of it runs; the lake goroutine
// waits for that close (generation.segClosed) before it removes the
// segment.

// maxSyncJobs bounds the jobs made and not yet applied: one periodic sync
// and the final jobs of a few generations rolled in quick succession.
// With both channels this large the syncer never blocks on its results
// and the journal blocks on a job only when that many are in flight.
const maxSyncJobs = 4

// syncJob asks the syncer to fsync a segment and, final, close it.
type syncJob struct {
	seg  *segmentWriter
	gen  *generation
	upto uint64 // records journaled when the job was made
	// sync: fsync the segment (it was written since its last sync); dir:
	// then the journal directory, which makes the segment's creation
	// durable (its first sync).
	sync, dir bool
	final     bool // close the segment after the sync
}

// syncResult is a job's outcome, applied by the journal goroutine.
type syncResult struct {
	job  syncJob
	err  error // of the fsync or the directory's
	cerr error // of the close (final jobs)
	took time.Duration
}

// runSyncer runs sync jobs in order until jobs is closed. Once the Writer
// is killed (a crash) it syncs nothing more; files of final jobs are
// closed unsynced, as a crash leaves them.
func (w *Writer) runSyncer(jobs <-chan syncJob, results chan<- syncResult) {
	defer close(results)
	for job := range jobs {
		res := syncResult{job: job}
		killed := false
		select {
		case <-w.kill:
			killed = true
		default:
		}
		if !killed && (job.sync || job.dir) {
			t0 := time.Now()
			if job.sync {
				res.err = w.fsync(job.seg.f)
			}
			if res.err == nil && job.dir {
				res.err = syncDir(w.root, journalDir)
			}
			res.took = time.Since(t0)
		}
		if job.final {
			res.cerr = job.seg.close()
		}
		results <- res
	}
}

// fsync syncs a journal segment or a lake file (tuning.fsync in tests).
func (w *Writer) fsync(f *os.File) error {
	if h := w.tune.fsync; h != nil {
		return h(f)
	}
	return f.Sync()
}

// close closes the segment's file and tells the lake goroutine that the
// segment may be removed. Called once, by whoever owns the file then.
func (s *segmentWriter) close() error {
	err := s.f.Close()
	close(s.gen.segClosed)
	return err
}

// startSync makes the periodic group-commit job for the current segment,
// unless nothing was written since its last sync. While one runs, the
// next starts when it returns (syncDue).
func (j *journaler) startSync() {
	if j.seg == nil || !j.dirty || j.syncStopped {
		return
	}
	if j.syncing != nil {
		j.syncDue = true
		return
	}
	j.submit(syncJob{seg: j.seg, gen: j.gen, upto: j.w.counters.journaled.Load(), sync: true, dir: !j.seg.dirSynced})
	j.syncing = j.seg
	j.dirty = false
}

// submit hands a job to the syncer, first applying a result when
// maxSyncJobs are in flight.
func (j *journaler) submit(job syncJob) {
	for j.inflight >= maxSyncJobs {
		j.applySync(<-j.syncResults)
	}
	j.inflight++
	j.syncJobs <- job
}

// applySync applies a job's outcome on the journal goroutine: what the
// journal's own fsync did when it ran here.
func (j *journaler) applySync(res syncResult) {
	j.inflight--
	job := res.job
	s := job.seg
	if j.syncing == s {
		j.syncing = nil
	}
	if job.sync || job.dir {
		j.w.syncHist.Observe(res.took.Seconds())
	}
	switch {
	case res.err != nil:
		j.w.counters.fail(opJournalSync)
		s.syncFailed = true
		err := fmt.Errorf("fsync: %w", res.err)
		if s == j.seg {
			j.segFailed(err) // no other job of the segment is in flight
		} else {
			j.segError(job.gen, err) // its final job closes it
		}
	case s.syncFailed:
		// An earlier sync of the segment failed: a later one succeeding
		// proves nothing (the kernel may have dropped the pages it could
		// not write), so it is not counted as synced.
	default:
		if job.dir {
			s.dirSynced = true
		}
		if job.upto > j.w.counters.synced.Load() {
			j.w.counters.synced.Store(job.upto)
		}
		if j.seg != nil || j.gen == nil { // no generation is going on unjournaled
			j.w.counters.journalOK.Store(true)
		}
	}
	if res.cerr != nil && res.err == nil {
		j.segError(job.gen, fmt.Errorf("close: %w", res.cerr))
	}
	if j.syncDue && j.syncing == nil {
		j.syncDue = false
		j.startSync()
	}
}

// awaitSync waits for the current segment's sync in flight, if any, so
// that the segment can be closed.
func (j *journaler) awaitSync() {
	for j.seg != nil && j.syncing == j.seg {
		j.applySync(<-j.syncResults)
	}
}

// stopSyncer lets the syncer finish its jobs (none are run after a kill)
// and applies their results.
func (j *journaler) stopSyncer() {
	j.syncStopped = true
	close(j.syncJobs)
	for res := range j.syncResults {
		j.applySync(res)
	}
}
