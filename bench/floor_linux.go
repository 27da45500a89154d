package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// floorResult is what bareLoopFloor measured.
type floorResult struct {
	rotations int
	cpu       time.Duration // of the rotations alone
	elapsed   time.Duration
	collapse  time.Duration // the longest collapse: the writer waits for it
	writer    floodStats
}

// bareLoopFloor runs floodPy in dir with its output appended to dir/flood.log
// for d, while this goroutine, alone on its thread, does what pyvisor's
// rotations do with nothing around them: whenever the file passes limit, copy
// its first limit bytes into a backup with copy_file_range, fsync it, shift
// the backups, sync the directory, write back the rest of the file, and
// collapse those bytes out. It counts the
// thread's CPU time in the rotations only.
func bareLoopFloor(dir string, limit int64, backups int, d time.Duration) (floorResult, error) {
	var r floorResult
	c, err := startBare(dir)
	if err != nil {
		return r, err
	}
	defer c.Process.Kill()
	path := filepath.Join(dir, "flood.log")
	live, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return r, err
	}
	defer live.Close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0 := time.Now()
	for time.Since(t0) < d {
		var st unix.Stat_t
		if err := unix.Fstat(int(live.Fd()), &st); err != nil {
			return r, err
		}
		if st.Size <= limit {
			// A poll, not counted: the floor is the rotation's work.
			time.Sleep(5 * time.Millisecond)
			continue
		}
		before, err := threadCPU()
		if err != nil {
			return r, err
		}
		collapse, err := bareRotation(live, path, limit, backups)
		if err != nil {
			return r, err
		}
		r.collapse = max(r.collapse, collapse)
		after, err := threadCPU()
		if err != nil {
			return r, err
		}
		r.cpu += after - before
		r.rotations++
	}
	r.elapsed = time.Since(t0)
	c.Process.Signal(syscall.SIGTERM)
	c.Wait()
	r.writer, err = waitStats(dir)
	return r, err
}

// bareRotation rotates the first limit bytes of live into path.1 and returns
// how long the collapse took.
func bareRotation(live *os.File, path string, limit int64, backups int) (time.Duration, error) {
	tmp := path + ".tmp"
	b, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	var off, woff int64
	for off < limit {
		n, err := unix.CopyFileRange(int(live.Fd()), &off, int(b.Fd()), &woff, int(limit-off), 0)
		if err != nil || n == 0 {
			return 0, fmt.Errorf("copy_file_range: %v (%d bytes)", err, n)
		}
	}
	if err := b.Sync(); err != nil {
		return 0, err
	}
	for i := backups - 1; i >= 1; i-- {
		os.Rename(path+"."+strconv.Itoa(i), path+"."+strconv.Itoa(i+1))
	}
	if err := os.Rename(tmp, path+".1"); err != nil {
		return 0, err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return 0, err
	}
	d.Sync()
	d.Close()
	// As pyvisor does: the tail that stays is written back before the collapse,
	// outside the inode lock, leaving the collapse only what came meanwhile.
	unix.SyncFileRange(int(live.Fd()), limit, 0,
		unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
	t0 := time.Now()
	err = unix.Fallocate(int(live.Fd()), unix.FALLOC_FL_COLLAPSE_RANGE, 0, limit)
	return time.Since(t0), err
}
