package cputime

import (
	"runtime"
	"testing"
	"time"
)

// TestProcessGrows checks that spinning adds CPU time (on unix, where it
// is measured).
func TestProcessGrows(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("not measured on this platform")
	}
	t0 := Process()
	x := 0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		x++
	}
	if d := Process() - t0; d <= 0 {
		t.Errorf("CPU time grew by %v over 50 ms of spinning (%d turns)", d, x)
	}
}
