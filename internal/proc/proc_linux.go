package proc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// clockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat. The kernel fixes it at 100 on every
// architecture Go supports, whatever its internal HZ; sysconf(_SC_CLK_TCK) would only read it back from the
// auxiliary vector.
const clockTicks = 100

// ticksToDuration converts clock ticks from /proc into a duration.
func ticksToDuration(ticks uint64) time.Duration {
	return time.Duration(ticks) * (time.Second / clockTicks)
}

// probe reads the identity of pid from /proc/<pid>/stat and whether it is a zombie.
func probe(pid int) (Identity, bool, error) {
	if pid <= 0 {
		return Identity{}, false, fmt.Errorf("identify pid %d: invalid pid: %w", pid, ErrNotRunning)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
		return Identity{}, false, fmt.Errorf("identify pid %d: %w", pid, ErrNotRunning)
	}
	if err != nil {
		return Identity{}, false, fmt.Errorf("identify pid %d: %w", pid, err)
	}
	st, ok := parseStat(b)
	if !ok {
		return Identity{}, false, fmt.Errorf("identify pid %d: malformed /proc/%d/stat %q", pid, pid, b)
	}
	return Identity{PID: pid, StartTime: st.startTime}, st.state == 'Z', nil
}

// probeLeader reads the identity of pid and whether it leads its own session and process group.
func probeLeader(pid int) (Identity, bool, error) {
	if pid <= 0 {
		return Identity{}, false, fmt.Errorf("identify pid %d: invalid pid: %w", pid, ErrNotRunning)
	}
	st, ok := readStatFile(pid)
	if !ok {
		return Identity{}, false, fmt.Errorf("identify pid %d: %w", pid, ErrNotRunning)
	}
	return Identity{PID: pid, StartTime: st.startTime}, st.session == pid && st.pgrp == pid, nil
}

// statFields holds the fields of /proc/<pid>/stat that this package uses.
type statFields struct {
	state      byte   // field 3: R, S, D, Z, ...
	pgrp       int    // field 5
	session    int    // field 6
	utime      uint64 // field 14, clock ticks
	stime      uint64 // field 15, clock ticks
	numThreads int    // field 20
	startTime  uint64 // field 22, clock ticks since boot
	vsize      uint64 // field 23, bytes
	rssPages   uint64 // field 24
}

// parseStat parses the fields of a /proc/<pid>/stat line that this package uses, without allocating. The
// second field (comm) is in parentheses and may itself contain spaces and parentheses, so fields are counted
// from after the last ')'.
func parseStat(b []byte) (statFields, bool) {
	var st statFields
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return st, false
	}
	rest := b[end+1:]
	for field := 3; field <= 24; field++ {
		rest = bytes.TrimLeft(rest, " ")
		n := bytes.IndexAny(rest, " \n")
		if n < 0 {
			n = len(rest)
		}
		tok := rest[:n]
		rest = rest[n:]
		if len(tok) == 0 {
			return st, false
		}
		var ok bool
		switch field {
		case 3:
			st.state, ok = tok[0], true
		case 5:
			var v uint64
			v, ok = parseUint(tok)
			st.pgrp = int(v)
		case 6:
			var v uint64
			v, ok = parseUint(tok)
			st.session = int(v)
		case 14:
			st.utime, ok = parseUint(tok)
		case 15:
			st.stime, ok = parseUint(tok)
		case 20:
			var v uint64
			v, ok = parseUint(tok)
			st.numThreads = int(v)
		case 22:
			st.startTime, ok = parseUint(tok)
		case 23:
			st.vsize, ok = parseUint(tok)
		case 24:
			st.rssPages, ok = parseUint(tok)
		default:
			ok = true
		}
		if !ok {
			return st, false
		}
	}
	return st, true
}

// parseUint parses a decimal number without the allocation of strconv.ParseUint(string(b)).
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		d := uint64(c - '0')
		if c < '0' || c > '9' || v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// BootTime returns when the machine booted, from the btime line of /proc/stat (whole seconds), or the zero
// Time if it cannot be read. Each call reads the file; callers converting many start times can call it once.
func BootTime() time.Time {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			if secs, ok := parseUint(bytes.TrimSpace(v)); ok {
				return time.Unix(int64(secs), 0)
			}
		}
	}
	return time.Time{}
}

