// Package capture turns scored records into a data lake of Hive-partitioned
// Parquet files, locally or in S3. The request path waits only when the
// lake falls behind (the queue is full), and then at most QueueWait.
//
// A Writer is a leadscore.Sink. Capture puts records in a bounded queue
// (waiting up to QueueWait for room when it is full, then dropping and
// counting what does not fit); a journal goroutine appends
// them to a local append-only segment, synced every SyncInterval (group
// commit); a lake goroutine writes them into zstd Parquet files under
// dt=YYYY-MM-DD/hour=HH/ by event time, rolled by size and age; with an
// Uploader, closed files are uploaded with retries and removed locally once
// stored. A segment is removed only once every record in it is in a closed
// file, and segments left by a crash are replayed by New, so a SIGKILL
// loses at most the last SyncInterval of records and Close loses none.
//
// docs/lake.md describes the layout, schema, guarantees and settings.
package capture

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"log/slog"
	"math"
	randv2 "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
)

// Defaults for the zero values of Config.
const (
	DefaultDir           = "./data/lake"
	DefaultQueueDepth    = 8192
	DefaultSyncInterval  = 200 * time.Millisecond
	DefaultRollBytes     = 64 << 20
	DefaultRollAge       = 5 * time.Minute
	DefaultSamplePercent = 100
	DefaultMaxLocalBytes = 4 << 30
	DefaultRowGroupRows  = 8192
	DefaultQueueWait     = 5 * time.Second
)

// Reasons a record is not captured: the values of the reason label of
// leadscore_capture_dropped_total and the keys of Stats.Dropped.
const (
	// DropQueueFull: the queue held QueueDepth records.
	DropQueueFull = "queue_full"
	// DropSampledOut: left out by SamplePercent.
	DropSampledOut = "sampled_out"
	// DropDiskError: neither the journal nor a Parquet file could hold it.
	DropDiskError = "disk_error"
	// DropBacklogFull: the local backlog reached MaxLocalBytes.
	DropBacklogFull = "backlog_full"
	// DropClosed: captured after Close began.
	DropClosed = "closed"
	// DropSchemaMismatch: its feature count differs from the feature list.
	DropSchemaMismatch = "schema_mismatch"
	// DropTooLarge: larger than a journal frame (4 MiB); it is kept out of
	// the journal and the lake alike, so that both count the same records.
	// The HTTP service's id and body limits make it unreachable from a
	// request.
	DropTooLarge = "too_large"
)

var dropReasons = [...]string{DropQueueFull, DropSampledOut, DropDiskError, DropBacklogFull, DropClosed, DropSchemaMismatch, DropTooLarge}

const (
	dropQueueFull = iota
	dropSampledOut
	dropDiskError
	dropBacklogFull
	dropClosed
	dropSchemaMismatch
	dropTooLarge
	nDropReasons
)

