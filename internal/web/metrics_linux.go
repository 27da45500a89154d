package web

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// readProcessStats reads the manager's figures from /proc/self, as the
// Prometheus client libraries do.
func readProcessStats() processStats {
	p := processStats{openFDs: -1}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		p.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if data, err := os.ReadFile("/proc/self/stat"); err == nil {
		// The fields after the command, which is in parentheses and may hold
		// anything: field 3 (state) is rest[0], so field N is rest[N-3].
		if i := bytes.LastIndexByte(data, ')'); i >= 0 {
			rest := bytes.Fields(data[i+1:])
			if len(rest) > 21 {
				vsize, _ := strconv.ParseInt(string(rest[20]), 10, 64)
				pages, _ := strconv.ParseInt(string(rest[21]), 10, 64)
				p.vsize, p.rss = vsize, pages*int64(os.Getpagesize())
				if ticks, err := strconv.ParseInt(string(rest[19]), 10, 64); err == nil {
					if boot := bootTime(); !boot.IsZero() {
						// USER_HZ is 100 on every Linux the Go runtime supports.
						p.start = boot.Add(time.Duration(ticks) * (time.Second / 100))
					}
				}
			}
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		p.openFDs = len(fds) - 1 // without the one ReadDir had open
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		p.maxFDs = lim.Cur
	}
	return p
}

// bootTime is the btime line of /proc/stat; zero if it cannot be read.
func bootTime() time.Time {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	for line := range bytes.Lines(data) {
		if rest, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			if s, err := strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64); err == nil {
				return time.Unix(s, 0)
			}
		}
	}
	return time.Time{}
}
