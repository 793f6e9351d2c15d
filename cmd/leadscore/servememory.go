package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"unsafe"

	"github.com/leadscore/leadscore"
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
// Auto is the largest of 64 MiB, twice the heap in use after start-up (the
// model) plus 32 MiB, and that heap plus work plus 32 MiB: work is what
// the capture pipeline and the monitor hold at their configured bounds
// under load (workingSet), not yet allocated at start-up, and the 32 MiB
// is room to allocate into between collections. Without a limit the heap may grow to
// twice what is live before the collector runs, which under load is most
// of a server's resident memory; with it the collector runs sooner as the
// limit nears. It is a soft limit: a heap that needs more gets it, at the
// cost of more frequent collections, and a limit at or below the live
// heap makes the collector run without pause and take up to half the CPU
// (measured on a saturated server with the lake and monitor on, 45 MB
// live: under 64 MiB it collected 10 times a second and served 0.75 of
// the 100-lead requests it served under 72, 76 or 80 MiB, which served
// about the same; peak RSS 89, 95, 100 and 103 MB).
func (m *memoryLimit) apply(log *slog.Logger, work int64) int64 {
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
	heap := int64(ms.HeapAlloc) //nolint:gosec // heap sizes fit int64
	limit := max(int64(autoMemoryFloor), 2*heap+32<<20, heap+max(work, 0)+32<<20)
	debug.SetMemoryLimit(limit)
	log.Info("memory limit", "bytes", limit, "source", "auto", "heap_after_start", ms.HeapAlloc, "capture_and_monitor", work)
	return limit
}

// Bounds of what the capture pipeline and the monitor hold under load,
// for workingSet.
const (
	// captureBuffers is how many queue-sized batch buffers the capture
	// pipeline has in circulation under load: the queue's, the
	// journal's, the one on its way to the lake and the lake's.
	captureBuffers = 4
	// recordIDBytes is what a captured record's ids and names hold
	// besides leadscore.Record itself (request, inference and lead ids).
	recordIDBytes = 96
)

// workingSet estimates the heap the capture pipeline (lake on: the
// queue's batch buffers at --lake-queue-depth, and a Parquet row group
// being encoded) and the drift monitors hold under load, for nfeat
// features a lead: memory that start-up has not allocated yet, which auto
// makes room for.
//
// Each monitor's queue (monitors: one, or one per variant whose model has
// a baseline, 0 when monitoring is off) holds up to queueRecords records
// (--monitor-queue-records) of the requests' own batches, by reference:
// what it pins is whole records (leadscore.Record, their ids, their
// features), not the few fields its window reads. It reaches its bound
// whenever its goroutine runs late (waiting for a core on a saturated
// server). A batch's size class rounds its storage up (a 100-lead
// request's batch has room for 128), which the estimate leaves out:
// TestWorkingSetMonitorQueue measures a queue full of 100-lead batches at
// 1.15x it.
//
// The lake's queue holds the same batches: each queue holds what its
// goroutine has not taken yet, the latest part of one stream of batches,
// so together they pin the larger of the two, not the sum (with one
// monitor exactly; with a monitor per variant, each holding its own
// variant's latest records, the larger is an estimate). Counting both
// would raise auto by about 16 MiB with the defaults, past the 72-80 MiB
// that served best (docs/service.md, "Memory": 91 MiB served 5,054
// requests/s at 115 MB RSS, 76 MiB 6,262 at 100 MB).
//
// With the defaults and the demo model (50 features) it is about 27 MiB
// (the monitor's queue 23.6 MiB, the lake's 15.8 and its row groups 3.1),
// and auto 71 MiB (the heap after start-up is 12.3 MiB).
func workingSet(lake bool, queueDepth, rowGroupRows, monitors, queueRecords, nfeat int) int64 {
	featBytes := 4 * int64(nfeat)
	rec := int64(unsafe.Sizeof(leadscore.Record{})) + recordIDBytes + featBytes
	var queued, rowGroups int64
	if lake {
		queued = captureBuffers * int64(queueDepth) * rec
		rowGroups = 2 * int64(rowGroupRows) * featBytes
	}
	queued = max(queued, int64(max(monitors, 0))*int64(max(queueRecords, 0))*rec)
	return queued + rowGroups
}
