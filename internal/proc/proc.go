// Package proc owns the operating-system mechanics of the programs pyvisor runs, and no policy: it starts a
// child in its own session with a file as stdout and stderr, signals the child's process group, identifies a
// PID by its start time, notices the exit of a child or of an adopted PID (one that a previous manager
// started), finds orphaned programs by an environment tag, and samples the CPU time and memory of process
// groups.
//
// Linux is first-class: exits are noticed through pidfds waited on by the Go netpoller, so a hundred waiting
// programs cost no OS threads; with a Watcher their pidfds share one epoll set and one goroutine. On macOS the
// same API works with simpler fallbacks, documented where they differ.
package proc

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotRunning reports that a process, or what is left of its group, no longer exists, or that its PID now
// belongs to another process (a stranger), which this package never signals.
var ErrNotRunning = errors.New("process not running")

// ErrNotLeader reports a process that this package refuses to signal or adopt: PID 1 or below (kill(-1) would
// reach every process the manager may signal), or a process that does not lead its own session and process
// group, whose group number would name a group it is not the head of.
var ErrNotLeader = errors.New("not the leader of its own session and process group")

// groupGoneWait bounds how long Stop waits, after SIGKILL, for the last members of a group to disappear. Members
// that outlived their parent are reaped by init, which may take a moment (some container inits reap lazily).
const groupGoneWait = 5 * time.Second

// groupPollInterval is how often Stop checks whether a process group has become empty.
const groupPollInterval = 10 * time.Millisecond

// tagScanEvery is how many group polls pass between two scans for tagged processes (see waitGroupGone).
const tagScanEvery = 10

// Identity names one process across time: a PID alone can be reused by an unrelated process, a PID together
// with the process's start time cannot.
type Identity struct {
	// PID is the process ID, which is also the process group ID of processes started by Start.
	PID int `json:"pid"`
	// StartTime is when the process started, in an OS-specific unit: clock ticks since boot on Linux,
	// microseconds since the Unix epoch on macOS. Compare it only with values from the same machine and boot;
	// use Started for a wall-clock time.
	StartTime uint64 `json:"start_time"`
}

// Identify returns the identity of the running process pid. The error wraps ErrNotRunning if there is no such
// process.
func Identify(pid int) (Identity, error) {
	id, _, err := probe(pid)
	return id, err
}

// Alive reports whether a process with id's PID exists and has id's start time. A process that has exited but
// not yet been reaped by its parent (a zombie) still exists.
func (id Identity) Alive() bool {
	cur, _, err := probe(id.PID)
	return err == nil && cur == id
}

// ExitStatus is how a process ended.
type ExitStatus struct {
	// Known is false for adopted processes: only a process's parent can learn its exit status.
	Known bool
	// Code is the exit code, or -1 if the process was killed by a signal.
	Code int
	// Signal is the signal that killed the process, or 0 if it exited by itself.
	Signal syscall.Signal
	// Cause, when set, is why the process ended as the manager knows it beyond the status, such as
	// "killed: out of memory (limit 256 MiB)"; String then returns it.
	Cause string
}

// String describes the status the way a person reads it: "exit status 3", "killed by SIGKILL",
// "exit status unknown (adopted process)", or the Cause if one is set.
func (s ExitStatus) String() string {
	switch {
	case s.Cause != "":
		return s.Cause
	case !s.Known:
		return "exit status unknown (adopted process)"
	case s.Signal != 0:
		return "killed by " + signalName(s.Signal)
	default:
		return fmt.Sprintf("exit status %d", s.Code)
	}
}

// SignalName is the name of the signal that ended the process, like "SIGKILL",
// or "" when it exited (or its status is unknown).
func (s ExitStatus) SignalName() string {
	if !s.Known || s.Signal == 0 {
		return ""
	}
	return signalName(s.Signal)
}

// SignalName is the name of sig, like "SIGTERM".
func SignalName(sig syscall.Signal) string { return signalName(sig) }

func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// Process is a program started by Start or re-adopted by Adopt. It is the leader of its own session and
// process group. Its methods are safe for concurrent use.
type Process struct {
	id      Identity
	adopted bool
	// cgroup is the program's cgroup, nil if it has none; tag is its TagVar value, "" if unknown. A stop
	// kills what is left in the cgroup, or else every process carrying the tag.
	cgroup *Cgroup
	tag    string
	done   chan struct{}
	// exit is written once, by the goroutine that watches the process, before it closes done.
	exit ExitStatus
}

func newProcess(id Identity, adopted bool) *Process {
	return &Process{id: id, adopted: adopted, done: make(chan struct{})}
}

// finish records how the leader ended and closes Done. Only the watching goroutine calls it, once.
func (p *Process) finish(s ExitStatus) {
	p.exit = s
	close(p.done)
}

