package bundle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/leadscore/leadscore"
)

// Open loads the bundle directory or model file at path; the empty path
// is the embedded demo bundle (Demo).
func Open(path string) (*Bundle, error) {
	if path == "" {
		return Demo()
	}
	return Load(path)
}

// Loader is a leadscore.Loader that opens path (see Open) on every call.
func Loader(path string) leadscore.Loader {
	return func() (leadscore.Scorer, error) { return Open(path) }
}

// Watcher reports changes of a model source: a file or bundle directory
// (NewFileWatcher), a registry stage (registry.Follower), ... A server reloads
// the model from its Loader when onChange is called.
type Watcher interface {
	// Watch calls onChange, from Watch's goroutine, each time the source
	// changed, with a short reason for the log ("file changed",
	// "registry: 1.2.0"). It returns nil when ctx is done, or an error at
	// once when the source cannot be watched at all. Failures while
	// watching are logged and retried, never returned.
	Watch(ctx context.Context, onChange func(reason string)) error
}

// PollWatcher polls a signature of a model source (Signature for a file
// or bundle directory) and reports a change once the signature has changed
// and then stayed the same for one more poll, so a file still being
// written is not loaded half-way.
type PollWatcher struct {
	signature func() (string, error)
	interval  time.Duration
	log       *slog.Logger
	// loaded is the signature of what the current model was loaded from.
	loaded string
}

// NewPollWatcher polls signature every interval; loaded is the signature
// taken before the current model was loaded ("" if unknown), so a change
// made while it loaded is reported too. log receives read failures (nil
// discards them).
func NewPollWatcher(loaded string, interval time.Duration, signature func() (string, error), log *slog.Logger) *PollWatcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PollWatcher{signature: signature, interval: interval, log: log, loaded: loaded}
}

// NewFileWatcher watches the model file or bundle directory at path every
// interval. Call it before loading the model at path: it takes the
// signature now, so a change made while the model loads is reported too.
func NewFileWatcher(path string, interval time.Duration, log *slog.Logger) *PollWatcher {
	sig, _ := Signature(path) // a missing file fails the load that follows
	return NewPollWatcher(sig, interval, func() (string, error) { return Signature(path) }, log)
}

// Watch polls until ctx is done, reporting "file changed". A signature
// error (the file briefly missing during a rename) is logged once and
// retried.
func (w *PollWatcher) Watch(ctx context.Context, onChange func(reason string)) error {
	if w.interval <= 0 {
		return errors.New("watch: interval must be positive")
	}
	last := w.loaded
	failing := false
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cur, err := w.signature()
		if err != nil {
			if !failing {
				w.log.Warn("model watch: cannot read the model file", "error", err.Error())
			}
			failing = true
			continue
		}
		failing = false
		if cur != w.loaded && cur == last {
			w.loaded = cur
			onChange("file changed")
		}
		last = cur
	}
}

// Signature describes a model file or bundle directory by the names,
// sizes and modification times of its files: it changes when any of them
// does. Files behind symbolic links count by their targets, as in a
// Kubernetes volume whose files link into a directory swapped atomically.
func Signature(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("stat model %s: %w", path, err)
	}
	if !fi.IsDir() {
		return fmt.Sprintf("%d %d", fi.Size(), fi.ModTime().UnixNano()), nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return "", fmt.Errorf("read model dir %s: %w", path, err)
	}
	parts := make([]string, 0, len(entries))
	for _, e := range entries {
		info, err := os.Stat(filepath.Join(path, e.Name()))
		if err != nil || !info.Mode().IsRegular() {
			continue // removed since ReadDir, or not a file
		}
		parts = append(parts, fmt.Sprintf("%s %d %d", e.Name(), info.Size(), info.ModTime().UnixNano()))
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n"), nil
}
