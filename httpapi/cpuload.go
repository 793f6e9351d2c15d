package httpapi

import (
	"bytes"
	"math"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultShadowMaxCPULoad is the CPU load (see cpuLoad) past which shadow
// scoring is shed: the process's threads want nearly all of the cores
// they may use, so live requests are queueing for them.
const DefaultShadowMaxCPULoad = 0.9

// DefaultShadowMaxCPUWait is how long, on average, the process's threads
// may wait for a core each time they become runnable before shadow
// scoring is shed: past it the machine's cores are contended (other
// processes, a container's CPU quota), and CPU a shadow takes now is CPU
// live requests lose, now or when the kernel evens out its shares. A
// thread woken on a machine with idle cores waits tens of microseconds.
const DefaultShadowMaxCPUWait = 500 * time.Microsecond

// cpuLoadInterval is how often the threads' scheduler statistics are
// read; the verdict holds until the next read.
const cpuLoadInterval = 20 * time.Millisecond

// Hysteresis: once past a limit the process stays "busy" (shadow work is
// shed) until both figures have stayed below calmShare of their limits
// for cpuCalmFor. A saturated server's load dips below its limit for a
// window now and then (a burst of requests answered, the load generator
// descheduled); admitting shadow work in such a dip takes CPU from the
// live requests that arrive a moment later. Only a lasting lull is spare
// CPU.
const (
	calmShare  = 0.75
	cpuCalmFor = 100 * time.Millisecond
)

// taskDir lists the process's threads; each has a schedstat file of three
// numbers: nanoseconds on a CPU, nanoseconds runnable but waiting for a
// CPU, and how many times it ran (Linux, CONFIG_SCHED_INFO).
const taskDir = "/proc/self/task"

// cpuLoad tells whether the process has spare CPU, from the kernel's
// per-thread scheduler statistics over the last cpuLoadInterval. Two
// measures, either of which past its limit means "no spare CPU":
//
//   - load: the time the threads spent on a CPU plus the time they spent
//     waiting for one, over the wall time of the GOMAXPROCS cores Go may
//     run on. About 1 when the process's own work fills its cores (a
//     saturated server's threads are runnable all the time).
//   - mean wait: the time they spent waiting for a CPU over the number
//     of times they ran. Tens of microseconds when a woken thread finds
//     an idle core; milliseconds when the machine's cores are contended
//     by other processes or a container's quota, whether or not the
//     process's own work would fill them: then any CPU a shadow takes is
//     CPU live requests lose, now or when the kernel evens out its
//     shares.
//
// Unlike the Go scheduler's latency histogram (sampled, one wake-up in
// eight, blind to goroutines the network poller has not yet woken) these
// are exact.
//
// The statistics are read at most once per interval, by whichever caller
// finds the last read stale (about one pread per thread), so asking is
// cheap. Where /proc/self/task/*/schedstat cannot be read (not Linux) the
// load is never high. Safe for concurrent use.
type cpuLoad struct {
	limit     float64       // load limit; <= 0: never busy for load
	waitLimit time.Duration // mean wait limit; <= 0: never busy for waiting
	busy      atomic.Bool
	next      atomic.Int64  // unix nanoseconds of the next read
	last      atomic.Uint64 // math.Float64bits of the last load, for /v1/variants
	lastW     atomic.Int64  // and the last mean wait, in nanoseconds
	off       atomic.Bool   // the statistics cannot be read here

	mu      sync.Mutex // one reader at a time (TryLock); guards the rest
	threads map[int]*threadStat
	listed  time.Time // when taskDir was last listed
	at      time.Time // time of the previous read
	// calmSince is when the figures last went below calmShare of their
	// limits and stayed there (zero: they are not below).
	calmSince time.Time
	buf       [128]byte
}

// threadStat is one thread's open schedstat file and its last reading.
type threadStat struct {
	f         *os.File
	run, wait int64 // nanoseconds on a CPU, and waiting for one
	slices    int64 // times run on a CPU
	seen      bool  // read at least once
}

// newCPULoad is busy past a load of limit or a mean wait of waitLimit
// (either <= 0: not that check).
func newCPULoad(limit float64, waitLimit time.Duration) *cpuLoad {
	return &cpuLoad{limit: limit, waitLimit: waitLimit, threads: map[int]*threadStat{}}
}

// Busy reports whether the process has no spare CPU: a figure went past
// its limit and they have not since stayed low for cpuCalmFor (see
// judge). It reads the statistics again first when the last read is
// older than cpuLoadInterval.
func (c *cpuLoad) Busy(now time.Time) bool {
	if c == nil || c.limit <= 0 && c.waitLimit <= 0 || c.off.Load() {
		return false
	}
	if now.UnixNano() >= c.next.Load() && c.mu.TryLock() {
		c.read(now)
		c.mu.Unlock()
	}
	return c.busy.Load()
}

// Load is the load at the last read (0 before the first, or when the
// statistics cannot be read).
func (c *cpuLoad) Load() float64 {
	if c == nil {
		return 0
	}
	return math.Float64frombits(c.last.Load())
}

// MeanWait is how long the threads waited for a core, on average, each
// time they ran, at the last read.
func (c *cpuLoad) MeanWait() time.Duration {
	if c == nil {
		return 0
	}
	return time.Duration(c.lastW.Load())
}

// read takes one reading of every thread and sets the verdict from the
// time they used or waited for since the previous reading.
func (c *cpuLoad) read(now time.Time) {
	c.next.Store(now.Add(cpuLoadInterval).UnixNano())
	if now.Sub(c.listed) >= time.Second || len(c.threads) == 0 {
		if !c.list() {
			c.off.Store(true)
			c.busy.Store(false)
			c.closeAll()
			return
		}
		c.listed = now
	}
	var run, wait, slices int64
	for tid, t := range c.threads {
		r, w, n, ok := c.readThread(t)
		if !ok { // the thread exited
			_ = t.f.Close()
			delete(c.threads, tid)
			continue
		}
		if t.seen {
			run += r - t.run
			wait += w - t.wait
			slices += n - t.slices
		}
		t.run, t.wait, t.slices, t.seen = r, w, n, true
	}
	if !c.at.IsZero() {
		wall := now.Sub(c.at).Nanoseconds() * int64(runtime.GOMAXPROCS(0))
		if wall > 0 {
			load := float64(run+wait) / float64(wall)
			var mean time.Duration
			if slices > 0 {
				mean = time.Duration(wait / slices)
			}
			c.last.Store(math.Float64bits(load))
			c.lastW.Store(int64(mean))
			c.judge(c.at, now, load, mean)
		}
	}
	c.at = now
}

// judge sets the verdict from the figures of the window [from, now]:
// busy at once past either limit; back to not busy only once both have
// stayed below calmShare of their limits for cpuCalmFor. Callers hold
// mu.
func (c *cpuLoad) judge(from, now time.Time, load float64, mean time.Duration) {
	over := c.limit > 0 && load > c.limit || c.waitLimit > 0 && mean > c.waitLimit
	calm := (c.limit <= 0 || load < calmShare*c.limit) &&
		(c.waitLimit <= 0 || float64(mean) < calmShare*float64(c.waitLimit))
	switch {
	case over:
		c.busy.Store(true)
		c.calmSince = time.Time{}
	case !calm:
		c.calmSince = time.Time{} // between: stay as it is
	default:
		if c.calmSince.IsZero() {
			c.calmSince = from
		}
		if now.Sub(c.calmSince) >= cpuCalmFor {
			c.busy.Store(false)
		}
	}
}

// list opens the schedstat file of threads not yet followed.
func (c *cpuLoad) list() bool {
	d, err := os.Open(taskDir)
	if err != nil {
		return false
	}
	names, err := d.Readdirnames(-1)
	_ = d.Close()
	if err != nil {
		return false
	}
	for _, n := range names {
		tid, err := strconv.Atoi(n)
		if err != nil || c.threads[tid] != nil {
			continue
		}
		f, err := os.Open(taskDir + "/" + n + "/schedstat") // #nosec G304 -- n is a thread id read from /proc/self/task
		if err != nil {
			continue // exited meanwhile
		}
		c.threads[tid] = &threadStat{f: f}
	}
	if len(c.threads) == 0 {
		return false
	}
	// A first reading to check the format.
	for _, t := range c.threads {
		if _, _, _, ok := c.readThread(t); ok {
			return true
		}
	}
	return false
}

// readThread reads a thread's nanoseconds on a CPU and waiting for one,
// and how many times it ran.
func (c *cpuLoad) readThread(t *threadStat) (run, wait, slices int64, ok bool) {
	n, err := t.f.ReadAt(c.buf[:], 0)
	if n == 0 && err != nil {
		return 0, 0, 0, false
	}
	fields := bytes.Fields(c.buf[:n])
	if len(fields) < 3 {
		return 0, 0, 0, false
	}
	run, err1 := strconv.ParseInt(string(fields[0]), 10, 64)
	wait, err2 := strconv.ParseInt(string(fields[1]), 10, 64)
	slices, err3 := strconv.ParseInt(string(fields[2]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, 0, false
	}
	return run, wait, slices, true
}

func (c *cpuLoad) closeAll() {
	for tid, t := range c.threads {
		_ = t.f.Close()
		delete(c.threads, tid)
	}
}

// Close releases the open statistics files.
func (c *cpuLoad) Close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeAll()
	c.off.Store(true)
}