// Cgroup returns the cgroup the program runs in, or nil.
func (p *Process) Cgroup() *Cgroup { return p.cgroup }

// AttachCgroup makes c the cgroup of an adopted process whose leader is in c, so that a stop kills
// everything in it; it reports whether the leader is in c. Call it before the Process is shared.
func (p *Process) AttachCgroup(c *Cgroup) bool {
	if c == nil || !c.Contains(p.id.PID) {
		return false
	}
	p.cgroup = c
	return true
}

// Identity returns the identity of the group leader.
func (p *Process) Identity() Identity { return p.id }

// Adopted reports whether the process came from Adopt rather than Start, so it is not our child and its exit
// status is unknowable.
func (p *Process) Adopted() bool { return p.adopted }

// Done is closed once the group leader has exited and, if it is our child, has been reaped. Other members of
// its group may live on; see GroupAlive and Stop.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit returns how the leader ended. It is the zero ExitStatus until Done is closed.
func (p *Process) Exit() ExitStatus {
	select {
	case <-p.done:
		return p.exit
	default:
		return ExitStatus{}
	}
}

// groupIsOurs reports whether the process group numbered p's PID can still be ours. While the leader exists
// (even as a zombie) its PID, and so the group number, cannot be reused. Once it is gone, Linux keeps the
// number reserved for as long as any member of the group uses it; if some other process holds the PID now,
// the number was free at some point, so our group had emptied and any group with that number is a
// stranger's. (Left open: the group emptied, the number was reused by a stranger that made it a group and
// then exited leaving members. That needs the PID space to wrap around in between; nothing cheaper closes it.)
func (p *Process) groupIsOurs() bool {
	holder, _, err := probe(p.id.PID)
	return err != nil || holder == p.id
}

// checkLeader refuses a Process that must never be signalled as a group: PID 1 or below, or one whose
// process, while it exists, does not lead its own session and group. Every signal this package sends to a
// group goes through it.
func (p *Process) checkLeader() error {
	if p.id.PID <= 1 {
		return fmt.Errorf("pid %d: %w", p.id.PID, ErrNotLeader)
	}
	id, leader, err := probeLeader(p.id.PID)
	if err == nil && id == p.id && !leader {
		return fmt.Errorf("pid %d: %w", p.id.PID, ErrNotLeader)
	}
	return nil
}

// Signal sends sig to every process in the group. It returns an error wrapping ErrNotRunning if nothing is
// left to signal or the group number now belongs to a stranger, and one wrapping ErrNotLeader for PID 1 or
// below or a process that does not lead its group.
func (p *Process) Signal(sig syscall.Signal) error {
	if err := p.checkLeader(); err != nil {
		return fmt.Errorf("signal process group %d with %s: %w", p.id.PID, signalName(sig), err)
	}
	if !p.groupIsOurs() {
		return fmt.Errorf("signal process group %d with %s: pid reused: %w", p.id.PID, signalName(sig), ErrNotRunning)
	}
	if !p.hasLiveMembers() {
		return fmt.Errorf("signal process group %d with %s: %w", p.id.PID, signalName(sig), ErrNotRunning)
	}
	err := unix.Kill(-p.id.PID, sig)
	switch {
	case errors.Is(err, unix.ESRCH):
		return fmt.Errorf("signal process group %d with %s: %w", p.id.PID, signalName(sig), ErrNotRunning)
	case err != nil:
		return fmt.Errorf("signal process group %d with %s: %w", p.id.PID, signalName(sig), err)
	}
	return nil
}

// GroupAlive reports whether some member of the group, the leader or a process it started, still exists:
// in the process group, in the program's cgroup, or (without one) tagged with the program's TagVar.
func (p *Process) GroupAlive() bool {
	return p.checkLeader() == nil && p.groupIsOurs() && p.hasLiveMembers() || p.escapedAlive(true)
}

// escapedAlive reports whether a process of the program that may have left its process group is alive:
// one in its cgroup or, without a cgroup, one carrying its tag when scan is set (that reads every
// process's environment).
func (p *Process) escapedAlive(scan bool) bool {
	switch {
	case p.cgroup != nil:
		return p.cgroup.Populated()
	case scan && p.tag != "":
		return len(findByTag(p.tag)) > 0
	}
	return false
}

// restGone reports whether nothing of the program is left outside its process group: its cgroup is empty,
// or (without one, and when scan is set) no process carrying its tag is left, those found being killed.
// Without a cgroup and scan unset it reports false, unless the tag is unknown.
func (p *Process) restGone(scan bool) bool {
	switch {
	case p.cgroup != nil:
		return !p.cgroup.Populated()
	case p.tag == "":
		return true
	case !scan:
		return false
	}
	tagged := findByTag(p.tag)
	for _, id := range tagged {
		_ = unix.Kill(id.PID, unix.SIGKILL) // one that forked after killAll; ESRCH means it is gone
	}
	return len(tagged) == 0
}

