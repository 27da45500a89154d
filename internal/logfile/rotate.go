package logfile

import (
	"errors"
	"fmt"
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
	// into backups, then removed exactly those bytes from the live file with
	// fallocate(FALLOC_FL_COLLAPSE_RANGE). No byte is lost or duplicated, but
	// a cut may fall inside a line: that line then starts at the end of one
	// file and ends at the start of the next, so concatenating the backups
	// (oldest first) and the live file gives every line exactly once.
	CollapseRange
	// CopyTruncate copied the whole file into backups and truncated the live
	// file to zero. Lines the child writes between the last copy and the
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

// Rotation says what one rotation did.
type Rotation struct {
	// Method is how the bytes left the live file; NoRotation if none did.
	Method Method
	// Moved is how many bytes left the live file into new backups.
	Moved int64
	// Backups is how many new backup files were made; the oldest ones beyond
	// Rotator.Backups were deleted to make room.
	Backups int
	// Expired is how many bytes left the live file without a copy because
	// they were older than everything the backups keep after this rotation
	// (the file outgrew all the backups together between two checks).
	Expired int64
	// Dropped is how many bytes were removed from the live file without a
	// copy because the copy could not be made for lack of space.
	Dropped int64
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

// RotateIfLarger rotates path when its size exceeds maxBytes, moving all of
// the file but its newest part into backups of at most maxBytes each (several
// if the file holds more than twice maxBytes), so that the backups, oldest
// first, and the live file hold every byte written since the oldest kept one.
// It returns a zero Rotation and no error when rotation is not needed or the
// file does not exist.
func (r Rotator) RotateIfLarger(path string, maxBytes int64) (Rotation, error) {
	if maxBytes <= 0 {
		return Rotation{}, fmt.Errorf("rotate log %q: max size %d must be positive", path, maxBytes)
	}
	size, _, err := fileSize(path)
	if errors.Is(err, os.ErrNotExist) {
		return Rotation{}, nil
	}
	if err != nil {
		return Rotation{}, fmt.Errorf("rotate log %q: %w", path, err)
	}
	if size <= maxBytes {
		return Rotation{}, nil
	}
	res, err := r.rotate(path, maxBytes)
	if err != nil {
		return res, fmt.Errorf("rotate log %q: %w", path, err)
	}
	return res, nil
}

// fileSize is the size and inode number of the file at path. The manager
// checks every log this way; os.Stat would allocate a FileInfo each time, and
// an idle manager allocates so little that its garbage collections are
// minutes apart.
func fileSize(path string) (size int64, ino uint64, err error) {
	var st syscall.Stat_t
	for {
		err := syscall.Stat(path, &st)
		if err == nil {
			return st.Size, st.Ino, nil
		}
		if err != syscall.EINTR {
			return 0, 0, &fs.PathError{Op: "stat", Path: path, Err: err}
		}
	}
}

// Rotate moves the content of path into <path>.1, shifting older backups up
// by one and dropping the oldest, while leaving the live file's inode in place
// for the child that keeps it open. It tries CollapseRange first, which leaves
// the bytes after the last whole block in the live file, and falls back to
// CopyTruncate where the filesystem (or the OS) cannot collapse, or when the
// file is not larger than one filesystem block. An empty file is left alone
// and NoRotation returned.
//
// Only one rotation per path may run at a time; the caller owns that.
func (r Rotator) Rotate(path string) (Method, error) {
	res, err := r.rotate(path, 0)
	if err != nil {
		return res.Method, fmt.Errorf("rotate log %q: %w", path, err)
	}
	return res.Method, nil
}

// rotate moves the head of path into new backups of at most limit bytes each
// (one backup of any size when limit <= 0).
func (r Rotator) rotate(path string, limit int64) (Rotation, error) {
	backups := r.Backups
	if backups < 0 {
		return Rotation{}, fmt.Errorf("backups %d must not be negative", backups)
	}
	if backups == 0 {
		backups = 1
	}
	// Read-write but without O_APPEND: fallocate and ftruncate need a
	// writable descriptor, and the offset of this one is never used to write.
	live, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return Rotation{}, err
	}
	defer live.Close()
	fi, err := live.Stat()
	if err != nil {
		return Rotation{}, err
	}
	size := fi.Size()
	if size == 0 {
		return Rotation{}, nil
	}
	var bs int64
	if !r.ForceCopyTruncate {
		if b, err := blockSize(live); err == nil && b > 0 {
			bs = b
		}
	}
	p := planRotation(size, limit, bs, backups)
	set := &backupSet{path: path, chunk: p.chunk, keep: backups}
	defer set.discard()
	set.skipTo(p.start)
	if err := set.copyFrom(live, p.start, p.n-p.start); err != nil {
		if !isNoSpace(err) {
			return Rotation{}, fmt.Errorf("copy to backup: %w", err)
		}
		return dropHead(live, set, p)
	}
	if p.method == CopyTruncate {
		// Catch up with what the child appended meanwhile, while that is
		// still large, before the slow syncs and renames.
		if err := catchUp(live, set, 3); err != nil {
			if !isNoSpace(err) {
				return Rotation{}, err
			}
			return dropHead(live, set, p)
		}
	}
	// The backups must be on disk before their bytes leave the live file.
	if err := set.sync(); err != nil {
		if !isNoSpace(err) {
			return Rotation{}, err
		}
		return dropHead(live, set, p)
	}
	if err := set.install(); err != nil {
		return Rotation{}, err
	}
	res := set.result(p.method)
	if p.method == CollapseRange {
		writeBackFrom(live, p.n)
		err := collapse(live, p.n)
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, errCollapseUnsupported) {
			// The bytes are now in both files: duplicated, not lost.
			return res, fmt.Errorf("collapse first %d bytes: %w", p.n, err)
		}
		res.Method = CopyTruncate
	}
	// The newest backup, already in place, takes the last catch-up: it may
	// end up that much larger than limit.
	set.chunk = 0
	if err := catchUp(live, set, 1); err != nil {
		return res, err
	}
	if err := live.Truncate(0); err != nil {
		return res, fmt.Errorf("truncate: %w", err)
	}
	res = set.result(res.Method)
	// After the truncation, so the window above stays short; a crash right
	// here can only lose the few re-copied bytes.
	if err := set.sync(); err != nil {
		return res, err
	}
	return res, nil
}

