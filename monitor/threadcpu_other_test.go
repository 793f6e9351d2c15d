//go:build !linux

package monitor

import "time"

// threadCPU is not measured here: always 0.
func threadCPU() time.Duration { return 0 }
