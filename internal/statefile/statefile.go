// Package statefile owns the format of process_manager.pids.json: which process
// each program runs as and what the user asked for, so that the next manager can
// re-adopt running programs after a restart. It loads the file, sets a corrupt one
// aside, and saves it atomically.
package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pyvisor/pyvisor/internal/atomicfile"
)

// Version is the format version written into new files.
const Version = 1

// Desired is the state the user asked a program to be in.
type Desired string

// The states a user can ask for.
const (
	// DesiredRunning: the program should run; a manager that finds it dead starts it.
	DesiredRunning Desired = "running"
	// DesiredStopped: the user stopped it; it stays stopped across manager restarts.
	DesiredStopped Desired = "stopped"
)

// Entry is what is saved for one program.
type Entry struct {
	// PID is the program's process (its group leader), 0 when none runs.
	PID int `json:"pid"`
	// StartTime identifies that very process (Linux: clock ticks since boot from
	// /proc/<pid>/stat), so a PID reused by another process is never adopted.
	// 0 means unknown: such an entry is never adopted on its PID alone.
	StartTime uint64 `json:"start_time"`
	// Desired is what the user asked for; "" is read as DesiredRunning.
	Desired Desired `json:"desired"`
	// StartedAt is the wall-clock time the process started (informational).
	StartedAt time.Time `json:"started_at,omitzero"`
	// Installing is true while an upload's install step runs; a manager that finds
	// it set knows the install was interrupted.
	Installing bool `json:"installing,omitempty"`
	// InstallFailed is why an upload's last install failed, "" if it did not: a
	// manager that finds it set refuses to start the program until an update or
	// a new upload installs it again.
	InstallFailed string `json:"install_failed,omitempty"`
	// Run is the random value this start gave the process in its environment. It
	// is saved before the process starts, so that a manager killed before it
	// saved the PID finds the process by it; with a PID, the process must carry it.
	Run string `json:"run,omitempty"`
	// Command is a digest of the definition the process was started with, so that
	// a definition changed while no manager ran is noticed.
	Command string `json:"command,omitempty"`
}

// State is the whole file: one entry per program name.
type State struct {
	// Deployment is a random identity of the configuration, given to every program
	// in its environment; "" in files written before it existed.
	Deployment string
	// Path is the absolute path of the state file the Deployment was made for: a
	// file found elsewhere is a copy, or was moved, and names others' processes.
	Path     string
	Programs map[string]Entry
}

// file is the on-disk shape. Programs are keyed by name.
type file struct {
	Version    int              `json:"version"`
	SavedAt    time.Time        `json:"saved_at"`
	Deployment string           `json:"deployment,omitempty"`
	Path       string           `json:"path,omitempty"`
	Programs   map[string]Entry `json:"programs"`
}

// CorruptError reports a state file that could not be read and was renamed to
// SetAside so the manager can start fresh without losing the evidence.
type CorruptError struct {
	Path     string
	SetAside string
	Err      error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s is corrupt (moved to %s): %v", e.Path, e.SetAside, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Load reads the state file. A missing file is an empty state and no error. A file
// that cannot be parsed is renamed to "<path>.corrupt-<unix time>" and reported as
// a *CorruptError together with an empty state, so the caller can log it and go on.
//
// Besides the current format, Load accepts the older flat form {"name": pid, ...}:
// its entries have no start time and are marked with StartTime 0.
func Load(path string) (State, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return State{Programs: map[string]Entry{}}, nil
	}
	if err != nil {
		return State{Programs: map[string]Entry{}}, fmt.Errorf("read state file: %w", err)
	}
	st, perr := parse(data)
	if perr == nil {
		return st, nil
	}
	aside := path + ".corrupt-" + strconv.FormatInt(time.Now().Unix(), 10)
	if err := os.Rename(path, aside); err != nil {
		return State{Programs: map[string]Entry{}}, fmt.Errorf("state file %s is corrupt (%v) and could not be moved aside: %w", path, perr, err)
	}
	return State{Programs: map[string]Entry{}}, &CorruptError{Path: path, SetAside: aside, Err: perr}
}

func parse(data []byte) (State, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return State{}, err
	}
	st := State{Programs: map[string]Entry{}}
	if _, ok := raw["version"]; ok {
		var f file
		if err := json.Unmarshal(data, &f); err != nil {
			return State{}, err
		}
		if f.Version != Version {
			return State{}, fmt.Errorf("unsupported version %d", f.Version)
		}
		st.Deployment, st.Path = f.Deployment, f.Path
		for name, e := range f.Programs {
			if e.PID < 0 {
				return State{}, fmt.Errorf("program %q: negative pid %d", name, e.PID)
			}
			if e.Desired == "" {
				e.Desired = DesiredRunning
			}
			if e.Desired != DesiredRunning && e.Desired != DesiredStopped {
				return State{}, fmt.Errorf("program %q: unknown desired state %q", name, e.Desired)
			}
			st.Programs[name] = e
		}
		return st, nil
	}
	// The older flat form: {"name": pid}.
	for name, v := range raw {
		var pid int
		if err := json.Unmarshal(v, &pid); err != nil || pid < 0 {
			return State{}, fmt.Errorf("program %q: pid is not a number", name)
		}
		st.Programs[name] = Entry{PID: pid, Desired: DesiredRunning}
	}
	return st, nil
}

// Save writes the state atomically: a temporary file in the same directory is
// written and fsynced, renamed over path, and the directory is fsynced, so a crash
// leaves either the old file or the new one, never a mix. The file is 0600: the
// deployment identity in it is what lets a manager tell its programs apart from
// processes that only claim to be them.
func Save(path string, st State) error {
	progs := st.Programs
	if progs == nil {
		progs = map[string]Entry{}
	}
	f := file{Version: Version, SavedAt: time.Now().UTC(), Deployment: st.Deployment, Path: st.Path, Programs: progs}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o600)
}

// ErrLocked is returned by Lock when another manager holds the lock.
var ErrLocked = errors.New("another pyvisor manages this configuration")

// Lock takes an exclusive lock on "<path>.lock" for as long as the manager runs,
// so two managers never adopt and restart the same programs. The lock goes with
// the process, even on SIGKILL. The descriptor is close-on-exec, so programs
// started later do not inherit it.
func Lock(path string) (unlock func(), err error) {
	lockPath := path + ".lock"
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", lockPath, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	return func() { f.Close() }, nil
}
