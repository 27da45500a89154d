package web

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// chromiumProcAttr puts Chromium in a process group of its own, which cleanup
// kills as a whole. Pdeathsig kills the browser if the test binary dies
// (a test timeout): the browser has no other reason to exit then. (The
// supervisor's programs must never get it; a throwaway browser should.)
func chromiumProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// waitGroupGone waits until no process of group pgid runs (zombies waiting
// for init to reap them do not count) and returns the PIDs still running when
// limit passed.
func waitGroupGone(pgid int, limit time.Duration) []int {
	deadline := time.Now().Add(limit)
	for {
		left := groupMembers(pgid)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond) // nothing notifies the exit of a process we are not the parent of
	}
}

// groupMembers lists the live processes of group pgid from /proc.
func groupMembers(pgid int) []int {
	entries, _ := os.ReadDir("/proc") // unreadable /proc: nothing to wait for
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(data), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			pids = append(pids, pid)
		}
	}
	return pids
}
