package supervisor

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/proc"
	"github.com/pyvisor/pyvisor/internal/statefile"
)

func TestProgramsSurviveManagerRestart(t *testing.T) {
	f := newFixture(t, `
restart: {delay_seconds: 0}
programs:
  - {name: a, script: sleeper.py}
  - {name: b, script: sleeper.py}
  - {name: off, script: sleeper.py}
`)
	m := f.start()
	a := m.waitFor(t, "a", "running", inState(Running))
	m.waitFor(t, "b", "running", inState(Running))
	m.waitFor(t, "off", "running", inState(Running))
	if _, err := m.sup.Stop(t.Context(), "off"); err != nil {
		t.Fatal(err)
	}
	m.stop()
	if !alive(a.PID) {
		t.Fatalf("program a (pid %d) died with the manager", a.PID)
	}

	m2 := f.start()
	a2 := m2.waitFor(t, "a", "running", inState(Running))
	if a2.PID != a.PID || !a2.Adopted {
		t.Errorf("after manager restart: a = pid %d adopted=%t, want pid %d adopted", a2.PID, a2.Adopted, a.PID)
	}
	if d := a2.StartedAt.Sub(a.StartedAt); d > time.Second || d < -time.Second {
		t.Errorf("adopted start time %s, want about %s", a2.StartedAt, a.StartedAt)
	}
	if st, _ := m2.sup.Status("off"); st.State != Stopped {
		t.Errorf("program stopped by the user is %s after manager restart, want stopped", st.State)
	}
	// The adopted process's exit is noticed at once and the restart policy applies.
	syscall.Kill(a.PID, syscall.SIGKILL)
	a3 := m2.waitFor(t, "a", "restarted", func(s Status) bool { return s.State == Running && s.PID != a.PID })
	if a3.LastExit == nil || a3.LastExit.Known {
		t.Errorf("adopted program's exit = %v, want unknown", a3.LastExit)
	}
	// An adopted process can be stopped.
	b, _ := m2.sup.Status("b")
	if _, err := m2.sup.Stop(t.Context(), "b"); err != nil || alive(b.PID) {
		t.Errorf("Stop of adopted b: err=%v alive=%t", err, alive(b.PID))
	}
}

func TestReusedPIDIsNotAdopted(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: a, script: sleeper.py}
`)
	// A stranger holds the PID the state file names, with another start time.
	stranger := exec.Command("sleep", "60")
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stranger.Process.Kill(); stranger.Wait() })
	id, err := proc.Identify(stranger.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	err = statefile.Save(filepath.Join(f.dir, StateFileName), statefile.State{Programs: map[string]statefile.Entry{
		"a": {PID: id.PID, StartTime: id.StartTime + 1, Desired: statefile.DesiredRunning},
	}})
	if err != nil {
		t.Fatal(err)
	}
	m := f.start()
	st := m.waitFor(t, "a", "running", inState(Running))
	if st.PID == id.PID || st.Adopted {
		t.Errorf("program a = pid %d adopted=%t; the stranger %d must not be adopted", st.PID, st.Adopted, id.PID)
	}
	m.stop()
	if !alive(id.PID) {
		t.Errorf("stranger pid %d was signalled", id.PID)
	}
}

func TestCorruptStateFileIsSetAside(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: a, script: sleeper.py}
`)
	path := filepath.Join(f.dir, StateFileName)
	if err := os.WriteFile(path, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := f.start()
	m.waitFor(t, "a", "running", inState(Running))
	matches, _ := filepath.Glob(path + ".corrupt-*")
	if len(matches) != 1 {
		t.Errorf("corrupt state file set aside as %v, want one file", matches)
	}
}
