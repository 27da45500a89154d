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
