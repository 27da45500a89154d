package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// InotifyInstances counts this process's open inotify instances (a user may
// open only 128, so tests check how many a feature takes).
func InotifyInstances(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list open files: %v", err)
	}
	n := 0
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && target == "anon_inode:inotify" {
			n++
		}
	}
	return n
}
