package capture

import (
	"os"

	"golang.org/x/sys/unix"
)

// fallocate reserves n bytes of f's blocks from off without changing its
// size (FALLOC_FL_KEEP_SIZE: a reader sees only what was written).
func fallocate(f *os.File, off, n int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Fallocate(int(fd), unix.FALLOC_FL_KEEP_SIZE, off, n) //nolint:gosec // a file descriptor
			if ferr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}
