package supervisor

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/proc"
	"github.com/pyvisor/pyvisor/internal/statefile"
	"github.com/pyvisor/pyvisor/internal/testkit"
)

// editState changes the saved state as edit says, as a manager killed at some
// moment, or someone with access to the file, would leave it.
func (f *fixture) editState(edit func(*statefile.State)) {
	f.t.Helper()
	path := filepath.Join(f.dir, StateFileName)
	st, err := statefile.Load(path)
	if err != nil {
		f.t.Fatal(err)
	}
	edit(&st)
	if err := statefile.Save(path, st); err != nil {
		f.t.Fatal(err)
	}
}

// plant starts argv as the leader of a new session with env added to ours, as a
// local user or a program's child could, and kills its group when the test ends.
func plant(t *testing.T, cred *syscall.Credential, env []string, argv ...string) proc.Identity {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: cred}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	id, err := proc.Identify(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// A state entry must not make the manager adopt, or signal, a process that is
// not the program's: a stranger leading its own session, a process of the
// program that does not lead its group, another program's process.
func TestForgedStateEntriesAreNotAdopted(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: a, script: forker.py}
  - {name: b, script: sleeper.py}
`)
	m := f.start()
	a := m.waitFor(t, "a", "running", inState(Running))
	b := m.waitFor(t, "b", "running", inState(Running))
	m.stop()
	child := 0
	testkit.Eventually(t, "forker.py writes grandchild.pid", func() bool {
		data, _ := os.ReadFile(filepath.Join(f.dir, "grandchild.pid"))
		child, _ = strconv.Atoi(string(data))
		return child != 0
	})
	stranger := plant(t, nil, nil, "sleep", "300")
	childID, err := proc.Identify(child)
	if err != nil {
		t.Fatalf("the program's child %d: %v", child, err)
	}
	aID, _ := proc.Identify(a.PID)
	f.editState(func(st *statefile.State) {
		ea, eb := st.Programs["a"], st.Programs["b"]
		// a names its own child (same run value, not a group leader); b names the stranger,
		// and c, which no longer exists, names a's process.
		st.Programs["a"] = statefile.Entry{PID: child, StartTime: childID.StartTime, Run: ea.Run, Command: ea.Command}
		st.Programs["b"] = statefile.Entry{PID: stranger.PID, StartTime: stranger.StartTime, Run: eb.Run, Command: eb.Command}
		st.Programs["c"] = statefile.Entry{PID: a.PID, StartTime: aID.StartTime, Run: eb.Run}
	})
	m2 := f.start()
	// With cgroups the program's own process, found in its cgroup, may be
	// adopted; never the process the forged entry names.
	real := map[string]int{"a": a.PID, "b": b.PID}
	for name, not := range map[string]int{"a": child, "b": stranger.PID} {
		if st := m2.waitFor(t, name, "running", inState(Running)); st.PID == not || st.Adopted && st.PID != real[name] {
			t.Errorf("program %s = pid %d adopted=%t; the forged pid %d must not be adopted", name, st.PID, st.Adopted, not)
		}
	}
	m2.stop() // waits for any stop it began
	for what, pid := range map[string]int{"stranger": stranger.PID, "program's child": child, "program a": a.PID, "program b": b.PID} {
		if !alive(pid) {
			t.Errorf("%s (pid %d) was signalled", what, pid)
		}
	}
}

// Processes that carry the tags, but not this deployment's identity and the run
// value saved for the program, are neither adopted nor stopped, even when the
// state file has no PID for the program (as after a manager killed right after a
// start).
func TestPlantedTaggedProcessesAreLeftAlone(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: a, script: sleeper.py}
`)
	m := f.start()
	m.waitFor(t, "a", "running", inState(Running))
	m.sup.Stop(t.Context(), "a")
	m.sup.Start(t.Context(), "a")
	m.stop()
	st, _ := statefile.Load(filepath.Join(f.dir, StateFileName))
	run := st.Programs["a"].Run
	statePath := filepath.Join(f.dir, StateFileName)
	argv := []string{"python3", filepath.Join(f.dir, "sleeper.py")}
	planted := map[string]proc.Identity{
		"old tags": plant(t, nil, []string{envProgram + "=a", envStateFile + "=" + statePath}, argv...),
		"deployment guessed wrong": plant(t, nil, []string{envProgram + "=a", envStateFile + "=" + statePath,
			envDeployment + "=0123456789abcdef0123456789abcdef", envRun + "=" + run}, argv...),
		"another run": plant(t, nil, []string{envProgram + "=a", envStateFile + "=" + statePath,
			envDeployment + "=" + st.Deployment, envRun + "=" + randomID()}, argv...),
	}
	// As if the manager had been killed between saving the run value and the PID, and the
	// process it started had died since.
	f.editState(func(st *statefile.State) {
		e := st.Programs["a"]
		syscall.Kill(-e.PID, syscall.SIGKILL)
		e.PID, e.StartTime = 0, 0
		st.Programs["a"] = e
	})
	m2 := f.start()
	a := m2.waitFor(t, "a", "running", inState(Running))
	for what, id := range planted {
		if a.PID == id.PID || a.Adopted {
			t.Errorf("program a = pid %d adopted=%t; the planted process with %s (pid %d) must not be adopted", a.PID, a.Adopted, what, id.PID)
		}
	}
	m2.stop()
	for what, id := range planted {
		if !id.Alive() {
			t.Errorf("the planted process with %s (pid %d) was signalled", what, id.PID)
		}
	}
}

