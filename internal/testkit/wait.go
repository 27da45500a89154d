package testkit

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/statefile"
)

// waitLimit is how long the waits below wait before they fail the test: long
// enough for a loaded machine, short enough for a stuck test to say so.
const waitLimit = 20 * time.Second

// until calls check until it returns true: at once, on every notice on changed
// (nil for none), and every 50 ms in any case, since not every change gives
// notice. After waitLimit it fails t with what and the last detail of check.
func until(t testing.TB, changed <-chan struct{}, what string, check func() (ok bool, detail string)) {
	t.Helper()
	deadline := time.After(waitLimit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, detail := check()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s; %s", waitLimit, what, detail)
		}
	}
}

// StatusSource is what WaitStatus watches: the supervisor's notice of changes
// and a program's status. It is generic so that testkit, which the
// supervisor's own tests import, imports no supervisor.
type StatusSource[S any] interface {
	Subscribe() (changed <-chan struct{}, cancel func())
	Status(name string) (S, error)
}

// WaitStatus waits until the status of program name satisfies cond (what
// describes cond for the failure message) and returns that status.
func WaitStatus[S any](t testing.TB, src StatusSource[S], name, what string, cond func(S) bool) S {
	t.Helper()
	changed, cancel := src.Subscribe()
	defer cancel()
	var st S
	until(t, changed, fmt.Sprintf("program %q: %s", name, what), func() (bool, string) {
		var err error
		if st, err = src.Status(name); err != nil {
			t.Fatalf("Status(%q): %v", name, err)
		}
		return cond(st), fmt.Sprintf("last status %+v", st)
	})
	return st
}

// WaitDesired waits until the state file at path says want for program name;
// for a running program, with its PID: the last of the writes a start makes
// (the run value is saved before the process exists), so none is still to
// come. A failure adds the text of each of logs (e.g. the manager's log).
func WaitDesired(t testing.TB, path, name string, want statefile.Desired, logs ...fmt.Stringer) {
	t.Helper()
	// The file gives no notice of a write: until polls it.
	until(t, nil, fmt.Sprintf("the state file to say %q desired %s", name, want), func() (bool, string) {
		st, err := statefile.Load(path)
		e := st.Programs[name]
		if err == nil && e.Desired == want && (want != statefile.DesiredRunning || e.PID != 0) {
			return true, ""
		}
		var b strings.Builder
		fmt.Fprintf(&b, "it says %+v (%v)", e, err)
		for _, l := range logs {
			fmt.Fprintf(&b, "\n%s", l)
		}
		return false, b.String()
	})
}

// Eventually waits until cond holds, polling it: for what gives no notice of
// a change (a file written, a process gone, output into a buffer).
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	until(t, nil, what, func() (bool, string) { return cond(), "it does not hold" })
}
