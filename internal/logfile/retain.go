package logfile

import (
	"context"
	"errors"
	"os"
	"time"
)

// Retainer rotates a changing set of logs whenever one passes the size limit,
// from one goroutine (Run). Each log is checked at a rate that follows its
// growth: an idle log every Idle, as a stat, a growing one often enough to be
// caught close to the limit (see nextCheck); on Linux the first write to an
// idle log wakes the loop too (a one-shot inotify watch), so a burst is caught
// within eventGap. A log that keeps being written is checked at most every
// eventGap while far from its limit, every minCheck near it.
//
// How far past the limit a log gets: what its program writes in the time a
// rotation takes (a copy of up to Limit bytes within the kernel and an fsync
// of it) plus minCheck when its rate is steady, eventGap when it starts from
// idle, and Idle where there is no inotify. Whatever it writes meanwhile is
// still kept: a rotation moves the whole excess, in as many backups as needed.
type Retainer struct {
	// Rotator does the rotations.
	Rotator Rotator
	// Limit is the size in bytes past which a log is rotated; it must be
	// positive.
	Limit int64
	// Idle is how often a log that does not grow is checked; zero means 10 s.
	Idle time.Duration
	// Paths appends the paths of the logs to keep to dst and returns it. Run
	// calls it on each of its wakes: a path it no longer returns is
	// forgotten, a new one checked at once.
	Paths func(dst []string) []string
	// Report is told of each rotation that moved or dropped bytes, and of
	// each failed check; res is what was done even when err is not nil.
	Report func(path string, res Rotation, err error)
}

const (
	// minCheck is the shortest wait between two checks of a log: the
	// tightest a log growing near its limit is followed.
	minCheck = 10 * time.Millisecond
	// eventGap is the shortest wait between two checks of a log when its
	// writes wake the loop (a slow writer is checked no more often than this).
	eventGap = 250 * time.Millisecond
)

// nextCheck returns how long to wait before checking again a log that holds
// now bytes of limit, having held last bytes interval ago; idle is the
// longest wait and that of a log that did not grow.
//
// The wait is half the time the log would take to reach the limit at the
// rate just seen, so a writer up to twice as fast is still caught at the
// limit, and the checks close in on it as it nears.
func nextCheck(now, last, limit int64, interval, idle time.Duration) time.Duration {
	grown := now - last
	if grown <= 0 || interval <= 0 {
		return idle
	}
	remaining := limit - now
	if remaining <= 0 {
		return minCheck
	}
	wait := float64(interval) * float64(remaining) / float64(grown) / 2
	if wait >= float64(idle) {
		return idle
	}
	return max(time.Duration(wait), minCheck)
}

// watched is what Run knows of one log.
type watched struct {
	size    int64 // after the last check and its rotation
	ino     uint64
	checked time.Time // zero until the first check
	due     time.Time
	wd      int32  // the armed write watch, -1 if none
	gen     uint64 // the last wake that found the path in Paths
}

// Run checks and rotates the logs until ctx ends.
func (r *Retainer) Run(ctx context.Context) {
	idle := r.Idle
	if idle <= 0 {
		idle = 10 * time.Second
	}
	n := newNotifier() // nil where the OS has none: checks alone then
	defer n.close()
	logs := map[string]*watched{}
	byWD := map[int32]*watched{}
	var paths []string
	var gen uint64
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	written := n.written()
	for {
		var wd int32 = -1
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case w, ok := <-written:
			if !ok {
				written = nil // the notifier failed: checks alone from now on
				continue
			}
			wd = w
		}
		now := time.Now()
		for ; wd >= 0; wd = n.pending() {
			if w := byWD[wd]; w != nil {
				// One-shot: the kernel has removed the watch.
				delete(byWD, wd)
				w.wd = -1
				w.due = minTime(w.due, later(now, w.checked.Add(eventGap)))
			}
		}
		paths = r.Paths(paths[:0])
		gen++
		for _, p := range paths {
			w := logs[p]
			if w == nil {
				w = &watched{due: now, wd: -1}
				logs[p] = w
			}
			w.gen = gen
		}
		// The next wake for idle logs is shared, so that however many there
		// are, they cost one wake per idle period.
		idleDue := start.Add((now.Sub(start)/idle + 1) * idle)
		next := idleDue
		for p, w := range logs {
			if w.gen != gen {
				if w.wd >= 0 {
					n.unwatch(w.wd)
					delete(byWD, w.wd)
				}
				delete(logs, p)
				continue
			}
			if !w.due.After(now) {
				ino := w.ino
				wait := r.check(p, w, now, idle)
				if w.ino != ino && w.wd >= 0 {
					// A new file at the path: the armed watch is on the old one.
					n.unwatch(w.wd)
					delete(byWD, w.wd)
					w.wd = -1
				}
				w.due = now.Add(wait)
				if wait >= idle {
					w.due = idleDue
					if w.wd < 0 {
						if wd, ok := n.watch(p); ok {
							w.wd = wd
							byWD[wd] = w
						}
					}
				}
			}
			next = minTime(next, w.due)
		}
		timer.Reset(max(time.Until(next), 0))
	}
}

// check stats one log, rotates it if it passed the limit, and returns how
// long to wait before the next check.
func (r *Retainer) check(path string, w *watched, now time.Time, idle time.Duration) time.Duration {
	size, ino, err := fileSize(path)
	if errors.Is(err, os.ErrNotExist) {
		*w = watched{wd: w.wd, gen: w.gen, checked: now}
		return idle
	}
	if err != nil {
		r.Report(path, Rotation{}, err)
		return idle
	}
	last := w.size
	if w.checked.IsZero() || ino != w.ino {
		last = size // no rate yet
	}
	interval := now.Sub(w.checked)
	wait := nextCheck(size, last, r.Limit, interval, idle)
	if size > r.Limit {
		res, err := r.Rotator.RotateIfLarger(path, r.Limit)
		if err != nil || res.Method != NoRotation {
			r.Report(path, res, err)
		}
		if err != nil {
			wait = idle // not again at once: the cause will likely still be there
		} else if post, _, err := fileSize(path); err == nil && post < size {
			// The same growth seen from the smaller size.
			wait = nextCheck(post, post-(size-last), r.Limit, interval, idle)
			size = post
		}
	}
	w.size, w.ino, w.checked = size, ino, now
	return wait
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
