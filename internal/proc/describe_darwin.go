package proc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Describe returns what a manager checks before it adopts the running process id: whether it leads its
// session and group, its real user, command line and the initial environment variables whose names start
// with prefix. It returns an error wrapping ErrNotRunning if no process with id's PID and start time exists.
// On macOS the command line and environment come from sysctl kern.procargs2.
func Describe(id Identity, prefix string) (Tagged, error) {
	cur, leader, err := probeLeader(id.PID)
	if err != nil || cur != id {
		return Tagged{}, fmt.Errorf("describe pid %d: no process with start time %d: %w", id.PID, id.StartTime, ErrNotRunning)
	}
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", id.PID)
	if err != nil {
		return Tagged{}, fmt.Errorf("describe pid %d: %w", id.PID, err)
	}
	buf, err := unix.SysctlRaw("kern.procargs2", id.PID)
	if err != nil {
		return Tagged{}, fmt.Errorf("describe pid %d: read its arguments: %w", id.PID, err)
	}
	argv, environ, err := parseProcargs2(buf)
	if err != nil {
		return Tagged{}, fmt.Errorf("describe pid %d: %w", id.PID, err)
	}
	vars, _ := scanEnviron(environ, "", prefix)
	return Tagged{Identity: id, Leader: leader, UID: int(kp.Eproc.Pcred.P_ruid), Argv: argv, Env: vars}, nil
}

// parseProcargs2 reads the kern.procargs2 layout: argc as a 32-bit integer, the executable's path, NUL
// padding, argc arguments, then the environment, each NUL-terminated. The environment is returned as a
// NUL-separated block, as /proc/<pid>/environ has it.
func parseProcargs2(buf []byte) ([]string, []byte, error) {
	if len(buf) < 4 {
		return nil, nil, errors.New("kern.procargs2: too short")
	}
	argc := int(binary.LittleEndian.Uint32(buf))
	rest := buf[4:]
	end := bytes.IndexByte(rest, 0)
	if end < 0 {
		return nil, nil, errors.New("kern.procargs2: no executable path")
	}
	rest = bytes.TrimLeft(rest[end:], "\x00")
	argv := make([]string, 0, argc)
	for range argc {
		end := bytes.IndexByte(rest, 0)
		if end < 0 {
			return nil, nil, errors.New("kern.procargs2: truncated arguments")
		}
		argv = append(argv, string(rest[:end]))
		rest = rest[end+1:]
	}
	// The environment ends at the first empty string.
	if end := bytes.Index(rest, []byte{0, 0}); end >= 0 {
		rest = rest[:end+1]
	}
	return argv, rest, nil
}
