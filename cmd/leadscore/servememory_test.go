package main

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leadscore/leadscore"
	"github.com/leadscore/leadscore/monitor"
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
	work := workingSet(true, 8192, 8192, 1, monitor.DefaultQueueRecords, 50)
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
// and the monitors: nothing with both off; the monitors' part growing
// with --monitor-queue-records and one queue per variant's monitor; the
// lake's with --lake-queue-depth; the two queues, which hold the same
// batches, counted as the larger; and about 27 MiB for the defaults with
// the demo model's 50 features (docs/service.md quotes it).
func TestWorkingSet(t *testing.T) {
	const q = monitor.DefaultQueueRecords
	if got := workingSet(false, 8192, 8192, 0, q, 50); got != 0 {
		t.Errorf("lake and monitor off: %d, want 0", got)
	}
	lake := workingSet(true, 8192, 8192, 0, q, 50)
	mon := workingSet(false, 8192, 8192, 1, q, 50)
	rowGroups := int64(2 * 8192 * 4 * 50)
	if lake <= rowGroups || mon <= 0 || mon <= lake-rowGroups {
		t.Errorf("lake %d (row groups %d), monitor %d: want the monitor's queue, at 49,152 records, the larger", lake, rowGroups, mon)
	}
	if both := workingSet(true, 8192, 8192, 1, q, 50); both != mon+rowGroups {
		t.Errorf("lake and monitor: %d, want the larger queue %d and the row groups %d", both, mon, rowGroups)
	}
	if deep := workingSet(true, 64<<10, 8192, 1, q, 50); deep <= lake || deep != workingSet(true, 64<<10, 8192, 0, q, 50) {
		t.Errorf("a lake queue deeper than the monitor's: %d, want the lake's alone, more than %d", deep, lake)
	}
	if longer := workingSet(false, 8192, 8192, 1, 2*q, 50); longer != 2*mon {
		t.Errorf("--monitor-queue-records doubled: %d, want twice %d", longer, mon)
	}
	if two := workingSet(false, 8192, 8192, 2, q, 50); two != 2*mon {
		t.Errorf("two variants' monitors: %d, want twice %d", two, mon)
	}
	if wider := workingSet(true, 8192, 8192, 1, q, 100); wider <= mon+rowGroups {
		t.Errorf("more features: %d, want more than %d", wider, mon+rowGroups)
	}
	if both := workingSet(true, 8192, 8192, 1, q, 50); both < 25<<20 || both > 29<<20 {
		t.Errorf("defaults, 50 features: %d bytes (%.1f MiB), want about 27 MiB", both, float64(both)/(1<<20))
	}
}

// TestWorkingSetMonitorQueue fills a drift monitor's queue (its goroutine
// not running, as when it runs late) with 100-lead requests' batches,
// built as the server builds them, up to --monitor-queue-records, and
// checks the heap they pin against the estimate's share for one monitor:
// within 0.75 to 1.33 of it, at two bounds.
func TestWorkingSetMonitorQueue(t *testing.T) {
	for _, queueRecords := range []int{8 << 10, 32 << 10} {
		t.Run(strconv.Itoa(queueRecords), func(t *testing.T) { testWorkingSetMonitorQueue(t, queueRecords) })
	}
}

func testWorkingSetMonitorQueue(t *testing.T, queueRecords int) {
	base, err := monitor.LoadBaseline(filepath.Join("..", "..", "bundle", "demo", "baseline"))
	if err != nil {
		t.Fatal(err)
	}
	names := base.Features()
	const leads = 100
	mon, err := monitor.New(monitor.Config{Baseline: base, Features: names, QueueRecords: queueRecords})
	if err != nil {
		t.Fatal(err)
	}
	heap := func() int64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc) //nolint:gosec // heap sizes fit int64
	}
	var pool leadscore.BatchPool
	nf := len(names)
	before := heap()
	for i := range queueRecords / leads {
		b := pool.Get(leads, leads*nf)
		// A request id, and the ids of its rows in one string (as
		// httpapi's recordIDs builds them): "<request id>-<row>", and
		// the lead ids.
		req := fmt.Sprintf("01JEXAMPLE%016d", i)
		var ids strings.Builder
		for k := range leads {
			fmt.Fprintf(&ids, "%s-%d", req, k)
		}
		leadStart := ids.Len()
		for k := range leads {
			fmt.Fprintf(&ids, "lead-%07d", i*leads+k)
		}
		all := ids.String()
		off := 0
		for k := range leads {
			inf := req + "-" + strconv.Itoa(k)
			b.Records[k] = leadscore.Record{Time: time.Now(), RequestID: req, InferenceID: all[off : off+len(inf)],
				LeadID: all[leadStart+12*k : leadStart+12*(k+1)], Probability: 0.5,
				Features: b.Features[k*nf : (k+1)*nf : (k+1)*nf], FeatureNames: names}
			off += len(inf)
		}
		mon.CaptureBatch(b)
		b.Release()
	}
	pinned := heap() - before
	if got := mon.Evaluate().Window.Received; got != int64(queueRecords/leads*leads) {
		t.Fatalf("the monitor received %d records, want %d", got, queueRecords/leads*leads)
	}
	est := workingSet(false, 0, 0, 1, queueRecords, nf)
	ratio := float64(pinned) / float64(est)
	t.Logf("a queue of %d records pins %d bytes; the estimate is %d (measured/estimate %.2f)", queueRecords/leads*leads, pinned, est, ratio)
	if ratio < 0.75 || ratio > 1.33 {
		t.Errorf("a full monitor queue pins %d bytes, the estimate %d: %.2fx", pinned, est, ratio)
	}
}
