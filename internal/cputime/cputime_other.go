//go:build !unix

// Package cputime reads the process's CPU time, which other processes on
// a busy host disturb far less than wall-clock time: the benchmarks and
// `leadscore bench` report it beside wall time.
package cputime

import "time"

// Process is not measured on this platform: always 0.
func Process() time.Duration { return 0 }