// Config configures a Writer. Zero values take the defaults above.
type Config struct {
	// Dir is the local lake: Parquet files, temporary files, the journal
	// (Dir/_journal) and, with an Uploader, the upload backlog. Default
	// ./data/lake.
	Dir string
	// QueueDepth is how many records may wait for the journal. Capture
	// waits up to QueueWait for room in a full queue, then drops what does
	// not fit (queue_full). Default 8192.
	QueueDepth int
	// QueueWait is how long Capture may wait for room in a full queue.
	// Waiting slows the request path down to the lake's pace, so that a
	// server's in-flight cap sheds new requests (503) instead of records
	// being lost; only a lake stalled longer than this (a hung disk) drops
	// records. Default 5s; negative: never wait, drop at once.
	QueueWait time.Duration
	// SyncInterval is how often the journal is fsync'd (group commit): the
	// most a machine crash loses. Default 200ms.
	SyncInterval time.Duration
	// RollBytes closes a Parquet file once it reaches about this size.
	// Default 64 MiB.
	RollBytes int64
	// RollAge closes Parquet files this long after their first record.
	// Default 5m.
	RollAge time.Duration
	// SamplePercent is the share of records kept, in (0, 100]; the rest
	// are counted as sampled_out. Records are picked by a hash of the
	// request and inference ids keyed with a per-Writer secret, so that a
	// caller cannot choose ids to stay out of the lake, and a shadow
	// record goes with its live one. 0 means 100: to capture nothing, do
	// not create a Writer.
	SamplePercent float64
	// MaxLocalBytes bounds the local bytes waiting to be made durable
	// elsewhere: journal segments plus, with an Uploader, closed files not
	// yet uploaded. Beyond it new records are dropped (backlog_full).
	// Default 4 GiB.
	MaxLocalBytes int64
	// RowGroupRows is the most rows per Parquet row group, which bounds
	// the memory of an open file. Default 8192.
	RowGroupRows int
	// FeedbackQueueDepth is how many outcomes (CaptureFeedback) may wait
	// for the journal; more are dropped (queue_full). Default 16384.
	FeedbackQueueDepth int
	// Uploader, when set, receives every closed file (capture/s3 provides
	// one); a file is removed locally once Upload returns nil. Nil keeps
	// the lake in Dir.
	Uploader Uploader
}

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	switch {
	case c.QueueDepth < 0:
		return c, fmt.Errorf("queue depth %d is negative", c.QueueDepth)
	case c.SyncInterval < 0:
		return c, fmt.Errorf("sync interval %v is negative", c.SyncInterval)
	case c.RollBytes < 0:
		return c, fmt.Errorf("roll bytes %d is negative", c.RollBytes)
	case c.RollAge < 0:
		return c, fmt.Errorf("roll age %v is negative", c.RollAge)
	case !(c.SamplePercent >= 0 && c.SamplePercent <= 100):
		return c, fmt.Errorf("sample percent %v is not in [0, 100]", c.SamplePercent)
	case c.MaxLocalBytes < 0:
		return c, fmt.Errorf("max local bytes %d is negative", c.MaxLocalBytes)
	case c.FeedbackQueueDepth < 0:
		return c, fmt.Errorf("feedback queue depth %d is negative", c.FeedbackQueueDepth)
	case c.RowGroupRows < 0:
		return c, fmt.Errorf("row group rows %d is negative", c.RowGroupRows)
	}
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.QueueDepth == 0 {
		c.QueueDepth = DefaultQueueDepth
	}
	if c.QueueWait == 0 {
		c.QueueWait = DefaultQueueWait
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.RollBytes == 0 {
		c.RollBytes = DefaultRollBytes
	}
	if c.RollAge == 0 {
		c.RollAge = DefaultRollAge
	}
	if c.SamplePercent == 0 {
		c.SamplePercent = DefaultSamplePercent
	}
	if c.MaxLocalBytes == 0 {
		c.MaxLocalBytes = DefaultMaxLocalBytes
	}
	if c.FeedbackQueueDepth == 0 {
		c.FeedbackQueueDepth = DefaultFeedbackQueueDepth
	}
	if c.RowGroupRows == 0 {
		c.RowGroupRows = DefaultRowGroupRows
	}
	return c, nil
}

// tuning holds internal timings; tests shorten them.
type tuning struct {
	retryInterval  time.Duration // retry of journal segments whose files failed
	backoffBase    time.Duration // first upload retry delay
	backoffMax     time.Duration // longest upload retry delay
	uploadTimeout  time.Duration // one upload attempt
	logEvery       time.Duration // least time between two repeated warnings
	maxOpenFiles   int           // open files in one generation before it rolls
	pendingRows    int           // records gathered before they go to the column writers
	journalBufSize int
	// linger is how long the journal lets records gather after the first
	// arrives (see journaler.linger); 0 takes each arrival at once.
	linger time.Duration
	// Fault injection for tests: wrap the files of journal segments and
	// lake files (nil: no wrapping).
	wrapJournal, wrapLake func(io.Writer) io.Writer
}

