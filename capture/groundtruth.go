package capture

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
	lakefmt "github.com/leadscore/leadscore/lake"
)

// Ground truth (outcomes posted to POST /v1/feedback) goes to its own part
// of the lake, lakefmt.GroundTruthDir/dt=YYYY-MM-DD/hour=HH/outcomes-ID.parquet by
// the hour leadscore received the outcome (never the sender's own time,
// which is the event_time column: one request with times from year 1 to
// 9999 would otherwise make thousands of partitions and files; a segment's
// outcomes span at most RollAge of received times, so a handful of
// files), through its own bounded queue and journal: outcome
// segments (_journal/ID.gtl, one JSON line per outcome) are fsync'd every
// SyncInterval like record segments, turned into Parquet every RollAge (or
// RowGroupRows outcomes), and replayed by New after a crash. A replay
// rewrites the same file names, so it never duplicates outcomes.
const (
	// DefaultFeedbackQueueDepth is the default of Config.FeedbackQueueDepth.
	DefaultFeedbackQueueDepth = 16384

	outcomePrefix = "outcomes-"
	outcomeSegExt = ".gtl"
)

// outcomeLine is one outcome in a journal segment.
type outcomeLine struct {
	I string `json:"i,omitempty"`
	L string `json:"l,omitempty"`
	C bool   `json:"c"`
	T int64  `json:"t"`           // unix microseconds
	R int64  `json:"r,omitempty"` // received, unix microseconds (0 in segments of older versions)
}

// groundTruth is the outcome pipeline: its own bounded queue, journal
// segments, goroutine and counters, held by a Writer beside the record
// pipeline. It shares the Writer's directory, local-bytes bound, upload
// queue and stop signals, and nothing else.
type groundTruth struct {
	cfg  Config
	tune tuning
	log  *slog.Logger
	root *os.Root
	// localBytes is the Writer's count of local bytes, bounded by
	// MaxLocalBytes: outcomes are dropped while it is over.
	localBytes *atomic.Int64
	// upload hands a closed groundtruth file to the Writer's upload queue.
	upload func(closedFile)

	queue    outcomeQueue
	counters outcomeCounters
	// segmentIDs names outcome segments; used by startup, then by the
	// goroutine only.
	segmentIDs *idSource

	stop <-chan struct{} // the Writer's Close began
	kill <-chan struct{} // tests: abandon everything, as a crash would
	done chan struct{}   // run has returned
}

func newGroundTruth(w *Writer, instance string) *groundTruth {
	return &groundTruth{
		cfg:        w.cfg,
		tune:       w.tune,
		log:        w.log,
		root:       w.root,
		localBytes: &w.counters.localBytes,
		upload:     w.queueUpload,
		queue:      outcomeQueue{ready: make(chan struct{}, 1)},
		segmentIDs: &idSource{instance: instance},
		stop:       w.stop,
		kill:       w.kill,
		done:       make(chan struct{}),
	}
}

// outcomeQueue is the bounded hand-off from CaptureFeedback.
type outcomeQueue struct {
	mu       sync.Mutex
	outcomes []leadscore.Outcome
	closed   bool
	ready    chan struct{} // signalled (never blocking) when outcomes grows
}

func (q *outcomeQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.outcomes)
}

// outcomeCounters are the numbers of leadscore_capture_feedback_*.
type outcomeCounters struct {
	captured, journaled, written, replayed atomic.Uint64
	dropped                                [nDropReasons]atomic.Uint64
	errors                                 atomic.Uint64
}

// CaptureFeedback queues outcomes for the lake's groundtruth/ partitions
// and returns at once; it implements monitor.FeedbackSink. Outcomes that do
// not fit in the queue (FeedbackQueueDepth), arrive after Close began, or
// find the local backlog full are dropped and counted
// (leadscore_capture_feedback_dropped_total).
func (w *Writer) CaptureFeedback(outcomes []leadscore.Outcome) {
	w.groundTruth.capture(outcomes)
}

