package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pyvisor/pyvisor/internal/probe"
	"github.com/pyvisor/pyvisor/internal/proc"
	"github.com/pyvisor/pyvisor/internal/statefile"
)

// runner is the state owned by a program's goroutine.
type runner struct {
	*program
	ctx     context.Context
	st      Status
	desired statefile.Desired
	proc    *proc.Process
	exited  <-chan struct{} // proc.Done() while a process runs unsupervised by a stop
	// run and command are proc's run value and command digest (see statefile.Entry).
	run, command string
	limits       limitState // the program's cgroup and the limits of its current run

	timer *time.Timer // set by scheduleStart: restart delay or broken cool-down; nil when none
	job   *job        // a job's schedule (schedule.go); nil for a program without one, as most are

	// stopDone is non-nil while a stop of the process group runs in the background;
	// afterStop says what to do once it ends. Requests that arrive meanwhile wait in queue.
	stopDone  chan error
	afterStop func(stopErr error)
	queue     []request

	// installDone is non-nil while an install runs; cancelInstall ends it early.
	installDone   chan error
	cancelInstall context.CancelFunc
	installFailed string // why the last install failed; a start is refused while set (see failInstall)
	removed       bool   // the program was removed: the goroutine ends
	// jobArmed says a job's schedule runs: the job was enabled when the manager started, or started by
	// hand since; a stop disarms it. Kept for every program, since a reload can give one a schedule.
	jobArmed bool

	// replies wait until the state they answer with is published.
	replies []func(Status)

	health healthRunner // health checks of the running process (health.go)
	deps   *depWait     // while waiting for dependencies (depends.go); nil otherwise
	woke   *wakeValues  // what came with the last wake-up (wait)
}

// respond answers a request after the next publish, so the caller reads the
// state its request produced.
func (r *runner) respond(req request, err error) {
	r.replies = append(r.replies, func(st Status) { req.reply <- result{st, err} })
}

// run is the program's goroutine: it begins as b says, then handles what
// wakes it until the manager shuts down or the program is removed.
func (p *program) run(ctx context.Context, b *boot) {
	defer close(p.done)
	r := p.newRunner(ctx, b)
	// The handling stays out of this loop, in handleWake, so that an idle
	// runner's stack holds only this frame and wait's, and the garbage
	// collector can shrink it.
	for {
		kind := r.wait(ctx)
		if kind == wokeByShutdown || !r.handleWake(kind) {
			return
		}
	}
}

// newRunner puts the program where b says it begins and publishes that.
func (p *program) newRunner(ctx context.Context, b *boot) *runner {
	r := &runner{program: p, ctx: ctx, st: *p.snapshot.Load(), desired: b.desired}
	switch {
	case b.install != nil:
		r.beginInstall(b.install)
	case b.interrupted:
		r.failInstall("installation interrupted: the manager stopped during the install")
	case b.installFailed != "":
		r.installFailed = b.installFailed
		r.setError(r.installFailed)
	case b.adopted != nil:
		r.run, r.command = b.run, b.command
		r.adopt(b.adopted, b.startedAt)
		switch {
		case b.desired == statefile.DesiredStopped:
			// The previous manager went down in the middle of a user's stop: finish it.
			r.log.Info("finishing a stop interrupted by the previous manager", "pid", b.adopted.Identity().PID)
			r.beginStop(func(error) { r.setState(Stopped) })
		case b.restart:
			r.log.Info("the definition changed while the manager was down: restarting", "pid", b.adopted.Identity().PID)
			r.restart(func(error) {})
		}
	case b.start:
		r.startWhenReady()
	default:
		r.save(false)
	}
	r.syncHealth()
	r.initJob(b)
	r.publish()
	return r
}

// wakeKind says what woke a runner.
type wakeKind int

const (
	wokeByShutdown wakeKind = iota // the manager is going away
	wokeByRequest
	wokeByExit        // the process ended unasked
	wokeByStopDone    // a background stop ended
	wokeByInstallDone // an install ended
	wokeByTimer       // the restart delay or broken cool-down ran out
	wokeByHealthCheck // a health check ended
	wokeByDependency  // something changed while waiting for dependencies
	wokeByDue         // a job's due time came
)

