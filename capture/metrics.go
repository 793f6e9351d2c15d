package capture

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Operations that can fail: the values of the op label of
// leadscore_capture_errors_total.
const (
	opJournalWrite = iota
	opJournalSync
	opParquetWrite
	opParquetClose
	opUpload
	opReplay
	nOps
)

var opNames = [nOps]string{"journal_write", "journal_sync", "parquet_write", "parquet_close", "upload", "replay"}

// counters are the Writer's numbers, shared by its goroutines; metrics read
// them at scrape time.
type counters struct {
	captured, journaled, synced, written atomic.Uint64
	dropped                              [nDropReasons]atomic.Uint64
	errors                               [nOps]atomic.Uint64
	files, bytes                         atomic.Uint64
	uploads, uploadFailures              atomic.Uint64
	uploadRetries                        atomic.Uint64
	backlogFiles, backlogBytes           atomic.Int64
	localBytes                           atomic.Int64
	replayed, torn                       atomic.Uint64
	retainedSegments                     atomic.Int64
	waits                                atomic.Uint64 // Captures that waited for room

	// Health of each stage: did its last attempt succeed?
	journalOK, lakeOK, uploadOK, dropsOK atomic.Bool
}

func newCounters() *counters {
	c := &counters{}
	c.journalOK.Store(true)
	c.lakeOK.Store(true)
	c.uploadOK.Store(true)
	c.dropsOK.Store(true)
	return c
}

func (c *counters) drop(reason, n int) {
	c.dropped[reason].Add(uint64(n)) //nolint:gosec // n >= 0
}

func (c *counters) fail(op int) { c.errors[op].Add(1) }

func (c *counters) healthy(maxLocal int64) bool {
	return c.journalOK.Load() && c.lakeOK.Load() && c.uploadOK.Load() && c.dropsOK.Load() &&
		c.retainedSegments.Load() == 0 && c.localBytes.Load() < maxLocal
}

// register builds the metrics and registers them on reg (nil: none).
func (w *Writer) register(reg prometheus.Registerer) error {
	c := w.counters
	w.syncHist = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "leadscore_capture_journal_sync_seconds",
		Help:    "Time to fsync the capture journal (one group commit).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})
	if reg == nil {
		return nil
	}
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v.Load()) })
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	ms := []prometheus.Collector{
		w.syncHist,
		counter("leadscore_capture_records_total", "Records accepted into the capture queue.", &c.captured),
		counter("leadscore_capture_records_journaled_total", "Records appended to the capture journal.", &c.journaled),
		counter("leadscore_capture_records_written_total", "Rows in closed Parquet files of the lake.", &c.written),
		counter("leadscore_capture_parquet_files_total", "Parquet files closed.", &c.files),
		counter("leadscore_capture_parquet_bytes_total", "Bytes of closed Parquet files.", &c.bytes),
		counter("leadscore_capture_uploads_total", "Lake files uploaded.", &c.uploads),
		counter("leadscore_capture_upload_failures_total", "Failed upload attempts.", &c.uploadFailures),
		counter("leadscore_capture_upload_retries_total", "Upload attempts after a failure.", &c.uploadRetries),
		counter("leadscore_capture_queue_waits_total", "Requests that waited for room in a full capture queue (the lake set the pace).", &c.waits),
		counter("leadscore_capture_replayed_records_total", "Records recovered from journal segments (after a crash or a disk error).", &c.replayed),
		counter("leadscore_capture_journal_torn_total", "Journal segments whose tail was torn or corrupt when replayed.", &c.torn),
		gauge("leadscore_capture_queue_depth", "Records waiting in the capture queue.",
			func() float64 { return float64(w.queue.len()) }),
		gauge("leadscore_capture_queue_capacity", "Capacity of the capture queue, in records.",
			func() float64 { return float64(w.cfg.QueueDepth) }),
		gauge("leadscore_capture_backlog_files", "Closed lake files waiting for upload.",
			func() float64 { return float64(c.backlogFiles.Load()) }),
		gauge("leadscore_capture_backlog_bytes", "Bytes of closed lake files waiting for upload.",
			func() float64 { return float64(c.backlogBytes.Load()) }),
		gauge("leadscore_capture_local_bytes", "Local bytes bounded by the max local bytes setting: journal plus upload backlog.",
			func() float64 { return float64(c.localBytes.Load()) }),
		gauge("leadscore_capture_max_local_bytes", "The max local bytes setting.",
			func() float64 { return float64(w.cfg.MaxLocalBytes) }),
		gauge("leadscore_capture_healthy", "1 when capture keeps up: last journal, Parquet and upload operations succeeded, backlog under its bound, no recent loss.",
			func() float64 {
				if w.Healthy() {
					return 1
				}
				return 0
			}),
	}
	for i, r := range dropReasons {
		v := &c.dropped[i]
		ms = append(ms, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "leadscore_capture_dropped_total",
			Help:        "Records not captured, by reason.",
			ConstLabels: prometheus.Labels{"reason": r},
		}, func() float64 { return float64(v.Load()) }))
	}
	for i, op := range opNames {
		v := &c.errors[i]
		ms = append(ms, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "leadscore_capture_errors_total",
			Help:        "Failed capture operations, by operation.",
			ConstLabels: prometheus.Labels{"op": op},
		}, func() float64 { return float64(v.Load()) }))
	}
	ms = append(ms, w.groundTruth.metrics()...)
	w.registry = reg
	for _, m := range ms {
		if err := reg.Register(m); err != nil {
			w.unregister()
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return fmt.Errorf("capture metrics: already registered (one Writer per registry): %w", err)
			}
			return fmt.Errorf("capture metrics: %w", err)
		}
		w.metrics = append(w.metrics, m)
	}
	return nil
}

// unregister removes the metrics registered by register.
func (w *Writer) unregister() {
	if w.registry == nil {
		return
	}
	for _, m := range w.metrics {
		w.registry.Unregister(m)
	}
	w.metrics = nil
}
