package supervisor

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/proc"
)

// State is where a program is in its life cycle.
//
// The transitions, all made by the program's own goroutine (runner.go):
//
//	stopped    --start------------------------> running | error
//	error      --start------------------------> running | error
//	broken     --start / cool-down elapsed----> running | error
//	running    --stop-------------------------> stopping --group gone--> stopped
//	running    --exit, decideExit says--------> restarting | broken | stopped
//	restarting --delay elapsed----------------> running | error
//	restarting --stop-------------------------> stopped
//	running    --restart----------------------> stopping --group gone--> running
//	installing --install done-----------------> stopped | running | error   (uploads)
//	stopped    --start, dependencies not up---> waiting --they are up--> running | error
//	waiting    --stop-------------------------> stopped
//	running    --unhealthy (health.go)--------> stopping --group gone--> as decideExit says
//
// A manual start or restart clears broken and the failure count.
type State string

// The states a program can be in. Their strings are part of the JSON API.
const (
	Running    State = "running"
	Stopped    State = "stopped"
	Installing State = "installing"
	Restarting State = "restarting"
	Stopping   State = "stopping"
	Error      State = "error"
	Broken     State = "broken"
	// Waiting: a start waits for the programs the program depends on (depends.go).
	Waiting State = "waiting"
)

// States returns every state a program can be in, in a fixed order (a new
// slice each call), for those who list them all, such as the metrics.
func States() []State {
	return []State{Running, Stopped, Installing, Restarting, Stopping, Error, Broken, Waiting}
}

// Status is a copy of one program's state, safe to keep and read.
type Status struct {
	Name  string
	State State
	// PID of the program's process (its group leader); 0 when none runs; Adopted
	// (with the flags at the end) says an earlier manager started it.
	PID int
	// StartedAt is when the current process started; zero when none runs.
	StartedAt time.Time
	// RestartCount counts automatic and manual restarts since the manager started.
	RestartCount int
	// ConsecutiveFailures counts failed runs in a row (see decideExit).
	ConsecutiveFailures int
	// LastExit is how the previous process ended; nil if none has ended yet.
	LastExit *proc.ExitStatus
	// LastExitTime is when the previous process ended; zero if none has ended yet.
	LastExitTime time.Time
	// StateSince is when the program entered State (or the manager started).
	StateSince time.Time
	// NextStart is when a restarting or cooling-down program will be started; zero otherwise.
	NextStart time.Time
	// Schedule is the schedule of a job as written; "" for a program that runs all the time.
	Schedule string
	// NextRun is a job's next due time; zero when its schedule is not armed.
	NextRun time.Time
	// LastRun is how a job's last run ended; nil before the first ends (since the manager started).
	LastRun *Run
	// SkippedRuns counts a job's due times skipped because the previous run was still going, since the
	// manager started.
	SkippedRuns int
	// InstanceOf and Instance are the entry a copy of instances was made from and its number; "" and 0
	// for a program that is not a copy.
	InstanceOf string
	Instance   int
	// CPUPercent is the last sample of the whole process group (100 = one core),
	// if CPUMeasured (with the flags at the end).
	CPUPercent float64
	// History holds the last samples of CPU and memory, oldest first.
	History []Sample
	// CPUTime is the CPU time used by the program's process groups since the
	// manager started, summed over restarts; it never decreases. It is summed
	// from the samples, so CPU time a member used after the last sample that
	// saw it alive is not counted, nor that of a child that started and ended
	// between two samples.
	CPUTime time.Duration
	// MemoryRSS is the resident memory of the whole process group, in bytes.
	MemoryRSS uint64
	Script    string
	Cwd       string
	Args      []string
	// Group is the dashboard's heading for the program; "" for none.
	Group string
	// Error is the last error message ("" if none); while waiting, what for.
	Error string
	// Health is what the health checks say of the running process; HealthNone without a check or a process.
	Health Health
	// HealthDetail describes the last failed health check; "" once one passes.
	HealthDetail string

	// The flags stay together, so that they share a word: every program has
	// a Status, and copies of it.

	// Adopted is true when the process was started by an earlier manager: its
	// exit status will be unknown.
	Adopted bool
	// CPUMeasured says CPUPercent is a measurement of the current process: it
	// is false (and CPUPercent 0) before the process's second sample, since CPU
	// use is the growth of CPU time between two, and when the last sample failed.
	CPUMeasured bool
	Enabled     bool
	Uploaded    bool
}

// Uptime is how long the current process has run at now; 0 when none runs.
func (s *Status) Uptime(now time.Time) time.Duration {
	if s.PID == 0 || s.StartedAt.IsZero() {
		return 0
	}
	return max(now.Sub(s.StartedAt), 0)
}

// exitDecision is what to do after a process ended without being asked to.
type exitDecision struct {
	State    State         // Restarting, Broken or Stopped
	Delay    time.Duration // until the next start, when Restarting (or the cool-down, when Broken)
	Failures int           // the new consecutive failure count
	Reason   string        // for the log and the error field
}

// decideExit applies the restart policy to a process that exited on its own after
// running for ran. failures is the count before this exit. It is a pure function.
//
// A run that lasted at least FailureReset starts the count afresh; the exit then
// counts as failure 1. An exit with one of exitCodes is a clean finish: the program
// is stopped and the count cleared, unless the manager knows a Cause (a memory
// limit). An unknown status (adopted process) is a failure.
func decideExit(pol config.RestartPolicy, autorestart bool, exitCodes []int, failures int, ran time.Duration, exit proc.ExitStatus) exitDecision {
	if exit.Cause == "" && exit.Known && exit.Signal == 0 && slices.Contains(exitCodes, exit.Code) {
		return exitDecision{State: Stopped, Failures: 0, Reason: fmt.Sprintf("finished (%s)", exit)}
	}
	if ran >= pol.FailureReset {
		failures = 0
	}
	failures++
	if !autorestart {
		return exitDecision{State: Stopped, Failures: failures, Reason: fmt.Sprintf("%s; autorestart is off", exit)}
	}
	if pol.MaxConsecutiveFailures > 0 && failures >= pol.MaxConsecutiveFailures {
		d := exitDecision{State: Broken, Failures: failures, Delay: pol.BrokenCooldown,
			Reason: fmt.Sprintf("%s; %d failures in a row: broken", exit, failures)}
		if pol.BrokenCooldown > 0 {
			d.Reason += fmt.Sprintf(", trying again in %s", pol.BrokenCooldown)
		}
		return d
	}
	delay := backoffDelay(pol, failures)
	return exitDecision{State: Restarting, Failures: failures, Delay: delay,
		Reason: fmt.Sprintf("%s; restarting in %s", exit, delay)}
}

// backoffDelay is the delay before restart number failures (1-based):
// Delay * BackoffFactor^(failures-1), capped at MaxDelay when that is set.
func backoffDelay(pol config.RestartPolicy, failures int) time.Duration {
	factor := max(pol.BackoffFactor, 1)
	d := float64(pol.Delay) * math.Pow(factor, float64(max(failures-1, 0)))
	if pol.MaxDelay > 0 && d > float64(pol.MaxDelay) {
		return pol.MaxDelay
	}
	if d > float64(math.MaxInt64) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(d)
}
