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
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadscore/leadscore"
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

// Writer captures records into the lake. It implements leadscore.Sink;
// Capture, SetFeatures and Stats are safe for concurrent use. Close it once
// to flush everything.
//
// It runs two pipelines. Records: Capture -> queue -> journal goroutine
// (journaler.go) -> lake goroutine (lake.go) -> upload goroutine
// (upload.go). Outcomes: CaptureFeedback -> groundTruth (groundtruth.go),
// which has its own queue, journal segments and goroutine and shares only
// the directory, the local-bytes bound and the upload queue.
type Writer struct {
	cfg     Config
	tune    tuning
	log     *slog.Logger
	root    *os.Root
	dirLock *os.File // flock on the journal; nil where unsupported

	queue       recordQueue  // Capture -> journal goroutine
	sampleBelow uint64       // keep a record when its hash is below; 0: keep all
	sampleSeed  maphash.Seed // sampleHash's key, random per Writer
	counters    *counters
	syncHist    prometheus.Histogram
	registry    prometheus.Registerer // where metrics are registered; nil: none
	metrics     []prometheus.Collector

	toLake       chan item     // journal -> lake
	spareBatches chan batchBuf // lake -> journal, emptied batch buffers (at most spareBatches)
	rollRequest  atomic.Pointer[generation]
	// segmentBytes rolls a generation once its journal segment is this
	// large, bounding the journal and a replay.
	segmentBytes int64
	// segmentIDs names record generations; used by startup, then by the
	// journal goroutine only.
	segmentIDs *idSource
	lake       *lake // owned by the lake goroutine once started

	groundTruth *groundTruth // the outcome pipeline

	uploads      *uploadQueue
	uploadCtx    context.Context
	uploadCancel context.CancelFunc

	stop        chan struct{} // Close began
	kill        chan struct{} // tests: abandon everything, as a crash would
	journalDone chan struct{}
	// lakeDone: the lake goroutine has finished; it waits for the
	// ground-truth goroutine before closing the upload queue.
	lakeDone   chan struct{}
	uploadDone chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// spareBatches is how many emptied batch buffers wait for the journal
// goroutine. Each has room for the whole queue (a few MB), and every one
// kept is live heap the collector scans and that brings the memory limit
// nearer (more frequent collections), so few are kept: one more
// allocation when the goroutines' turns jitter costs less.
const spareBatches = 2

// Compile-time check that a Writer is a leadscore.Sink that copies.
var _ leadscore.SliceCopier = (*Writer)(nil)

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
		dirLock:      lock,
		counters:     newCounters(),
		toLake:       make(chan item, 1),
		spareBatches: make(chan batchBuf, spareBatches),
		uploads:      newUploadQueue(),
		stop:         make(chan struct{}),
		kill:         make(chan struct{}),
		journalDone:  make(chan struct{}),
		lakeDone:     make(chan struct{}),
		uploadDone:   make(chan struct{}),
		segmentIDs:   &idSource{instance: instance},
	}
	w.groundTruth = newGroundTruth(w, instance)
	w.queue.init(cfg.QueueDepth, schema)
	w.sampleSeed = maphash.MakeSeed()
	w.segmentBytes = max(4*cfg.RollBytes, 1<<20)
	if cfg.SamplePercent < 100 {
		switch f := cfg.SamplePercent / 100 * math.Exp2(64); {
		case f >= math.Exp2(64):
			w.sampleBelow = math.MaxUint64
		case f < 1:
			w.sampleBelow = 1
		default:
			w.sampleBelow = uint64(f)
		}
	}
	w.uploadCtx, w.uploadCancel = context.WithCancel(context.Background())
	if err := w.register(reg); err != nil {
		w.release()
		w.uploadCancel()
		return nil, err
	}

	w.lake = newLake(w)
	if err := w.lake.startup(); err != nil {
		w.unregister()
		w.release()
		w.uploadCancel()
		return nil, err
	}
	for _, cf := range w.groundTruth.startup() {
		w.queueUpload(cf)
	}
	go w.runJournal(schema)
	go w.groundTruth.run()
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
func (w *Writer) Capture(recs []leadscore.Record) { w.capture(recs, nil) }

var _ leadscore.BatchSink = (*Writer)(nil)

// CaptureBatch queues b's records as Capture does, keeping b by reference
// (leadscore.BatchSink) when every record can be queued as it is: no
// sampling, room for all, each under the feature list in force and with its
// Time set. Otherwise its records are copied, as by Capture. b is released
// once the lake goroutine has written its records.
func (w *Writer) CaptureBatch(b *leadscore.Batch) { w.capture(b.Records, b) }

