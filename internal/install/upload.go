package install

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// An upload goes through the uploads directory, beside the programs' directories (same filesystem, so moving
// into place is a rename): the ZIP is received into a temporary file, unpacked into a staging directory, and
// a Job moves that into place and builds the venv. What these steps leave there while under way is named
// with one of these prefixes; when the manager dies in the middle, IsLeftover finds it at the next start.
const (
	zipPrefix     = ".upload-"  // a ZIP being received (ZipFile)
	stagingPrefix = ".staging-" // an unpacked upload waiting for its Job (Stage)
	oldPrefix     = ".old-"     // a program's files being replaced (Job with Replace)
	removedPrefix = ".removed-" // a removed program's files being deleted (SetAside)
)

// IsLeftover reports whether name, an entry of the uploads directory, is what an upload or a removal leaves
// while under way: a received ZIP, a staging directory, a directory being replaced or removed. With no
// upload under way, such an entry is what an interrupted one left, and may be deleted.
func IsLeftover(name string) bool {
	for _, prefix := range []string{zipPrefix, stagingPrefix, oldPrefix, removedPrefix} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// ZipFile creates a new temporary file in dir (made if missing, with mode 0711) to receive an uploaded ZIP.
// The caller closes and removes it; its name is a leftover's. Others may pass through dir but not list it:
// a program running as another user must reach its own directory inside, which is its and mode 0700.
func ZipFile(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	return os.CreateTemp(dir, zipPrefix+"*.zip")
}

// SetAside renames the directory dir to a new leftover name beside it and returns that path, which the
// caller deletes. A missing dir is an error that wraps fs.ErrNotExist.
func SetAside(dir string) (string, error) {
	aside := filepath.Join(filepath.Dir(dir), removedPrefix+rand.Text())
	if err := os.Rename(dir, aside); err != nil {
		return "", err
	}
	return aside, nil
}

// Leftovers gives IsLeftover and SetAside as methods, to a caller that takes them as an interface (the
// supervisor, which cannot import this package).
type Leftovers struct{}

// IsLeftover is the function IsLeftover.
func (Leftovers) IsLeftover(name string) bool { return IsLeftover(name) }

// SetAside is the function SetAside.
func (Leftovers) SetAside(dir string) (string, error) { return SetAside(dir) }

// Staged is an unpacked upload in its staging directory, waiting to be moved into place. Exactly one party
// gets it: a Job, which moves it, or the caller's Discard when the upload was refused. Both may try: a
// request can fail after the supervisor took its Job (its client went away while waiting for the answer).
type Staged struct {
	dir     string
	script  string // as checked, cleaned
	files   int
	took    time.Duration // to unpack
	claimed atomic.Bool
}

// Stage unpacks the ZIP zip, of size bytes, into a new staging directory in dir within limits, and checks
// that it holds script. A bad ZIP or script is a *BadArchiveError. On error nothing is left.
func Stage(zip io.ReaderAt, size int64, dir, script string, limits Limits) (*Staged, error) {
	s := &Staged{dir: filepath.Join(dir, stagingPrefix+rand.Text())}
	start := time.Now()
	files, err := Extract(zip, size, s.dir, limits)
	if err != nil {
		return nil, err // Extract leaves nothing behind
	}
	s.files, s.took = len(files), time.Since(start)
	if err := CheckScript(s.dir, script); err != nil {
		s.Discard()
		return nil, err
	}
	s.script = path.Clean(script)
	return s, nil
}

// Script is the program's script as checked: a clean slash path relative to the program's directory.
func (s *Staged) Script() string { return s.script }

// claim reports whether the caller is the one that gets the directory.
func (s *Staged) claim() bool { return s.claimed.CompareAndSwap(false, true) }

// Discard deletes the staging directory unless a Job has it.
func (s *Staged) Discard() {
	if s.claim() {
		os.RemoveAll(s.dir) // nothing to report to: the upload failed already
	}
}

// Job is the install of a staged upload, which the supervisor runs in the background: move the files into
// place, then build the venv with Installer.
type Job struct {
	// Name is the program's, for the log.
	Name string
	// Staged is the upload; the Job deletes its directory whatever the outcome.
	Staged *Staged
	// Dir is the program's directory.
	Dir string
	// Replace says that Dir holds the program's current files, which the new ones replace; they are set aside
	// first, so that a failure can put them back. Otherwise a Dir that exists is a leftover (of a crash, or
	// of files a removal could not delete), and is deleted: no program is given a directory another one uses.
	Replace bool
	// Installer builds the venv.
	Installer Installer
	// Log gets a line with the install's outcome and timings; nil means slog.Default().
	Log *slog.Logger
}

// Install moves the staged files into place and builds the venv, writing its progress to out (the
// program's log). It fails if the upload was discarded first.
func (j *Job) Install(ctx context.Context, out io.Writer) error {
	s := j.Staged
	if !s.claim() {
		return errors.New("the upload was withdrawn before its install began")
	}
	defer os.RemoveAll(s.dir) // gone already unless the move failed; nothing more to report
	fmt.Fprintf(out, "===== pyvisor: upload of %q received: %d files unpacked in %.1fs =====\n", j.Name, s.files, s.took.Seconds())
	start := time.Now()
	place := moveIntoPlace
	if j.Replace {
		place = swapDirs
	}
	if err := place(s.dir, j.Dir, out); err != nil {
		fmt.Fprintf(out, "===== pyvisor: installation FAILED: %v =====\n", err)
		return err
	}
	t, err := j.Installer.Install(ctx, j.Dir, out)
	log := j.Log
	if log == nil {
		log = slog.Default()
	}
	log.Info("upload installed", "program", j.Name, "ok", err == nil, "files", s.files,
		"unpack", s.took, "venv", t.Venv, "pip", t.Pip, "install", time.Since(start))
	return err
}

// moveIntoPlace moves a new upload's files to its directory dir, deleting a dir that exists (a leftover).
func moveIntoPlace(staging, dir string, out io.Writer) error {
	if _, err := os.Lstat(dir); err == nil {
		fmt.Fprintf(out, "----- deleting the leftover directory %s\n", dir)
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("delete the leftover directory %s: %w", dir, err)
		}
	}
	if err := os.Rename(staging, dir); err != nil {
		return fmt.Errorf("move the files into %s: %w", dir, err)
	}
	return nil
}

// swapDirs replaces the files in dir by the staged ones: the old directory is renamed aside first, so that a
// failure can put it back, and deleted last.
func swapDirs(staging, dir string, out io.Writer) error {
	old := filepath.Join(filepath.Dir(dir), oldPrefix+rand.Text())
	err := os.Rename(dir, old)
	aside := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("move the old files of %s aside: %w", dir, err)
	}
	if err := os.Rename(staging, dir); err != nil {
		if aside {
			if back := os.Rename(old, dir); back != nil {
				err = errors.Join(err, fmt.Errorf("and put the old files back from %s: %w", old, back))
			}
		}
		return fmt.Errorf("move the new files into %s: %w", dir, err)
	}
	if aside {
		if err := os.RemoveAll(old); err != nil {
			// The program has its new files; the old ones only take space.
			fmt.Fprintf(out, "----- warning: could not delete the old files in %s: %v\n", old, err)
		}
	}
	fmt.Fprintf(out, "----- the new files replaced the old ones in %s\n", dir)
	return nil
}
