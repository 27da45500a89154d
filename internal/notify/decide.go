package notify

import (
	"slices"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// alert is one notification-worthy thing that happened to a program.
type alert struct {
	Program string
	Event   string // one of config.NotifyEvents, or "test"
	Detail  string
	Time    time.Time
}

// programRules are what the notifier needs to know of each program to judge its events.
type programRules struct {
	// exitCodes mean "done", not a crash (programs[].exit_codes).
	exitCodes map[string][]int
	// reset is how long a run must last to count as good (restart.failure_reset_seconds), per program.
	reset map[string]time.Duration
	// defaultReset is the global failure_reset_seconds, for programs added since (uploads).
	defaultReset time.Duration
	// instanceOf names the entry of each copy of a program with instances ("worker" for "worker:2").
	instanceOf map[string]string
}

func rulesOf(cfg *config.Config) programRules {
	r := programRules{exitCodes: map[string][]int{}, reset: map[string]time.Duration{},
		defaultReset: cfg.Restart.FailureReset, instanceOf: map[string]string{}}
	for i := range cfg.Programs {
		p := &cfg.Programs[i]
		r.exitCodes[p.Name] = p.ExitCodes
		r.reset[p.Name] = p.Restart.FailureReset
		if p.InstanceOf != "" {
			r.instanceOf[p.Name] = p.InstanceOf
		}
	}
	return r
}

// matches reports whether target t wants event of program: by the program's name, or for a copy of a
// program with instances, by the name of its entry too, so that "worker" covers worker:1 to worker:N.
func (r *programRules) matches(t *config.Notify, program, event string) bool {
	if t.Matches(program, event) {
		return true
	}
	base, ok := r.instanceOf[program]
	return ok && t.Matches(base, event)
}

func (r *programRules) resetOf(program string) time.Duration {
	if d, ok := r.reset[program]; ok {
		return d
	}
	return r.defaultReset
}

// crashed reports whether an exit event is a crash: not a success (exit status 0, or one of the program's
// exit_codes). A signal, or an unknown status (an adopted process), is a crash.
func crashed(e *supervisor.Event, exitCodes []int) bool {
	if e.ExitCode == nil {
		return true
	}
	return *e.ExitCode != 0 && !slices.Contains(exitCodes, *e.ExitCode)
}

// watch turns the supervisor's events into alerts. It remembers which programs are down (broken or
// unhealthy) to tell when one has recovered: once started again, it must keep running for its
// failure-reset time. Its methods are pure functions of the events and the times given.
type watch struct {
	down map[string]bool
	// upUntil holds, for a down program started again, when it counts as recovered.
	upUntil map[string]time.Time
}

func newWatch() *watch {
	return &watch{down: map[string]bool{}, upUntil: map[string]time.Time{}}
}

// observe returns the alerts event e gives at once.
func (w *watch) observe(e *supervisor.Event, rules *programRules) []alert {
	p := e.Program
	now := func(event string) []alert {
		return []alert{{Program: p, Event: event, Detail: e.Detail, Time: e.Time}}
	}
	switch e.Kind {
	case supervisor.EventExited:
		delete(w.upUntil, p)
		if crashed(e, rules.exitCodes[p]) {
			return now(config.NotifyCrashed)
		}
	case supervisor.EventStopped:
		delete(w.upUntil, p)
	case supervisor.EventRemoved:
		delete(w.upUntil, p)
		delete(w.down, p)
	case supervisor.EventBroken, supervisor.EventUnhealthy:
		delete(w.upUntil, p)
		w.down[p] = true
		if e.Kind == supervisor.EventUnhealthy {
			return now(config.NotifyUnhealthy)
		}
		return now(config.NotifyBroken)
	case supervisor.EventStarted, supervisor.EventAdopted:
		if w.down[p] {
			w.upUntil[p] = e.Time.Add(rules.resetOf(p))
		}
	case supervisor.EventInstallFail:
		return now(config.NotifyInstallFailed)
	}
	return nil
}

// due returns the recoveries whose time has come by now.
func (w *watch) due(now time.Time) []alert {
	var out []alert
	for p, at := range w.upUntil {
		if !now.Before(at) {
			out = append(out, alert{Program: p, Event: config.NotifyRecovered, Time: at,
				Detail: "running again since " + at.Format("15:04:05")})
			delete(w.upUntil, p)
			delete(w.down, p)
		}
	}
	slices.SortFunc(out, func(a, b alert) int { return a.Time.Compare(b.Time) })
	return out
}

// next returns when due has something to return, or the zero time.
func (w *watch) next() time.Time {
	var t time.Time
	for _, at := range w.upUntil {
		if t.IsZero() || at.Before(t) {
			t = at
		}
	}
	return t
}

// outgoing is an alert to send, with the number of alerts of the same program and event folded into it
// since the last one sent (at since).
type outgoing struct {
	alert
	more  int
	since time.Time
}

// limiter lets at most one alert per program and event through per window; the ones in between are
// folded into the next one sent, which is the latest of them, sent when the window is over. Its
// methods are pure functions of the alerts and the times given.
type limiter struct {
	window time.Duration
	slots  map[slotKey]*slot
}

type slotKey struct{ program, event string }

type slot struct {
	sent   time.Time // when the last alert went out
	folded int       // alerts held back since
	latest alert     // the newest of them
}

func newLimiter(window time.Duration) *limiter {
	return &limiter{window: window, slots: map[slotKey]*slot{}}
}

// admit returns the alert to send now for a, or nil when a is folded.
func (l *limiter) admit(a alert, now time.Time) *outgoing {
	k := slotKey{a.Program, a.Event}
	s, ok := l.slots[k]
	if ok && now.Sub(s.sent) < l.window {
		s.folded++
		s.latest = a
		return nil
	}
	out := &outgoing{alert: a}
	if ok && s.folded > 0 {
		// The window ran out before flush was called: what was folded goes with this one.
		out.more, out.since = s.folded, s.sent
	}
	l.slots[k] = &slot{sent: now}
	return out
}

// flush returns, for each program and event whose window is over, the latest alert folded in it. It
// forgets the quiet ones.
func (l *limiter) flush(now time.Time) []outgoing {
	var out []outgoing
	for k, s := range l.slots {
		if now.Sub(s.sent) < l.window {
			continue
		}
		if s.folded == 0 {
			delete(l.slots, k)
			continue
		}
		out = append(out, outgoing{alert: s.latest, more: s.folded - 1, since: s.sent})
		l.slots[k] = &slot{sent: now}
	}
	slices.SortFunc(out, func(a, b outgoing) int { return a.Time.Compare(b.Time) })
	return out
}

// next returns when flush has something to return, or the zero time.
func (l *limiter) next() time.Time {
	var t time.Time
	for _, s := range l.slots {
		if at := s.sent.Add(l.window); s.folded > 0 && (t.IsZero() || at.Before(t)) {
			t = at
		}
	}
	return t
}

// retryAfter returns the wait before attempt number attempt+1 of a delivery that began at start, when
// attempt attempts (1 or more) have failed by now: first, doubled at each attempt. ok is false when that
// would end past start+budget: give up.
func retryAfter(attempt int, first, budget time.Duration, start, now time.Time) (wait time.Duration, ok bool) {
	wait = first
	for i := 1; i < attempt && wait < budget; i++ {
		wait *= 2
	}
	if now.Add(wait).Sub(start) > budget {
		return 0, false
	}
	return wait, true
}

// retryable reports whether an HTTP status may be worth another try: the server's trouble or a rate
// limit, not a refusal of the request.
func retryable(status int) bool {
	return status >= 500 || status == 429 || status == 408
}
