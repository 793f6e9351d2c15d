package testutil

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBufferConcurrent(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "x"); n != 800 {
		t.Errorf("%d writes kept, want 800", n)
	}
}

func TestEventually(t *testing.T) {
	start := time.Now()
	Eventually(t, time.Second, "20 ms to pass", func() bool { return time.Since(start) > 20*time.Millisecond })
}

func TestEventuallyTimesOut(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() { // Fatalf ends the goroutine, as it ends a test
		defer close(done)
		EventuallyState(ft, 30*time.Millisecond, "never", func() (bool, string) { return false, "still false" })
	}()
	<-done
	if !strings.Contains(ft.msg, "waiting for never; last: still false") {
		t.Errorf("failure message %q", ft.msg)
	}
}

// fatalRecorder records a Fatalf instead of failing the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
