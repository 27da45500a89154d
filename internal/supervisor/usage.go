package supervisor

import (
	"time"

	"github.com/pyvisor/pyvisor/internal/proc"
)

// usage is what the sampler measured of one program's process group. The
// sampler goroutine updates the measurements in place, under
// Supervisor.usageMu, and readers copy them out, so that a round allocates
// nothing: an idle manager then goes minutes without a collection.
type usage struct {
	pid        int // the process measured; a program's status is merged only while its PID matches
	cpuPercent float64
	history    []float64 // oldest first; shared by every copy handed out (see appendHistory)
	memHistory []uint64  // the RSS of each sample of history, kept the same way
	rssBytes   uint64
	// cpuTotal is the CPU time the program's process groups used, summed over
	// every process it ran since the sampler started; it never decreases.
	cpuTotal time.Duration

	lastCPU time.Duration
	lastAt  time.Time
}

// sampler measures CPU and memory; it is used by sampleLoop's goroutine only.
type sampler struct {
	history int
	byName  map[string]usage
}

// round folds one measurement into the history of every program in pids
// (name -> PID of its running process, 0 for none), in place, and drops the
// programs not in pids. It returns the map it updated, the same every round.
func (sm *sampler) round(pids map[string]int, measured map[int]proc.Usage, now time.Time) map[string]usage {
	if sm.byName == nil {
		sm.byName = make(map[string]usage, len(pids))
	}
	for name := range sm.byName {
		if _, ok := pids[name]; !ok {
			delete(sm.byName, name)
		}
	}
	for name, pid := range pids {
		u := sm.byName[name] // zero for a new program
		if pid == 0 {
			// Not running: no figures, but the history stays for the sparkline and
			// the CPU total for the counter.
			sm.byName[name] = usage{history: u.history, memHistory: u.memHistory, cpuTotal: u.cpuTotal}
			continue
		}
		if u.pid != pid {
			// Another process: its CPU time starts afresh. The history goes on, so
			// the sparkline shows restarts in place.
			u.pid, u.lastAt, u.lastCPU = pid, time.Time{}, 0
		}
		m, ok := measured[pid]
		if !ok {
			// Not measured (the sample failed, or the group has just gone): no
			// figure this round, and the baseline stays, so that the next
			// measurement is not taken for CPU time used since zero.
			u.cpuPercent, u.rssBytes = 0, 0
			if !u.lastAt.IsZero() {
				u.history = appendHistory(u.history, 0, sm.history)
				u.memHistory = appendHistory(u.memHistory, 0, sm.history)
			}
			sm.byName[name] = u
			continue
		}
		// A member that exited takes its CPU time with it, so the sum can shrink;
		// only growth counts. A process seen for the first time counts whole: all
		// its CPU time was used by this program (an adopted one's partly before
		// this manager started, which a counter starting afresh absorbs).
		used := max(m.CPU-u.lastCPU, 0)
		u.cpuTotal += used
		if !u.lastAt.IsZero() {
			if elapsed := now.Sub(u.lastAt); elapsed > 0 {
				u.cpuPercent = float64(used) / float64(elapsed) * 100
			}
			u.history = appendHistory(u.history, u.cpuPercent, sm.history)
			u.memHistory = appendHistory(u.memHistory, m.RSSBytes, sm.history)
		}
		u.rssBytes = m.RSSBytes
		u.lastCPU, u.lastAt = m.CPU, now
		sm.byName[name] = u
	}
	return sm.byName
}

// withUsage returns st with the measurements of its current process, if any.
func withUsage(st Status, all map[string]usage) Status {
	u, ok := all[st.Name]
	if !ok {
		return st
	}
	st.CPUHistory, st.MemoryHistory, st.CPUTime = u.history, u.memHistory, u.cpuTotal
	if st.PID != 0 && u.pid == st.PID {
		st.CPUPercent, st.MemoryRSS = u.cpuPercent, u.rssBytes
	}
	return st
}

// appendHistory returns h with v appended, keeping the last n values. It only
// ever writes into free room past len(h), and moves to a new array when there
// is none, so slices returned earlier never change: the copies handed out share
// the history without copying it.
func appendHistory[T float64 | uint64](h []T, v T, n int) []T {
	if len(h) == cap(h) {
		h = append(make([]T, 0, 2*n), h[max(len(h)-(n-1), 0):]...)
	}
	h = append(h, v)
	return h[max(len(h)-n, 0):]
}