func defaultTuning() tuning {
	return tuning{
		retryInterval:  30 * time.Second,
		backoffBase:    500 * time.Millisecond,
		backoffMax:     30 * time.Second,
		uploadTimeout:  5 * time.Minute,
		logEvery:       10 * time.Second,
		maxOpenFiles:   48,
		pendingRows:    256,
		journalBufSize: 256 << 10,
		linger:         2 * time.Millisecond,
	}
}

// Writer captures records into the lake. It implements leadscore.Sink;
// Capture, SetFeatures and Stats are safe for concurrent use. Close it once
// to flush everything.
type Writer struct {
	cfg  Config
	tune tuning
	log  *slog.Logger
	root *os.Root

	q          queue
	sampleLT   uint64       // keep a record when its hash is below; 0: keep all
	sampleSeed maphash.Seed // sampleHash's key, random per Writer
	c          *counters
	syncHist   prometheus.Histogram
	reg        prometheus.Registerer
	metrics    []prometheus.Collector

	items   chan item               // journal -> lake
	free    chan []leadscore.Record // lake -> journal, emptied batch buffers
	rollReq atomic.Pointer[generation]
	// segmentBytes rolls a generation once its journal segment is this
	// large, bounding the journal and a replay.
	segmentBytes int64
	uploads      *uploadQueue
	upCtx        context.Context
	upCancel     context.CancelFunc

	stop        chan struct{} // Close began
	kill        chan struct{} // tests: abandon everything, as a crash would
	journalDone chan struct{}
	lakeDone    chan struct{}
	// outcomesDone: the outcome goroutine (outcomes.go) has finished; the
	// lake goroutine waits for it before closing the upload queue.
	outcomesDone chan struct{}
	fq           outcomeQueue
	fc           outcomeCounters
	oids         *idSource // names outcome segments; the outcome goroutine's
	uploadDone   chan struct{}

	closeOnce sync.Once
	closeErr  error
	lock      *os.File // flock on the journal; nil where unsupported
	lk        *lake    // owned by the lake goroutine once started
	ids       *idSource
}

// Compile-time check that a Writer is a leadscore.Sink.
var _ leadscore.Sink = (*Writer)(nil)

// New opens (creating it if needed) the lake in cfg.Dir for records whose
// Features follow features, replays journal segments left by a previous
// run, queues backlog files for upload, and starts the background
// goroutines. Metrics go to reg (nil: not exported), logs to log (nil:
// discarded). It fails on an invalid configuration or feature list, an
// unusable Dir, or metrics that cannot be registered; disk and upload
// errors later on are logged and counted, never returned to callers of
// Capture.
func New(cfg Config, features []string, reg prometheus.Registerer, log *slog.Logger) (*Writer, error) {
	return newWriter(cfg, features, reg, log, defaultTuning())
}

