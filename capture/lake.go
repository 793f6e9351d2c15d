package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/leadscore/leadscore"
	lakefmt "github.com/leadscore/leadscore/lake"
)

const (
	partPrefix = "part-"
	partExt    = lakefmt.FileExt
	tempExt    = ".tmp"
)

// lake is the state of the lake goroutine: it writes generations into
// Parquet files, closes them, removes their journal segments and queues
// them for upload.
type lake struct {
	w        *Writer
	root     *os.Root
	cur      *lakeGen
	retained []*retainedGen
	errLog   logLimiter
	// The closer (closer.go): files and generation ends handed to it,
	// segments it asks to keep, and its end.
	closeJobs  chan closeJob
	keep       chan keepSegment
	closerDone chan struct{}
	// spare are the buffers of the last file completed, for the next one
	// (nil: none).
	spare    *predWriter
	spareBuf *bufio.Writer
}

// lakeGen is a generation's files. Each hour partition has at most one
// open file; when it reaches RollBytes it is closed and the next records of
// that partition go to the next file (part-ID-0000, part-ID-0001, ...), so
// the files of a partition hold its records in journal order.
type lakeGen struct {
	gen    *generation
	files  map[int64]*partFile // open files by partition
	seq    map[int64]int       // next file number by partition
	last   *partFile
	closed []closedFile // closed so far; uploaded once the segment is gone
	failed bool         // a file could not be written or closed
	// replay: the number of records of each partition already in closed
	// files of this generation (closed before a crash), which replay skips.
	replay bool
	skip   map[int64]int64
}

func newLakeGen(g *generation, replay bool) *lakeGen {
	return &lakeGen{gen: g, files: map[int64]*partFile{}, seq: map[int64]int{}, replay: replay}
}

// retainedGen is a generation whose segment is kept because some of its
// records could not be written to Parquet; it is replayed later.
type retainedGen struct {
	id     string
	closed []closedFile // its files that did close
}

// closedFile is a closed lake file, by its root-relative path.
type closedFile struct {
	rel  string
	size int64
}

// partFile is one open Parquet file.
type partFile struct {
	key   int64 // hours since the epoch
	dir   string
	tmp   string
	final string
	f     *os.File
	bw    *bufio.Writer
	cw    countWriter
	w     lakeFileWriter
	// sinceRoll counts the rows added since the file's size was last
	// compared with RollBytes.
	sinceRoll int
	// written counts rows given to w; unjournaled those of them that are
	// not in the journal (lost if the file fails).
	written, unjournaled int64
	err                  error
}

func newLake(w *Writer) *lake {
	return &lake{w: w, root: w.root, errLog: logLimiter{every: w.tune.logEvery},
		closeJobs: make(chan closeJob, maxCloseJobs), keep: make(chan keepSegment), closerDone: make(chan struct{})}
}

func hourKey(t time.Time) int64 {
	s := t.Unix()
	if s < 0 {
		return (s+1)/3600 - 1
	}
	return s / 3600
}

// ---- start-up ---------------------------------------------------------------

