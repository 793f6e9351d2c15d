package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// memoryLimit is --memory-limit: the Go runtime's soft memory limit
// (GOMEMLIMIT). "auto" sizes it from the memory in use once the model is
// loaded; "off" leaves the garbage collector to GOGC alone.
type memoryLimit struct {
	off   bool
	bytes byteSize // 0: auto
}

// autoMemoryFloor is the least limit auto sets: room for the capture
// pipeline, the monitor's window and a burst of large batches beside the
// demo model.
const autoMemoryFloor = 64 << 20

func (m *memoryLimit) String() string {
	switch {
	case m.off:
		return "off"
	case m.bytes == 0:
		return "auto"
	}
	return m.bytes.String()
}

func (m *memoryLimit) Set(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto":
		*m = memoryLimit{}
		return nil
	case "off":
		*m = memoryLimit{off: true}
		return nil
	}
	var b byteSize
	if err := b.Set(s); err != nil {
		return err
	}
	if b < 16<<20 {
		return fmt.Errorf("%s is below 16MiB", s)
	}
	*m = memoryLimit{bytes: b}
	return nil
}

// apply sets the runtime's memory limit and returns it (0 when none is
// set here). An explicit GOMEMLIMIT in the environment wins over auto.
// Auto is the larger of 64 MiB and twice the heap in use after start-up
// (the model) plus 32 MiB: without it the heap may grow to twice what is
// live before the collector runs, which under load is most of a server's
// resident memory; with it the collector runs sooner as the limit nears.
// It is a soft limit: a heap that needs more gets it, at the cost of more
// frequent collections.
func (m *memoryLimit) apply(log *slog.Logger) int64 {
	if m.off {
		return 0
	}
	if m.bytes > 0 {
		debug.SetMemoryLimit(int64(m.bytes))
		log.Info("memory limit", "bytes", int64(m.bytes), "source", "--memory-limit")
		return int64(m.bytes)
	}
	if env, ok := os.LookupEnv("GOMEMLIMIT"); ok && env != "" {
		log.Info("memory limit", "gomemlimit", env, "source", "GOMEMLIMIT")
		return 0
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	limit := max(int64(autoMemoryFloor), 2*int64(ms.HeapAlloc)+32<<20) //nolint:gosec // heap sizes fit int64
	debug.SetMemoryLimit(limit)
	log.Info("memory limit", "bytes", limit, "source", "auto", "heap_after_start", ms.HeapAlloc)
	return limit
}
