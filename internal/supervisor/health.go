package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/probe"
	"github.com/pyvisor/pyvisor/internal/proc"
)

// Health is what the health checks say of a running program. Its strings are part of the JSON API.
type Health string

// The values of Health.
const (
	// HealthNone: the program has no health check, or no process runs.
	HealthNone Health = ""
	// HealthStarting: no check of this run has passed yet.
	HealthStarting Health = "starting"
	// HealthHealthy: the last check passed, or too few have failed since for a verdict.
	HealthHealthy Health = "healthy"
	// HealthUnhealthy: the health check's failures in a row; the program is being restarted.
	HealthUnhealthy Health = "unhealthy"
)

// healthVerdict is where the checks of one run of a program stand.
type healthVerdict struct {
	Health Health
	// Failures counts the failed checks in a row that count (not those in the start period).
	Failures int
	// Detail describes the last failure; a passing check clears it.
	Detail string
}

// decideHealth applies the result of one check to v, for a run that started sinceStart ago. It returns the
// new verdict and whether the program must be restarted. It is pure.
//
//	starting  --pass-----------------------------> healthy
//	starting  --fail within the start period-----> starting (not counted)
//	starting  --fail, the count reaches failures--> unhealthy (restart)
//	healthy   --fail, the count reaches failures--> unhealthy (restart)
//	any       --pass-----------------------------> healthy, count 0
//
// Once a check has passed the start period no longer applies, as Docker does it: a program that was
// healthy and fails is failing, however young.
func decideHealth(hc *config.HealthCheck, v healthVerdict, sinceStart time.Duration, res probe.Result) (healthVerdict, bool) {
	if res.OK {
		return healthVerdict{Health: HealthHealthy}, false
	}
	v.Detail = res.Detail
	if v.Health == HealthStarting && sinceStart < hc.StartPeriod {
		return v, false
	}
	v.Failures++
	if v.Failures >= max(hc.Failures, 1) {
		v.Health = HealthUnhealthy
		return v, true
	}
	return v, false
}

// healthRunner is the runner's part that checks the running process. The runner's goroutine owns it; each
// check runs in the background (probe.Prober.Start) and hands its result back through results.
type healthRunner struct {
	checked *proc.Process // the process whose health is being checked; nil when none
	// due is when the next check is due, or while a check runs when it was; the next is due an interval
	// after it (nextCheck). The zero time while nothing is checked.
	due     time.Time
	results chan probe.Result
	cancel  context.CancelFunc // ends the check due or running
	verdict healthVerdict
}

// checkGrain is what the start times of a program's HTTP and TCP checks are rounded up to a multiple of,
// on the wall clock. Checks of many programs then fall due together, and the manager wakes once for all
// of them rather than once for each, which costs more than the checks themselves. The grain is the
// sampling interval (the sampler's rounds are on the same grid, see sampleLoop), so that the checks also
// share the sampler's wakes, unless that would hold a check back by more than a fifth of its interval:
// then a tenth of the interval, at most a second. Commands are not aligned: starting many processes at
// once would be a burst of work on the machine, and one process is much dearer than a wake-up.
func checkGrain(hc *config.HealthCheck, sampleEvery time.Duration) time.Duration {
	switch {
	case hc.Command != nil:
		return 0
	case sampleEvery > 0 && sampleEvery <= hc.Interval/5:
		return sampleEvery
	}
	return min(hc.Interval/10, time.Second)
}

// alignUp returns t moved forward to the next multiple of grain on the wall clock (t itself if it is
// one). The wall clock only chooses how far to move, less than grain, so that a change of the clock
// cannot delay a check by more than that.
func alignUp(t time.Time, grain time.Duration) time.Time {
	if grain <= 0 {
		return t
	}
	r := time.Duration(t.UnixNano() % int64(grain))
	if r < 0 {
		r += grain
	}
	if r == 0 {
		return t
	}
	return t.Add(grain - r)
}

// nextCheck returns when the check after one that was due at due and ended at now is due: one interval
// after due, or after now if the check ran over that; aligned to grain either way.
func nextCheck(hc *config.HealthCheck, grain time.Duration, due, now time.Time) time.Time {
	next := alignUp(due.Add(hc.Interval), grain)
	if !next.After(now) {
		next = alignUp(now.Add(hc.Interval), grain)
	}
	return next
}

