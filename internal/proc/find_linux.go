package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// FindTagged lists the session leaders (pid == sid) whose initial environment sets key (to any value), such
// as programs started by a manager that was killed before it could record their PIDs. For each it returns
// what Describe does. The calling process itself is never listed; processes whose environment cannot be
// read (other users') are skipped.
func FindTagged(key, prefix string) ([]Tagged, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("find processes tagged %s: %w", key, err)
	}
	self := os.Getpid()
	var found []Tagged
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		st, ok := readStatFile(pid)
		if !ok || st.session != pid || st.state == 'Z' {
			continue
		}
		t, tagged, err := describe(Identity{PID: pid, StartTime: st.startTime}, key, prefix)
		if err != nil || !tagged {
			continue // exited, or not ours to read
		}
		found = append(found, t)
	}
	return found, nil
}

// Describe returns what a manager checks before it adopts the running process id: whether it leads its
// session and group, its real user, command line and the initial environment variables whose names start
// with prefix. It returns an error wrapping ErrNotRunning if no process with id's PID and start time exists.
// A process rewrites its own command line, and may overwrite its initial environment (setproctitle does),
// so both say what it claims about itself, to be compared with what was saved.
//
// A process in the middle of an exec shows an empty environment for a moment (between the switch to its new
// memory and the setup of its stack), and a young program may exec a few times (an interpreter shim): an
// empty environment is read again for up to describeRetryFor.
func Describe(id Identity, prefix string) (Tagged, error) {
	deadline := time.Now().Add(describeRetryFor)
	for {
		t, _, err := describe(id, "", prefix)
		if err != nil || !t.emptyEnviron || time.Now().After(deadline) {
			return t, err
		}
		// Nothing signals the end of an exec to another process.
		time.Sleep(describeRetryEvery)
	}
}

// How long and how often Describe reads an empty environment again.
const (
	describeRetryFor   = time.Second
	describeRetryEvery = 5 * time.Millisecond
)

// describe is Describe that also reports whether the environment sets key.
func describe(id Identity, key, prefix string) (Tagged, bool, error) {
	dir := "/proc/" + strconv.Itoa(id.PID) + "/"
	st, ok := readStatFile(id.PID)
	if id.PID <= 0 || !ok || st.startTime != id.StartTime {
		return Tagged{}, false, fmt.Errorf("describe pid %d: no process with start time %d: %w", id.PID, id.StartTime, ErrNotRunning)
	}
	environ, err := os.ReadFile(dir + "environ")
	if err != nil {
		return Tagged{}, false, fmt.Errorf("describe pid %d: %w", id.PID, err)
	}
	vars, tagged := scanEnviron(environ, key, prefix)
	empty := len(environ) == 0
	if key != "" && !tagged {
		return Tagged{}, false, nil
	}
	cmdline, err := os.ReadFile(dir + "cmdline")
	if err != nil {
		return Tagged{}, false, fmt.Errorf("describe pid %d: %w", id.PID, err)
	}
	status, err := os.ReadFile(dir + "status")
	if err != nil {
		return Tagged{}, false, fmt.Errorf("describe pid %d: %w", id.PID, err)
	}
	uid, ok := realUID(status)
	if !ok {
		return Tagged{}, false, fmt.Errorf("describe pid %d: no Uid line in its status", id.PID)
	}
	// The PID could have been reused while the files were read; then the start time changed.
	if again, ok := readStatFile(id.PID); !ok || again.startTime != id.StartTime {
		return Tagged{}, false, fmt.Errorf("describe pid %d: no process with start time %d: %w", id.PID, id.StartTime, ErrNotRunning)
	}
	return Tagged{
		Identity: id,
		Leader:   st.session == id.PID && st.pgrp == id.PID,
		UID:      uid,
		Argv:     splitArgv(cmdline),
		Env:      vars,

		emptyEnviron: empty,
	}, tagged, nil
}

// realUID reads the real user ID, the first number of the Uid line of /proc/<pid>/status.
func realUID(status []byte) (int, bool) {
	for line := range bytes.Lines(status) {
		if v, ok := bytes.CutPrefix(line, []byte("Uid:")); ok {
			fields := bytes.Fields(v)
			if len(fields) == 0 {
				return 0, false
			}
			n, ok := parseUint(fields[0])
			return int(n), ok
		}
	}
	return 0, false
}

// readStatFile reads and parses /proc/<pid>/stat; ok is false if the process has gone.
func readStatFile(pid int) (statFields, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return statFields{}, false
	}
	return parseStat(b)
}