// capture is Capture, and CaptureBatch when b (whose records recs are) is
// not nil.
func (w *Writer) capture(recs []leadscore.Record, b *leadscore.Batch) {
	if len(recs) == 0 {
		return
	}
	if w.counters.localBytes.Load() >= w.cfg.MaxLocalBytes {
		w.counters.drop(dropBacklogFull, len(recs))
		return
	}
	q := &w.queue
	var queued, full, sampled, mismatch int
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		w.counters.drop(dropClosed, len(recs))
		return
	}
	if q.n+len(recs) > q.depth && w.cfg.QueueWait > 0 {
		// Room for the whole batch, sampling aside (a batch larger than
		// the queue waits for it to empty).
		w.waitForRoom(len(recs))
		if q.closed { // Close began while waiting
			q.mu.Unlock()
			w.counters.drop(dropClosed, len(recs))
			return
		}
	}
	before := q.n
	if b != nil && w.sampleBelow == 0 && q.n+len(recs) <= q.depth && q.fastBatch(recs) {
		q.putBatch(b)
		queued = len(recs)
	} else {
		// Records that need no check but their feature list's (no
		// sampling, room, the tail's list) are copied in runs, with one
		// copy of their fields (putRun); the others one by one.
		run := 0 // the first record of the run not yet queued
		for i := range recs {
			r := &recs[i]
			if w.sampleBelow == 0 && q.n+i-run < q.depth && q.fast(r) {
				continue
			}
			queued += q.putRun(recs[run:i])
			run = i + 1
			if w.sampleBelow != 0 && w.sampleHash(r) >= w.sampleBelow {
				sampled++
				continue
			}
			if q.n >= q.depth {
				full++
				continue
			}
			if !q.follow(r, w.log) {
				mismatch++
				continue
			}
			q.put(r)
			queued++
		}
		queued += q.putRun(recs[run:])
		if b != nil && queued > 0 {
			// The copies' strings may be b's storage (Batch.IDs): b
			// stays until the lake goroutine has written them.
			b.Retain()
			q.batches = append(q.batches, b)
		}
	}
	// The journal goroutine is woken when records arrive in an empty
	// queue, and again when they pass its batch size (it lingers between
	// the two): a signal per Capture would end every linger at once.
	wake := queued > 0 && (before == 0 || (before < q.batch && q.n >= q.batch))
	q.mu.Unlock()
	if queued > 0 {
		w.counters.captured.Add(uint64(queued))
	}
	if wake {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	if full > 0 {
		w.counters.drop(dropQueueFull, full)
	}
	if sampled > 0 {
		w.counters.drop(dropSampledOut, sampled)
	}
	if mismatch > 0 {
		w.counters.drop(dropSchemaMismatch, mismatch)
	}
}

// CopiesRecords reports true: Capture copies the records it queues, so
// the caller may reuse recs (leadscore.SliceCopier).
func (w *Writer) CopiesRecords() bool { return true }

var _ leadscore.FeatureCopier = (*Writer)(nil)

// CopiesFeatures reports true: Capture copies the records' Features into
// the queue's own storage, recycled once the journal and the lake are
// done with a batch, so the caller may reuse them too
// (leadscore.FeatureCopier).
func (w *Writer) CopiesFeatures() bool { return true }

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
	q := &w.queue
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
		w.queue.close()
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
		w.log.Info("capture closed", "captured", w.counters.captured.Load(), "written", w.counters.written.Load(),
			"files", w.counters.files.Load(), "uploads", w.counters.uploads.Load(), "error", errString(w.closeErr))
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
		w.uploadCancel()
		return fmt.Errorf("capture close: writing files: %w (unfinished records stay in the journal)", ctx.Err())
	}
	select {
	case <-w.uploadDone:
	case <-ctx.Done():
		w.uploadCancel()
		<-w.uploadDone
	}
	w.uploadCancel()
	var errs []error
	if n := w.uploads.len(); n > 0 {
		errs = append(errs, fmt.Errorf("capture close: %d file(s) not uploaded, left in %s for the next start", n, w.cfg.Dir))
	}
	if r := w.counters.retainedSegments.Load(); r > 0 {
		errs = append(errs, fmt.Errorf("capture close: %d journal segment(s) could not be written to Parquet, left in %s for the next start", r, w.cfg.Dir))
	}
	if n := w.counters.dropped[dropDiskError].Load(); n > 0 {
		errs = append(errs, fmt.Errorf("capture close: %d record(s) lost to disk errors while running", n))
	}
	return errors.Join(errs...)
}

// release closes the lake directory and drops its lock.
func (w *Writer) release() {
	if w.dirLock != nil {
		_ = w.dirLock.Close()
	}
	_ = w.root.Close()
}

// crash abandons the Writer as a SIGKILL would: goroutines stop at once,
// open files are left as they are, nothing is synced or removed. Tests
// only.
func (w *Writer) crash() {
	w.closeOnce.Do(func() {
		w.queue.close()
		close(w.kill)
		w.uploadCancel()
		<-w.journalDone
		<-w.lakeDone
		<-w.groundTruth.done
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
func (w *Writer) Healthy() bool { return w.counters.healthy(w.cfg.MaxLocalBytes) }

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
		Captured:       w.counters.captured.Load(),
		Journaled:      w.counters.journaled.Load(),
		Synced:         w.counters.synced.Load(),
		Written:        w.counters.written.Load(),
		Dropped:        make(map[string]uint64, nDropReasons),
		Files:          w.counters.files.Load(),
		Bytes:          w.counters.bytes.Load(),
		Uploads:        w.counters.uploads.Load(),
		UploadFailures: w.counters.uploadFailures.Load(),
		UploadRetries:  w.counters.uploadRetries.Load(),
		BacklogFiles:   w.counters.backlogFiles.Load(),
		BacklogBytes:   w.counters.backlogBytes.Load(),
		LocalBytes:     w.counters.localBytes.Load(),
		Replayed:       w.counters.replayed.Load(),
		Torn:           w.counters.torn.Load(),
		QueueDepth:     w.queue.len(),
		Healthy:        w.Healthy(),

		FeedbackCaptured: w.groundTruth.counters.captured.Load(),
		FeedbackWritten:  w.groundTruth.counters.written.Load(),
		FeedbackReplayed: w.groundTruth.counters.replayed.Load(),
		FeedbackDropped:  make(map[string]uint64, nDropReasons),
	}
	for i, r := range dropReasons {
		s.Dropped[r] = w.counters.dropped[i].Load()
		s.FeedbackDropped[r] = w.groundTruth.counters.dropped[i].Load()
	}
	return s
}
