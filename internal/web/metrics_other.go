//go:build !linux

package web

import (
	"syscall"
	"time"
)

// processStats are the manager's own figures for /metrics; a zero or
// negative field is unknown and left out.
type processStats struct {
	cpu        time.Duration
	rss, vsize int64
	start      time.Time
	openFDs    int
	maxFDs     uint64
}

// readProcessStats reads what the system tells without /proc: CPU time and
// the descriptor limit.
func readProcessStats() processStats {
	p := processStats{openFDs: -1}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		p.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		p.maxFDs = lim.Cur
	}
	return p
}
