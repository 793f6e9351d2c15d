//go:build unix

package capture

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive advisory lock (flock) on the lake's journal so
// that two Writers, in one process or two, never share it: each would
// replay the other's live segments. The kernel drops the lock when the
// process dies, so a crash never leaves the lake locked.
func lockDir(root *os.Root) (*os.File, error) {
	f, err := root.OpenFile(filepath.Join(journalDir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil { //nolint:gosec // G115: a file descriptor fits an int
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return f, nil
}
