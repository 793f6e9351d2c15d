package capture

import (
	"fmt"
	"os"
	"time"
)

// The closer finishes the lake goroutine's files in the background. At a
// generation's end (a segment roll, every few seconds under saturation)
// the lake goroutine used to fsync and rename its files and then remove
// the journal segment (unlink and a directory fsync), about 220 ms on a
// VM's disk, while the journal goroutine waited to hand it the next
// records and request handlers waited for room in the full queue. Now the
// lake goroutine writes a file's last row group and footer and hands the
// file to the closer, which fsyncs, closes and renames it and syncs its
// folder; at the generation's end it removes the segment (once every file
// of the generation is in place) and queues the files for upload, or has
// the lake goroutine keep the segment for a retry.
//
// One closer runs the jobs in the order they were made, so the files of a
// partition are renamed in journal order and a crash leaves a prefix of
// them, which is what replay's counting rule needs (docs/lake.md, "Crash
// safety"); the segment goes only after its generation's files. When a
// file fails to close, the later files of its partition in that
// generation are discarded rather than renamed (they would follow a gap),
// and the segment is kept and replayed, as when a close failed on the lake
// goroutine. Replays (at start and of kept segments) close their files
// synchronously, as before.

// maxCloseJobs bounds the files (and generation ends) handed to the closer
// and not yet done: beyond it the lake goroutine waits. It is larger than
// a generation's open files (tuning.maxOpenFiles) plus its end, so that
// ending one generation does not wait for the disk.
const maxCloseJobs = 64

// closeJob is a file to finish, or the end of a generation.
type closeJob struct {
	gen *generation
	// A file whose content is complete: its descriptor, paths, partition,
	// size and row counts.
	f                    *os.File
	tmp, final, dir      string
	key                  int64
	size                 int64
	written, unjournaled int64
	// end: every file of gen was handed over; failed: the lake goroutine
	// failed one of them (its segment must be kept).
	end, failed bool
}

// keepSegment asks the lake goroutine to keep a generation's segment for a
// retry (its retained list is the lake goroutine's).
type keepSegment struct {
	id     string
	closed []closedFile
}

// closerGen is the closer's state of one generation.
type closerGen struct {
	closed     []closedFile
	failed     bool
	failedKeys map[int64]bool // partitions with a file that failed to close
}

func (lk *lake) runCloser() {
	defer close(lk.closerDone)
	w := lk.w
	gens := map[*generation]*closerGen{}
	errLog := logLimiter{every: w.tune.logEvery}
	for job := range lk.closeJobs {
		select {
		case <-w.kill: // a crash: files stay as they are
			if job.f != nil {
				_ = job.f.Close()
			}
			continue
		default:
		}
		st := gens[job.gen]
		if st == nil {
			st = &closerGen{}
			gens[job.gen] = st
		}
		if !job.end {
			lk.closeJobFile(job, st, &errLog)
			continue
		}
		delete(gens, job.gen)
		g := job.gen
		if c := g.segClosed; c != nil {
			// The journal's syncer closes the segment after its last
			// fsync; it is removed or replayed only once closed.
			select {
			case <-c:
			case <-w.kill:
				continue
			}
		}
		if (job.failed || st.failed) && g.hasSegment {
			select {
			case lk.keep <- keepSegment{id: g.id, closed: st.closed}:
			case <-w.kill:
			}
			continue
		}
		if g.hasSegment {
			lk.removeSegment(g.id)
		}
		for _, cf := range st.closed {
			w.queueUpload(cf)
		}
	}
}

// closeJobFile fsyncs, closes and renames a file, unless an earlier file
// of its partition failed.
func (lk *lake) closeJobFile(job closeJob, st *closerGen, errLog *logLimiter) {
	w := lk.w
	c := w.counters
	if st.failedKeys[job.key] {
		// It would follow a gap: discarded, its journaled records are
		// replayed with the kept segment (the failure was counted once).
		_ = job.f.Close()
		_ = w.root.Remove(job.tmp)
		if job.unjournaled > 0 {
			c.drop(dropDiskError, int(job.unjournaled))
		}
		return
	}
	err := w.fsync(job.f)
	if cerr := job.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.root.Rename(job.tmp, job.final)
	}
	if err != nil {
		_ = w.root.Remove(job.tmp)
		if st.failedKeys == nil {
			st.failedKeys = map[int64]bool{}
		}
		st.failedKeys[job.key] = true
		st.failed = true
		c.fail(opParquetClose)
		c.lakeOK.Store(false)
		if job.unjournaled > 0 {
			c.drop(dropDiskError, int(job.unjournaled))
		}
		if ok, suppressed := errLog.allow(time.Now()); ok {
			w.log.Error("capture: cannot write lake file; records stay in the journal and are retried",
				"file", job.final, "error", fmt.Errorf("close %s: %w", job.final, err).Error(),
				"lost", job.unjournaled, "suppressed", suppressed)
		}
		return
	}
	// The file is complete and in place; a failed directory sync only
	// weakens durability of the rename against a power cut.
	if err := syncDir(w.root, job.dir); err != nil {
		w.log.Warn("capture: cannot sync partition folder", "dir", job.dir, "error", err.Error())
	}
	st.closed = append(st.closed, closedFile{rel: job.final, size: job.size})
	c.files.Add(1)
	c.bytes.Add(uint64(job.size))      //nolint:gosec // sizes are >= 0
	c.written.Add(uint64(job.written)) //nolint:gosec // counts are >= 0
	c.lakeOK.Store(true)
}

// sendClose hands a job to the closer, keeping segments it asks to keep
// meanwhile.
func (lk *lake) sendClose(job closeJob) {
	for {
		select {
		case lk.closeJobs <- job:
			return
		case k := <-lk.keep:
			lk.retain(k.id, k.closed)
		case <-lk.w.kill: // a crash: the file stays as it is
			if job.f != nil {
				_ = job.f.Close()
			}
			return
		}
	}
}

// stopCloser lets the closer finish its jobs (Close) and keeps the
// segments it asks to keep.
func (lk *lake) stopCloser() {
	close(lk.closeJobs)
	for {
		select {
		case k := <-lk.keep:
			lk.retain(k.id, k.closed)
		case <-lk.closerDone:
			return
		}
	}
}
