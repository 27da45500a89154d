// Package logfile owns per-program log files: it opens them for a child in
// append mode, rotates them while the child keeps writing, reads pages of
// lines from them quickly, and follows the lines appended to them.
//
// The child writes straight into its log file; the manager is not in the
// output path and may even be down. Everything here therefore works on a file
// that another process is appending to at any moment: rotation keeps the
// file's inode (copytruncate style), and readers detect that a file was
// rotated underneath them instead of being told.
package logfile

import (
	"fmt"
	"os"
	"path/filepath"
)

const (
	// maxLineBytes caps a single line returned by Page and Follow, so
	// that a binary blob without newlines cannot blow up memory.
	maxLineBytes = 64 << 10

	// truncatedMarker is appended to a line cut at maxLineBytes.
	truncatedMarker = " …[truncated]"

	// fingerprintBytes is how many bytes a reader remembers at the start of a
	// file and just before the position it has read up to. A rotation moves
	// other bytes under those positions, which is how readers notice a
	// rotation that happened while they were not looking even when the file
	// has meanwhile grown past its old size.
	fingerprintBytes = 32
)

// OpenAppend opens (creating it with mode 0600, and its directory with mode
// 0700, if needed) the log file at path for a child's stdout or stderr: a log
// may hold what a program printed of its secrets, and the child writes to the
// descriptor it inherits, so not even a program running as another user needs
// to open it. The
// file is opened write-only with O_APPEND, so every write of the child lands
// at the current end even after the file was rotated underneath it.
func OpenAppend(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open log %q: create directory: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log %q: %w", path, err)
	}
	return f, nil
}

// trimLine turns one line as read from the file (without its '\n') into the
// string handed out: the '\r' of a CRLF ending is dropped and the line is cut
// at maxLineBytes. hadNewline tells whether the line ended with '\n', since a
// lone trailing '\r' on an unfinished line is not a CRLF.
func trimLine(b []byte, hadNewline bool, truncated bool) string {
	if hadNewline && !truncated && len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	if len(b) > maxLineBytes {
		b, truncated = b[:maxLineBytes], true
	}
	if truncated {
		return string(b) + truncatedMarker
	}
	return string(b)
}
