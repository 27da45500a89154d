// Package install turns an uploaded ZIP into an installed program directory: the received ZIP, safe
// extraction into a staging directory, a move into place (or a swap with the program's current files), a
// virtual environment of its own and pip install of its requirements under a time limit, with all output
// written to the io.Writer it is handed. It also names what these steps, and the removal of a program's
// directory, leave behind while under way (IsLeftover).
//
// It owns no state between calls and knows nothing of the supervisor or of HTTP: the caller picks the
// directories, hands a Job's Install to whoever runs it, and maps BadArchiveError to a client error.
package install

import "fmt"

// Default limits of Extract, used where a Limits field is zero (or negative).
const (
	DefaultMaxEntries      = 10_000
	DefaultMaxUncompressed = 500 << 20
)

// Limits bounds what Extract accepts from one ZIP.
type Limits struct {
	// MaxEntries is the most entries (files, directories and junk such as __MACOSX) the ZIP may hold; 0 means
	// DefaultMaxEntries (10,000).
	MaxEntries int
	// MaxUncompressed is the most bytes all files may hold together once decompressed; 0 means
	// DefaultMaxUncompressed (500 MiB).
	MaxUncompressed int64
}

// withDefaults returns l with its zero (or negative) fields replaced by the defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxUncompressed <= 0 {
		l.MaxUncompressed = DefaultMaxUncompressed
	}
	return l
}

// BadArchiveError is a problem with the uploaded file itself, as opposed to a problem of the server such as a
// full disk; the HTTP layer maps it to 400 Bad Request. CheckScript returns it too, for a script that the ZIP
// does not contain.
type BadArchiveError struct {
	// Entry is the name of the offending entry exactly as the ZIP spells it (or the script for CheckScript);
	// "" when the problem concerns the whole file, such as "not a ZIP file".
	Entry string
	// Msg says what is wrong, in words meant for the person who uploaded the file.
	Msg string
}

// Error formats the problem as `bad ZIP: entry "NAME": MSG`, or `bad ZIP: MSG` without an entry.
func (e *BadArchiveError) Error() string {
	if e.Entry == "" {
		return "bad ZIP: " + e.Msg
	}
	return fmt.Sprintf("bad ZIP: entry %q: %s", e.Entry, e.Msg)
}

// badEntry returns a *BadArchiveError for entry with a formatted message.
func badEntry(entry, format string, args ...any) error {
	return &BadArchiveError{Entry: entry, Msg: fmt.Sprintf(format, args...)}
}
