//go:build unix

package proxy_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) the test process has used:
// the benchmarks count the proxy's CPU, not its wall-clock latency, which
// on a shared machine mostly measures the neighbours.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
