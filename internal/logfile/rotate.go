package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Method says how a rotation moved the bytes out of the live file.
type Method int

const (
	// NoRotation is the zero Method: the file was empty, nothing moved.
	NoRotation Method = iota
	// CollapseRange copied whole filesystem blocks from the start of the file
	// into the backup, then removed exactly those bytes from the live file
	// with fallocate(FALLOC_FL_COLLAPSE_RANGE). No byte is lost or duplicated,
	// but the cut may fall inside a line: that line then starts at the end of
	// <path>.1 and ends at the start of the live file, so concatenating the
	// backups (oldest first) and the live file gives every line exactly once.
	CollapseRange
	// CopyTruncate copied the whole file into the backup and truncated the
	// live file to zero. Lines the child writes between the last copy and the
	// truncation are lost; none is duplicated.
	CopyTruncate
)

// String returns the name shown in logs and in the API.
func (m Method) String() string {
	switch m {
	case NoRotation:
		return "none"
	case CollapseRange:
		return "collapse-range"
	case CopyTruncate:
		return "copy-truncate"
	}
	return "Method(" + strconv.Itoa(int(m)) + ")"
}

// Rotator rotates log files in place while a child keeps appending to them.
// Backups <path>.1 (newest) … <path>.<Backups> (oldest) are kept.
type Rotator struct {
	// Backups is how many old files to keep; zero means 1, negative is an
	// error.
	Backups int
	// ForceCopyTruncate skips the collapse-range attempt; tests use it to
	// exercise the fallback on a filesystem that supports both.
	ForceCopyTruncate bool
}

// RotateIfLarger rotates path when its size exceeds maxBytes. It returns
// rotated=false and no error when rotation is not needed or the file does not
// exist.
func (r Rotator) RotateIfLarger(path string, maxBytes int64) (rotated bool, m Method, err error) {
	if maxBytes <= 0 {
		return false, NoRotation, fmt.Errorf("rotate log %q: max size %d must be positive", path, maxBytes)
	}
	size, err := fileSize(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, NoRotation, nil
	}
	if err != nil {
		return false, NoRotation, fmt.Errorf("rotate log %q: %w", path, err)
	}
	if size <= maxBytes {
		return false, NoRotation, nil
	}
	m, err = r.rotateKeeping(path, maxBytes)
	return err == nil, m, err
}

// fileSize is the size of the file at path. The manager checks every log this
// way every 10 s; os.Stat would allocate a FileInfo each time, and an idle
// manager allocates so little that its garbage collections are minutes apart.
func fileSize(path string) (int64, error) {
	var st syscall.Stat_t
	for {
		err := syscall.Stat(path, &st)
		if err == nil {
			return st.Size, nil
		}
		if err != syscall.EINTR {
			return 0, &fs.PathError{Op: "stat", Path: path, Err: err}
		}
	}
}

// Rotate moves the content of path into <path>.1, shifting older backups up
// by one and dropping the oldest, while leaving the live file's inode in place
// for the child that keeps it open. It tries CollapseRange first and falls
// back to CopyTruncate where the filesystem (or the OS) cannot collapse, or
// when the file is not larger than one filesystem block. An empty file is
// left alone and NoRotation returned.
//
// Only one Rotate per path may run at a time; the caller owns that.
func (r Rotator) Rotate(path string) (Method, error) {
	return r.rotateKeeping(path, 0)
}

// rotateKeeping rotates path; with keep > 0 the backup holds at most the last
// keep bytes (from a line start) of what leaves the live file. When a program
// wrote far more than the limit between two checks (a flood), copying all of it
// would cost as much as the writing did, for bytes the backup limit would drop
// anyway; so the oldest part is dropped instead, and a rotation never copies
// more than keep bytes.
func (r Rotator) rotateKeeping(path string, keep int64) (Method, error) {
	m, err := r.rotate(path, keep)
	if err != nil {
		return m, fmt.Errorf("rotate log %q: %w", path, err)
	}
	return m, nil
}