// rotationPlan is what a rotation copies and removes.
type rotationPlan struct {
	method Method
	// n is how many bytes leave the live file (more may in a CopyTruncate,
	// as the child keeps writing); chunk is the most one backup holds (0:
	// no limit); start is where copying begins, the bytes before it being
	// beyond what the backups keep.
	n, chunk, start int64
}

// planRotation decides how a file of size bytes on a filesystem of block size
// bs (0: cannot collapse) is rotated into backups of at most limit bytes (0:
// one backup of any size), keeping at most backups of them.
//
// A collapse must remove whole blocks and leave at least one byte, and each
// backup but the newest ends on a block, so the backups are limit rounded
// down to a block each, and what is left in the live file is less than one
// backup.
func planRotation(size, limit, bs int64, backups int) rotationPlan {
	if bs > 0 {
		chunk := (size - 1) / bs * bs
		if limit > 0 {
			chunk = min(chunk, limit/bs*bs)
		}
		if chunk > 0 {
			n := (size - 1) / chunk * chunk
			return rotationPlan{method: CollapseRange, n: n, chunk: chunk, start: max(0, n-int64(backups)*chunk)}
		}
	}
	p := rotationPlan{method: CopyTruncate, n: size, chunk: max(limit, 0)}
	if p.chunk > 0 {
		pieces := (size + p.chunk - 1) / p.chunk
		p.start = max(0, pieces-int64(backups)) * p.chunk
	}
	return p
}

// catchUp copies into set what was appended to live since set's last copy,
// up to rounds times while that keeps being more than a page.
func catchUp(live *os.File, set *backupSet, rounds int) error {
	for range rounds {
		fi, err := live.Stat()
		if err != nil {
			return err
		}
		appended := fi.Size() - set.copied
		if appended <= 0 {
			return nil
		}
		if err := set.copyFrom(live, set.copied, appended); err != nil {
			return fmt.Errorf("copy appended bytes: %w", err)
		}
		if appended < 4096 {
			return nil
		}
	}
	return nil
}