func newWriter(cfg Config, features []string, reg prometheus.Registerer, log *slog.Logger, tune tuning) (*Writer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("capture config: %w", err)
	}
	if err := validateFeatures(features); err != nil {
		return nil, fmt.Errorf("capture features: %w", err)
	}
	schema, err := newLakeSchema(append([]string(nil), features...))
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "capture")
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("capture dir: %w", err)
	}
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("capture dir: %w", err)
	}
	if err := root.MkdirAll(journalDir, 0o750); err != nil {
		_ = root.Close()
		return nil, fmt.Errorf("capture journal dir: %w", err)
	}
	instance, err := randomHex(4)
	if err != nil {
		_ = root.Close()
		return nil, err
	}
	lock, err := lockDir(root)
	if err != nil {
		_ = root.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("capture dir %s: %w (one per directory)", cfg.Dir, ErrDirInUse)
		}
		return nil, fmt.Errorf("capture dir lock: %w", err)
	}
	w := &Writer{
		cfg:          cfg,
		tune:         tune,
		log:          log,
		root:         root,
		lock:         lock,
		c:            newCounters(),
		items:        make(chan item, 1),
		free:         make(chan []leadscore.Record, 2),
		uploads:      newUploadQueue(),
		stop:         make(chan struct{}),
		kill:         make(chan struct{}),
		journalDone:  make(chan struct{}),
		lakeDone:     make(chan struct{}),
		outcomesDone: make(chan struct{}),
		uploadDone:   make(chan struct{}),
		ids:          &idSource{instance: instance},
		oids:         &idSource{instance: instance},
	}
	w.q.init(cfg.QueueDepth, schema)
	w.sampleSeed = maphash.MakeSeed()
	w.fq.ready = make(chan struct{}, 1)
	w.segmentBytes = max(4*cfg.RollBytes, 1<<20)
	if cfg.SamplePercent < 100 {
		switch f := cfg.SamplePercent / 100 * math.Exp2(64); {
		case f >= math.Exp2(64):
			w.sampleLT = math.MaxUint64
		case f < 1:
			w.sampleLT = 1
		default:
			w.sampleLT = uint64(f)
		}
	}
	w.upCtx, w.upCancel = context.WithCancel(context.Background())
	if err := w.register(reg); err != nil {
		w.release()
		w.upCancel()
		return nil, err
	}

	w.lk = newLake(w)
	if err := w.lk.startup(); err != nil {
		w.unregister()
		w.release()
		w.upCancel()
		return nil, err
	}
	for _, cf := range w.startupOutcomes() {
		w.lk.enqueue(cf)
	}
	go w.runJournal(schema)
	go w.runOutcomes()
	go w.runLake()
	go w.runUploads()
	log.Info("capture started", "dir", cfg.Dir, "uploader", uploaderName(cfg.Uploader),
		"queue_depth", cfg.QueueDepth, "sync_interval", cfg.SyncInterval.String(),
		"roll_bytes", cfg.RollBytes, "roll_age", cfg.RollAge.String(),
		"sample_percent", cfg.SamplePercent, "max_local_bytes", cfg.MaxLocalBytes,
		"features", len(features))
	return w, nil
}