func (r Rotator) rotate(path string, keep int64) (Method, error) {
	backups := r.Backups
	if backups < 0 {
		return NoRotation, fmt.Errorf("backups %d must not be negative", backups)
	}
	if backups == 0 {
		backups = 1
	}
	// Read-write but without O_APPEND: fallocate and ftruncate need a
	// writable descriptor, and the offset of this one is never used to write.
	live, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return NoRotation, err
	}
	defer live.Close()
	fi, err := live.Stat()
	if err != nil {
		return NoRotation, err
	}
	size := fi.Size()
	if size == 0 {
		return NoRotation, nil
	}

	// The collapse length must be a multiple of the block size and end
	// before the end of the file; if that leaves nothing, copytruncate.
	var n int64
	if !r.ForceCopyTruncate {
		if bs, err := blockSize(live); err == nil && bs > 0 {
			n = (size - 1) / bs * bs
		}
	}
	method := CollapseRange
	if n == 0 {
		method, n = CopyTruncate, size
	}

	tmpPath := path + ".1.tmp"
	backup, err := os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return NoRotation, err
	}
	defer backup.Close()
	defer os.Remove(tmpPath) // a no-op once renamed
	from, err := keptFrom(live, n, keep)
	if err != nil {
		return NoRotation, fmt.Errorf("read %s: %w", path, err)
	}
	if err := copyRange(backup, live, from, n-from); err != nil {
		return NoRotation, fmt.Errorf("copy to %s: %w", tmpPath, err)
	}
	// The backup must be on disk before its bytes leave the live file.
	if err := backup.Sync(); err != nil {
		return NoRotation, fmt.Errorf("sync %s: %w", tmpPath, err)
	}
	if err := shiftBackups(path, backups); err != nil {
		return NoRotation, err
	}
	if err := os.Rename(tmpPath, backupName(path, 1)); err != nil {
		return NoRotation, err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return NoRotation, err
	}

	if method == CollapseRange {
		err := collapse(live, n)
		if err == nil {
			return CollapseRange, nil
		}
		if !errors.Is(err, errCollapseUnsupported) {
			// The bytes are now in both files: duplicated, not lost.
			return NoRotation, fmt.Errorf("collapse first %d bytes: %w", n, err)
		}
		method = CopyTruncate
	}
	if err := copyThenTruncate(backup, live, n, keep); err != nil {
		return NoRotation, err
	}
	return method, nil
}

// copyThenTruncate finishes a CopyTruncate rotation: the backup already holds
// the first copied bytes of live. The bytes appended meanwhile (the fsync and
// renames take a while) are copied again right before the truncation, a few
// times while that catch-up is still large, so only what the child writes
// during the last small copy is lost.
func copyThenTruncate(backup, live *os.File, copied, keep int64) error {
	for range 4 {
		fi, err := live.Stat()
		if err != nil {
			return err
		}
		appended := fi.Size() - copied
		if appended <= 0 {
			break
		}
		if keep > 0 && appended > keep {
			// A flood: start the backup afresh with the newest keep bytes.
			from, err := keptFrom(live, fi.Size(), keep)
			if err != nil {
				return err
			}
			if err := backup.Truncate(0); err != nil {
				return err
			}
			if _, err := backup.Seek(0, io.SeekStart); err != nil {
				return err
			}
			copied, appended = from, fi.Size()-from
		}
		if err := copyRange(backup, live, copied, appended); err != nil {
			return fmt.Errorf("copy appended bytes: %w", err)
		}
		copied += appended
		if appended < 4096 {
			break
		}
	}
	if err := live.Truncate(0); err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	// After the truncation, so the window above stays short; a crash right
	// here can only lose the few re-copied bytes.
	if err := backup.Sync(); err != nil {
		return fmt.Errorf("sync backup: %w", err)
	}
	return nil
}

// keptFrom is where the copy of [0, n) into a backup starts so that it holds
// at most keep bytes (all of them when keep <= 0): the start of the first whole
// line within the last keep bytes, or exactly n-keep if no newline is near.
func keptFrom(f *os.File, n, keep int64) (int64, error) {
	if keep <= 0 || n <= keep {
		return 0, nil
	}
	from := n - keep
	buf := make([]byte, min(64<<10, keep))
	got, err := f.ReadAt(buf, from)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if i := bytes.IndexByte(buf[:got], '\n'); i >= 0 && from+int64(i)+1 < n {
		from += int64(i) + 1
	}
	return from, nil
}

// copyRange appends the n bytes of src at offset off to dst. The
// LimitedReader over an *os.File lets io.Copy use copy_file_range on Linux.
func copyRange(dst, src *os.File, off, n int64) error {
	if _, err := src.Seek(off, io.SeekStart); err != nil {
		return err
	}
	got, err := io.Copy(dst, io.LimitReader(src, n))
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("copied %d of %d bytes: file shrank during rotation", got, n)
	}
	return nil
}

// shiftBackups renames <path>.i to <path>.i+1 for i = backups-1 … 1, so the
// oldest kept backup is overwritten and <path>.1 is free.
func shiftBackups(path string, backups int) error {
	for i := backups - 1; i >= 1; i-- {
		err := os.Rename(backupName(path, i), backupName(path, i+1))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func backupName(path string, i int) string {
	return path + "." + strconv.Itoa(i)
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
