package logfile

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// errCollapseUnsupported says the filesystem cannot collapse a range, so the
// rotation falls back to copy-then-truncate.
var errCollapseUnsupported = errors.New("collapse range not supported")

// blockSize returns the filesystem block size, the unit a collapse-range
// offset and length must be multiples of on ext4 and xfs.
func blockSize(f *os.File) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", f.Name(), err)
	}
	return int64(st.Bsize), nil
}

// writeBackFrom writes the dirty pages of f from off to its end to disk and
// waits for them. A collapse does that itself, under the inode lock that the
// child's writes wait for; done first, outside the lock, it leaves the collapse
// only what the child wrote in between.
func writeBackFrom(f *os.File, off int64) {
	// Only an optimisation: an error here will show again in the collapse.
	unix.SyncFileRange(int(f.Fd()), off, 0,
		unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
}

// collapse removes the first n bytes of f, shifting the rest down, in one
// step under the inode lock, so an O_APPEND write of the child lands either
// wholly before (and is removed only if it was copied) or wholly after.
func collapse(f *os.File, n int64) error {
	err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_COLLAPSE_RANGE, 0, n)
	switch {
	case err == nil:
		return nil
	// EOPNOTSUPP: the filesystem lacks it (tmpfs, ext4 without extents);
	// EINVAL: n is not aligned to what the filesystem wants (ext4 bigalloc
	// clusters); ENOSYS: an old kernel. Nothing was changed in any case.
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("%w: %w", errCollapseUnsupported, err)
	}
	return fmt.Errorf("fallocate %s: %w", f.Name(), err)
}

// copyRange writes the n bytes of src at srcOff to dst at dstOff without
// passing them through this process: as shared extents where the filesystem
// can clone (xfs with reflink, btrfs), else with copy_file_range, which the
// kernel does within the page cache (or on the server, for NFS).
func copyRange(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) error {
	if n <= 0 {
		return nil
	}
	clone := unix.FileCloneRange{Src_fd: int64(src.Fd()), Src_offset: uint64(srcOff), Src_length: uint64(n), Dest_offset: uint64(dstOff)}
	if unix.IoctlFileCloneRange(int(dst.Fd()), &clone) == nil {
		return nil
	}
	// Any failure leaves dst unchanged: cloning is all or nothing.
	for n > 0 {
		got, err := unix.CopyFileRange(int(src.Fd()), &srcOff, int(dst.Fd()), &dstOff, int(min(n, 1<<30)), 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
			return sendRange(dst, dstOff, src, srcOff, n)
		}
		if err != nil {
			return fmt.Errorf("copy_file_range: %w", err)
		}
		if got == 0 {
			return fmt.Errorf("copy_file_range: %d bytes short: the file shrank", n)
		}
		n -= int64(got)
	}
	return nil
}

// sendRange is copyRange's way for a filesystem without copy_file_range:
// sendfile(2), which also stays in the kernel. It writes at dst's file offset.
func sendRange(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) error {
	if _, err := dst.Seek(dstOff, 0); err != nil {
		return err
	}
	for n > 0 {
		got, err := unix.Sendfile(int(dst.Fd()), int(src.Fd()), &srcOff, int(min(n, 1<<30)))
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sendfile: %w", err)
		}
		if got == 0 {
			return fmt.Errorf("sendfile: %d bytes short: the file shrank", n)
		}
		n -= int64(got)
	}
	return nil
}
