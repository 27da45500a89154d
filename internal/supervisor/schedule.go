package supervisor

import (
	"fmt"
	"slices"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/proc"
	"github.com/pyvisor/pyvisor/internal/statefile"
)

// A program with a schedule is a job: its goroutine starts it at each due time and does not restart it
// when it exits. The goroutine owns the timer of the next due time (job); nextDue and decideJobExit are
// the decisions, pure.

// Run is how one run of a job ended.
type Run struct {
	// Started and Ended are when the run's process started and when its end was noticed.
	Started, Ended time.Time
	// Exit is how the process ended; unknown for a run adopted from an earlier manager.
	Exit proc.ExitStatus
	// Outcome says what the run counts as.
	Outcome RunOutcome
}

// RunOutcome is what a run of a job counts as. Its strings are part of the JSON API.
type RunOutcome string

// The outcomes of a run.
const (
	RunSucceeded RunOutcome = "succeeded" // exit 0, or a code of exit_codes
	RunFailed    RunOutcome = "failed"    // any other exit, a signal included
	RunUnknown   RunOutcome = "unknown"   // adopted: its exit status cannot be known
	RunStopped   RunOutcome = "stopped"   // ended by a stop or restart someone asked for
)

// job is the schedule of a job's runner and the timer of the next due time; whether it is armed is the
// runner's jobArmed. A runner has one only while its program has a schedule.
type job struct {
	// sched is parsed from spec and tz, the program's schedule and timezone; nil for a program without one.
	sched    *config.Schedule
	spec, tz string
	timer    *time.Timer // nil when not armed
	due      time.Time   // the due time timer is set for
	prev     time.Time   // the last due time, which @every counts its intervals from; zero when disarmed
}

// c is the channel of the due time's timer; nil (never ready) when none is set.
func (j *job) c() <-chan time.Time {
	if j == nil || j.timer == nil {
		return nil
	}
	return j.timer.C
}

// disarmTimer drops the timer, if one is set.
func (j *job) disarmTimer() {
	if j.timer != nil {
		j.timer.Stop()
		j.timer = nil
	}
	j.due, j.prev = time.Time{}, time.Time{}
}

// nextDue returns the first due time of s after now. An @every schedule keeps its rhythm: with prev (the
// due time just past, or zero) its due times are prev plus whole intervals, so that a late wake-up does
// not shift the ones after it. It is pure.
func nextDue(s *config.Schedule, prev, now time.Time) time.Time {
	if s.Every > 0 && !prev.IsZero() && !prev.After(now) {
		return prev.Add((now.Sub(prev)/s.Every + 1) * s.Every)
	}
	return s.Next(now)
}

// decideJobExit says what follows the end of a job's run that nobody asked for: the job is stopped
// until its next due time, or broken after pol.MaxConsecutiveFailures failed runs in a row (it keeps its
// schedule all the same). A run whose exit status is unknown (adopted) changes no count. failures is the
// count before this run. It is pure.
func decideJobExit(pol config.RestartPolicy, exitCodes []int, failures int, exit proc.ExitStatus) (exitDecision, RunOutcome) {
	switch {
	case !exit.Known:
		return exitDecision{State: Stopped, Failures: failures, Reason: fmt.Sprintf("run ended (%s)", exit)}, RunUnknown
	case exit.Signal == 0 && (exit.Code == 0 || slices.Contains(exitCodes, exit.Code)):
		return exitDecision{State: Stopped, Failures: 0, Reason: fmt.Sprintf("run succeeded (%s)", exit)}, RunSucceeded
	}
	failures++
	if pol.MaxConsecutiveFailures > 0 && failures >= pol.MaxConsecutiveFailures {
		return exitDecision{State: Broken, Failures: failures,
			Reason: fmt.Sprintf("%s; %d failed runs in a row: broken (the schedule still runs it)", exit, failures)}, RunFailed
	}
	return exitDecision{State: Stopped, Failures: failures, Reason: fmt.Sprintf("run failed (%s)", exit)}, RunFailed
}

