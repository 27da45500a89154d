//go:build !linux

package web

import (
	"syscall"
	"time"
)

// chromiumProcAttr puts Chromium in a process group of its own, which cleanup
// kills as a whole.
func chromiumProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// waitGroupGone waits until group pgid has no process left and returns
// [pgid] if it still has one when limit passed.
func waitGroupGone(pgid int, limit time.Duration) []int {
	deadline := time.Now().Add(limit)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadline) {
			return []int{pgid}
		}
		time.Sleep(20 * time.Millisecond) // nothing notifies the exit of a process we are not the parent of
	}
	return nil
}
