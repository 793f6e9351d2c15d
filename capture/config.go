package capture

import (
	"fmt"
	"io"
	"os"
	"time"
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
	pendingRows    int           // records written to a lake file between two checks of its size
	journalBufSize int
	// linger is how long the journal lets records gather after the first
	// arrives (see journaler.linger), at most SyncInterval; 0 takes each
	// arrival at once.
	linger time.Duration
	// Fault injection for tests: wrap the files of journal segments and
	// lake files (nil: no wrapping).
	wrapJournal, wrapLake func(io.Writer) io.Writer
	// fsync syncs a journal segment or a lake file (nil:
	// (*os.File).Sync); tests make it block or fail.
	fsync func(*os.File) error
	// newFileWriter makes the writer of a prediction file (nil: the
	// lake's predWriter); BenchmarkLakeCPU plugs parquet-go's own writer
	// in to compare the two.
	newFileWriter func(out io.Writer, s *lakeSchema, rowGroupRows int) lakeFileWriter
	// noJournal leaves records out of the journal: nothing is encoded,
	// written or fsync'd for them, and a crash loses what is not yet in a
	// closed file. No configuration sets it: BenchmarkLakeCPU prices the
	// journal by it (issue 13's list of what each part of capture costs).
	noJournal bool
}

func defaultTuning() tuning {
	return tuning{
		retryInterval:  30 * time.Second,
		backoffBase:    500 * time.Millisecond,
		backoffMax:     30 * time.Second,
		uploadTimeout:  5 * time.Minute,
		logEvery:       10 * time.Second,
		maxOpenFiles:   48,
		pendingRows:    64,
		journalBufSize: journalWriteSize,
		linger:         100 * time.Millisecond,
	}
}