func (gt *groundTruth) capture(outcomes []leadscore.Outcome) {
	if len(outcomes) == 0 {
		return
	}
	c := &gt.counters
	if gt.localBytes.Load() >= gt.cfg.MaxLocalBytes {
		c.dropped[dropBacklogFull].Add(uint64(len(outcomes)))
		return
	}
	q := &gt.queue
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		c.dropped[dropClosed].Add(uint64(len(outcomes)))
		return
	}
	n := min(len(outcomes), gt.cfg.FeedbackQueueDepth-len(q.outcomes))
	n = max(n, 0)
	q.outcomes = append(q.outcomes, outcomes[:n]...)
	q.mu.Unlock()
	if n > 0 {
		c.captured.Add(uint64(n))
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	if full := len(outcomes) - n; full > 0 {
		c.dropped[dropQueueFull].Add(uint64(full)) //nolint:gosec // positive
		gt.log.Warn("capture: feedback queue full, outcomes dropped", "dropped", full)
	}
}

// outcomeGen is the open outcome segment and the outcomes in it.
type outcomeGen struct {
	id      string
	f       *os.File
	bw      *bufio.Writer
	pending []leadscore.Outcome
	first   time.Time // when the first outcome arrived
	dirty   bool      // written, not yet synced
	failed  bool      // the segment could not be written: keep it as is
}

// run is the outcome goroutine: journal, Parquet, upload queue.
func (gt *groundTruth) run() {
	defer close(gt.done)
	tick := time.NewTicker(gt.cfg.SyncInterval)
	defer tick.Stop()
	var g *outcomeGen
	for {
		select {
		case <-gt.kill:
			if g != nil && g.f != nil {
				_ = g.f.Close()
			}
			return
		case <-gt.queue.ready:
			g = gt.journal(g)
		case now := <-tick.C:
			gt.sync(g)
			if g != nil && len(g.pending) > 0 &&
				(now.Sub(g.first) >= gt.cfg.RollAge || len(g.pending) >= gt.cfg.RowGroupRows) {
				gt.finish(g)
				g = nil
			}
		case <-gt.stop:
			gt.queue.mu.Lock()
			gt.queue.closed = true
			gt.queue.mu.Unlock()
			g = gt.journal(g)
			if g != nil {
				gt.sync(g)
				gt.finish(g)
			}
			return
		}
	}
}

