//go:build unix

package httpapi

import (
	"syscall"
	"time"
)

// cpuTime is the process's CPU time (user and system), which other
// processes on a busy host disturb far less than wall-clock time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