// Started returns the wall-clock time at which the process started, to within a second (the precision of
// BootTime).
func (id Identity) Started() time.Time {
	boot := BootTime()
	if boot.IsZero() {
		return time.Time{}
	}
	return boot.Add(ticksToDuration(id.StartTime))
}

// openPidfd opens a pidfd for pid (close-on-exec, as pidfd_open always makes it) in nonblocking mode, so that
// the Go netpoller can wait for it. It returns the bare descriptor: a Watcher keeps it in its epoll set and
// never wraps it, and the pidfd of a process watched alone is wrapped by watchAlone.
func openPidfd(pid int) (int, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return -1, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	return fd, nil
}

// pidfdName is the name of the *os.File wrapping a pidfd of pid.
func pidfdName(pid int) string { return "pidfd:" + strconv.Itoa(pid) }

// waitReadable waits until the pidfd is readable, which happens when its process exits. The goroutine parks
// in the netpoller meanwhile, using no OS thread.
func waitReadable(pidfd *os.File) error {
	rc, err := pidfd.SyscallConn()
	if err != nil {
		return err
	}
	var pollErr error
	err = rc.Read(func(fd uintptr) bool {
		// Check the state directly rather than trusting that a wakeup means readiness; returning false makes
		// the netpoller wait for the next edge.
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, 0)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				pollErr = err
				return true
			}
			return n > 0
		}
	})
	if err != nil {
		return err
	}
	return pollErr
}

// watchChild arranges for p to be finished when the child osp exits: through w if it takes the child, or else
// with a goroutine of its own. pidfd_open on our own unreaped child is race-free: the PID cannot be reused
// before we reap it.
func watchChild(w *Watcher, p *Process, osp *os.Process) {
	pidfd, err := openPidfd(p.id.PID)
	if err != nil {
		// Wait still works; it just holds a thread while it blocks.
		go waitChild(p, osp)
		return
	}
	if w != nil && w.register(pidfd, p, osp) == nil {
		return
	}
	watchAlone(p, osp, os.NewFile(uintptr(pidfd), pidfdName(p.id.PID)))
}

// watchAlone starts a goroutine that waits for pidfd to become readable and then finishes p: after reaping it
// if it is our child osp, and if osp is nil (adopted) as soon as the pidfd says so, or, should waiting on the
// pidfd fail, once polling sees the process gone.
func watchAlone(p *Process, osp *os.Process, pidfd *os.File) {
	go func() {
		err := waitReadable(pidfd)
		pidfd.Close()
		switch {
		case osp != nil:
			waitChild(p, osp)
		case err != nil:
			pollAdopted(p)
		default:
			p.finish(ExitStatus{})
		}
	}()
}

// Adopt watches a process that a previous manager started, which is not our child, with a goroutine of its
// own. It returns an error wrapping ErrNotRunning if no process with id's PID and start time exists, and one
// wrapping ErrNotLeader if it is PID 1 or does not lead its own session and process group. Its Exit is never
// Known. (*Watcher).Adopt is the same through a Watcher.
func Adopt(id Identity) (*Process, error) { return adopt(nil, id) }

func adopt(w *Watcher, id Identity) (*Process, error) {
	pidfd, err := openPidfd(id.PID)
	if errors.Is(err, unix.ESRCH) {
		return nil, fmt.Errorf("adopt pid %d: %w", id.PID, ErrNotRunning)
	}
	// Check the start time after opening the pidfd, so that the check is about the very process the pidfd
	// refers to: if the PID was reused in between, the start times differ.
	if cur, leader, perr := probeLeader(id.PID); perr != nil || cur != id || !leader || id.PID <= 1 {
		if err == nil {
			unix.Close(pidfd)
		}
		if perr == nil && cur == id {
			return nil, fmt.Errorf("adopt pid %d: %w", id.PID, ErrNotLeader)
		}
		return nil, fmt.Errorf("adopt pid %d: no process with start time %d: %w", id.PID, id.StartTime, ErrNotRunning)
	}
	p := newProcess(id, true)
	p.tag = tagOf(id.PID)
	switch {
	case err != nil:
		// No usable pidfd (kernel before 5.10, or a seccomp filter): poll instead.
		go pollAdopted(p)
	case w != nil && w.register(pidfd, p, nil) == nil:
	default:
		watchAlone(p, nil, os.NewFile(uintptr(pidfd), pidfdName(id.PID)))
	}
	return p, nil
}
