package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestStores checks the Store contract on both backends.
func TestStores(t *testing.T) {
	url := fakeS3(t)
	ctx := testContext(t)
	s3, err := NewS3Store(ctx, "models", "/p/", s3Options(url).S3)
	if err != nil {
		t.Fatal(err)
	}
	s3root, err := NewS3Store(ctx, "models", "", s3Options(fakeS3(t)).S3)
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]Store{"dir": NewDirStore(t.TempDir()), "s3": s3, "s3-no-prefix": s3root} {
		t.Run(name, func(t *testing.T) {
			put := func(key, data string, cond Cond) error {
				return st.Put(ctx, key, bytes.NewReader([]byte(data)), int64(len(data)), cond)
			}
			get := func(key string) (string, string, error) {
				rc, tag, err := st.Get(ctx, key)
				if err != nil {
					return "", "", err
				}
				defer func() { _ = rc.Close() }()
				b, err := io.ReadAll(rc)
				return string(b), tag, err
			}
			if _, _, err := get("m/missing"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("get missing: %v", err)
			}
			if err := put("m/a.json", "one", Cond{IfAbsent: true}); err != nil {
				t.Fatal(err)
			}
			if err := put("m/a.json", "two", Cond{IfAbsent: true}); !errors.Is(err, ErrConflict) {
				t.Errorf("IfAbsent over an object: %v", err)
			}
			data, tag, err := get("m/a.json")
			if err != nil || data != "one" || tag == "" {
				t.Fatalf("get: %q %q %v", data, tag, err)
			}
			if err := put("m/a.json", "two", Cond{IfMatch: tag}); err != nil {
				t.Errorf("IfMatch with the current tag: %v", err)
			}
			if err := put("m/a.json", "three", Cond{IfMatch: tag}); !errors.Is(err, ErrConflict) {
				t.Errorf("IfMatch with a stale tag: %v", err)
			}
			if err := put("m/none", "x", Cond{IfMatch: tag}); !errors.Is(err, ErrConflict) {
				t.Errorf("IfMatch on a missing object: %v", err)
			}
			if err := put("m/b/c", "plain", Cond{}); err != nil {
				t.Fatal(err)
			}
			if err := put("n/d", "other model", Cond{}); err != nil {
				t.Fatal(err)
			}
			if data, _, err := get("m/a.json"); data != "two" || err != nil {
				t.Errorf("after conditional writes: %q %v", data, err)
			}
			for prefix, want := range map[string][]string{
				"":     {"m/a.json", "m/b/c", "n/d"},
				"m/":   {"m/a.json", "m/b/c"},
				"m/b":  {"m/b/c"},
				"m/a":  {"m/a.json"},
				"zzz/": nil,
			} {
				keys, err := st.List(ctx, prefix)
				if err != nil || !reflect.DeepEqual(keys, want) {
					t.Errorf("List(%q) = %q, %v; want %q", prefix, keys, err, want)
				}
			}
			for _, bad := range []string{"../x", "/abs", "m/.hidden", ""} {
				if err := put(bad, "x", Cond{}); err == nil {
					t.Errorf("Put(%q) succeeded", bad)
				}
				if _, _, err := st.Get(ctx, bad); err == nil {
					t.Errorf("Get(%q) succeeded", bad)
				}
			}
			if st.String() == "" {
				t.Error("empty String()")
			}
		})
	}
}

func TestDirStoreLocks(t *testing.T) {
	ctx := testContext(t)
	root := t.TempDir()
	st := NewDirStore(root)
	put := func(ctx context.Context, cond Cond) error {
		return st.Put(ctx, "m/s", bytes.NewReader([]byte("x")), 1, cond)
	}
	if err := put(ctx, Cond{}); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(root, "m", ".s.lock")
	if err := os.WriteFile(lock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A held lock makes a conditional writer wait: here until its context
	// ends.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := put(short, Cond{IfAbsent: true}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("put under a held lock: %v", err)
	}
	// A lock older than lockStale was left by a dead writer: broken.
	old := time.Now().Add(-2 * lockStale)
	if err := os.Chtimes(lock, old, old); err != nil {
		t.Fatal(err)
	}
	_, tag, err := st.Get(ctx, "m/s")
	if err != nil {
		t.Fatal(err)
	}
	if err := put(ctx, Cond{IfMatch: tag}); err != nil {
		t.Errorf("put after a stale lock: %v", err)
	}
	if _, err := os.Stat(lock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock left behind: %v", err)
	}
	// A short body is an error and leaves nothing behind.
	if err := st.Put(ctx, "m/t", bytes.NewReader([]byte("ab")), 3, Cond{}); err == nil {
		t.Error("short body accepted")
	}
	keys, err := st.List(ctx, "")
	if err != nil || !reflect.DeepEqual(keys, []string{"m/s"}) {
		t.Errorf("keys %q, %v", keys, err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "m"))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	cctx, cancelAll := context.WithCancel(ctx)
	cancelAll()
	if err := put(cctx, Cond{}); err == nil {
		t.Error("put with a cancelled context succeeded")
	}
	if _, _, err := st.Get(cctx, "m/s"); err == nil {
		t.Error("get with a cancelled context succeeded")
	}
	if _, err := st.List(cctx, ""); err == nil {
		t.Error("list with a cancelled context succeeded")
	}
}

func TestS3Errors(t *testing.T) {
	ctx := testContext(t)
	if _, err := NewS3Store(ctx, "", "", S3Config{}); err == nil {
		t.Error("empty bucket accepted")
	}
	url := fakeS3(t)
	st, err := NewS3Store(ctx, "no-such-bucket", "", s3Options(url).S3)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "k", bytes.NewReader(nil), 0, Cond{}); err == nil {
		t.Error("put into a missing bucket succeeded")
	}
	if _, err := st.List(ctx, ""); err == nil {
		t.Error("list of a missing bucket succeeded")
	}
	if _, _, err := st.Get(ctx, "k"); err == nil {
		t.Error("get from a missing bucket succeeded")
	}
}
