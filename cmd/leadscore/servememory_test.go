package main

import (
	"io"
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"testing"
)

// TestMemoryLimitApply backs SECURITY.md's promise that --memory-limit auto
// sets the runtime's soft limit: each setting is applied to this process
// and the limit read back from the runtime. Auto sets the larger of 64 MiB
// and twice the heap after start-up plus 32 MiB (here, a test binary with
// a small heap: 64 MiB, or more when the heap is larger); a size sets that
// size; off and an explicit GOMEMLIMIT leave the runtime's limit alone.
func TestMemoryLimitApply(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(orig) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	current := func() int64 { return debug.SetMemoryLimit(-1) }

	t.Setenv("GOMEMLIMIT", "")
	debug.SetMemoryLimit(math.MaxInt64)
	var auto memoryLimit
	if err := auto.Set("auto"); err != nil {
		t.Fatal(err)
	}
	got := auto.apply(log, 0)
	if got < autoMemoryFloor || current() != got {
		t.Errorf("auto: returned %d, runtime limit %d, want the same and at least %d", got, current(), autoMemoryFloor)
	}
	// Twice a heap grown well past half the floor lifts the limit above it.
	ballast := make([]byte, 48<<20)
	for i := range ballast {
		ballast[i] = byte(i)
	}
	got = auto.apply(log, 0)
	if got < 2*int64(len(ballast))+32<<20 || current() != got {
		t.Errorf("auto with a 48 MiB heap: returned %d, runtime limit %d, want at least %d", got, current(), 2*len(ballast)+32<<20)
	}
	runtime.KeepAlive(ballast)
	runtime.GC()

	// Room for the capture and monitor working set and 32 MiB beside it.
	work := workingSet(true, 8192, 8192, true, 50)
	got = auto.apply(log, work)
	if got < work+32<<20 || got < autoMemoryFloor || current() != got {
		t.Errorf("auto with %d bytes of working set: returned %d, runtime limit %d, want at least %d", work, got, current(), max(work+32<<20, autoMemoryFloor))
	}

	var size memoryLimit
	if err := size.Set("96MiB"); err != nil {
		t.Fatal(err)
	}
	if got := size.apply(log, 0); got != 96<<20 || current() != 96<<20 {
		t.Errorf("96MiB: returned %d, runtime limit %d", got, current())
	}

	debug.SetMemoryLimit(123 << 20)
	var off memoryLimit
	if err := off.Set("off"); err != nil {
		t.Fatal(err)
	}
	if got := off.apply(log, 0); got != 0 || current() != 123<<20 {
		t.Errorf("off: returned %d, runtime limit %d, want 0 and the limit untouched", got, current())
	}
	t.Setenv("GOMEMLIMIT", "200MiB")
	if got := auto.apply(log, 0); got != 0 || current() != 123<<20 {
		t.Errorf("auto under GOMEMLIMIT: returned %d, runtime limit %d, want 0 and the limit untouched", got, current())
	}
}

// TestWorkingSet checks the estimate auto adds for the capture pipeline
// and the monitor: nothing with both off, each part growing with its
// bound, and about 27 MiB for the defaults with the demo model's 50
// features (docs/service.md quotes it).
func TestWorkingSet(t *testing.T) {
	if got := workingSet(false, 8192, 8192, false, 50); got != 0 {
		t.Errorf("lake and monitor off: %d, want 0", got)
	}
	lake := workingSet(true, 8192, 8192, false, 50)
	mon := workingSet(false, 8192, 8192, true, 50)
	if lake <= 0 || mon <= 0 || workingSet(true, 8192, 8192, true, 50) != lake+mon {
		t.Errorf("lake %d, monitor %d, both %d", lake, mon, workingSet(true, 8192, 8192, true, 50))
	}
	if deeper := workingSet(true, 16384, 8192, false, 50); deeper <= lake {
		t.Errorf("a deeper queue: %d, want more than %d", deeper, lake)
	}
	if wider := workingSet(true, 8192, 8192, true, 100); wider <= lake+mon {
		t.Errorf("more features: %d, want more than %d", wider, lake+mon)
	}
	if both := workingSet(true, 8192, 8192, true, 50); both < 25<<20 || both > 33<<20 {
		t.Errorf("defaults, 50 features: %d bytes (%.1f MiB), want about 29 MiB", both, float64(both)/(1<<20))
	}
}
