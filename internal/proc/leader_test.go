package proc

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"testing"
)

// startNonLeader starts sleep in the test's own session and process group, so that it leads neither.
func startNonLeader(t *testing.T) Identity {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	id, err := Identify(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestRefusesToSignalNonLeaders: a Process for PID 1 (kill(-1) reaches every process we may signal) or for a
// process that leads no group of its own is never signalled, whatever path asks. Signal 0 keeps a failure of
// this test harmless.
func TestRefusesToSignalNonLeaders(t *testing.T) {
	t.Parallel()
	init, err := Identify(1)
	if err != nil {
		t.Fatalf("Identify(1) = %v", err)
	}
	nonLeader := startNonLeader(t)
	for _, tc := range []struct {
		name string
		id   Identity
	}{
		{"pid 1", init},
		{"pid 0", Identity{}},
		{"pid -1", Identity{PID: -1}},
		{"not a group leader", nonLeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProcess(tc.id, true)
			if err := p.Signal(0); !errors.Is(err, ErrNotLeader) {
				t.Errorf("Signal(0) for %+v = %v, want ErrNotLeader", tc.id, err)
			}
			if p.GroupAlive() {
				t.Errorf("GroupAlive() for %+v = true, want false", tc.id)
			}
			if tc.id.PID > 0 {
				if a, err := Adopt(tc.id); !errors.Is(err, ErrNotLeader) {
					t.Errorf("Adopt(%+v) = %v, %v; want ErrNotLeader", tc.id, a, err)
				}
			}
		})
	}
	if !nonLeader.Alive() {
		t.Errorf("the non-leader %+v died", nonLeader)
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	p, out := startHelper(t, "hang", "PYVISOR_TEST_TAG=x", "OTHER=y")
	out.line(t)
	got, err := Describe(p.Identity(), "PYVISOR_TEST_")
	if err != nil {
		t.Fatalf("Describe(%+v) = %v", p.Identity(), err)
	}
	exe, _ := os.Executable()
	if !got.Leader || got.UID != os.Getuid() || !slices.Equal(got.Argv, []string{exe}) || len(got.Env) != 1 || got.Env["PYVISOR_TEST_TAG"] != "x" {
		t.Errorf("Describe(%+v) = %+v; want a leader of uid %d, argv [%s], env PYVISOR_TEST_TAG=x only", p.Identity(), got, os.Getuid(), exe)
	}
	if got, err := Describe(startNonLeader(t), ""); err != nil || got.Leader {
		t.Errorf("Describe of a process in our group = %+v, %v; want Leader false", got, err)
	}
	stale := Identity{PID: p.Identity().PID, StartTime: p.Identity().StartTime + 1}
	if _, err := Describe(stale, ""); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Describe(%+v) with a wrong start time = %v, want ErrNotRunning", stale, err)
	}
}
