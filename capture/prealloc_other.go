//go:build !linux

package capture

import (
	"errors"
	"os"
)

// fallocate is Linux's only: elsewhere segments are not preallocated.
func fallocate(*os.File, int64, int64) error { return errors.ErrUnsupported }
