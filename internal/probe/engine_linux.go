//go:build linux && !386 && !s390x

package probe

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// engine runs every plain HTTP and TCP check in flight in the process on one goroutine, which waits on
// all their sockets at once with ppoll(2); it runs while checks are in flight and ends when none are.
//
// Checks of many programs fall due together (the supervisor aligns them), and on loopback a check is a
// handful of system calls and a wait of well under a millisecond for the program's answer. Given a
// goroutine and the runtime's poller each, every check costs a descriptor registered and removed, a
// goroutine parked and woken, and a thread woken to run it; waiting on them together, the checks of one
// moment cost the manager one wake-up, and little more than the system calls they need.
var engine = checkEngine{wakeFd: -1}

// checkEngine is the type of engine.
type checkEngine struct {
	mu      sync.Mutex
	pending []*netCheck // due, not yet begun by the loop
	// scheduled are the checks not yet due; timer hands them to the loop (due) when the first is, at timerAt
	// (zero when none is scheduled). Checks of many programs fall due at the same times: one timer wakes
	// the manager for all of them.
	scheduled []*netCheck
	timer     *time.Timer
	timerAt   time.Time
	running   bool // the loop's goroutine runs
	polling   bool // the loop waits in ppoll: a submission or a cancellation must wake it
	woken     bool // the wake-up descriptor has been written to and not yet read
	// wakeFd is an eventfd that wakes the loop from ppoll; -1 until the loop first runs, or if it could
	// not be made (then the loop wakes at least every maxPollWait).
	wakeFd int
	// buf and parser read and decide answers: the loop's, made with its first run and kept (one loop
	// runs at a time).
	buf    []byte
	parser *answerParser
}

// readSize is what the loop reads of an answer at once: more than a health endpoint's whole answer.
const readSize = 8192

// maxPollWait bounds the loop's waits when it has no wake-up descriptor.
const maxPollWait = 10 * time.Millisecond

// submit hands c to the loop at at (at once if that has passed), starting the loop if it does not run.
func (e *checkEngine) submit(c *netCheck, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c.at = at
	if now := time.Now(); at.After(now) {
		e.scheduled = append(e.scheduled, c)
		if e.timer == nil {
			e.timer, e.timerAt = time.AfterFunc(at.Sub(now), e.due), at
		} else if e.timerAt.IsZero() || at.Before(e.timerAt) {
			e.timer.Reset(at.Sub(now))
			e.timerAt = at
		}
		return
	}
	e.submitLocked(c)
}

// due hands the loop the scheduled checks whose time has come, and sets the timer for the next.
func (e *checkEngine) due() {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	var next time.Time
	waiting := e.scheduled[:0]
	for _, c := range e.scheduled {
		if !c.at.After(now) {
			e.submitLocked(c)
			continue
		}
		waiting = append(waiting, c)
		if next.IsZero() || c.at.Before(next) {
			next = c.at
		}
	}
	clear(e.scheduled[len(waiting):])
	e.scheduled = waiting
	e.timerAt = next
	if !next.IsZero() {
		e.timer.Reset(next.Sub(now))
	}
}

func (e *checkEngine) submitLocked(c *netCheck) {
	e.pending = append(e.pending, c)
	if !e.running {
		e.running = true
		go e.loop()
		return
	}
	e.wakeLocked()
}

// wake wakes the loop from its wait, for a check whose context ended.
func (e *checkEngine) wake() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.wakeLocked()
}

func (e *checkEngine) wakeLocked() {
	if e.polling && !e.woken && e.wakeFd >= 0 {
		e.woken = true
		one := [8]byte{1}
		_, _ = rawWrite(e.wakeFd, one[:]) // cannot block: the counter is read before it could fill
	}
}

// loop runs the checks submitted until none is left in flight.
func (e *checkEngine) loop() {
	e.mu.Lock()
	if e.wakeFd < 0 {
		if fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err == nil {
			e.wakeFd = fd
		}
	}
	e.mu.Unlock()
	var inflight, fresh []*netCheck
	var fds []unix.PollFd
	if e.buf == nil {
		e.buf, e.parser = make([]byte, readSize), newAnswerParser()
	}
	for {
		e.mu.Lock()
		fresh, e.pending = e.pending, fresh[:0]
		if len(fresh) == 0 && len(inflight) == 0 {
			e.running = false
			e.mu.Unlock()
			return
		}
		e.mu.Unlock()
		now := time.Now()
		for _, c := range fresh {
			c.begin(now)
			inflight = append(inflight, c)
		}
		clear(fresh) // the loop keeps no check it is done with
		inflight = e.sweep(inflight)
		if len(inflight) == 0 {
			continue
		}

		fds = append(fds[:0], unix.PollFd{Fd: int32(e.wakeFd), Events: unix.POLLIN})
		deadline := inflight[0].deadline
		for _, c := range inflight {
			fds = append(fds, unix.PollFd{Fd: int32(c.fd), Events: c.events()})
			if c.deadline.Before(deadline) {
				deadline = c.deadline
			}
		}
		e.mu.Lock()
		if len(e.pending) > 0 { // submitted meanwhile: begin them first
			e.mu.Unlock()
			continue
		}
		e.polling = true
		e.mu.Unlock()
		// Once polling is set, a context that ends wakes the loop; one that ended before is seen here.
		now, expired := time.Now(), false
		for _, c := range inflight {
			c.expire(now)
			expired = expired || c.ended
		}
		if !expired {
			wait := max(deadline.Sub(now), 0)
			if e.wakeFd < 0 {
				wait = min(wait, maxPollWait)
			}
			ts := unix.NsecToTimespec(int64(wait))
			_, _ = unix.Ppoll(fds, &ts, nil) // EINTR: the loop looks again; there is no other error to expect
		}
		e.mu.Lock()
		e.polling = false
		if e.woken {
			var counter [8]byte
			_, _ = rawRead(e.wakeFd, counter[:])
			e.woken = false
		}
		e.mu.Unlock()
		for i, c := range inflight {
			if fds[i+1].Revents != 0 && !c.ended {
				c.ready(e.buf, e.parser)
			}
		}
	}
}

// sweep returns inflight without the checks that ended, and submits anew those that are to run again.
func (e *checkEngine) sweep(inflight []*netCheck) []*netCheck {
	kept := inflight[:0]
	for _, c := range inflight {
		switch {
		case !c.ended:
			kept = append(kept, c)
		case c.rerun:
			c.rearm()
			e.submit(c, c.at)
		}
	}
	clear(inflight[len(kept):])
	return kept
}
