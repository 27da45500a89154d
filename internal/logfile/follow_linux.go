package logfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// fileEvents are the changes of the log file itself that may bring new bytes
// or a rotation (a collapse or truncation shows as IN_MODIFY).
const fileEvents = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE

// notifyLoop wakes the follower on inotify events until ctx ends (then it
// returns nil). It watches the file, and its directory for the file being
// created or renamed into place. The inotify descriptor is non-blocking and
// read through an *os.File, so the wait sits in the Go netpoller instead of
// holding a thread. Any error means the caller should poll instead.
func notifyLoop(ctx context.Context, path string, wake chan<- struct{}, started func()) error {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("inotify init: %w", err)
	}
	in := os.NewFile(uintptr(fd), "inotify")
	defer in.Close()
	stop := context.AfterFunc(ctx, func() { in.Close() })
	defer stop()
	rc, err := in.SyscallConn()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	var addErr error
	err = rc.Control(func(fd uintptr) {
		_, addErr = unix.InotifyAddWatch(int(fd), dir, unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ONLYDIR)
	})
	if err == nil {
		err = addErr
	}
	if err != nil {
		return fmt.Errorf("inotify watch %s: %w", dir, err)
	}
	// Through Control, so the descriptor cannot be closed underneath. A
	// missing file is fine: the directory watch reports when it appears.
	watchFile := func() {
		_ = rc.Control(func(fd uintptr) { _, _ = unix.InotifyAddWatch(int(fd), path, fileEvents) })
	}
	watchFile()
	started()

	buf := make([]byte, 64<<10)
	for {
		if _, err := in.Read(buf); err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("inotify read: %w", err)
		}
		// Re-adding is idempotent for the same file and picks up a new one
		// created at path; cheaper than parsing which watch fired.
		watchFile()
		notify(wake)
	}
}
