package bundle

import (
	"context"
	"github.com/leadscore/leadscore/internal/testutil"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// syncBuffer is the shared goroutine-safe test buffer.
type syncBuffer = testutil.Buffer

func TestOpen(t *testing.T) {
	t.Parallel()
	demo, err := Open("")
	if err != nil || demo.Info().Name == "" {
		t.Fatalf("demo: %v", err)
	}
	dir := t.TempDir()
	copyDemo(t, dir)
	b, err := Open(dir)
	if err != nil || b.Info().Name != demo.Info().Name {
		t.Fatalf("open %s: %v", dir, err)
	}
	sc, err := Loader(dir)()
	if err != nil || sc.Info().Version != b.Info().Version {
		t.Fatalf("loader: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "none")); err == nil {
		t.Error("a missing path opened")
	}
}

// copyDemo writes the embedded demo bundle into dir.
func copyDemo(t *testing.T, dir string) {
	t.Helper()
	sub, err := fs.Sub(demoFS, "demo")
	if err == nil {
		err = os.CopyFS(dir, sub)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestFileWatcher(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "model.json")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("v1")
	logs := &syncBuffer{}
	w := NewFileWatcher(path, 5*time.Millisecond, slog.New(slog.NewTextHandler(logs, nil)))
	changes := make(chan string, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// The file changes after the watcher took its signature but before
	// the watch starts (while the model loads): still reported.
	write("v2-longer")
	go func() { done <- w.Watch(ctx, func(reason string) { changes <- reason }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	next := func(what string) {
		t.Helper()
		select {
		case r := <-changes:
			if r != "file changed" {
				t.Errorf("reason %q", r)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no change reported: %s; logs:\n%s", what, logs.String())
		}
	}
	next("v2")
	select {
	case r := <-changes:
		t.Fatalf("reported %q without a change", r)
	case <-time.After(40 * time.Millisecond):
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "a warning for the missing file", func() bool {
		return strings.Contains(logs.String(), "cannot read the model file")
	})
	write("v3")
	next("v3")

	if err := NewFileWatcher(path, 0, nil).Watch(ctx, func(string) {}); err == nil {
		t.Error("a zero interval watched")
	}
}

func TestSignature(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	a, err := Signature(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := Signature(dir)
	if a == b {
		t.Error("adding a file did not change the signature")
	}
	// A file behind a symbolic link counts by its target.
	target := filepath.Join(t.TempDir(), "target.json")
	if err := os.WriteFile(target, []byte("1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "linked.json")); err != nil {
		t.Fatal(err)
	}
	c, _ := Signature(dir)
	if err := os.WriteFile(target, []byte("22"), 0o600); err != nil {
		t.Fatal(err)
	}
	if d, _ := Signature(dir); c == b || d == c {
		t.Error("a linked file's change did not change the signature")
	}
	f1, err := Signature(filepath.Join(dir, "model.json"))
	if err != nil || f1 == "" {
		t.Fatalf("file signature %q %v", f1, err)
	}
	if _, err := Signature(filepath.Join(dir, "none")); err == nil {
		t.Error("missing path has a signature")
	}
}
