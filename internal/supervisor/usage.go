package supervisor

import (
	"context"
	"math"
	"time"

	"github.com/pyvisor/pyvisor/internal/logfile"
	"github.com/pyvisor/pyvisor/internal/proc"
)

// usage is what the sampler measured of one program's process group. The
// sampler goroutine updates the measurements in place, under
// Supervisor.usageMu, and readers copy them out, so that a round allocates
// nothing: an idle manager then goes minutes without a collection.
type usage struct {
	pid        int // the process measured; a program's status is merged only while its PID matches
	cpuPercent float64
	// cpuMeasured says cpuPercent is a measurement: CPU use is the growth of CPU
	// time between two samples, so a process has none before its second.
	cpuMeasured bool
	history     []Sample // oldest first; shared by every copy handed out (see appendHistory)
	rssBytes    uint64
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
			sm.byName[name] = usage{history: u.history, cpuTotal: u.cpuTotal}
			continue
		}
		if u.pid != pid {
			// Another process: its CPU time starts afresh. The history goes on, so
			// the sparkline shows restarts in place.
			u.pid, u.lastAt, u.lastCPU = pid, time.Time{}, 0
			u.cpuPercent, u.cpuMeasured = 0, false
		}
		m, ok := measured[pid]
		if !ok {
			// Not measured (the sample failed, or the group has just gone): no
			// figure this round, and the baseline stays, so that the next
			// measurement is not taken for CPU time used since zero.
			u.cpuPercent, u.cpuMeasured, u.rssBytes = 0, false, 0
			if !u.lastAt.IsZero() {
				u.history = appendHistory(u.history, Sample{}, sm.history)
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
				u.cpuPercent, u.cpuMeasured = float64(used)/float64(elapsed)*100, true
			}
			u.history = appendHistory(u.history, NewSample(u.cpuPercent, m.RSSBytes), sm.history)
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
	st.History, st.CPUTime = u.history, u.cpuTotal
	if st.PID != 0 && u.pid == st.PID {
		st.CPUPercent, st.CPUMeasured, st.MemoryRSS = u.cpuPercent, u.cpuMeasured, u.rssBytes
	}
	return st
}

// Sample is one entry of a program's history: its CPU use and resident memory
// at one sampling round. A manager keeps sampling.history of them for every
// program, so they are stored narrow, 8 bytes each, at no loss: CPU to the
// tenth of a percent the API reports, memory in KiB, since the kernel counts
// resident memory in whole pages (in /proc and in a cgroup alike).
type Sample struct {
	cpuTenths uint32 // tenths of a percent of one core
	rssKiB    uint32
}

// NewSample returns the sample of cpuPercent (100 = one core), rounded to a
// tenth, and rssBytes, rounded to a KiB; each saturates at its largest value
// (429 million percent, 4 TiB).
func NewSample(cpuPercent float64, rssBytes uint64) Sample {
	return Sample{
		cpuTenths: uint32(min(max(math.Round(cpuPercent*10), 0), math.MaxUint32)),
		rssKiB:    uint32(min((rssBytes+512)>>10, math.MaxUint32)),
	}
}

// CPUPercent is the CPU use of the sample, 100 = one core, to a tenth.
func (s Sample) CPUPercent() float64 { return float64(s.cpuTenths) / 10 }

// RSSBytes is the resident memory of the sample, in bytes.
func (s Sample) RSSBytes() uint64 { return uint64(s.rssKiB) << 10 }

// appendHistory returns h with v appended, keeping the last n values. It only
// ever writes into free room past len(h), and moves to a new array when there
// is none, so slices returned earlier never change: the copies handed out share
// the history without copying it. The array has room for half as many again
// as it keeps, so a full history moves once every n/2 samples.
func appendHistory(h []Sample, v Sample, n int) []Sample {
	if len(h) == cap(h) {
		h = append(make([]Sample, 0, n+max(n/2, 1)), h[max(len(h)-(n-1), 0):]...)
	}
	h = append(h, v)
	return h[max(len(h)-n, 0):]
}

// sampleLoop measures CPU and memory of every running program's process group at
// each interval, and has rotateLogs keep the log files to their limit meanwhile.
// The sampling settings are read once: a reload does not change them.
func (s *Supervisor) sampleLoop(ctx context.Context) {
	cfg := s.config()
	interval := sampleInterval(cfg)
	rotating := make(chan struct{})
	go func() {
		defer close(rotating)
		s.rotateLogs(ctx, rotateEvery*interval)
	}()
	defer func() { <-rotating }()
	// Rounds fall on multiples of the interval on the wall clock, as health checks do (checkGrain), so
	// that the manager wakes once for both.
	now := time.Now()
	t := time.NewTimer(alignUp(now, interval).Sub(now))
	defer t.Stop()
	sm := &sampler{history: max(cfg.Sampling.History, 1)}
	var groups proc.Sampler
	defer groups.Close()
	// Refilled each round, so that an idle round allocates nothing.
	var programs []*program
	var pgids []int
	pids := map[string]int{}      // round does not keep it
	overLimit := map[string]int{} // samples in a row above the memory limit, by program
	for {
		select {
		case <-ctx.Done():
			return
		case now = <-t.C:
		}
		t.Reset(alignUp(now.Add(interval/2), interval).Sub(now))
		programs = s.appendPrograms(programs[:0])
		pgids = pgids[:0]
		clear(pids)
		for _, p := range programs {
			pid := p.snapshot.Load().PID
			pids[p.name] = pid
			if cg := p.cgroup.Load(); pid != 0 && (cg == nil || !cg.HasMemory()) {
				pgids = append(pgids, pid)
			}
		}
		measured, err := groups.Sample(pgids) // the Sampler's map: read by round, not kept
		if err != nil {
			s.log.Warn("sample CPU and memory", "err", err)
		}
		measured = sampleCgroups(programs, pids, measured)
		s.usageMu.Lock()
		s.usage = sm.round(pids, measured, time.Now())
		s.usageMu.Unlock()
		s.enforceMemory(ctx, programs, s.usage, overLimit)
		s.notify()
	}
}

// rotateEvery is how many sampling intervals pass between two size checks of a
// log that does not grow (10 s by default); growing logs are checked as often as
// their growth needs (see logfile.Retainer).
const rotateEvery = 5

// rotateLogs rotates each program's log whenever it passes logging.max_size_mb,
// until ctx ends. The logging settings are read once: a reload does not change them.
func (s *Supervisor) rotateLogs(ctx context.Context, idle time.Duration) {
	limit := s.config().Logging.MaxSizeBytes
	if limit <= 0 {
		return
	}
	var programs []*program // refilled on each of r's wakes, read by Report
	r := logfile.Retainer{
		Rotator: s.rotator,
		Limit:   limit,
		Idle:    idle,
		Paths: func(dst []string) []string {
			programs = s.appendPrograms(programs[:0])
			for _, p := range programs {
				dst = append(dst, p.logPath)
			}
			return dst
		},
		Report: func(path string, res logfile.Rotation, err error) {
			log := s.log
			for _, p := range programs {
				if p.logPath == path {
					log = p.log
				}
			}
			if res.Dropped > 0 {
				log.Warn("no space for a log backup: dropped the oldest bytes of the log",
					"path", path, "dropped_bytes", res.Dropped)
			}
			if err != nil {
				log.Error("rotate log", "path", path, "err", err)
			} else if res.Moved > 0 {
				log.Info("rotated log", "path", path, "method", res.Method.String(),
					"moved_bytes", res.Moved, "backups", res.Backups, "expired_bytes", res.Expired)
			}
		},
	}
	r.Run(ctx)
}