func uploaderName(u Uploader) string {
	if u == nil {
		return "none"
	}
	if s, ok := u.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", u)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("capture instance id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Capture queues records for the lake. When the queue is full it waits up
// to QueueWait for room; records that still do not fit, are sampled out,
// or arrive after Close began are dropped and counted. The records (and
// their Features) must not be modified afterwards.
//
// A record that names its features (FeatureNames) is written under those
// names: when they differ from the previous record's, the lake starts new
// files with its columns (a new generation), so that a model reload never
// files a row under another model's columns nor drops it, however the
// records of the old and the new model interleave. A record without names
// must match the feature list in force (New, SetFeatures) in length, or it
// is dropped (schema_mismatch), as is one whose names cannot be columns.
func (w *Writer) Capture(recs []leadscore.Record) {
	if len(recs) == 0 {
		return
	}
	if w.c.localBytes.Load() >= w.cfg.MaxLocalBytes {
		w.c.drop(dropBacklogFull, len(recs))
		return
	}
	q := &w.q
	var queued, full, sampled, mismatch int
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		w.c.drop(dropClosed, len(recs))
		return
	}
	if len(q.buf)+len(recs) > q.depth && w.cfg.QueueWait > 0 {
		// Room for the whole batch, sampling aside (a batch larger than
		// the queue waits for it to empty).
		w.waitForRoom(len(recs))
		if q.closed { // Close began while waiting
			q.mu.Unlock()
			w.c.drop(dropClosed, len(recs))
			return
		}
	}
	for i := range recs {
		r := &recs[i]
		if w.sampleLT != 0 && w.sampleHash(r) >= w.sampleLT {
			sampled++
			continue
		}
		if len(q.buf) >= q.depth {
			full++
			continue
		}
		if !q.follow(r, w.log) {
			mismatch++
			continue
		}
		q.buf = append(q.buf, *r)
		queued++
	}
	q.mu.Unlock()
	if queued > 0 {
		w.c.captured.Add(uint64(queued))
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	if full > 0 {
		w.c.drop(dropQueueFull, full)
	}
	if sampled > 0 {
		w.c.drop(dropSampledOut, sampled)
	}
	if mismatch > 0 {
		w.c.drop(dropSchemaMismatch, mismatch)
	}
}

// waitForRoom waits, with q.mu held (released while waiting), until the
// queue has room for need more records, it is empty (a batch larger than
// the whole queue goes in alone), Close began, or QueueWait passed.
func (w *Writer) waitForRoom(need int) {
	q := &w.q
	if len(q.buf)+need <= q.depth || len(q.buf) == 0 {
		return
	}
	w.c.waits.Add(1)
	t := time.NewTimer(w.cfg.QueueWait)
	defer t.Stop()
	for len(q.buf)+need > q.depth && len(q.buf) > 0 && !q.closed {
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

// SetFeatures switches the lake to a new feature list for records that
// do not name their features (Record.FeatureNames nil): records captured
// before the call are written with the old columns, records after with the
// new ones, into new files. Records whose feature count does not match the
// list in force are dropped (schema_mismatch). Records that name their
// features need no call: each is written under its own list (see Capture).
func (w *Writer) SetFeatures(features []string) error {
	if err := validateFeatures(features); err != nil {
		return fmt.Errorf("capture features: %w", err)
	}
	schema, err := newLakeSchema(append([]string(nil), features...))
	if err != nil {
		return err
	}
	q := &w.q
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return errors.New("capture: SetFeatures after Close")
	}
	q.mark(schema, nil)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return nil
}

// Close stops accepting records, writes every queued record into closed
// Parquet files, uploads them when an Uploader is set, and removes the
// journal. If ctx ends first, Close returns its error: files not yet
// uploaded stay in Dir and are uploaded by the next New on the same Dir;
// records not yet in a closed file stay in the journal and are replayed
// then. Close is idempotent.
func (w *Writer) Close(ctx context.Context) error {
	w.closeOnce.Do(func() {
		w.q.close()
		close(w.stop)
		w.closeErr = w.wait(ctx)
		w.unregister()
		select {
		case <-w.lakeDone:
			w.release()
		default: // still writing: release the directory once done
			go func() {
				<-w.lakeDone
				<-w.uploadDone
				w.release()
			}()
		}
		w.log.Info("capture closed", "captured", w.c.captured.Load(), "written", w.c.written.Load(),
			"files", w.c.files.Load(), "uploads", w.c.uploads.Load(), "error", errString(w.closeErr))
	})
	return w.closeErr
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// wait waits for the goroutines to finish the work queued at Close.
func (w *Writer) wait(ctx context.Context) error {
	select {
	case <-w.lakeDone:
	case <-ctx.Done():
		w.upCancel()
		return fmt.Errorf("capture close: writing files: %w (unfinished records stay in the journal)", ctx.Err())
	}
	select {
	case <-w.uploadDone:
	case <-ctx.Done():
		w.upCancel()
		<-w.uploadDone
	}
	w.upCancel()
	var errs []error
	if n := w.uploads.len(); n > 0 {
		errs = append(errs, fmt.Errorf("capture close: %d file(s) not uploaded, left in %s for the next start", n, w.cfg.Dir))
	}
	if r := w.c.retainedSegments.Load(); r > 0 {
		errs = append(errs, fmt.Errorf("capture close: %d journal segment(s) could not be written to Parquet, left in %s for the next start", r, w.cfg.Dir))
	}
	if n := w.c.dropped[dropDiskError].Load(); n > 0 {
		errs = append(errs, fmt.Errorf("capture close: %d record(s) lost to disk errors while running", n))
	}
	return errors.Join(errs...)
}

// release closes the lake directory and drops its lock.
func (w *Writer) release() {
	if w.lock != nil {
		_ = w.lock.Close()
	}
	_ = w.root.Close()
}

// crash abandons the Writer as a SIGKILL would: goroutines stop at once,
// open files are left as they are, nothing is synced or removed. Tests
// only.
func (w *Writer) crash() {
	w.closeOnce.Do(func() {
		w.q.close()
		close(w.kill)
		w.upCancel()
		<-w.journalDone
		<-w.lakeDone
		<-w.outcomesDone
		<-w.uploadDone
		w.unregister()
		w.release()
		w.closeErr = errors.New("capture: crashed")
	})
}

// Healthy reports whether capture is keeping up: the last journal write,
// Parquet write and upload succeeded, the local backlog is under
// MaxLocalBytes, and no record was dropped for lack of room or a disk error
// in the last few seconds. It is what leadscore_capture_healthy exports.
func (w *Writer) Healthy() bool { return w.c.healthy(w.cfg.MaxLocalBytes) }

// Stats is a snapshot of a Writer's counters (the same numbers as its
// metrics).
type Stats struct {
	// Captured counts records accepted into the queue.
	Captured uint64
	// Journaled counts records written to the journal, Synced those
	// covered by an fsync.
	Journaled, Synced uint64
	// Written counts rows in closed Parquet files.
	Written uint64
	// Dropped counts records not captured, by reason (Drop* constants).
	Dropped map[string]uint64
	// Files and Bytes count closed Parquet files and their bytes.
	Files, Bytes uint64
	// Uploads counts files uploaded; UploadFailures failed attempts;
	// UploadRetries attempts after a failure.
	Uploads, UploadFailures, UploadRetries uint64
	// BacklogFiles and BacklogBytes are closed files waiting for upload.
	BacklogFiles, BacklogBytes int64
	// LocalBytes is what MaxLocalBytes bounds: journal plus backlog.
	LocalBytes int64
	// Replayed counts records recovered from journal segments; Torn the
	// segments whose tail was torn or corrupt.
	Replayed, Torn uint64
	// QueueDepth is the number of records waiting in the queue.
	QueueDepth int
	// Healthy is Healthy().
	Healthy bool
	// FeedbackCaptured counts outcomes accepted by CaptureFeedback,
	// FeedbackWritten those in closed groundtruth files, FeedbackReplayed
	// those recovered from the journal; FeedbackDropped counts outcomes
	// not captured, by reason.
	FeedbackCaptured, FeedbackWritten, FeedbackReplayed uint64
	FeedbackDropped                                     map[string]uint64
}

// Stats returns the current counters.
func (w *Writer) Stats() Stats {
	s := Stats{
		Captured:       w.c.captured.Load(),
		Journaled:      w.c.journaled.Load(),
		Synced:         w.c.synced.Load(),
		Written:        w.c.written.Load(),
		Dropped:        make(map[string]uint64, nDropReasons),
		Files:          w.c.files.Load(),
		Bytes:          w.c.bytes.Load(),
		Uploads:        w.c.uploads.Load(),
		UploadFailures: w.c.uploadFailures.Load(),
		UploadRetries:  w.c.uploadRetries.Load(),
		BacklogFiles:   w.c.backlogFiles.Load(),
		BacklogBytes:   w.c.backlogBytes.Load(),
		LocalBytes:     w.c.localBytes.Load(),
		Replayed:       w.c.replayed.Load(),
		Torn:           w.c.torn.Load(),
		QueueDepth:     w.q.len(),
		Healthy:        w.Healthy(),

		FeedbackCaptured: w.fc.captured.Load(),
		FeedbackWritten:  w.fc.written.Load(),
		FeedbackReplayed: w.fc.replayed.Load(),
		FeedbackDropped:  make(map[string]uint64, nDropReasons),
	}
	for i, r := range dropReasons {
		s.Dropped[r] = w.c.dropped[i].Load()
		s.FeedbackDropped[r] = w.fc.dropped[i].Load()
	}
	return s
}

// ---- queue ----------------------------------------------------------------

// schemaMark switches the feature list at position pos of the queue.
type schemaMark struct {
	pos    int
	schema *lakeSchema
}

// queue is the bounded hand-off from Capture to the journal goroutine.
type queue struct {
	mu    sync.Mutex
	buf   []leadscore.Record
	marks []schemaMark
	depth int
	// tail is the schema of the records at the end of buf (the last mark,
	// or the one the journal goroutine has); tailNames the FeatureNames
	// slice last seen equal to it (a pointer compare settles most records).
	tail      *lakeSchema
	tailNames []string
	// recent caches the schemas last switched to, most recent first, so
	// that records of two models interleaving during a reload do not
	// rebuild one each time.
	recent []*lakeSchema
	// badNames is the last FeatureNames slice that could not be columns.
	badNames []string
	closed   bool
	ready    chan struct{} // signalled (never blocking) when buf grows
	// room, when not nil, is closed (and set to nil) by take: Captures
	// waiting for room wait on it.
	room chan struct{}
}

func (q *queue) init(depth int, s *lakeSchema) {
	q.depth = depth
	q.tail = s
	q.recent = []*lakeSchema{s}
	q.ready = make(chan struct{}, 1)
}

// maxRecentSchemas bounds queue.recent.
const maxRecentSchemas = 4

// mark switches the schema of the records queued from now on; names, when
// not nil, is the FeatureNames slice that asked for it. Callers hold mu.
func (q *queue) mark(s *lakeSchema, names []string) {
	q.marks = append(q.marks, schemaMark{pos: len(q.buf), schema: s})
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
func (q *queue) follow(r *leadscore.Record, log *slog.Logger) bool {
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
			"model", truncate(r.Model, 64), "version", truncate(r.ModelVersion, 64), "error", err.Error())
		return false
	}
	q.mark(s, names)
	return true
}

// sameSlice reports whether a and b are the same slice (same backing array
// and length).
func sameSlice(a, b []string) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// truncate shortens s to at most n bytes for a log line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// take swaps the queued records for spare (emptied) and returns them;
// false when there is nothing (spare is not used then).
func (q *queue) take(spare []leadscore.Record) ([]leadscore.Record, []schemaMark, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.buf) == 0 && len(q.marks) == 0 {
		return nil, nil, false
	}
	recs, marks := q.buf, q.marks
	q.buf, q.marks = spare[:0], nil
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	return recs, marks, true
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	q.mu.Unlock()
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.buf)
}

