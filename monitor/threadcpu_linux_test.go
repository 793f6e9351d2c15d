package monitor

import (
	"syscall"
	"time"
	"unsafe"
)

// clockThreadCPUTime is Linux's CLOCK_THREAD_CPUTIME_ID.
const clockThreadCPUTime = 3

// threadCPU is the calling thread's CPU time, for a benchmark locked to
// its thread: what the request path's calls cost, apart from the time the
// host's other processes took the core. clock_gettime, not getrusage,
// whose per-thread figures move in steps too coarse for a few µs.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	// #nosec G103 -- the kernel writes ts, which outlives the call
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
