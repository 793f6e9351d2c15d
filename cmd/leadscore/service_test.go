package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/leadscore/leadscore/capture"
	"github.com/leadscore/leadscore/internal/testutil"
)

// openFDs counts the process's open file descriptors (files, sockets).
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(entries)
}

// settled waits until the open descriptors and goroutines are back to at
// most the given counts, and fails naming what was left otherwise.
func settled(t *testing.T, what string, fds, goroutines int) {
	t.Helper()
	testutil.EventuallyState(t, 10*time.Second, what+" to release what it opened", func() (bool, string) {
		f, g := openFDs(t), runtime.NumGoroutine()
		if f <= fds && g <= goroutines {
			return true, ""
		}
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		return false, fmt.Sprintf("%d descriptors open (had %d), %d goroutines (had %d); goroutines:\n%s", f, fds, g, goroutines, buf)
	})
}

// TestServiceBuildFailures makes each build step of the service fail in
// turn and checks that the parts opened before it are closed: no file,
// listener or goroutine is left behind, the lake's directory lock is free
// and the listener's port can be taken again.
func TestServiceBuildFailures(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc")
	}
	dir := t.TempDir()
	model, _ := demoBundleCopy(t, true) // with a baseline: drift monitoring runs
	lakeDir := filepath.Join(dir, "lake")
	c, err := parseServeConfig([]string{
		"--model", model, "--watch-interval", "20ms", "--listen", "127.0.0.1:0", "--debug-listen", "127.0.0.1:0",
		"--lake-dir", lakeDir, "--monitor-webhook-url", "http://127.0.0.1:9/hook", "--otlp-endpoint", "http://127.0.0.1:9",
		"--shutdown-timeout", "5s",
	}, func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}

	// A whole start and stop first, so that what the libraries set up
	// once per process is counted in the baseline; it must also leave
	// nothing open.
	runOnce := func() {
		t.Helper()
		s := newService(c, newLogSink(io.Discard))
		if err := s.build(context.Background(), s.buildSteps()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.run(ctx, func() {}) }()
		conn, err := net.Dial("tcp", s.ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	runOnce()
	fds, goroutines := openFDs(t), runtime.NumGoroutine()
	runOnce()
	settled(t, "after a run", fds, goroutines)

	injected := errors.New("injected build failure")
	steps := newService(c, nil).buildSteps()
	for i := range steps {
		t.Run(steps[i].name, func(t *testing.T) {
			s := newService(c, newLogSink(io.Discard))
			s.log = slog.New(slog.DiscardHandler)
			steps := s.buildSteps()
			steps[i].run = func(context.Context) error { return injected }
			if err := s.build(context.Background(), steps); !errors.Is(err, injected) {
				t.Fatalf("build: %v, want the injected failure", err)
			}
			if len(s.closers) != 0 {
				t.Errorf("%d parts still registered after a failed build", len(s.closers))
			}
			settled(t, "after failing at "+steps[i].name, fds, goroutines+1) // +1: the subtest's own goroutine
			if s.ln != nil {
				ln, err := net.Listen("tcp", s.ln.Addr().String())
				if err != nil {
					t.Fatalf("the listener's port is still taken: %v", err)
				}
				_ = ln.Close()
			}
			if s.lake != nil {
				w, err := capture.New(capture.Config{Dir: lakeDir}, []string{"x"}, nil, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatalf("the lake is still open: %v", err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := w.Close(ctx); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