// startup removes temporary files left by a crash, replays the journal
// segments left behind, and (with an Uploader) queues closed files for
// upload. Runs before the goroutines start; it walks the whole local lake
// once.
func (lk *lake) startup() error {
	// Closed files by generation id, and every temp file removed.
	closed := map[string][]closedFile{}
	var ids []string
	err := fs.WalkDir(lk.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			lk.w.log.Warn("capture: cannot read part of the lake", "path", p, "error", err.Error())
			if d != nil && d.IsDir() && p != "." {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		switch {
		case d.IsDir():
			if p == journalDir {
				return fs.SkipDir
			}
		case strings.HasPrefix(name, "."+partPrefix) && strings.HasSuffix(name, partExt+tempExt):
			if rerr := lk.root.Remove(filepath.FromSlash(p)); rerr != nil {
				lk.w.log.Warn("capture: cannot remove temporary file", "path", p, "error", rerr.Error())
			}
		case d.Type().IsRegular() && lk.w.cfg.Uploader != nil: // closed files only matter for upload
			id, _, ok := parsePartName(name)
			if !ok {
				return nil
			}
			info, ierr := d.Info()
			if ierr != nil {
				return nil //nolint:nilerr // vanished: nothing to upload
			}
			if _, ok := closed[id]; !ok {
				ids = append(ids, id)
			}
			closed[id] = append(closed[id], closedFile{rel: filepath.FromSlash(p), size: info.Size()})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("capture: scan %s: %w", lk.w.cfg.Dir, err)
	}

	segs, err := listSegments(lk.root)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	for _, name := range segs {
		if info, err := lk.root.Stat(filepath.Join(journalDir, name)); err == nil {
			lk.w.counters.localBytes.Add(info.Size())
		}
		lk.w.segmentIDs.observe(strings.TrimSuffix(name, segmentExt))
	}
	for _, name := range segs {
		id := strings.TrimSuffix(name, segmentExt)
		replayed, ok := lk.replay(id)
		if !ok {
			lk.retain(id, closed[id])
			continue
		}
		if _, seen := closed[id]; !seen {
			ids = append(ids, id)
		}
		closed[id] = append(closed[id], replayed...)
	}
	if len(segs) > 0 {
		lk.w.log.Info("capture: journal replayed", "segments", len(segs),
			"records", lk.w.counters.replayed.Load(), "torn", lk.w.counters.torn.Load())
	}

	if lk.w.cfg.Uploader == nil {
		return nil
	}
	slices.Sort(ids)
	var n int
	var bytes int64
	for _, id := range ids {
		if lk.isRetained(id) {
			continue
		}
		for _, cf := range closed[id] {
			lk.w.queueUpload(cf)
			n++
			bytes += cf.size
		}
	}
	if n > 0 {
		lk.w.log.Info("capture: upload backlog from a previous run", "files", n, "bytes", bytes)
	}
	return nil
}

func (lk *lake) isRetained(id string) bool {
	for _, r := range lk.retained {
		if r.id == id {
			return true
		}
	}
	return false
}

// ---- the goroutine ------------------------------------------------------------

func (w *Writer) runLake() {
	defer close(w.lakeDone)
	lk := w.lake
	retry := time.NewTicker(w.tune.retryInterval)
	defer retry.Stop()
	go lk.runCloser()
	for {
		select {
		case it, ok := <-w.toLake:
			if !ok {
				if lk.cur != nil {
					lk.finishLive(lk.cur)
					lk.cur = nil
				}
				lk.stopCloser()
				lk.retryRetained()
				<-w.groundTruth.done // its last files join the upload queue
				w.uploads.close()
				return
			}
			lk.handle(it)
		case <-retry.C:
			lk.retryRetained()
		case k := <-lk.keep:
			lk.retain(k.id, k.closed)
		case <-w.kill:
			lk.abandon()
			return
		}
	}
}

func (lk *lake) handle(it item) {
	if lk.cur == nil || lk.cur.gen != it.gen {
		if lk.cur != nil {
			lk.finishLive(lk.cur)
		}
		lk.cur = newLakeGen(it.gen, false)
	}
	g := lk.cur
	if len(it.runs) > 0 {
		for _, run := range it.runs {
			lk.write(g, run, it.journaled)
		}
		lk.rollFiles(g)
	}
	if !it.buf.empty() {
		// Every record of the take is written (items come in order), and
		// the Parquet writer copied their values: the buffers are free
		// and the batches released.
		select {
		case lk.w.spareBatches <- it.buf.recycle():
		default:
		}
	}
	if it.end {
		lk.finishLive(g)
		lk.cur = nil
	}
}

// rollFiles closes g's files that reached RollBytes, and asks the journal
// goroutine to roll the generation when too many files are open.
func (lk *lake) rollFiles(g *lakeGen) {
	for _, pf := range g.files {
		lk.rollFile(g, pf)
	}
	if !g.replay && len(g.files) >= lk.w.tune.maxOpenFiles {
		lk.w.rollRequest.Store(g.gen)
	}
}

// rollFile closes pf if it reached RollBytes; the partition's next record
// opens the next file.
func (lk *lake) rollFile(g *lakeGen, pf *partFile) {
	if pf.err != nil || pf.w.Size() < lk.w.cfg.RollBytes {
		return
	}
	// A file that fails to close stays in place with its error, so that
	// the partition's later records are left to the journal too: the
	// closed files of a partition must hold a prefix of its records for a
	// replay to skip them by count.
	if lk.closeInGen(g, pf) {
		delete(g.files, pf.key)
		if g.last == pf {
			g.last = nil
		}
	}
}

// abandon stops as a crash would: open files are closed unfinished, and
// the closer renames nothing more.
func (lk *lake) abandon() {
	close(lk.closeJobs)
	<-lk.closerDone
	if lk.cur == nil {
		return
	}
	for _, pf := range lk.cur.files {
		if pf.f != nil {
			_ = pf.f.Close()
		}
	}
	lk.cur = nil
}

// ---- writing ------------------------------------------------------------------

// write adds recs to g's files and returns how many were written (records
// of skipped partitions and failed files are not).
func (lk *lake) write(g *lakeGen, recs []leadscore.Record, journaled bool) int {
	n, lost := 0, 0
	for i := 0; i < len(recs); {
		r := &recs[i]
		key := hourKey(r.Time)
		pf := g.last
		if pf == nil || pf.key != key {
			if g.replay && lk.skipReplayed(g, key, r.Time) {
				i++
				continue
			}
			pf = lk.file(g, key, r.Time)
			g.last = pf
		}
		if pf.err != nil {
			if !journaled {
				lost++
			}
			i++
			continue
		}
		// The run: r and the records after it of the same partition, up
		// to the row group's end and the next size check, handed to the
		// file writer at once (it fills its columns a run at a time);
		// the counters, flush and roll below are what they were record
		// by record.
		room := min(lk.w.cfg.RowGroupRows-pf.w.buffered(), lk.w.tune.pendingRows-pf.sinceRoll)
		// A request's records share its time: the same time is the same
		// partition without hourKey's division.
		j, last := i+1, r.Time
		for ; j < len(recs) && j-i < room; j++ {
			if t := recs[j].Time; t != last {
				if hourKey(t) != key {
					break
				}
				last = t
			}
		}
		run := j - i
		pf.w.addRun(recs[i:j])
		i = j
		pf.written += int64(run)
		if !journaled {
			pf.unjournaled += int64(run)
		}
		n += run
		pf.sinceRoll += run
		if pf.w.buffered() == lk.w.cfg.RowGroupRows {
			lk.flushRows(g, pf)
		}
		if pf.sinceRoll == lk.w.tune.pendingRows {
			pf.sinceRoll = 0
			lk.rollFile(g, pf)
		}
	}
	if lost > 0 {
		lk.w.counters.drop(dropDiskError, lost)
	}
	return n
}

// partitionDir is the local folder of t's hour partition of predictions.
func partitionDir(t time.Time) string {
	return filepath.FromSlash(lakefmt.Predictions.Partition(t))
}

// partName names file seq of generation id.
func partName(id string, seq int) string {
	return fmt.Sprintf("%s%s-%04d%s", partPrefix, id, seq, partExt)
}

// parsePartName returns the generation id and number of a lake file name.
func parsePartName(name string) (id string, seq int, ok bool) {
	s, ok := strings.CutPrefix(name, partPrefix)
	if !ok {
		return "", 0, false
	}
	if s, ok = strings.CutSuffix(s, partExt); !ok {
		return "", 0, false
	}
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return s[:i], n, true
}

// skipReplayed reports whether a replayed record of partition key is
// already in a file closed before the crash (and counts it off). The first
// time it sees a partition it counts the rows of those files.
func (lk *lake) skipReplayed(g *lakeGen, key int64, t time.Time) bool {
	if g.skip == nil {
		g.skip = map[int64]int64{}
	}
	left, seen := g.skip[key]
	if !seen {
		left = lk.closedRows(g, key, t)
		g.skip[key] = left
	}
	if left == 0 {
		return false
	}
	g.skip[key] = left - 1
	return true
}

// closedRows counts the rows in g's closed files in t's partition and sets
// the next file number after theirs.
func (lk *lake) closedRows(g *lakeGen, key int64, t time.Time) int64 {
	dir := partitionDir(t)
	entries, err := fs.ReadDir(lk.root.FS(), filepath.ToSlash(dir))
	if err != nil {
		return 0
	}
	var rows int64
	for _, e := range entries {
		id, seq, ok := parsePartName(e.Name())
		if !ok || id != g.gen.id {
			continue
		}
		n, err := lk.numRows(filepath.Join(dir, e.Name()))
		if err != nil {
			lk.w.counters.fail(opReplay)
			lk.w.log.Error("capture: cannot read a closed lake file while replaying; its rows may be written twice",
				"file", filepath.Join(dir, e.Name()), "error", err.Error())
			continue
		}
		rows += n
		g.seq[key] = max(g.seq[key], seq+1)
	}
	return rows
}

func (lk *lake) numRows(rel string) (int64, error) {
	f, err := lk.root.Open(rel)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	pf, err := parquet.OpenFile(f, info.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return 0, err
	}
	return pf.NumRows(), nil
}

// file returns g's open file for the partition of t, opening the next one
// if needed. A file that could not be opened is returned with err set.
func (lk *lake) file(g *lakeGen, key int64, t time.Time) *partFile {
	if pf, ok := g.files[key]; ok {
		return pf
	}
	dir := partitionDir(t)
	name := partName(g.gen.id, g.seq[key])
	g.seq[key]++
	pf := &partFile{key: key, dir: dir, tmp: filepath.Join(dir, "."+name+tempExt), final: filepath.Join(dir, name)}
	g.files[key] = pf
	if err := lk.open(g, pf); err != nil {
		lk.failFile(g, pf, opParquetWrite, err)
	}
	return pf
}

func (lk *lake) open(g *lakeGen, pf *partFile) error {
	var f *os.File
	var err error
	// The uploader removes partition folders it empties; retry if it just
	// removed this one.
	for attempt := 0; attempt < 3; attempt++ {
		if err = lk.root.MkdirAll(pf.dir, 0o750); err != nil {
			continue
		}
		f, err = lk.root.OpenFile(pf.tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", pf.tmp, err)
	}
	pf.f = f
	var out io.Writer = f
	if wrap := lk.w.tune.wrapLake; wrap != nil {
		out = wrap(f)
	}
	if pf.bw = lk.spareBuf; pf.bw != nil {
		pf.bw.Reset(out)
	} else {
		pf.bw = bufio.NewWriterSize(out, 256<<10)
	}
	pf.cw.w = pf.bw
	if nw := lk.w.tune.newFileWriter; nw != nil {
		pf.w = nw(&pf.cw, g.gen.schema, lk.w.cfg.RowGroupRows)
	} else {
		pf.w = reusePredWriter(lk.spare, &pf.cw, g.gen.schema, lk.w.cfg.RowGroupRows, 0)
	}
	lk.spare, lk.spareBuf = nil, nil
	return nil
}

// keepBuffers keeps the buffers of pf, a file completed and flushed, for
// the next file opened.
func (lk *lake) keepBuffers(pf *partFile) {
	if pw, ok := pf.w.(*predWriter); ok {
		lk.spare = pw
	}
	lk.spareBuf = pf.bw
}

// flushRows writes pf's buffered rows as a row group.
func (lk *lake) flushRows(g *lakeGen, pf *partFile) {
	if pf.err != nil || pf.w.buffered() == 0 {
		return
	}
	if err := pf.w.flushRowGroup(); err != nil {
		lk.failFile(g, pf, opParquetWrite, fmt.Errorf("write %s: %w", pf.tmp, err))
		return
	}
	lk.w.counters.lakeOK.Store(true)
}

// failFile abandons a file after an error. Its journaled records stay in
// the journal segment, which is kept and replayed; the others are lost and
// counted.
func (lk *lake) failFile(g *lakeGen, pf *partFile, op int, err error) {
	pf.err = err
	g.failed = true
	if pf.f != nil {
		_ = pf.f.Close()
		pf.f = nil
		if rerr := lk.root.Remove(pf.tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			lk.w.log.Warn("capture: cannot remove temporary file", "path", pf.tmp, "error", rerr.Error())
		}
	}
	lk.w.counters.fail(op)
	lk.w.counters.lakeOK.Store(false)
	if pf.unjournaled > 0 {
		lk.w.counters.drop(dropDiskError, int(pf.unjournaled))
	}
	if ok, suppressed := lk.errLog.allow(time.Now()); ok {
		lk.w.log.Error("capture: cannot write lake file; records stay in the journal and are retried",
			"file", pf.final, "error", err.Error(), "lost", pf.unjournaled, "suppressed", suppressed)
	}
}

// closeFile finishes pf: footer, fsync, rename to its final name.
func (lk *lake) closeFile(g *lakeGen, pf *partFile) (closedFile, error) {
	lk.flushRows(g, pf)
	if pf.err != nil {
		return closedFile{}, pf.err
	}
	err := pf.w.close()
	if err == nil {
		err = pf.bw.Flush()
	}
	if err == nil {
		lk.keepBuffers(pf)
		pf.w, pf.bw = nil, nil
		err = lk.w.fsync(pf.f)
	}
	if cerr := pf.f.Close(); err == nil {
		err = cerr
	}
	pf.f = nil
	if err == nil {
		err = lk.root.Rename(pf.tmp, pf.final)
	}
	if err != nil {
		_ = lk.root.Remove(pf.tmp)
		return closedFile{}, fmt.Errorf("close %s: %w", pf.final, err)
	}
	// The file is complete and in place; a failed directory sync only
	// weakens durability of the rename against a power cut.
	if err := syncDir(lk.root, pf.dir); err != nil {
		lk.w.log.Warn("capture: cannot sync partition folder", "dir", pf.dir, "error", err.Error())
	}
	return closedFile{rel: pf.final, size: pf.cw.n}, nil
}

// handOver completes pf (its last row group and footer, flushed to the
// file) and hands it to the closer; false when that failed.
func (lk *lake) handOver(g *lakeGen, pf *partFile) bool {
	lk.flushRows(g, pf)
	if pf.err != nil {
		return false
	}
	err := pf.w.close()
	if err == nil {
		err = pf.bw.Flush()
	}
	if err != nil {
		lk.failFile(g, pf, opParquetClose, fmt.Errorf("close %s: %w", pf.final, err))
		return false
	}
	lk.sendClose(closeJob{gen: g.gen, f: pf.f, tmp: pf.tmp, final: pf.final, dir: pf.dir, key: pf.key,
		size: pf.cw.n, written: pf.written, unjournaled: pf.unjournaled})
	lk.keepBuffers(pf)
	pf.f, pf.w, pf.bw = nil, nil, nil // the closer's now; the buffers are the next file's
	return true
}

// closeInGen closes pf and records it among g's closed files; false when
// it failed. A file of a live generation is completed here (its last row
// group and footer) and fsync'd and renamed by the closer.
func (lk *lake) closeInGen(g *lakeGen, pf *partFile) bool {
	if !g.replay {
		return lk.handOver(g, pf)
	}
	cf, err := lk.closeFile(g, pf)
	if err != nil {
		if pf.err == nil { // not already failed by its last write
			lk.failFile(g, pf, opParquetClose, err)
		}
		return false
	}
	g.closed = append(g.closed, cf)
	c := lk.w.counters
	c.files.Add(1)
	c.bytes.Add(uint64(cf.size))      //nolint:gosec // sizes are >= 0
	c.written.Add(uint64(pf.written)) //nolint:gosec // counts are >= 0
	if g.replay {
		c.replayed.Add(uint64(pf.written)) //nolint:gosec // counts are >= 0
	}
	c.lakeOK.Store(true)
	return true
}

// finish closes g's open files. When every record of g is in a closed file
// it removes g's segment and returns true; otherwise the segment is kept
// (false). Either way it returns the files closed.
func (lk *lake) finish(g *lakeGen) ([]closedFile, bool) {
	keys := make([]int64, 0, len(g.files))
	for k := range g.files {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if pf := g.files[k]; pf.err == nil {
			lk.closeInGen(g, pf)
		}
	}
	g.files, g.last = nil, nil
	if g.failed && g.gen.hasSegment {
		return g.closed, false
	}
	if g.gen.hasSegment {
		lk.removeSegment(g.gen.id)
	}
	return g.closed, true
}

// finishLive finishes a generation of this run: its files are completed
// and handed to the closer, which then removes the segment (or has it
// kept) and queues the files for upload.
func (lk *lake) finishLive(g *lakeGen) {
	for _, k := range slices.Sorted(maps.Keys(g.files)) {
		if pf := g.files[k]; pf.err == nil {
			lk.closeInGen(g, pf)
		}
	}
	g.files, g.last = nil, nil
	lk.sendClose(closeJob{gen: g.gen, end: true, failed: g.failed})
}

func (lk *lake) retain(id string, closed []closedFile) {
	lk.retained = append(lk.retained, &retainedGen{id: id, closed: closed})
	lk.w.counters.retainedSegments.Store(int64(len(lk.retained)))
	lk.w.log.Warn("capture: journal segment kept until its records are in Parquet", "segment", id,
		"retry_every", lk.w.tune.retryInterval.String())
}

// retryRetained replays kept segments; their files are queued for upload
// once all are closed.
func (lk *lake) retryRetained() {
	kept := lk.retained[:0]
	for _, r := range lk.retained {
		closed, ok := lk.replay(r.id)
		r.closed = append(r.closed, closed...)
		if !ok {
			kept = append(kept, r)
			continue
		}
		for _, cf := range r.closed {
			lk.w.queueUpload(cf)
		}
	}
	clear(lk.retained[len(kept):])
	lk.retained = kept
	lk.w.counters.retainedSegments.Store(int64(len(kept)))
}

func (lk *lake) removeSegment(id string) {
	p := segmentPath(id)
	info, err := lk.root.Stat(p)
	if err == nil {
		err = lk.root.Remove(p)
	}
	if err == nil {
		lk.w.counters.localBytes.Add(-info.Size())
		err = syncDir(lk.root, journalDir)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		lk.w.log.Warn("capture: cannot remove journal segment", "segment", id, "error", err.Error())
	}
}

// ---- replay -------------------------------------------------------------------

// replay writes the records of segment id into Parquet, skipping partitions
// whose file of that generation was already closed, and removes the
// segment. It returns the files it closed and whether the segment is done
// (false: it is kept for a later retry).
func (lk *lake) replay(id string) ([]closedFile, bool) {
	p := segmentPath(id)
	f, err := lk.root.Open(p)
	if err != nil {
		lk.w.counters.fail(opReplay)
		lk.w.log.Error("capture: cannot open journal segment", "segment", id, "error", err.Error())
		return nil, false
	}
	defer func() { _ = f.Close() }()
	var size int64
	if info, err := f.Stat(); err == nil {
		size = info.Size()
	}
	fr, err := newFrameReader(f, size)
	if err != nil {
		var torn *tornError
		if errors.As(err, &torn) {
			// Torn before its first record: nothing to recover.
			lk.w.counters.torn.Add(1)
			lk.w.log.Warn("capture: journal segment torn before its first record, removed", "segment", id, "reason", torn.Reason)
			_ = f.Close()
			lk.removeSegment(id)
			return nil, true
		}
		lk.w.counters.fail(opReplay)
		lk.w.log.Error("capture: not a journal segment; renamed to .bad", "segment", id, "error", err.Error())
		_ = f.Close()
		if info, serr := lk.root.Stat(p); serr == nil {
			lk.w.counters.localBytes.Add(-info.Size())
		}
		if rerr := lk.root.Rename(p, p+".bad"); rerr != nil {
			lk.w.log.Error("capture: cannot rename bad journal segment", "segment", id, "error", rerr.Error())
		}
		return nil, true
	}
	if err := validateFeatures(fr.features); err != nil {
		lk.w.counters.fail(opReplay)
		lk.w.log.Error("capture: journal segment has an unusable feature list; renamed to .bad", "segment", id, "error", err.Error())
		_ = f.Close()
		_ = lk.root.Rename(p, p+".bad")
		return nil, true
	}
	schema, err := newLakeSchema(fr.features)
	if err != nil {
		lk.w.counters.fail(opReplay)
		lk.w.log.Error("capture: journal segment schema", "segment", id, "error", err.Error())
		return nil, false
	}
	g := newLakeGen(&generation{id: id, schema: schema, hasSegment: true}, true)
	const chunk = 1024
	recs := make([]leadscore.Record, chunk)
	n, total := 0, 0
	for {
		err := fr.next(&recs[n])
		if err == nil {
			n++
			total++
			if n == chunk {
				lk.write(g, recs, true)
				lk.rollFiles(g)
				n = 0
			}
			continue
		}
		if err != io.EOF {
			lk.w.counters.torn.Add(1)
			lk.w.log.Warn("capture: journal segment ends in a torn or corrupt frame; the records before it are recovered",
				"segment", id, "records", total, "error", err.Error())
		}
		break
	}
	lk.write(g, recs[:n], true)
	return lk.finish(g)
}