// journal appends the queued outcomes to g's segment (opening one when g
// is nil) and returns the generation.
func (gt *groundTruth) journal(g *outcomeGen) *outcomeGen {
	gt.queue.mu.Lock()
	outs := gt.queue.outcomes
	gt.queue.outcomes = nil
	gt.queue.mu.Unlock()
	if len(outs) == 0 {
		return g
	}
	if g == nil {
		g = &outcomeGen{id: gt.segmentIDs.next(time.Now()), first: time.Now()}
		f, err := gt.root.OpenFile(outcomeSegmentPath(g.id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			gt.failed(g, "open", err)
		} else {
			g.f, g.bw = f, bufio.NewWriter(f)
		}
	}
	now := time.Now().UTC()
	for i := range outs {
		if outs[i].Received.IsZero() {
			outs[i].Received = now
		}
	}
	if g.f != nil && !g.failed {
		enc := json.NewEncoder(g.bw)
		var err error
		for i := range outs {
			o := &outs[i]
			if err = enc.Encode(outcomeLine{I: o.InferenceID, L: o.LeadID, C: o.Converted, T: o.Time.UnixMicro(), R: o.Received.UnixMicro()}); err != nil {
				break
			}
		}
		// Hand the lines to the OS now, as the record journal does: a
		// process crash (SIGKILL) then loses none of them, only a power
		// loss before the next fsync can. Left in the buffer until the
		// sync tick, up to 4 KiB of counted outcomes died with the
		// process, the last of them as a torn line.
		if err == nil {
			err = g.bw.Flush()
		}
		if err != nil {
			gt.failed(g, "write", err)
		} else {
			g.dirty = true
			gt.counters.journaled.Add(uint64(len(outs)))
		}
	}
	g.pending = append(g.pending, outs...)
	return g
}

// failed marks g's segment unusable: its outcomes live in memory only
// until their Parquet file is closed.
func (gt *groundTruth) failed(g *outcomeGen, op string, err error) {
	gt.counters.errors.Add(1)
	g.failed = true
	gt.log.Error("capture: cannot journal outcomes; they are kept in memory until written to Parquet",
		"segment", g.id, "op", op, "error", err.Error())
}

// sync fsyncs g's segment when it has unsynced outcomes.
func (gt *groundTruth) sync(g *outcomeGen) {
	if g == nil || !g.dirty || g.f == nil || g.failed {
		return
	}
	err := g.bw.Flush()
	if err == nil {
		err = g.f.Sync()
	}
	if err != nil {
		gt.failed(g, "sync", err)
		return
	}
	g.dirty = false
}

// finish writes g's outcomes to Parquet, then removes its segment and
// queues the files for upload. When Parquet fails, a sound segment is kept
// for the next start and the outcomes of a failed one are dropped
// (disk_error).
func (gt *groundTruth) finish(g *outcomeGen) {
	if g.f != nil {
		if !g.failed {
			_ = g.bw.Flush()
		}
		_ = g.f.Close()
	}
	closed, err := gt.write(g.id, g.pending)
	if err != nil {
		gt.counters.errors.Add(1)
		if g.failed || g.f == nil {
			gt.counters.dropped[dropDiskError].Add(uint64(len(g.pending)))
			gt.log.Error("capture: outcomes lost: neither journal nor Parquet could hold them", "outcomes", len(g.pending), "error", err.Error())
		} else {
			gt.log.Error("capture: cannot write outcomes to Parquet; their journal segment is kept for the next start",
				"segment", g.id, "error", err.Error())
		}
		return
	}
	gt.counters.written.Add(uint64(len(g.pending)))
	gt.removeSegment(g.id)
	for _, cf := range closed {
		gt.upload(cf)
	}
}

func (gt *groundTruth) removeSegment(id string) {
	if err := gt.root.Remove(outcomeSegmentPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		gt.log.Warn("capture: cannot remove outcome segment", "segment", id, "error", err.Error())
		return
	}
	_ = syncDir(gt.root, journalDir)
}

// write writes outs into one closed file per hour partition,
// groundtruth/dt=.../hour=HH/outcomes-ID.parquet, replacing files of the
// same name (a replay writes the same files again).
func (gt *groundTruth) write(id string, outs []leadscore.Outcome) ([]closedFile, error) {
	byDir := map[string][]lakefmt.OutcomeRow{}
	var dirs []string
	for i := range outs {
		o := &outs[i]
		dir := filepath.FromSlash(lakefmt.GroundTruth.Partition(o.Received))
		if _, ok := byDir[dir]; !ok {
			dirs = append(dirs, dir)
		}
		byDir[dir] = append(byDir[dir], lakefmt.OutcomeRow{EventTime: o.Time.UTC(), ReceivedTime: o.Received.UTC(),
			InferenceID: o.InferenceID, LeadID: o.LeadID, Converted: o.Converted})
	}
	slices.Sort(dirs)
	var closed []closedFile
	for _, dir := range dirs {
		cf, err := gt.writeFile(dir, outcomePrefix+id+partExt, byDir[dir])
		if err != nil {
			return closed, err
		}
		closed = append(closed, cf)
	}
	return closed, nil
}

func (gt *groundTruth) writeFile(dir, name string, rows []lakefmt.OutcomeRow) (closedFile, error) {
	if err := gt.root.MkdirAll(dir, 0o750); err != nil {
		return closedFile{}, err
	}
	tmp, final := filepath.Join(dir, "."+name+tempExt), filepath.Join(dir, name)
	f, err := gt.root.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return closedFile{}, err
	}
	var out io.Writer = f
	if wrap := gt.tune.wrapLake; wrap != nil {
		out = wrap(f)
	}
	cw := &countWriter{w: out}
	pw := parquet.NewGenericWriter[lakefmt.OutcomeRow](cw, parquet.Compression(lakeZstd),
		parquet.MaxRowsPerRowGroup(int64(gt.cfg.RowGroupRows)))
	_, err = pw.Write(rows)
	if err == nil {
		err = pw.Close()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = gt.root.Rename(tmp, final)
	}
	if err != nil {
		_ = gt.root.Remove(tmp)
		return closedFile{}, fmt.Errorf("write %s: %w", final, err)
	}
	if err := syncDir(gt.root, dir); err != nil {
		gt.log.Warn("capture: cannot sync partition folder", "dir", dir, "error", err.Error())
	}
	return closedFile{rel: final, size: cw.n}, nil
}

