package install

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
)

// Extract unpacks the ZIP read from r (size bytes) into dest, which must not exist yet; its parent must. dest
// is created with mode 0700. When all entries sit in one top-level folder, that folder becomes dest (the ZIP is
// flattened); a __MACOSX folder is skipped and does not count for that decision.
//
// A problem with the ZIP itself is a *BadArchiveError naming the entry: not a ZIP (or one cut off mid-upload);
// no regular files; an entry with an absolute path, a ".." element, a backslash, a drive letter ("C:"), a
// control character or invalid UTF-8 in its name; a symlink, device, FIFO or other non-regular entry; an
// encrypted entry; two entries that would land on the same path; more than lim.MaxEntries entries; more than
// lim.MaxUncompressed bytes in total. Sizes are counted while decompressing, and no file may grow past the
// size its header declares, so a ZIP that lies in its headers (a zip bomb) is stopped after at most the limit.
// After any error dest does not exist, unless it existed before (then the error wraps fs.ErrExist and dest is
// left alone). Errors of the server (a full disk) are ordinary errors naming dest.
//
// Every write goes through an os.Root for dest, so nothing lands outside dest even if a check above had a
// hole. Files get mode 0600, or 0700 if the entry has any execute bit: only their owner (the manager, or the install's
// user once the install gives them to it) may read them, since an upload may ship secrets such as a .env. Extract returns the regular files
// written, as slash paths relative to dest, in ZIP order.
func Extract(r io.ReaderAt, size int64, dest string, lim Limits) ([]string, error) {
	lim = lim.withDefaults()
	zr, err := zip.NewReader(r, size)
	// ErrInsecurePath (GODEBUG zipinsecurepath=0) comes with a usable reader; planEntries refuses such names
	// itself, with a message naming the entry.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, &BadArchiveError{Msg: fmt.Sprintf("not a ZIP file, or an incomplete one (%v)", err)}
	}
	entries, err := planEntries(zr.File, lim)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(dest, 0o700); err != nil {
		return nil, fmt.Errorf("extract into %q: %w", dest, err)
	}
	written, err := writeEntries(dest, entries, lim.MaxUncompressed)
	if err != nil {
		if rmErr := os.RemoveAll(dest); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("extract into %q: clean up: %w", dest, rmErr))
		}
		return nil, err
	}
	return written, nil
}

// writeEntries creates the planned entries inside dest, which exists and is empty. budget is the most bytes
// all files may hold together.
func writeEntries(dest string, entries []entry, budget int64) ([]string, error) {
	root, err := os.OpenRoot(dest)
	if err != nil {
		return nil, fmt.Errorf("extract into %q: %w", dest, err)
	}
	defer root.Close()
	// Chmod defeats the umask: the modes are part of what Extract promises.
	if err := root.Chmod(".", 0o700); err != nil {
		return nil, fmt.Errorf("extract into %q: %w", dest, err)
	}
	made := map[string]bool{".": true}
	buf := make([]byte, 64<<10)
	var written []string
	for _, e := range entries {
		dir := e.path
		if !e.dir {
			dir = path.Dir(e.path)
		}
		if err := mkdirs(root, dir, made); err != nil {
			return nil, classifyWriteErr(dest, e, err)
		}
		if e.dir {
			continue
		}
		n, err := writeFile(root, e, min(clampInt64(e.size), budget), buf)
		if err != nil {
			return nil, classifyWriteErr(dest, e, err)
		}
		budget -= n
		written = append(written, e.path)
	}
	return written, nil
}

// mkdirs creates dir and its missing parents inside root with mode 0700, remembering in made what exists.
func mkdirs(root *os.Root, dir string, made map[string]bool) error {
	if made[dir] {
		return nil
	}
	if err := mkdirs(root, path.Dir(dir), made); err != nil {
		return err
	}
	// An existing directory here can only come from a case-insensitive filesystem merging "A" and "a" (the
	// plan refused exact duplicates): harmless. An existing file is a collision, which Chmod cannot hide
	// because Mkdir's error is returned first.
	if err := root.Mkdir(dir, 0o700); err != nil {
		if fi, statErr := root.Lstat(dir); statErr != nil || !fi.IsDir() {
			return err
		}
	} else if err := root.Chmod(dir, 0o700); err != nil {
		return err
	}
	made[dir] = true
	return nil
}

// writeFile decompresses e into a new file inside root, refusing to write more than limit bytes, and returns
// how many bytes it wrote. Problems of the ZIP data come back as *BadArchiveError.
func writeFile(root *os.Root, e entry, limit int64, buf []byte) (int64, error) {
	rc, err := e.f.Open()
	if err != nil {
		return 0, badEntry(e.f.Name, "cannot be read: %v", err)
	}
	defer rc.Close()
	// O_EXCL: a second entry that reaches an existing file (names equal on a case-insensitive filesystem)
	// must fail, not overwrite.
	out, err := root.OpenFile(e.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, e.mode)
	if err != nil {
		return 0, err
	}
	n, err := copyLimited(out, rc, e, limit, buf)
	if err == nil {
		err = out.Chmod(e.mode) // the umask may have taken bits away
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// copyLimited copies the entry's data from src to dst until EOF, failing as soon as more than limit bytes
// come out of the decompressor: the header's size is not trusted.
func copyLimited(dst io.Writer, src io.Reader, e entry, limit int64, buf []byte) (int64, error) {
	var n int64
	for {
		k, rerr := src.Read(buf)
		if k > 0 {
			n += int64(k)
			if n > limit {
				if uint64(n) > e.size {
					return n, badEntry(e.f.Name, "holds more data than its header declares (%d bytes; a zip bomb?)", e.size)
				}
				return n, badEntry(e.f.Name, "brings the uncompressed size over the limit (a zip bomb?)")
			}
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return n, werr
			}
		}
		switch {
		case rerr == io.EOF:
			return n, nil
		case errors.Is(rerr, zip.ErrFormat):
			return n, badEntry(e.f.Name, "data does not match its header (a corrupt ZIP or a zip bomb)")
		case errors.Is(rerr, zip.ErrChecksum):
			return n, badEntry(e.f.Name, "checksum mismatch: the data is corrupt")
		case errors.Is(rerr, io.ErrUnexpectedEOF):
			return n, badEntry(e.f.Name, "data ends early (a corrupt or cut-off ZIP)")
		case rerr != nil:
			return n, badEntry(e.f.Name, "cannot be decompressed: %v", rerr)
		}
	}
}

// classifyWriteErr turns an error from writing entry e into a *BadArchiveError when the ZIP is to blame (two
// entries that collide on this filesystem, a name it cannot hold) and into an error naming dest otherwise.
func classifyWriteErr(dest string, e entry, err error) error {
	var bad *BadArchiveError
	switch {
	case errors.As(err, &bad):
		return err
	case errors.Is(err, fs.ErrExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR):
		return badEntry(e.f.Name, "collides with another entry on this filesystem (names that differ only in case?)")
	case errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.EILSEQ):
		return badEntry(e.f.Name, "has a name this filesystem cannot hold")
	default:
		return fmt.Errorf("extract into %q: write %q: %w", dest, e.path, err)
	}
}
