package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"golang.org/x/sys/unix"
)

// sZomb is the p_stat value of a zombie in <sys/proc.h>.
const sZomb = 5

// probe reads the identity of pid with sysctl kern.proc.pid and whether it is a zombie.
func probe(pid int) (Identity, bool, error) {
	if pid <= 0 {
		return Identity{}, false, fmt.Errorf("identify pid %d: invalid pid: %w", pid, ErrNotRunning)
	}
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	// For a missing PID the kernel returns no record, which x/sys reports as EIO.
	if errors.Is(err, unix.EIO) || errors.Is(err, unix.ESRCH) || (err == nil && int(kp.Proc.P_pid) != pid) {
		return Identity{}, false, fmt.Errorf("identify pid %d: %w", pid, ErrNotRunning)
	}
	if err != nil {
		return Identity{}, false, fmt.Errorf("identify pid %d: %w", pid, err)
	}
	start := kp.Proc.P_starttime
	id := Identity{PID: pid, StartTime: uint64(start.Sec)*1e6 + uint64(start.Usec)}
	return id, kp.Proc.P_stat == sZomb, nil
}

// probeLeader reads the identity of pid and whether it leads its own session and process group.
func probeLeader(pid int) (Identity, bool, error) {
	id, _, err := probe(pid)
	if err != nil {
		return Identity{}, false, err
	}
	pgid, err1 := unix.Getpgid(pid)
	sid, err2 := unix.Getsid(pid)
	return id, err1 == nil && err2 == nil && pgid == pid && sid == pid, nil
}

// BootTime returns when the machine booted (sysctl kern.boottime), or the zero Time if it cannot be read.
func BootTime() time.Time {
	tv, err := unix.SysctlTimeval("kern.boottime")
	if err != nil {
		return time.Time{}
	}
	return time.Unix(tv.Sec, int64(tv.Usec)*1000)
}

// Started returns the wall-clock time at which the process started. On macOS StartTime is already a wall-clock
// time, in microseconds since the Unix epoch.
func (id Identity) Started() time.Time {
	return time.UnixMicro(int64(id.StartTime))
}

// watchChild starts the goroutine that reaps the child osp and finishes p. macOS has no pidfd, so the
// goroutine blocks an OS thread in wait4 for as long as the child runs.
func watchChild(_ *Watcher, p *Process, osp *os.Process) {
	go waitChild(p, osp)
}

// Adopt watches a process that a previous manager started, which is not our child. It returns an error
// wrapping ErrNotRunning if no process with id's PID and start time exists. Its Exit is never Known. On macOS
// the exit is noticed by polling once a second.
func Adopt(id Identity) (*Process, error) { return adopt(nil, id) }

func adopt(_ *Watcher, id Identity) (*Process, error) {
	cur, leader, err := probeLeader(id.PID)
	if err != nil || cur != id {
		return nil, fmt.Errorf("adopt pid %d: no process with start time %d: %w", id.PID, id.StartTime, ErrNotRunning)
	}
	if !leader || id.PID <= 1 {
		return nil, fmt.Errorf("adopt pid %d: %w", id.PID, ErrNotLeader)
	}
	p := newProcess(id, true)
	p.tag = tagOf(id.PID)
	go pollAdopted(p)
	return p, nil
}

// FindTagged returns nil, nil on macOS: the initial environment of another process can be read there only
// with the private KERN_PROCARGS2 format, and a manager killed before saving its PIDs is the rare case the
// feature exists for, so orphans are not searched for on macOS.
func FindTagged(key, prefix string) ([]Tagged, error) {
	return nil, nil
}

// Sampler is SampleGroups for repeated use; on macOS it keeps nothing between
// calls (ps lists every process each time anyway).
type Sampler struct{}

// Sample is SampleGroups.
func (s *Sampler) Sample(pgids []int) (map[int]Usage, error) { return SampleGroups(pgids) }

// Close releases what the Sampler holds: nothing here.
func (s *Sampler) Close() {}

// SampleGroups returns the usage of each process group in pgids that has members; groups with none are absent
// from the map. On macOS it runs ps(1), which may read other processes' task info where we may not.
func SampleGroups(pgids []int) (map[int]Usage, error) {
	if len(pgids) == 0 {
		return map[int]Usage{}, nil
	}
	want := make(map[int]bool, len(pgids))
	for _, g := range pgids {
		want[g] = true
	}
	out, err := exec.Command("/bin/ps", "-axo", "pid=,pgid=,rss=,time=").Output()
	if err != nil {
		return nil, fmt.Errorf("sample process groups: run ps: %w", err)
	}
	usage, err := parsePS(out, want)
	if err != nil {
		return nil, fmt.Errorf("sample process groups: %w", err)
	}
	return usage, nil
}
