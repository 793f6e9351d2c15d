package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"time"
)

// Uploader stores closed lake files remotely; capture/s3 implements it.
// key is the file's path relative to the lake, with forward slashes
// (dt=YYYY-MM-DD/hour=HH/part-ID.parquet). Upload must return nil only once
// the object is stored: the local file is removed then. A Writer calls
// Upload from one goroutine, and retries failures itself with backoff.
type Uploader interface {
	Upload(ctx context.Context, key string, body io.ReadSeeker, size int64) error
}

// uploadQueue is the FIFO backlog of closed files waiting for upload.
type uploadQueue struct {
	mu     sync.Mutex
	items  []closedFile
	closed bool
	signal chan struct{}
}

func newUploadQueue() *uploadQueue {
	return &uploadQueue{signal: make(chan struct{}, 1)}
}

func (u *uploadQueue) push(cf closedFile) {
	u.mu.Lock()
	u.items = append(u.items, cf)
	u.mu.Unlock()
	u.wake()
}

func (u *uploadQueue) wake() {
	select {
	case u.signal <- struct{}{}:
	default:
	}
}

// close marks the end of input: pop returns false once the queue is empty.
func (u *uploadQueue) close() {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	u.wake()
}

func (u *uploadQueue) len() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.items)
}

// peek waits for the oldest file; false when the queue is closed and
// empty, or ctx ends.
func (u *uploadQueue) peek(ctx context.Context) (closedFile, bool) {
	for {
		u.mu.Lock()
		if len(u.items) > 0 {
			cf := u.items[0]
			u.mu.Unlock()
			return cf, true
		}
		closed := u.closed
		u.mu.Unlock()
		if closed {
			return closedFile{}, false
		}
		select {
		case <-u.signal:
		case <-ctx.Done():
			return closedFile{}, false
		}
	}
}

// pop removes the oldest file (the one peek returned).
func (u *uploadQueue) pop() {
	u.mu.Lock()
	u.items[0] = closedFile{}
	u.items = u.items[1:]
	u.mu.Unlock()
}

// queueUpload adds a closed file to the upload backlog (nothing without an
// Uploader). Safe for concurrent use: the lake and ground-truth goroutines
// both call it.
func (w *Writer) queueUpload(cf closedFile) {
	if w.cfg.Uploader == nil {
		return
	}
	c := w.counters
	c.backlogFiles.Add(1)
	c.backlogBytes.Add(cf.size)
	c.localBytes.Add(cf.size)
	w.uploads.push(cf)
}

func (w *Writer) runUploads() {
	defer close(w.uploadDone)
	if w.cfg.Uploader == nil {
		return
	}
	lg := logLimiter{every: w.tune.logEvery}
	for {
		cf, ok := w.uploads.peek(w.uploadCtx)
		if !ok || !w.uploadOne(cf, &lg) {
			return
		}
		w.uploads.pop()
	}
}

// uploadOne uploads cf, retrying with exponential backoff and jitter until
// it succeeds or the upload context ends (false).
func (w *Writer) uploadOne(cf closedFile, lg *logLimiter) bool {
	c := w.counters
	key := filepath.ToSlash(cf.rel)
	for attempt := 0; w.uploadCtx.Err() == nil; attempt++ {
		if attempt > 0 {
			c.uploadRetries.Add(1)
		}
		err := w.tryUpload(key, cf.rel)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			if err != nil {
				w.log.Warn("capture: backlog file vanished before upload", "file", cf.rel)
			} else {
				c.uploads.Add(1)
				c.uploadOK.Store(true)
				w.removeUploaded(cf.rel)
			}
			c.backlogFiles.Add(-1)
			c.backlogBytes.Add(-cf.size)
			c.localBytes.Add(-cf.size)
			return true
		}
		if w.uploadCtx.Err() != nil {
			return false
		}
		c.uploadFailures.Add(1)
		c.fail(opUpload)
		c.uploadOK.Store(false)
		delay := backoff(attempt, w.tune.backoffBase, w.tune.backoffMax)
		if ok, suppressed := lg.allow(time.Now()); ok {
			w.log.Warn("capture: upload failed; the file stays in the local backlog and is retried",
				"key", key, "attempt", attempt+1, "retry_in", delay.String(), "error", err.Error(),
				"backlog_files", c.backlogFiles.Load(), "backlog_bytes", c.backlogBytes.Load(), "suppressed", suppressed)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-w.uploadCtx.Done():
			t.Stop()
			return false
		}
	}
	return false
}

func (w *Writer) tryUpload(key, rel string) error {
	f, err := w.root.Open(rel)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", rel, err)
	}
	ctx, cancel := context.WithTimeout(w.uploadCtx, w.tune.uploadTimeout)
	defer cancel()
	if err := w.cfg.Uploader.Upload(ctx, key, f, info.Size()); err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	return nil
}

// removeUploaded removes an uploaded file and, when they are empty, its
// partition folders.
func (w *Writer) removeUploaded(rel string) {
	if err := w.root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		w.log.Warn("capture: cannot remove uploaded file", "file", rel, "error", err.Error())
		return
	}
	hour := filepath.Dir(rel)
	if w.root.Remove(hour) == nil {
		_ = w.root.Remove(filepath.Dir(hour))
	}
}

// backoff is the delay before retry attempt+1: exponential from base,
// capped at maxDelay, with "equal jitter" (half fixed, half random) so that
// replicas do not retry in step.
func backoff(attempt int, base, maxDelay time.Duration) time.Duration {
	d := maxDelay
	if attempt < 30 {
		if e := base << attempt; e > 0 && e < maxDelay {
			d = e
		}
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1)) //nolint:gosec // G404: jitter needs spread, not secrecy
}
