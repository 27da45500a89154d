package proc

import (
	"syscall"
	"time"
)

// SelfStats are figures of the calling process itself (the manager), for its
// own metrics. A zero field, or a negative OpenFDs, is unknown.
type SelfStats struct {
	// CPU is the user plus system CPU time used so far.
	CPU time.Duration
	// RSSBytes and VirtualBytes are the resident and virtual memory sizes.
	RSSBytes, VirtualBytes uint64
	// Start is when the process started.
	Start time.Time
	// OpenFDs is the number of open file descriptors; MaxFDs their limit.
	OpenFDs int
	MaxFDs  uint64
}

// Self returns the figures of the calling process that the system tells:
// everything on Linux; on macOS the CPU time and the descriptor limit.
func Self() SelfStats {
	s := SelfStats{OpenFDs: -1}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		s.MaxFDs = lim.Cur
	}
	selfFromProc(&s)
	return s
}