// startup replays outcome segments left by a previous run, removes
// temporary files, and returns the closed groundtruth files (for upload).
// It runs before the goroutine starts.
func (gt *groundTruth) startup() []closedFile {
	entries, err := fs.ReadDir(gt.root.FS(), journalDir)
	if err != nil {
		gt.log.Warn("capture: cannot list the journal for outcomes", "error", err.Error())
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), outcomeSegExt)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		gt.segmentIDs.observe(id)
		gt.replay(id)
	}
	var closed []closedFile
	_ = fs.WalkDir(gt.root.FS(), lakefmt.GroundTruth.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil //nolint:nilerr // a missing or unreadable folder holds nothing to upload
		}
		name := d.Name()
		switch {
		case strings.HasPrefix(name, ".") && strings.HasSuffix(name, tempExt):
			_ = gt.root.Remove(filepath.FromSlash(p))
		case strings.HasPrefix(name, outcomePrefix) && strings.HasSuffix(name, partExt):
			if info, ierr := d.Info(); ierr == nil {
				closed = append(closed, closedFile{rel: filepath.FromSlash(p), size: info.Size()})
			}
		}
		return nil
	})
	return closed
}

// replay writes the outcomes of segment id to Parquet and removes it; a
// torn last line ends the segment.
func (gt *groundTruth) replay(id string) {
	data, err := gt.root.ReadFile(outcomeSegmentPath(id))
	if err != nil {
		gt.counters.errors.Add(1)
		gt.log.Error("capture: cannot read outcome segment", "segment", id, "error", err.Error())
		return
	}
	outs, bad := parseOutcomeSegment(data, segmentTime(id))
	if bad > 0 {
		gt.counters.errors.Add(1)
		gt.log.Warn("capture: outcome segment has torn or corrupt lines; every intact line is recovered",
			"segment", id, "outcomes", len(outs), "bad_lines", bad)
	}
	if _, err := gt.write(id, outs); err != nil {
		gt.counters.errors.Add(1)
		gt.log.Error("capture: cannot replay outcome segment; kept for the next start", "segment", id, "error", err.Error())
		return
	}
	gt.counters.replayed.Add(uint64(len(outs)))
	gt.counters.written.Add(uint64(len(outs)))
	gt.removeSegment(id)
	if len(outs) > 0 {
		gt.log.Info("capture: outcomes replayed", "segment", id, "outcomes", len(outs))
	}
}

// parseOutcomeSegment reads the outcomes of a segment, one JSON line each.
// A line that does not parse (torn by a crash at the end, or corrupt in
// the middle) is skipped and counted, and every intact line before and
// after it is kept. Lines of segments written before lines carried their
// received time get segTime, the segment's creation time.
func parseOutcomeSegment(data []byte, segTime time.Time) (outs []leadscore.Outcome, bad int) {
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var l outcomeLine
		if err := json.Unmarshal(line, &l); err != nil || l.I == "" && l.L == "" {
			bad++
			continue
		}
		o := leadscore.Outcome{InferenceID: l.I, LeadID: l.L, Converted: l.C, Time: time.UnixMicro(l.T).UTC(), Received: segTime}
		if l.R != 0 {
			o.Received = time.UnixMicro(l.R).UTC()
		}
		outs = append(outs, o)
	}
	return outs, bad
}

// metrics are the leadscore_capture_feedback_* collectors.
func (gt *groundTruth) metrics() []prometheus.Collector {
	c := &gt.counters
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v.Load()) })
	}
	ms := []prometheus.Collector{
		counter("leadscore_capture_feedback_outcomes_total", "Outcomes accepted into the feedback capture queue.", &c.captured),
		counter("leadscore_capture_feedback_journaled_total", "Outcomes appended to the journal (written to the file; a process crash no longer loses them).", &c.journaled),
		counter("leadscore_capture_feedback_written_total", "Outcomes in closed groundtruth Parquet files.", &c.written),
		counter("leadscore_capture_feedback_replayed_total", "Outcomes recovered from journal segments.", &c.replayed),
		counter("leadscore_capture_feedback_errors_total", "Failed journal or Parquet operations on outcomes.", &c.errors),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leadscore_capture_feedback_queue_depth", Help: "Outcomes waiting in the feedback capture queue."},
			func() float64 { return float64(gt.queue.len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "leadscore_capture_feedback_queue_capacity", Help: "Capacity of the feedback capture queue."},
			func() float64 { return float64(gt.cfg.FeedbackQueueDepth) }),
	}
	for i, r := range dropReasons {
		if i == dropSampledOut || i == dropSchemaMismatch || i == dropTooLarge {
			continue
		}
		v := &c.dropped[i]
		ms = append(ms, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "leadscore_capture_feedback_dropped_total",
			Help:        "Outcomes not captured, by reason.",
			ConstLabels: prometheus.Labels{"reason": r},
		}, func() float64 { return float64(v.Load()) }))
	}
	return ms
}