// syncHealth starts checking a process that runs, and stops checking one that does not, so that every
// path that starts, adopts, stops or loses a process is covered by one call after each wake. It copies
// the verdict into the status.
func (r *runner) syncHealth() {
	h := &r.health
	want := r.proc
	if r.st.State != Running || r.spec.HealthCheck == nil {
		want = nil
	}
	if h.checked != want {
		h.stop()
		h.checked = want
		if want != nil {
			h.verdict = healthVerdict{Health: HealthStarting, Detail: h.verdict.Detail}
			hc := r.spec.HealthCheck
			r.scheduleCheck(alignUp(time.Now().Add(hc.Interval), checkGrain(hc, sampleInterval(r.cfg))))
		} else {
			h.verdict.Health, h.verdict.Failures = HealthNone, 0
		}
	}
	r.st.Health, r.st.HealthDetail = h.verdict.Health, h.verdict.Detail
}

// stop drops the check due or running; its result is no longer read.
func (h *healthRunner) stop() {
	if h.cancel != nil {
		h.cancel()
		h.cancel = nil
	}
	h.results = nil
	h.due = time.Time{}
}

// scheduleCheck has the prober run the next check at due; its result comes back through h.results. The
// prober waits for the due time, not the runner: the checks of many programs that fall due together then
// cost the manager one wake-up, not one for each program. While the program is healthy the prober also
// repeats the check for as long as it passes, and the runner hears only of the failure that ends that.
func (r *runner) scheduleCheck(due time.Time) {
	h := &r.health
	hc := r.spec.HealthCheck
	ctx, cancel := context.WithCancel(r.ctx)
	results := make(chan probe.Result, 1) // the check never waits to send, even if no one reads any more
	h.due, h.cancel, h.results = due, cancel, results
	check := probe.Check{HTTP: hc.HTTP, TCP: hc.TCP, Timeout: hc.Timeout, At: due}
	if h.verdict == (healthVerdict{Health: HealthHealthy}) {
		// A pass changes nothing: the prober runs the check again by itself until one fails.
		grain := checkGrain(hc, sampleInterval(r.cfg))
		check.Again = func(due, ended time.Time) time.Time { return nextCheck(hc, grain, due, ended) }
	}
	if hc.Command != nil {
		c := r.cfg.Command(r.spec, r.environ)
		check.Command = &probe.Command{Args: hc.Command, Dir: c.Dir, Env: c.Env, Credential: c.User.Credential()}
	}
	r.prober.Start(ctx, check, results)
}

// healthChecked takes the result of a check of the process being checked: it updates the verdict, and
// restarts the program when the verdict is unhealthy or schedules the next check. It returns whether the
// status changed: the health, its detail or, with a restart, more.
func (r *runner) healthChecked(res probe.Result) bool {
	h := &r.health
	h.cancel()
	h.cancel, h.results = nil, nil
	if !res.Due.IsZero() {
		h.due = res.Due // the prober may have run the check again since the runner scheduled it
	}
	hc := r.spec.HealthCheck
	before := h.verdict
	v, restart := decideHealth(hc, h.verdict, time.Since(r.st.StartedAt), res)
	h.verdict = v
	if v.Health != before.Health {
		r.log.Info("health", "health", string(v.Health), "detail", v.Detail)
	}
	if !restart {
		r.scheduleCheck(nextCheck(hc, checkGrain(hc, sampleInterval(r.cfg)), h.due, time.Now()))
		return v.Health != before.Health || v.Detail != before.Detail
	}
	r.restartUnhealthy(fmt.Sprintf("unhealthy after %d failed %s checks (%s)", v.Failures, hc.Kind(), v.Detail))
	return true
}

// restartUnhealthy stops the program's process group and then does what the restart policy says of a
// failed run.
func (r *runner) restartUnhealthy(why string) {
	ran := time.Since(r.st.StartedAt)
	r.log.Warn("restarting an unhealthy program", "why", why)
	r.emitEvent(EventUnhealthy, why)
	r.beginStop(func(err error) {
		if err != nil {
			r.setError(fmt.Sprintf("stop unhealthy program: %v", err))
			return
		}
		// Whatever the stop left as exit status, this run failed: exit_codes do not apply.
		d := decideExit(r.spec.Restart, r.spec.Autorestart, nil, r.st.ConsecutiveFailures, ran, *r.st.LastExit)
		r.st.ConsecutiveFailures = d.Failures
		r.st.State = d.State
		r.st.Error = ""
		switch d.State {
		case Restarting:
			if d.Delay <= 0 {
				r.startAgain()
				return
			}
			r.scheduleStart(d.Delay)
		case Broken:
			r.st.Error = why + "; " + d.Reason
			r.emitEvent(EventBroken, d.Reason)
			if d.Delay > 0 {
				r.scheduleStart(d.Delay)
			}
		case Stopped:
			r.st.Error = why + "; autorestart is off"
		}
	})
}
