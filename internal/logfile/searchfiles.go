package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// searchFile is one file of a log, opened once for one Search call.
type searchFile struct {
	f       *os.File
	name    string // FilePath of its number when opened
	info    os.FileInfo
	size    int64 // searched up to here; later appends are not searched
	partial bool  // its last line has no '\n'
	head    uint64
}

// openSearchFiles opens the live log (nil when missing) and its backups. A
// rotation while opening them could pair an old file with a renamed one, so
// the names are checked afterwards to still be the files opened.
func openSearchFiles(path string) ([]*searchFile, error) {
	for range 3 {
		files, err := openSearchFilesOnce(path)
		if err != nil {
			return nil, err
		}
		if sameSearchFiles(path, files) {
			return files, nil
		}
		closeSearchFiles(files)
	}
	return nil, fmt.Errorf("open log files: they kept being rotated: %w", errChangedWhileReading)
}

func openSearchFilesOnce(path string) ([]*searchFile, error) {
	var files []*searchFile
	for k := 0; ; k++ {
		sf, err := openSearchFile(FilePath(path, k))
		if errors.Is(err, os.ErrNotExist) {
			if k == 0 {
				files = append(files, nil)
				continue
			}
			return files, nil
		}
		if err != nil {
			closeSearchFiles(files)
			return nil, err
		}
		files = append(files, sf)
	}
}

func openSearchFile(name string) (*searchFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	sf := &searchFile{f: f, name: name}
	if err := sf.stat(); err != nil {
		f.Close()
		return nil, err
	}
	return sf, nil
}

func (sf *searchFile) stat() error {
	fi, err := sf.f.Stat()
	if err != nil {
		return err
	}
	sf.info, sf.size = fi, fi.Size()
	if sf.size == 0 {
		return nil
	}
	last := make([]byte, 1)
	if err := sf.readAt(last, sf.size-1); err != nil {
		return err
	}
	sf.partial = last[0] != '\n'
	sf.head, _, err = fingerprints(sf.f, sf.size)
	return err
}

func sameSearchFiles(path string, files []*searchFile) bool {
	for k, sf := range files {
		fi, err := os.Stat(FilePath(path, k))
		if sf == nil {
			if !errors.Is(err, os.ErrNotExist) {
				return false
			}
			continue
		}
		if err != nil || !os.SameFile(fi, sf.info) {
			return false
		}
	}
	_, err := os.Stat(FilePath(path, len(files)))
	return errors.Is(err, os.ErrNotExist)
}

func closeSearchFiles(files []*searchFile) {
	for _, sf := range files {
		if sf != nil {
			sf.f.Close()
		}
	}
}

// readAt fills buf from offset off; a short read means the file was cut.
func (sf *searchFile) readAt(buf []byte, off int64) error {
	n, err := sf.f.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = errChangedWhileReading
	}
	return fmt.Errorf("read %s at %d: %w", sf.name, off, err)
}

// checkUnchanged tells whether the live log was rotated since it was
// opened: rotation cuts its start, so it shrinks or its first bytes change.
func (sf *searchFile) checkUnchanged() error {
	fi, err := sf.f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", sf.name, err)
	}
	if fi.Size() < sf.size {
		return fmt.Errorf("%s shrank: %w", sf.name, errChangedWhileReading)
	}
	if sf.size == 0 {
		return nil
	}
	head, _, err := fingerprints(sf.f, sf.size)
	if err != nil {
		return err
	}
	if head != sf.head {
		return fmt.Errorf("%s was rotated: %w", sf.name, errChangedWhileReading)
	}
	return nil
}

// locateCursor finds the file the cursor points into: the one of its number
// or, when rotation has renamed it since, a later one with the same bytes
// before the cursor.
func locateCursor(files []*searchFile, c *cursor) (int, error) {
	for k := c.file; k < len(files); k++ {
		sf := files[k]
		if sf == nil || sf.size < c.end {
			continue
		}
		head, tail, err := fingerprints(sf.f, c.end)
		if err != nil {
			return 0, err
		}
		if head == c.head && tail == c.tail {
			return k, nil
		}
	}
	return 0, fmt.Errorf("file %d: %w", c.file, ErrRotated)
}

// newlinesBefore counts the newlines in sf before offset off with the help
// of the Reader's line index of sf's name, which it brings up to date (so a
// later Page of that file is fast too).
func (r *Reader) newlinesBefore(sf *searchFile, off int64) (int64, error) {
	fi, err := sf.f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", sf.name, err)
	}
	if fi.Size() < off {
		return 0, fmt.Errorf("%s shrank: %w", sf.name, errChangedWhileReading)
	}
	e := r.entry(sf.name)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.ix.update(sf.f, fi); err != nil {
		return 0, err
	}
	return e.ix.newlinesBefore(sf.f, off)
}

// newlinesBefore counts the newlines before offset off (at most scanned):
// those before the nearest mark, plus those read from there to off.
func (ix *index) newlinesBefore(f *os.File, off int64) (int64, error) {
	if off >= ix.lastNL {
		return int64(ix.lines), nil
	}
	m := sort.Search(len(ix.marks), func(i int) bool { return ix.marks[i] > off }) - 1
	n := int64(m * ix.k)
	buf := make([]byte, min(scanBufBytes, off-ix.marks[m]))
	for at := ix.marks[m]; at < off; {
		chunk := buf[:min(int64(len(buf)), off-at)]
		if _, err := f.ReadAt(chunk, at); err != nil {
			return 0, fmt.Errorf("count lines of %s: %w", f.Name(), err)
		}
		n += int64(bytes.Count(chunk, []byte{'\n'}))
		at += int64(len(chunk))
	}
	return n, nil
}
