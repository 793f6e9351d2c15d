//go:build unix

// Package cputime reads the process's CPU time, which other processes on
// a busy host disturb far less than wall-clock time: the benchmarks and
// `leadscore bench` report it beside wall time.
package cputime

import (
	"syscall"
	"time"
)

// Process is the process's CPU time so far, user and system (getrusage);
// 0 if it cannot be read.
func Process() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
