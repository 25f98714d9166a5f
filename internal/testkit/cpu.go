package testkit

import (
	"syscall"
	"time"
)

// ProcessCPU is the CPU time (user and system) this process has used, for
// benchmarks that report CPU per operation beside wall time.
func ProcessCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
