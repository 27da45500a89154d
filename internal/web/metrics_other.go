//go:build !linux

package web

import (
	"syscall"
	"time"
)

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
