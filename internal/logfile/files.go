package logfile

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrUnknownFile means a log file number names no existing file: a negative
// number, or a backup that was never written or has been dropped.
var ErrUnknownFile = errors.New("no such log file")

// FileInfo describes one file of a log: the live log or one of its backups.
type FileInfo struct {
	// File is 0 for the live log and 1..N for the backups, 1 the newest.
	File      int
	SizeBytes int64
	Modified  time.Time
}

// FilePath is the name of file number file of the log at path: path itself
// for 0, and <path>.<file> for the backups, as Rotate names them.
func FilePath(path string, file int) string {
	if file == 0 {
		return path
	}
	return backupName(path, file)
}

// Files lists the live log (if it exists) and the backups 1, 2, … up to the
// first missing number, with their sizes and modification times.
func Files(path string) ([]FileInfo, error) {
	var out []FileInfo
	for k := 0; ; k++ {
		fi, err := os.Stat(FilePath(path, k))
		if errors.Is(err, os.ErrNotExist) {
			if k == 0 {
				continue // backups can outlive a deleted live log
			}
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list log files of %q: %w", path, err)
		}
		out = append(out, FileInfo{File: k, SizeBytes: fi.Size(), Modified: fi.ModTime()})
	}
}

// OpenFile opens file number file of the log at path for reading, for a
// download. A missing file, the live log included, is ErrUnknownFile.
func OpenFile(path string, file int) (*os.File, error) {
	if file < 0 {
		return nil, fmt.Errorf("open log file %d of %q: %w", file, path, ErrUnknownFile)
	}
	f, err := os.Open(FilePath(path, file))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open log file %d of %q: %w", file, path, ErrUnknownFile)
	}
	if err != nil {
		return nil, fmt.Errorf("open log file %d of %q: %w", file, path, err)
	}
	return f, nil
}

// FilePage is Page of file number file of the log at path. The live log is
// always there (a missing one is an empty page, as with Page); a backup that
// does not exist is ErrUnknownFile.
func (r *Reader) FilePage(path string, file, page, lines int) (Page, error) {
	if file < 0 {
		return Page{}, fmt.Errorf("read log file %d of %q: %w", file, path, ErrUnknownFile)
	}
	name := FilePath(path, file)
	if file > 0 {
		if _, err := os.Stat(name); errors.Is(err, os.ErrNotExist) {
			return Page{}, fmt.Errorf("read log file %d of %q: %w", file, path, ErrUnknownFile)
		}
	}
	return r.Page(name, page, lines)
}
