package supervisor

import (
	"fmt"
	"time"

	"github.com/pyvisor/pyvisor/internal/logfile"
	"github.com/pyvisor/pyvisor/internal/proc"
	"github.com/pyvisor/pyvisor/internal/statefile"
)

// The runner's transitions: starting, adopting, stopping and restarting a
// process, and what follows its exit. Each runs on the program's goroutine.

// stopFor stops the process group in the background for req: a stop that
// fails puts the program in error and answers req with the failure; one that
// succeeds leaves it stopped and calls done.
func (r *runner) stopFor(req request, done func()) {
	r.beginStop(func(err error) {
		if err != nil {
			r.setError(fmt.Sprintf("stop: %v", err))
			r.respond(req, err)
			return
		}
		r.setState(Stopped)
		done()
	})
}

// restart stops the process if one runs, then starts a new one, clearing broken
// and the failure count; done gets the start's result. The stop uses the
// definition in force when restart is called (its stop_signal and timeout).
func (r *runner) restart(done func(error)) {
	r.desired = statefile.DesiredRunning
	r.cancelScheduledStart()
	r.st.ConsecutiveFailures = 0
	startAndReply := func() {
		r.startWhenReady()
		if r.st.State == Running {
			r.st.RestartCount++
		}
		done(r.startResult())
	}
	if r.proc == nil {
		startAndReply()
		return
	}
	r.beginStop(func(err error) {
		if err != nil {
			r.setError(fmt.Sprintf("restart: stop: %v", err))
			done(err)
			return
		}
		startAndReply()
	})
}

// startResult is the reply to a start: nil when running or waiting for dependencies, the error otherwise.
func (r *runner) startResult() error {
	if r.st.State == Running || r.st.State == Waiting {
		return nil
	}
	return &StartError{Program: r.name, Msg: r.st.Error}
}

// start launches a new process. Failures put the program in state error.
func (r *runner) start() {
	if r.refuseStart() {
		return
	}
	// Resolved afresh for each start rather than kept: the environment is a copy
	// of the manager's for every program, which adds up with many programs.
	cmd := r.cfg.Command(r.spec, r.environ)
	if err := cmd.Check(); err != nil {
		r.setError(err.Error())
		return
	}
	out, err := logfile.OpenAppend(r.logPath)
	if err != nil {
		r.setError(fmt.Sprintf("open log: %v", err))
		return
	}
	// The run value is on disk before the process exists, so that a manager killed
	// before it saves the PID lets the next one find the process by it.
	// A failed write does not hold the start back: the persister logs it and
	// retries until the file holds the entry.
	run, command := randomID(), commandDigest(cmd)
	_ = r.persist.set(r.ctx, r.name, statefile.Entry{Desired: r.desired, Run: run, Command: command}, true)
	env := append(cmd.Env, envProgram+"="+r.name, envStateFile+"="+r.statePath,
		envDeployment+"="+r.deployment, envRun+"="+run)
	argv := commandArgv(cmd)
	p, err := proc.Start(proc.Spec{
		Path:   argv[0],
		Args:   argv[1:],
		Dir:    cmd.Dir,
		Env:    env,
		Output: out,
		// nil without a user setting: the program runs as pyvisor does.
		Credential: cmd.User.Credential(),
		Cgroup:     r.startCgroup(),
		Watcher:    r.watcher,
	})
	out.Close()
	if err != nil {
		r.setError(fmt.Sprintf("start: %v", err))
		return
	}
	r.proc = p
	r.run, r.command = run, command
	r.exited = p.Done()
	r.st.State = Running
	r.st.PID = p.Identity().PID
	r.st.Adopted = false
	r.st.StartedAt = time.Now()
	r.st.Error = ""
	r.log.Info("started", "pid", r.st.PID)
	r.emitEvent(EventStarted, fmt.Sprintf("pid %d", r.st.PID))
	r.save(false)
}