// A manager killed between starting a program and saving its PID left only the
// run value: the next one finds the program by it, and not the child the
// program started in a new session, which carries the same value.
func TestProgramFoundByRunValue(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: a, script: detacher.py}
`)
	m := f.start()
	a := m.waitFor(t, "a", "running", inState(Running))
	child := f.detachedChild()
	m.stop()
	f.editState(func(st *statefile.State) {
		e := st.Programs["a"]
		e.PID, e.StartTime = 0, 0
		st.Programs["a"] = e
	})
	m2 := f.start()
	if a2 := m2.waitFor(t, "a", "running", inState(Running)); a2.PID != a.PID || !a2.Adopted {
		t.Errorf("without a saved PID: a = pid %d adopted=%t, want the running %d adopted (the child is %d)", a2.PID, a2.Adopted, a.PID, child.PID)
	}
	m2.stop()
	if !child.Alive() {
		t.Errorf("the program's new-session child (pid %d) was signalled", child.PID)
	}
}

// A program's child in a new session (start_new_session=True) inherits the
// program's tags. It is not stopped as a second copy when the manager
// restarts, and when the program died while the manager was down it is not
// taken for the program: a new one starts.
func TestNewSessionChildIsNotTheProgram(t *testing.T) {
	f := newFixture(t, `
restart: {delay_seconds: 0}
programs:
  - {name: a, script: detacher.py}
