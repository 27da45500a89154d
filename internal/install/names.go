package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"unicode/utf8"
)

// MaxNameLen is the longest program name, in bytes, that ValidateName accepts.
const MaxNameLen = 64

// ValidateName checks a program name given for an upload: 1 to MaxNameLen bytes of valid UTF-8, no '/' or
// '\', not starting with '.', no control characters, not only spaces. A leading '.' is refused because the
// directory of such a name would be hidden, and could take a leftover's name (see IsLeftover) that the sweep
// at start-up deletes. The error says what is wrong, for the
// person who typed the name. Two valid names can still share a directory (see DirName).
func ValidateName(name string) error {
	switch {
	case name == "":
		return errors.New("name is empty")
	case len(name) > MaxNameLen:
		return fmt.Errorf("name is %d bytes long, more than %d", len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return errors.New("name is not valid UTF-8")
	case strings.ContainsFunc(name, isControl):
		return fmt.Errorf("name %q contains a control character", name)
	case strings.Contains(name, "/"):
		return fmt.Errorf(`name %q contains "/"`, name)
	case strings.Contains(name, `\`):
		return fmt.Errorf(`name %q contains "\"`, name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf(`name %q starts with "."; start it with a letter or digit`, name)
	case strings.TrimSpace(name) == "":
		return errors.New("name is only spaces")
	}
	return nil
}

// ValidateGroup checks a group given for an upload, as the configuration loader will read it back: at most
// MaxNameLen bytes of valid UTF-8 without control characters; "" means none.
func ValidateGroup(group string) error {
	switch {
	case len(group) > MaxNameLen:
		return fmt.Errorf("group is %d bytes long, more than %d", len(group), MaxNameLen)
	case !utf8.ValidString(group):
		return errors.New("group is not valid UTF-8")
	case strings.ContainsFunc(group, isControl):
		return fmt.Errorf("group %q contains a control character", group)
	}
	return nil
}

// DirName returns the directory name for a program: spaces become '_' (as the tool pyvisor replaces did), and
// so do the characters some filesystems refuse (/ \ : * ? " < > |) and control characters. The result is
// never empty, "." or "..". Different names can map to the same directory ("a b" and "a_b"), so a caller
// that keeps programs apart by name must also check the directory.
func DirName(name string) string {
	d := strings.Map(func(r rune) rune {
		if r == ' ' || isControl(r) || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, name)
	if d == "" || d == "." || d == ".." {
		return strings.Repeat("_", max(len(d), 1))
	}
	return d
}

// CheckScript verifies that script, a slash path relative to dir without "..", names a regular file inside
// dir (symlinks are followed only within dir). A bad or missing script is a *BadArchiveError naming it: the
// script was to come from the uploaded ZIP. Other errors (dir unreadable) are ordinary errors naming dir.
func CheckScript(dir, script string) error {
	if script == "" {
		return &BadArchiveError{Msg: "no script given"}
	}
	elems, why := splitEntryName(script)
	switch {
	case why != "":
	case len(elems) == 0:
		why = "has no file name"
	case strings.HasPrefix(script, "~"):
		// The configuration would take it for a path in a home directory.
		why = `starts with "~"; give the script's path inside the ZIP`
	}
	if why != "" {
		return &BadArchiveError{Entry: script, Msg: "not usable as the script: " + why}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("check script %q: %w", script, err)
	}
	defer root.Close()
	fi, err := root.Stat(strings.Join(elems, "/"))
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return &BadArchiveError{Entry: script, Msg: "the script is not in the ZIP"}
	case err != nil:
		return fmt.Errorf("check script %q in %q: %w", script, dir, err)
	case fi.IsDir():
		return &BadArchiveError{Entry: script, Msg: "the script is a directory, not a file"}
	case !fi.Mode().IsRegular():
		return &BadArchiveError{Entry: script, Msg: "the script is not a regular file"}
	}
	return nil
}