// wakeValues is what came with the last thing that woke a runner, by its kind.
type wakeValues struct {
	req    request      // wokeByRequest
	err    error        // wokeByStopDone, wokeByInstallDone
	health probe.Result // wokeByHealthCheck
}

// wait blocks until something needs the runner's attention, and says what; what came with it is in
// *r.woke until the next wait.
//
// The values are received straight into *r.woke, on the heap, not into this frame or the caller's. The
// collector halves a goroutine's stack only while less than a quarter of it is in use, counting 800 bytes
// the runtime keeps free; an idle runner then uses about 1 KB, so its stack, grown to start a process,
// comes back to 4 KB. With the values in these frames it used 1.3 KB, and every idle runner kept 8 KB.
func (r *runner) wait(ctx context.Context) wakeKind {
	var timerC <-chan time.Time
	if r.timer != nil {
		timerC = r.timer.C
	}
	if r.woke == nil {
		r.woke = new(wakeValues)
	} else {
		*r.woke = wakeValues{} // hold on to no request or error already handled
	}
	w := r.woke
	select {
	case <-ctx.Done():
		return wokeByShutdown
	case w.req = <-r.requests:
		return wokeByRequest
	case <-r.exited:
		return wokeByExit
	case w.err = <-r.stopDone:
		return wokeByStopDone
	case w.err = <-r.installDone:
		return wokeByInstallDone
	case <-timerC:
		return wokeByTimer
	case w.health = <-r.health.results:
		return wokeByHealthCheck
	case <-r.deps.c():
		return wokeByDependency
	case <-r.job.c():
		return wokeByDue
	}
}

// handleWake handles what woke the runner, publishes the state it led to and
// answers the requests that waited for it. It returns false once the program
// is removed and the goroutine must end.
//
// On shutdown (not handled here) the runner stops no timer and signals
// nothing: programs keep running, and the next manager picks everything up
// from the state file.
func (r *runner) handleWake(kind wakeKind) bool {
	w := r.woke
	switch kind {
	case wokeByRequest:
		req := w.req
		r.recordRequest(&req)
		switch {
		case r.installDone != nil && req.op == opStop:
			r.cancelInstall() // a stop during an install abandons it; reply once it ended
			r.queue = append(r.queue, req)
		case r.installDone != nil:
			r.respond(req, fmt.Errorf("%w: it is installing", ErrBusy))
		case r.stopDone != nil:
			r.queue = append(r.queue, req)
		default:
			r.handleRequest(req)
		}
	case wokeByExit:
		r.onExit()
	case wokeByStopDone:
		r.stopDone = nil
		after := r.afterStop
		r.afterStop = nil
		after(w.err)
		r.drainQueue()
	case wokeByInstallDone:
		r.finishInstall(w.err)
		r.drainQueue()
	case wokeByTimer:
		r.timer = nil
		r.startAgain()
	case wokeByHealthCheck:
		if !r.healthChecked(w.health) {
			return true // the verdict stands: nothing to publish
		}
	case wokeByDependency:
		r.dependencyChanged()
	case wokeByDue:
		r.onDue()
	}
	r.syncHealth()
	r.syncWaiting()
	r.syncSchedule()
	r.publish()
	st := r.status()
	for _, reply := range r.replies {
		reply(st)
	}
	r.replies = r.replies[:0]
	if r.removed {
		// Last, so that no save made on the way (a stop's) brings the entry back.
		r.persist.remove(r.ctx, r.name)
		return false
	}
	return true
}

// drainQueue handles the requests that waited for a stop or an install.
func (r *runner) drainQueue() {
	for len(r.queue) > 0 && r.stopDone == nil && r.installDone == nil && !r.removed {
		req := r.queue[0]
		r.queue = r.queue[1:]
		r.handleRequest(req)
	}
	if r.removed {
		for _, req := range r.queue {
			r.respond(req, ErrNotFound)
		}
		r.queue = nil
	}
}