// dropHead frees the space of a rotation whose copy could not be made: the
// bytes it would have moved leave the live file without a copy, so the log
// keeps to its limit and the space goes back to the disk (and to the other
// programs' logs). The next rotation copies again.
func dropHead(live *os.File, set *backupSet, p rotationPlan) (Rotation, error) {
	set.discard() // the partial copies hold space too
	if p.method == CollapseRange {
		err := collapse(live, p.n)
		if err == nil {
			return Rotation{Method: CollapseRange, Dropped: p.n}, nil
		}
		if !errors.Is(err, errCollapseUnsupported) {
			return Rotation{}, fmt.Errorf("no space for the backup; drop first %d bytes: %w", p.n, err)
		}
	}
	fi, err := live.Stat()
	if err != nil {
		return Rotation{}, err
	}
	if err := live.Truncate(0); err != nil {
		return Rotation{}, fmt.Errorf("no space for the backup; truncate: %w", err)
	}
	return Rotation{Method: CopyTruncate, Dropped: fi.Size()}, nil
}

// backupSet is the new backups of one rotation, oldest first: temporary files
// until install renames them into place.
type backupSet struct {
	path  string
	chunk int64 // most bytes per file; 0: no limit
	keep  int   // most files kept: older ones are removed as newer ones fill
	files []*os.File
	names []string
	size  int64 // of the newest file
	// copied is the offset in the live file up to which bytes are in the
	// set or were skipped; skipped counts those that were not copied.
	copied, skipped int64
	installed       bool
}

func (b *backupSet) result(m Method) Rotation {
	return Rotation{Method: m, Moved: b.copied - b.skipped, Backups: len(b.files), Expired: b.skipped}
}

// isNoSpace says whether err means the filesystem (or the user's quota) is
// full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// skipTo leaves the bytes before off out of the set.
func (b *backupSet) skipTo(off int64) {
	b.skipped += off - b.copied
	b.copied = off
}

// copyFrom appends the n bytes of live at off (which must be b.copied),
// starting a new file whenever the newest is full.
func (b *backupSet) copyFrom(live *os.File, off, n int64) error {
	for n > 0 {
		if len(b.files) == 0 || b.chunk > 0 && b.size >= b.chunk {
			if err := b.next(); err != nil {
				return err
			}
		}
		m := n
		if b.chunk > 0 {
			m = min(n, b.chunk-b.size)
		}
		dst := b.files[len(b.files)-1]
		if err := copyRange(dst, b.size, live, off, m); err != nil {
			return fmt.Errorf("copy to %s: %w", dst.Name(), err)
		}
		b.size += m
		b.copied += m
		off += m
		n -= m
	}
	return nil
}

// next opens a new temporary file, removing the oldest one once there are
// more than keep: its bytes are older than anything kept.
func (b *backupSet) next() error {
	if len(b.files) == b.keep {
		old := b.files[0]
		b.skipped += fileLen(old)
		old.Close()
		os.Remove(b.names[0])
		b.files, b.names = b.files[1:], b.names[1:]
	}
	name := b.path + ".tmp" + strconv.Itoa(len(b.files)+1)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600) // as the live log: the manager's alone
	if err != nil {
		return err
	}
	b.files, b.names = append(b.files, f), append(b.names, name)
	b.size = 0
	return nil
}

func fileLen(f *os.File) int64 {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (b *backupSet) sync() error {
	for _, f := range b.files {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", f.Name(), err)
		}
	}
	return nil
}

// install shifts the old backups up by the number of new files, deleting
// those that then fall beyond the kept number, and renames the new files
// into <path>.1 (newest) and up.
func (b *backupSet) install() error {
	k := len(b.files)
	for i := b.keep; i >= 1; i-- {
		var err error
		if i+k > b.keep {
			err = os.Remove(backupName(b.path, i))
		} else {
			err = os.Rename(backupName(b.path, i), backupName(b.path, i+k))
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for j, name := range b.names {
		if err := os.Rename(name, backupName(b.path, k-j)); err != nil {
			return err
		}
	}
	b.installed = true
	if err := syncDir(filepath.Dir(b.path)); err != nil {
		return err
	}
	return nil
}

// discard closes the files and, unless installed, removes them.
func (b *backupSet) discard() {
	for i, f := range b.files {
		f.Close()
		if !b.installed {
			os.Remove(b.names[i])
		}
	}
	b.files, b.names = nil, nil
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