// adopt takes over a process started by an earlier manager.
func (r *runner) adopt(p *proc.Process, startedAt time.Time) {
	r.proc = p
	r.exited = p.Done()
	r.attachCgroup(p)
	id := p.Identity()
	r.st.State = Running
	r.st.PID = id.PID
	r.st.Adopted = true
	// The saved time is exact; the one derived from the kernel's boot time is
	// only good to the second.
	r.st.StartedAt = startedAt
	if startedAt.IsZero() {
		r.st.StartedAt = id.Started()
	}
	r.log.Info("adopted running process", "pid", id.PID)
	r.emitEvent(EventAdopted, fmt.Sprintf("pid %d, started %s", id.PID, r.st.StartedAt.Format(time.DateTime)))
	r.save(false)
}

// onExit handles a process that ended without being asked to.
func (r *runner) onExit() {
	exit := r.withOOMCause(r.proc.Exit())
	ran := time.Since(r.st.StartedAt)
	leftover := r.proc
	r.exited = nil
	r.proc = nil
	r.st.PID = 0
	r.st.LastExit = &exit
	r.decideAfterExit(exit, ran, leftover)
}

// decideAfterExit applies the restart policy to a run that ended with exit after
// ran; leftover, if not nil, is the ended process, whose group is stopped first if
// anything of it is left.
func (r *runner) decideAfterExit(exit proc.ExitStatus, ran time.Duration, leftover *proc.Process) {
	d := decideExit(r.spec.Restart, r.spec.Autorestart, r.spec.ExitCodes, r.st.ConsecutiveFailures, ran, exit)
	if r.isJob() {
		d = r.jobExit(exit)
	}
	r.st.ConsecutiveFailures = d.Failures
	r.log.Info("exited", "status", exit.String(), "ran", ran.Round(time.Millisecond), "next", d.State)
	r.recordExit(exit, ran, &d)
	apply := func(error) {
		r.st.State = d.State
		r.st.Error = ""
		switch d.State {
		case Restarting:
			if d.Delay <= 0 {
				// At once, rather than through a timer that fires at once: the
				// trip through the loop would add to the restart gap.
				r.startAgain()
				return
			}
			r.scheduleStart(d.Delay)
		case Broken:
			r.st.Error = d.Reason
			if d.Delay > 0 {
				r.scheduleStart(d.Delay)
			}
		}
		r.save(false)
	}
	if leftover != nil && leftover.GroupAlive() {
		// The program is gone but processes it started in its group are not (workers,
		// subprocesses). Stop them before a new instance starts, as a stop would.
		r.st.State = d.State
		r.stopInBackground(leftover, apply)
		return
	}
	apply(nil)
}

// startAgain starts the next run of a program that waited to restart or
// cooled down after broken.
func (r *runner) startAgain() {
	r.recordRetry()
	r.st.NextStart = time.Time{}
	r.start()
	if r.st.State == Running {
		r.st.RestartCount++
	}
}

// beginStop stops the running process in the background and calls after once its
// whole process group is gone.
func (r *runner) beginStop(after func(error)) {
	p := r.proc
	r.exited = nil // the stop owns the process now
	r.st.State = Stopping
	r.stopInBackground(p, func(err error) {
		if err == nil {
			exit := p.Exit()
			r.st.LastExit = &exit
			r.recordExit(exit, time.Since(r.st.StartedAt), nil)
			r.endRun(exit, RunStopped)
			r.proc = nil
			r.st.PID = 0
		} else {
			r.exited = p.Done()
		}
		after(err)
		r.save(false)
	})
}

// stopInBackground stops p's group (stop_signal, then KILL after the stop
// timeout) on a goroutine of its own; the loop calls after with the result.
// Requests that come meanwhile wait in the queue.
func (r *runner) stopInBackground(p *proc.Process, after func(error)) {
	done := make(chan error, 1)
	r.stopDone = done
	r.afterStop = after
	sig, timeout := r.spec.StopSignal, r.spec.StopTimeout
	go func() { done <- p.Stop(r.ctx, sig, timeout) }()
}

// scheduleStart has startAgain run after d (a restart delay or a broken
// cool-down) and shows when.
func (r *runner) scheduleStart(d time.Duration) {
	r.cancelScheduledStart()
	r.timer = time.NewTimer(d)
	r.st.NextStart = time.Now().Add(d)
}

// cancelScheduledStart drops the start scheduleStart set up, if any.
func (r *runner) cancelScheduledStart() {
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.st.NextStart = time.Time{}
}