// ---- ids --------------------------------------------------------------------

// idSource names generations: a UTC timestamp (so names sort by creation)
// and a random per-process instance (so replicas writing to one bucket
// never collide). Used by one goroutine at a time.
type idSource struct {
	instance string
	last     time.Time
}

const idTimeLayout = "20060102T150405.000000Z"

func (s *idSource) next(now time.Time) string {
	t := now.UTC().Truncate(time.Microsecond)
	if !t.After(s.last) {
		t = s.last.Add(time.Microsecond)
	}
	s.last = t
	return t.Format(idTimeLayout) + "-" + s.instance
}

// observe makes later ids sort after id (a segment of an earlier run).
func (s *idSource) observe(id string) {
	ts, _, ok := strings.Cut(id, "-")
	if !ok {
		return
	}
	if t, err := time.Parse(idTimeLayout, ts); err == nil && t.After(s.last) {
		s.last = t
	}
}

// ---- files ------------------------------------------------------------------

const (
	journalDir = "_journal"
	lockName   = "lock"
)

var errLocked = errors.New("locked")

// ErrDirInUse reports that another Writer (another process, usually a
// second leadscore serve) holds the capture directory.
var ErrDirInUse = errors.New("in use by another writer")

// syncDir fsyncs a directory of root so that renames and removals in it
// are durable.
func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// listSegments returns the journal segment names in Dir/_journal, oldest
// first.
func listSegments(root *os.Root) ([]string, error) {
	entries, err := fs.ReadDir(root.FS(), journalDir)
	if err != nil {
		return nil, fmt.Errorf("list journal: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), segmentExt) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// segmentPath is the root-relative path of a generation's segment.
func segmentPath(id string) string { return filepath.Join(journalDir, id+segmentExt) }

const segmentExt = ".wal"