// isJob reports whether the program runs on a schedule.
func (r *runner) isJob() bool { return r.spec.Schedule != "" }

// initJob arms the schedule of a job that is enabled and not stopped by the user, as the manager starts.
// Due times that passed while no manager ran are not caught up.
func (r *runner) initJob(b *boot) {
	r.jobArmed = r.spec.Enabled && b.desired == statefile.DesiredRunning
	r.syncSchedule()
}

// jobRequest arms or disarms the schedule for a user's request: a start or restart arms it, a stop
// disarms it.
func (r *runner) jobRequest(o op) {
	switch o {
	case opStart, opRestart:
		r.jobArmed = true
	case opStop:
		r.jobArmed = false
	}
}

// jobReload is what a job whose definition a reload changed does: it keeps running or not as it is (a run
// going finishes under the definition it started with; the next runs take the new one), and its schedule
// is armed if it is now enabled and the user has not stopped it.
func (r *runner) jobReload(spec *config.Program) reloadAction {
	if spec.Enabled && r.desired == statefile.DesiredRunning {
		r.jobArmed = true
	}
	return reloadKeep
}

// syncSchedule sets the timer of the next due time, or drops it, to match the program's schedule and
// whether it is armed. The loop calls it after every wake.
func (r *runner) syncSchedule() {
	if r.job == nil {
		if r.spec.Schedule == "" {
			return // not a job, nor one before
		}
		r.job = &job{}
	}
	j := r.job
	if r.spec.Schedule != j.spec || r.spec.Timezone != j.tz {
		j.disarmTimer()
		j.spec, j.tz, j.sched = r.spec.Schedule, r.spec.Timezone, nil
		r.st.Schedule = r.spec.Schedule
		if j.spec != "" {
			s, err := config.ParseSchedule(j.spec, j.tz)
			if err != nil { // Load checked it: not expected
				r.setError(fmt.Sprintf("schedule: %v", err))
			}
			j.sched = s
		}
	}
	if !r.jobArmed || j.sched == nil || r.removed {
		j.disarmTimer()
		r.st.NextRun = time.Time{}
		if j.spec == "" {
			r.job = nil // no longer a job
		}
		return
	}
	if j.timer == nil {
		now := time.Now()
		j.due = nextDue(j.sched, j.prev, now)
		if j.due.IsZero() {
			r.log.Warn("the schedule has no due time in the next five years", "schedule", j.spec)
			r.st.NextRun = time.Time{}
			return
		}
		j.timer = time.NewTimer(j.due.Sub(now))
		r.st.NextRun = j.due
	}
}

// onDue starts the run that is due, unless the previous one is still going: then that due time is
// skipped, and recorded.
func (r *runner) onDue() {
	j := r.job
	j.timer = nil
	j.prev = j.due
	if r.proc != nil || r.stopDone != nil || r.installDone != nil {
		r.st.SkippedRuns++
		r.log.Warn("due time skipped: the previous run is still going", "due", j.due.Format(time.RFC3339), "pid", r.st.PID)
		r.emitEvent(EventSkipped, fmt.Sprintf("due time %s skipped: the run of pid %d is still going", j.due.Format(time.RFC3339), r.st.PID))
		return
	}
	r.cancelScheduledStart()
	r.start()
}

// endRun records the end of a job's run; outcome is "" for an end nobody asked for that decideJobExit
// has not judged.
func (r *runner) endRun(exit proc.ExitStatus, outcome RunOutcome) {
	if !r.isJob() || r.st.StartedAt.IsZero() {
		return
	}
	r.st.LastRun = &Run{Started: r.st.StartedAt, Ended: time.Now(), Exit: exit, Outcome: outcome}
}

// jobExit is decideExit for a job, recording the run it ends.
func (r *runner) jobExit(exit proc.ExitStatus) exitDecision {
	d, outcome := decideJobExit(r.spec.Restart, r.spec.ExitCodes, r.st.ConsecutiveFailures, exit)
	r.endRun(exit, outcome)
	return d
}