// killAll sends SIGKILL to the process group and to every process of the program outside it: through
// cgroup.kill, or else to each process carrying the tag.
func (p *Process) killAll() error {
	if err := p.Signal(unix.SIGKILL); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	if p.cgroup != nil {
		return p.cgroup.Kill()
	}
	for _, id := range findByTag(p.tag) {
		// The tag is random per run, so a process carrying it is the program's; ESRCH means it is gone.
		_ = unix.Kill(id.PID, unix.SIGKILL)
	}
	return nil
}

// hasLiveMembers reports whether the group numbered p's PID has a member that
// is not a zombie; the caller has checked that the number is still ours.
func (p *Process) hasLiveMembers() bool {
	err := unix.Kill(-p.id.PID, 0)
	// EPERM: a member exists but runs as another user (for example after a setuid exec).
	if err != nil && !errors.Is(err, unix.EPERM) {
		return false
	}
	if runtime.GOOS != "linux" {
		return true
	}
	// kill(2) also reaches zombies, which linger until their parent collects them;
	// orphans are collected by init, and some inits do that lazily (seconds). A
	// zombie runs no code and holds nothing, so only live members count. On Linux
	// one pass over /proc tells them apart; elsewhere it would mean running ps.
	usage, err := SampleGroups([]int{p.id.PID})
	if err != nil {
		return true
	}
	return usage[p.id.PID].Processes > 0
}

// Stop sends sig to the group, waits until the leader exits or timeout passes, then sends SIGKILL to whatever
// is left of the group, in the program's cgroup or (without one) carrying its tag, and waits (for at most a
// few seconds) until all of it is gone. It returns nil
// once the group is gone, and an error if ctx ends first or members survive SIGKILL. A timeout <= 0 sends
// SIGKILL right after sig. Stop is safe to call after the leader has exited on its own: it then only removes
// leftover members of the group.
func (p *Process) Stop(ctx context.Context, sig syscall.Signal, timeout time.Duration) error {
	select {
	case <-p.done:
	default:
		if err := p.Signal(sig); err != nil && !errors.Is(err, ErrNotRunning) {
			return fmt.Errorf("stop pid %d: %w", p.id.PID, err)
		}
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		select {
		case <-p.done:
		case <-timer.C:
		case <-ctx.Done():
			return fmt.Errorf("stop pid %d: %w", p.id.PID, context.Cause(ctx))
		}
	}
	if err := p.killAll(); err != nil {
		return fmt.Errorf("stop pid %d: %w", p.id.PID, err)
	}
	return p.waitGroupGone(ctx)
}

// waitGroupGone waits until the leader is done and no member of the group is left. There is no kernel
// notification for a process group becoming empty, so after Done it polls kill(-pgid, 0), bounded by
// groupGoneWait. The cgroup's populated flag could be waited on with inotify, but the process group has to
// be polled anyway, so it is read in the same loop. Without a cgroup, tagged processes are looked for (and
// killed, in case one forked after killAll) every tagScanEvery polls: that reads every process's
// environment.
func (p *Process) waitGroupGone(ctx context.Context) error {
	bound := time.NewTimer(groupGoneWait)
	defer bound.Stop()
	tick := time.NewTicker(groupPollInterval)
	defer tick.Stop()
	done := p.done
	for polls := 0; ; polls++ {
		if done == nil && !(p.groupIsOurs() && p.hasLiveMembers()) && p.restGone(polls%tagScanEvery == 0) {
			return nil
		}
		select {
		case <-done:
			done = nil // closed: stop selecting on it, or the loop would spin
		case <-tick.C:
		case <-bound.C:
			if done != nil {
				return fmt.Errorf("stop pid %d: leader still running %v after SIGKILL", p.id.PID, groupGoneWait)
			}
			return fmt.Errorf("stop pid %d: process group still has members %v after SIGKILL", p.id.PID, groupGoneWait)
		case <-ctx.Done():
			return fmt.Errorf("stop pid %d: %w", p.id.PID, context.Cause(ctx))
		}
	}
}

// KillGroup sends SIGKILL to every process left in the group and waits until none is left alive, or ctx
// ends. Unlike Stop it looks for nothing outside the group, neither in a cgroup nor by tag: it is for a
// short-lived command run many times, such as a health check, where reading every process's environment
// each time would cost far more than the command.
func (p *Process) KillGroup(ctx context.Context) error {
	err := p.Signal(unix.SIGKILL)
	if errors.Is(err, ErrNotRunning) {
		return nil
	}
	if err != nil {
		return err
	}
	tick := time.NewTicker(groupPollInterval)
	defer tick.Stop()
	for p.groupIsOurs() && p.hasLiveMembers() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("kill process group %d: %w", p.id.PID, context.Cause(ctx))
		}
	}
	return nil
}
