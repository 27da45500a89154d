package install

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// liveGroupMembers returns the processes of group pgid that have not exited. Zombies count as exited: they
// run nothing, and orphans may stay zombies for good where PID 1 does not reap (as in some containers).
func liveGroupMembers(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var live []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// The fields after the command name (in parentheses, which may hold spaces) are: state, ppid, pgrp.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if pgrp, _ := strconv.Atoi(f[2]); pgrp == pgid {
			live = append(live, pid)
		}
	}
	return live
}
