package logfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"
)

// Retainer rotates a changing set of logs whenever one passes the size limit,
// from one goroutine (Run). Each log is checked at a rate that follows its
// growth: an idle log every Idle, as a stat, a growing one often enough to be
// caught close to the limit (see nextCheck), and at least every growCheck. On
// Linux the first write to an idle log wakes the loop too (a one-shot inotify
// watch), so a burst is caught within eventGap, and so does the creation of a
// log that did not exist (a watch of its directory while any is missing).
// A log that keeps being written is checked at most every eventGap while far
// from its limit, every minCheck near it.
//
// How far past the limit a log gets: what its program writes in the time a
// rotation takes (a copy of up to Limit bytes within the kernel and an fsync
// of it) plus minCheck when its rate is steady, growCheck when it speeds up,
// eventGap when it starts from idle, and Idle where there is no inotify.
// Whatever it writes meanwhile is still kept: a rotation moves the whole
// excess, in as many backups as needed.
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
	// growCheck is the longest wait between two checks of a growing log: the
	// rate just seen can be far below the next one (a writer held up by the
	// last rotation, or by the machine's other load), and this bounds how long
	// a writer that speeds up goes unseen.
	growCheck = time.Second
)

// nextCheck returns how long to wait before checking again a log that holds
// now bytes of limit, having held last bytes interval ago; idle is the
// longest wait and that of a log that did not grow.
//
// The wait is half the time the log would take to reach the limit at the
// rate just seen, so a writer up to twice as fast is still caught at the
// limit, and the checks close in on it as it nears; at most growCheck while
// that is shorter than idle.
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
	return min(max(time.Duration(wait), minCheck), growCheck)
}

// errNoNotifier says there is nothing to wake the loop on file changes.
var errNoNotifier = errors.New("no file change notification")

// watched is what Run knows of one log.
type watched struct {
	size    int64 // after the last check and its rotation
	ino     uint64
	checked time.Time // zero until the first check
	due     time.Time
	wd      int32  // the armed write watch, -1 if none
	gen     uint64 // the last wake that found the path in Paths
	absent  bool   // the last check found no file at the path
}

// dirWatch is the watch of a directory in which a log is missing (or of the
// nearest existing one above it): any file created or moved into it wakes the
// loop, which then checks the missing logs at once.
type dirWatch struct {
	wd  int32
	gen uint64 // the last wake that found a log of the directory missing
}

// retention is the state of one Run: the logs, their watches and the
// directory watches, owned by Run's goroutine.
type retention struct {
	r     *Retainer
	n     *notifier
	idle  time.Duration
	logs  map[string]*watched
	byWD  map[int32]*watched
	dirs  map[string]*dirWatch
	dirWD map[int32]string
}

// Run checks and rotates the logs until ctx ends.
func (r *Retainer) Run(ctx context.Context) {
	t := &retention{r: r, idle: r.Idle, logs: map[string]*watched{}, byWD: map[int32]*watched{},
		dirs: map[string]*dirWatch{}, dirWD: map[int32]string{}}
	if t.idle <= 0 {
		t.idle = 10 * time.Second
	}
	t.n = newNotifier() // nil where the OS has none: checks alone then
	defer t.n.close()
	var paths []string
	var gen uint64
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	written := t.n.written()
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
		for ; wd >= 0; wd = t.n.pending() {
			t.notified(wd, now)
		}
		paths = r.Paths(paths[:0])
		gen++
		for _, p := range paths {
			w := t.logs[p]
			if w == nil {
				w = &watched{due: now, wd: -1}
				t.logs[p] = w
			}
			w.gen = gen
		}
		// The next wake for idle logs is shared, so that however many there
		// are, they cost one wake per idle period.
		idleDue := start.Add((now.Sub(start)/t.idle + 1) * t.idle)
		next := idleDue
		for p, w := range t.logs {
			if w.gen != gen {
				t.unwatch(w)
				delete(t.logs, p)
				continue
			}
			if !w.due.After(now) {
				t.check(p, w, now, idleDue)
			}
			if w.absent {
				t.watchDir(p, w, now, gen)
			}
			next = minTime(next, w.due)
		}
		for dir, d := range t.dirs {
			if d.gen != gen { // no log of it missing any more
				t.n.unwatch(d.wd)
				delete(t.dirWD, d.wd)
				delete(t.dirs, dir)
			}
		}
		timer.Reset(max(time.Until(next), 0))
	}
}