`)
	m := f.start()
	a := m.waitFor(t, "a", "running", inState(Running))
	child := f.detachedChild()
	m.stop()

	m2 := f.start()
	if a2 := m2.waitFor(t, "a", "running", inState(Running)); a2.PID != a.PID || !a2.Adopted {
		t.Errorf("after a manager restart: a = pid %d adopted=%t, want %d adopted", a2.PID, a2.Adopted, a.PID)
	}
	m2.stop()
	if !child.Alive() {
		t.Fatalf("the program's new-session child (pid %d) was stopped at a manager restart", child.PID)
	}

	syscall.Kill(-a.PID, syscall.SIGKILL) // the program dies while no manager runs
	testkit.Eventually(t, "the killed program is gone", func() bool { return !alive(a.PID) })
	m3 := f.start()
	a3 := m3.waitFor(t, "a", "running", inState(Running))
	if a3.PID == child.PID || a3.Adopted {
		t.Errorf("after the program died: a = pid %d adopted=%t; the child %d must not be taken for it", a3.PID, a3.Adopted, child.PID)
	}
	m3.stop()
	if !child.Alive() {
		t.Errorf("the program's new-session child (pid %d) was signalled", child.PID)
	}
}

// detachedChild waits for detacher.py's child and returns its identity.
func (f *fixture) detachedChild() proc.Identity {
	f.t.Helper()
	path := filepath.Join(f.dir, "detached.pid")
	var data []byte
	testkit.Eventually(f.t, "detacher.py writes "+path, func() bool {
		data, _ = os.ReadFile(path)
		return strings.HasSuffix(string(data), "\n")
	})
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	id, err := proc.Identify(pid)
	if err != nil {
		f.t.Fatalf("the detached child %d: %v", pid, err)
	}
	f.t.Cleanup(func() { syscall.Kill(-pid, syscall.SIGKILL) })
	return id
}

// eventually polls cond (a file written, a process gone: nothing to wait on)

// A copy of the configuration directory, state file included, adopts none of
// the original's processes, and its stops reach none of them.
func TestCopiedDeploymentAdoptsNothing(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: a, script: sleeper.py}
`)
	m := f.start()
	a := m.waitFor(t, "a", "running", inState(Running))
	m.stop()

	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", f.dir+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
	cfg, err := config.Load(filepath.Join(dir, "process_manager.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := &fixture{t: t, dir: dir, cfg: cfg}
	t.Cleanup(c.killAll)
	mc := c.start()
	if ac := mc.waitFor(t, "a", "running", inState(Running)); ac.PID == a.PID || ac.Adopted {
		t.Errorf("the copy runs a as pid %d adopted=%t; the original's %d must not be adopted", ac.PID, ac.Adopted, a.PID)
	}
	if _, err := mc.sup.Stop(t.Context(), "a"); err != nil {
		t.Errorf("stop a in the copy: %v", err)
	}
	mc.stop()
	if !alive(a.PID) {
		t.Fatalf("the original's a (pid %d) was stopped by the copy", a.PID)
	}
	m2 := f.start()
	if a2 := m2.waitFor(t, "a", "running", inState(Running)); a2.PID != a.PID || !a2.Adopted {
		t.Errorf("the original after the copy ran: a = pid %d adopted=%t, want %d adopted", a2.PID, a2.Adopted, a.PID)
	}
}

// A program whose definition changed while the manager was down is restarted
// with the new one; one removed meanwhile is stopped.
func TestDefinitionChangedWhileDown(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: a, script: show.py, args: [old]}
  - {name: same, script: sleeper.py}
  - {name: gone, script: sleeper.py}
`)
	m := f.start()
	a := m.waitFor(t, "a", "running", inState(Running))
	same := m.waitFor(t, "same", "running", inState(Running))
	gone := m.waitFor(t, "gone", "running", inState(Running))
	m.stop()
	f.cfg = f.load(`
programs:
  - {name: a, script: show.py, args: [new]}
  - {name: same, script: sleeper.py}
`)
	m2 := f.start()
	a2 := m2.waitFor(t, "a", "restarted", func(s Status) bool { return s.State == Running && s.PID != a.PID })
	if a2.Adopted || alive(a.PID) {
		t.Errorf("a after its args changed: pid %d adopted=%t, old pid %d alive=%t; want a new process and the old one gone", a2.PID, a2.Adopted, a.PID, alive(a.PID))
	}
	if s2, _ := m2.sup.Status("same"); s2.PID != same.PID || !s2.Adopted {
		t.Errorf("unchanged program: pid %d adopted=%t, want %d adopted", s2.PID, s2.Adopted, same.PID)
	}
	m2.stop() // waits for the stop of the removed program
	if alive(gone.PID) {
		t.Errorf("program removed while the manager was down (pid %d) still runs", gone.PID)
	}
	f.waitLog(t, "a", "args=new")
}

// waitLog waits until the program's log holds want.
func (f *fixture) waitLog(t *testing.T, name, want string) {
	t.Helper()
	testkit.Eventually(t, "the log of "+name+" says "+want, func() bool { return strings.Contains(f.readLog(name), want) })
}

// A process that carries every tag but runs as another user than the
// program's (here: nobody, for a program without a user setting, run by root)
// is not adopted.
func TestProcessOfAnotherUserIsNotAdopted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("starting a process as another user needs root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("user nobody is needed: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	f := newFixture(t, `
programs:
  - {name: a, script: sleeper.py}
`)
	m := f.start()
	a := m.waitFor(t, "a", "running", inState(Running))
	m.stop()
	syscall.Kill(-a.PID, syscall.SIGKILL)
	st, _ := statefile.Load(filepath.Join(f.dir, StateFileName))
	e := st.Programs["a"]
	other := plant(t, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, []string{envProgram + "=a",
		envStateFile + "=" + filepath.Join(f.dir, StateFileName), envDeployment + "=" + st.Deployment, envRun + "=" + e.Run},
		"sleep", "300")
	f.editState(func(st *statefile.State) {
		e.PID, e.StartTime = other.PID, other.StartTime
		st.Programs["a"] = e
	})
	m2 := f.start()
	if a2 := m2.waitFor(t, "a", "running", inState(Running)); a2.PID == other.PID || a2.Adopted {
		t.Errorf("a = pid %d adopted=%t; nobody's process %d must not be adopted", a2.PID, a2.Adopted, other.PID)
	}
	m2.stop()
	if !other.Alive() {
		t.Errorf("nobody's process (pid %d) was signalled", other.PID)
	}
}
