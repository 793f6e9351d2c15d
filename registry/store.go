package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Store is where a registry keeps its objects: a flat space of
// slash-separated keys such as "lead-demo/1.0.0/manifest.json".
// Implementations are safe for concurrent use by several processes.
type Store interface {
	// Get opens the object at key and returns it with its entity tag, an
	// opaque token that changes whenever the object does. An absent object
	// is an error wrapping fs.ErrNotExist. The caller closes the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, string, error)
	// Put stores body (size bytes) as the whole object at key, atomically:
	// readers see the old content or the new, never a part. A write that
	// cond forbids fails with an error wrapping ErrConflict.
	Put(ctx context.Context, key string, body io.ReadSeeker, size int64, cond Cond) error
	// List returns every key that starts with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// String names the store for messages: a directory or s3://bucket/prefix.
	String() string
}

// Cond is a precondition on Store.Put, for read-modify-write updates.
type Cond struct {
	// IfMatch, when not empty, lets the write happen only if the object's
	// current entity tag is IfMatch.
	IfMatch string
	// IfAbsent lets the write happen only if the object does not exist.
	IfAbsent bool
}

// ErrConflict reports that a conditional write lost a race: the object
// changed (or appeared) since it was read.
var ErrConflict = errors.New("registry: object changed concurrently")

// DirStore is a Store in a local directory: one file per key. Writes go to
// a temporary file in the same directory and are renamed into place;
// conditional writes hold a lock file beside the object while they compare
// and rename. Entity tags are SHA-256 digests of the content.
type DirStore struct {
	root string
}

// NewDirStore returns a store rooted at dir. The directory is created on
// the first write.
func NewDirStore(dir string) *DirStore { return &DirStore{root: filepath.Clean(dir)} }

// String is the store's directory.
func (d *DirStore) String() string { return d.root }

// Path is the file that holds key.
func (d *DirStore) Path(key string) string {
	return filepath.Join(d.root, filepath.FromSlash(key))
}

// checkKey rejects keys that would leave the store or hide as dotfiles.
func checkKey(key string) error {
	if !fs.ValidPath(key) || key == "." {
		return fmt.Errorf("registry: invalid key %q", key)
	}
	for _, part := range strings.Split(key, "/") {
		if strings.HasPrefix(part, ".") {
			return fmt.Errorf("registry: invalid key %q: no part may start with '.'", key)
		}
	}
	return nil
}

// Get opens the file of key and returns it with its SHA-256 as the tag.
func (d *DirStore) Get(ctx context.Context, key string) (io.ReadCloser, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if err := checkKey(key); err != nil {
		return nil, "", err
	}
	f, err := os.Open(d.Path(key))
	if err != nil {
		return nil, "", fmt.Errorf("get %s: %w", key, err)
	}
	tag, err := hashReader(f)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = f.Close()
		return nil, "", fmt.Errorf("get %s: %w", key, err)
	}
	return f, tag, nil
}

// hashReader returns the hex SHA-256 of what r holds.
func hashReader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// lockWait bounds how long a conditional write waits for another one;
// lockStale is the age after which a lock left by a crashed writer is
// broken.
const (
	lockPoll  = 10 * time.Millisecond
	lockTries = 500 // 5 s
	lockStale = 30 * time.Second
)

// Put writes body to a temporary file beside key's file and renames it
// into place.
func (d *DirStore) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, cond Cond) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	dst := d.Path(key)
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tmp, err := d.writeTemp(dir, filepath.Base(dst), body, size)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer func() { _ = os.Remove(tmp) }() // a no-op once renamed
	if cond == (Cond{}) {
		if err := os.Rename(tmp, dst); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		return nil
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, "."+filepath.Base(dst)+".lock"))
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer unlock()
	if err := d.check(key, cond); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// writeTemp copies body into a new temporary file in dir, synced and
// readable by the group, and returns its path.
func (d *DirStore) writeTemp(dir, base string, body io.ReadSeeker, size int64) (string, error) {
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	n, err := io.Copy(f, body)
	if err == nil && n != size {
		err = fmt.Errorf("wrote %d bytes, expected %d", n, size)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		// Group-readable, so a server running under another account of the
		// same group can load the models.
		err = f.Chmod(0o640) // #nosec G302 -- registry objects are not secret; see above
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(name)
		return "", err
	}
	return name, nil
}

// check compares key's current state with cond; called under the lock.
func (d *DirStore) check(key string, cond Cond) error {
	f, err := os.Open(d.Path(key))
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if cond.IfAbsent && exists {
		_ = f.Close()
		return fmt.Errorf("put %s: %w: it exists", key, ErrConflict)
	}
	if cond.IfMatch == "" {
		if exists {
			_ = f.Close()
		}
		return nil
	}
	if !exists {
		return fmt.Errorf("put %s: %w: it no longer exists", key, ErrConflict)
	}
	tag, err := hashReader(f)
	_ = f.Close()
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if tag != cond.IfMatch {
		return fmt.Errorf("put %s: %w", key, ErrConflict)
	}
	return nil
}

// lockFile takes an exclusive lock by creating path, waiting a bounded
// time for another holder and breaking a lock older than lockStale. The
// returned function releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	for range lockTries {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600) // #nosec G304 -- path is inside the store
		if err == nil {
			_ = f.Close()
			return func() { _ = os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock: %w", err)
		}
		if st, serr := os.Stat(path); serr == nil && time.Since(st.ModTime()) > lockStale {
			_ = os.Remove(path) // left by a writer that died
			continue
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
	return nil, fmt.Errorf("lock %s: still held after %s", path, lockPoll*lockTries)
}

// List walks the directory under prefix, skipping dotfiles (temporary and
// lock files).
func (d *DirStore) List(ctx context.Context, prefix string) ([]string, error) {
	// Walk from the deepest directory the prefix names.
	start := path.Dir(prefix + "x")
	if prefix == "" || start == "." {
		start = ""
	}
	root := d.root
	if start != "" {
		if err := checkKey(start); err != nil {
			return nil, err
		}
		root = d.Path(start)
	}
	var keys []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if ok, err := bundleFile(p, root, e); !ok {
			return err
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", path.Join(d.root, prefix), err)
	}
	sort.Strings(keys)
	return keys, nil
}

var _ Store = (*DirStore)(nil)