// notified takes in the event of watch wd.
func (t *retention) notified(wd int32, now time.Time) {
	if w := t.byWD[wd]; w != nil {
		// A write to an idle log. One-shot: the kernel has removed the watch.
		delete(t.byWD, wd)
		w.wd = -1
		w.due = minTime(w.due, later(now, w.checked.Add(eventGap)))
		return
	}
	if _, ok := t.dirWD[wd]; ok {
		// A file or directory appeared where a log is missing: check the
		// missing logs at once (those of other directories too: this is
		// rare, and a check of a missing log is a stat).
		for _, w := range t.logs {
			if w.absent {
				w.due = now
			}
		}
	}
}

// check checks the due log w at p and sets when it is due next, arming its
// write watch when it is idle.
func (t *retention) check(p string, w *watched, now, idleDue time.Time) {
	ino := w.ino
	wait := t.r.check(p, w, now, t.idle)
	if w.ino != ino {
		// A new file at the path (or none): the armed watch is on the old one.
		t.unwatch(w)
	}
	w.due = now.Add(wait)
	if wait < t.idle {
		return
	}
	w.due = idleDue
	if w.wd < 0 && !w.absent {
		if wd, ok := t.n.watch(p); ok {
			w.wd = wd
			t.byWD[wd] = w
		}
	}
}

// watchDir makes sure the directory of the missing log w at p is watched, so
// that its creation wakes the loop; or, while the directory itself is missing,
// the nearest one above it that exists, so that its creation does.
func (t *retention) watchDir(p string, w *watched, now time.Time, gen uint64) {
	for dir := filepath.Dir(p); ; {
		if d := t.dirs[dir]; d != nil {
			d.gen = gen
			return
		}
		wd, err := t.n.watchDir(dir)
		if err == nil {
			t.dirs[dir], t.dirWD[wd] = &dirWatch{wd: wd, gen: gen}, dir
			if _, _, err := fileSize(p); err == nil {
				w.due = now // created between its check and the watch
			}
			return
		}
		up := filepath.Dir(dir)
		if !errors.Is(err, os.ErrNotExist) || up == dir {
			return // the idle checks will find it
		}
		dir = up
	}
}

// unwatch removes w's write watch, if armed.
func (t *retention) unwatch(w *watched) {
	if w.wd >= 0 {
		t.n.unwatch(w.wd)
		delete(t.byWD, w.wd)
		w.wd = -1
	}
}

// check stats one log, rotates it if it passed the limit, and returns how
// long to wait before the next check.
func (r *Retainer) check(path string, w *watched, now time.Time, idle time.Duration) time.Duration {
	size, ino, err := fileSize(path)
	if errors.Is(err, os.ErrNotExist) {
		*w = watched{wd: w.wd, gen: w.gen, checked: now, absent: true}
		return idle
	}
	if err != nil {
		r.Report(path, Rotation{}, err)
		return idle
	}
	last := w.size
	fresh := w.checked.IsZero() || ino != w.ino
	if fresh {
		last = size // no rate yet
	}
	interval := now.Sub(w.checked)
	wait := nextCheck(size, last, r.Limit, interval, idle)
	failed := false
	if size > r.Limit {
		res, err := r.Rotator.RotateIfLarger(path, r.Limit)
		if err != nil || res.Method != NoRotation {
			r.Report(path, res, err)
		}
		if err != nil {
			failed = true
		} else if post, _, err := fileSize(path); err == nil && post < size {
			// The same growth seen from the smaller size.
			wait = nextCheck(post, post-(size-last), r.Limit, interval, idle)
			size = post
		}
	}
	w.size, w.ino, w.checked, w.absent = size, ino, now, false
	switch {
	case failed:
		return idle // not again at once: the cause will likely still be there
	case fresh:
		// A file just created, or seen for the first time, is checked again
		// soon for a rate: its program may be writing already, and a watch
		// armed after this check would miss what it wrote before.
		return min(wait, eventGap)
	}
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
