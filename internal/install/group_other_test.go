//go:build !linux

package install

import "syscall"

// liveGroupMembers returns the group ID itself if any process of group pgid exists, as far as kill(2) can
// tell (without /proc, members cannot be listed; a zombie counts as alive, though launchd reaps orphans).
func liveGroupMembers(pgid int) []int {
	if err := syscall.Kill(-pgid, 0); err == syscall.ESRCH {
		return nil
	}
	return []int{pgid}
}