// handleRequest carries out req, or begins to: a stop or restart answers it
// once the process group is gone.
func (r *runner) handleRequest(req request) {
	r.jobRequest(req.op)
	switch req.op {
	case opStart:
		changed := r.desired != statefile.DesiredRunning
		r.desired = statefile.DesiredRunning
		if r.st.State == Running {
			var err error
			if changed {
				err = r.notSaved(r.save(true))
			}
			r.respond(req, err)
			return
		}
		r.cancelScheduledStart()
		r.st.ConsecutiveFailures = 0
		r.startWhenReady()
		r.respond(req, errors.Join(r.startResult(), r.notSaved(r.save(true))))
	case opRestart:
		r.restart(func(err error) { r.respond(req, errors.Join(err, r.notSaved(r.save(true)))) })
	case opReload:
		r.reload(req)
	case opDrop:
		r.drop(req)
	case opMemoryLimit:
		r.memoryExceeded(req)
	case opRegroup:
		// Only the dashboard's heading changed: nothing to stop or start.
		r.setSpec(*req.spec, req.cfg)
		r.respond(req, nil)
	case opUpdate:
		if !r.idle() {
			r.respond(req, fmt.Errorf("%w: it is %s; stop it first", ErrBusy, r.st.State))
			return
		}
		r.cancelScheduledStart()
		r.setSpec(*req.spec, req.cfg)
		r.st.ConsecutiveFailures = 0
		r.beginInstall(req.install)
		r.respond(req, nil)
	case opRemove:
		if !r.idle() {
			r.respond(req, fmt.Errorf("%w: it is %s; stop it first", ErrBusy, r.st.State))
			return
		}
		r.cancelScheduledStart()
		r.removed = true
		r.respond(req, nil)
	case opStop:
		r.desired = statefile.DesiredStopped
		r.cancelScheduledStart()
		if r.proc == nil {
			if r.st.State != Stopped && r.st.State != Error {
				r.setState(Stopped)
			}
			r.respond(req, r.notSaved(r.save(true)))
			return
		}
		// Persist the user's stop before signalling, so a manager killed meanwhile
		// does not start the program again. A failed save does not prevent the
		// stop: the user asked for it, and the write is retried.
		saveErr := r.save(true)
		r.stopFor(req, func() { r.respond(req, r.notSaved(saveErr)) })
	}
}

// setState moves the program to s and saves its entry.
func (r *runner) setState(s State) {
	r.st.State = s
	r.save(false)
}

// setError puts the program in state error with msg, logs it and saves its entry.
func (r *runner) setError(msg string) {
	r.recordError(msg)
	r.st.State = Error
	r.st.Error = msg
	r.log.Error("program error", "err", msg)
	r.save(false)
}

// idle reports whether the program may be updated or removed: stopped, in
// error or broken, as UpdateUpload and RemoveUpload promise; not while it waits
// to restart.
func (r *runner) idle() bool {
	switch r.st.State {
	case Stopped, Error, Broken:
		return r.proc == nil
	}
	return false
}

// save sends the program's entry to the state file. With wait it returns once
// the entry is written, or the error (wrapping ErrStateNotSaved) of the write
// that failed to; without, the persister logs and retries failures.
func (r *runner) save(wait bool) error {
	e := statefile.Entry{Desired: r.desired, Installing: r.installDone != nil, InstallFailed: r.installFailed}
	if r.proc != nil {
		id := r.proc.Identity()
		e.PID, e.StartTime, e.StartedAt = id.PID, id.StartTime, r.st.StartedAt
		e.Run, e.Command = r.run, r.command
	}
	return r.persist.set(r.ctx, r.name, e, wait)
}

// notSaved turns the failed save of a request's outcome into the request's
// error, which says what was done all the same; nil stays nil.
func (r *runner) notSaved(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("the program is in state %s, but %w; pyvisor retries the write until it succeeds", r.st.State, err)
}
