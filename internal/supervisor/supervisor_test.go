package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/proc"
	"github.com/pyvisor/pyvisor/internal/testkit"
)

// Python programs used by the tests, written into each test's directory.
var scripts = map[string]string{
	"sleeper.py": `import time
print("sleeper up", flush=True)
while True:
    time.sleep(3600)
`,
	"crash.py": `import sys
print("crashing", flush=True)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
`,
	// Crashes at once on its first two runs, then runs for 0.8 s before crashing.
	"flaky.py": `import os, sys, time
path = "runs.txt"
n = int(open(path).read()) if os.path.exists(path) else 0
open(path, "w").write(str(n + 1))
if n >= 2:
    time.sleep(0.8)
sys.exit(1)
`,
	"show.py": `import os, sys, time
print("args=" + "|".join(sys.argv[1:]))
print("cwd=" + os.getcwd())
print("GREETING=" + os.environ.get("GREETING", ""))
print("PROGRAM=" + os.environ.get("PYVISOR_PROGRAM", ""))
sys.stdout.flush()
time.sleep(3600)
`,
	// Starts a grandchild in its own process group and records its PID.
	"forker.py": `import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
open("grandchild.pid", "w").write(str(child.pid))
print("forked", child.pid, flush=True)
time.sleep(3600)
`,
	// Starts a child in a new session, as start_new_session=True does, and records its PID.
	"detacher.py": `import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"], start_new_session=True)
open("detached.pid", "w").write(str(child.pid) + "\n")
print("detached", child.pid, flush=True)
time.sleep(3600)
`,
	"polite.py": `import signal, sys, time
def bye(*a):
    print("got", signal.Signals(a[0]).name, flush=True)
    sys.exit(0)
signal.signal(signal.SIGINT, bye)
signal.signal(signal.SIGTERM, bye)
print("up", flush=True)
while True:
    time.sleep(3600)
`,
	"stubborn.py": `import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring TERM", flush=True)
while True:
    time.sleep(3600)
`,
}

// fixture is a directory with a config file and the test scripts.
type fixture struct {
	t   *testing.T
	dir string
	cfg *config.Config
}

func newFixture(t *testing.T, yaml string) *fixture {
	t.Helper()
	return newFixtureIn(t, t.TempDir(), yaml)
}

// newFixtureIn is newFixture in the directory dir, which exists.
func newFixtureIn(t *testing.T, dir, yaml string) *fixture {
	t.Helper()
	for name, src := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "process_manager.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config.Load:\n%s\n%v", yaml, err)
	}
	f := &fixture{t: t, dir: dir, cfg: cfg}
	t.Cleanup(f.killAll)
	return f
}

// killAll kills every process a test left behind, found by the tag pyvisor puts
// in each program's environment.
func (f *fixture) killAll() {
	tagged, _ := proc.FindTagged(envProgram, "PYVISOR_")
	for _, tp := range tagged {
		if strings.HasPrefix(tp.Env[envStateFile], f.dir) {
			syscall.Kill(-tp.PID, syscall.SIGKILL)
		}
	}
	removeTestCgroups(filepath.Join(f.dir, StateFileName))
}

// manager is a running supervisor; stop ends Run and waits for it (again and again).
type manager struct {
	sup    *Supervisor
	cancel context.CancelFunc
	done   chan struct{}
}

func (f *fixture) start() *manager {
	f.t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	sup := New(f.cfg, Options{Logger: logger, UploadFiles: testUploadFiles{}})
	ctx, cancel := context.WithCancel(context.Background())
	m := &manager{sup: sup, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		if err := sup.Run(ctx); err != nil {
			f.t.Errorf("Run: %v", err)
		}
	}()
	f.t.Cleanup(m.stop)
	return m
}

func (m *manager) stop() {
	m.cancel()
	<-m.done
}

// waitFor waits until the program's status satisfies cond.
func (m *manager) waitFor(t *testing.T, name, what string, cond func(Status) bool) Status {
	t.Helper()
	return testkit.WaitStatus(t, m.sup, name, what, cond)
}

func inState(s State) func(Status) bool { return func(st Status) bool { return st.State == s } }

func (f *fixture) readLog(name string) string {
	data, _ := os.ReadFile(filepath.Join(f.dir, "log", config.LogFileName(name)))
	return string(data)
}

// alive reports whether pid is a live process. A zombie is not: it runs nothing
// and lingers only until its parent (for orphans, init, which may be slow about
// it) collects it.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

func TestCrashLoopBecomesBroken(t *testing.T) {
	f := newFixture(t, `
restart: {delay_seconds: 0, max_consecutive_failures: 3}
programs:
  - {name: crasher, script: crash.py, args: "7"}
`)
	m := f.start()
	st := m.waitFor(t, "crasher", "broken", inState(Broken))
	if st.ConsecutiveFailures != 3 || st.RestartCount != 2 {
		t.Errorf("broken status: failures=%d restarts=%d, want 3 and 2", st.ConsecutiveFailures, st.RestartCount)
	}
	if st.LastExit == nil || st.LastExit.Code != 7 {
		t.Errorf("LastExit = %v, want exit status 7", st.LastExit)
	}
	if st.Error == "" {
		t.Errorf("broken program has no error message")
	}
	if n := strings.Count(f.readLog("crasher"), "crashing"); n != 3 {
		t.Errorf("log shows %d runs, want 3:\n%s", n, f.readLog("crasher"))
	}
	// A manual start clears broken and the count.
	st, err := m.sup.Start(t.Context(), "crasher")
	if err != nil {
		t.Fatalf("Start of a broken program: %v", err)
	}
	if st.State != Running || st.ConsecutiveFailures != 0 {
		t.Errorf("after Start: state %s, %d failures; want running with the count cleared", st.State, st.ConsecutiveFailures)
	}
	m.waitFor(t, "crasher", "broken again", inState(Broken))
}

func TestFailureCountResetsAfterStableRun(t *testing.T) {
	f := newFixture(t, `
restart: {delay_seconds: 0, max_consecutive_failures: 3, failure_reset_seconds: 0.5}
programs:
  - {name: flaky, script: flaky.py}
`)
	m := f.start()
	// Runs 1 and 2 crash at once (count 1, 2); run 3 lasts 0.8 s > 0.5 s, so its
	// exit starts the count afresh at 1 instead of reaching 3 (broken).
	st := m.waitFor(t, "flaky", "the third run to end", func(st Status) bool { return st.RestartCount >= 3 })
	if st.State == Broken || st.ConsecutiveFailures != 1 {
		t.Errorf("after a stable run: state=%s failures=%d, want not broken with 1 failure", st.State, st.ConsecutiveFailures)
	}
}

func TestStopAndStart(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: sleeper, script: sleeper.py}
`)
	m := f.start()
	st := m.waitFor(t, "sleeper", "running", inState(Running))
	pid := st.PID
	st, err := m.sup.Stop(t.Context(), "sleeper")
	if err != nil || st.State != Stopped || st.PID != 0 {
		t.Fatalf("Stop = %+v, %v; want stopped with no pid", st, err)
	}
	if alive(pid) {
		t.Errorf("pid %d still alive after Stop returned", pid)
	}
	if st, err = m.sup.Stop(t.Context(), "sleeper"); err != nil || st.State != Stopped {
		t.Errorf("Stop of a stopped program = %+v, %v; want a no-op", st, err)
	}
	st, err = m.sup.Start(t.Context(), "sleeper")
	if err != nil || st.State != Running || st.PID == 0 || st.PID == pid {
		t.Fatalf("Start = %+v, %v; want running with a new pid", st, err)
	}
	again, err := m.sup.Start(t.Context(), "sleeper")
	if err != nil || again.PID != st.PID {
		t.Errorf("Start of a running program = %+v, %v; want the same pid %d", again, err, st.PID)
	}
	restarted, err := m.sup.Restart(t.Context(), "sleeper")
	if err != nil || restarted.State != Running || restarted.PID == st.PID || restarted.RestartCount != 1 {
		t.Errorf("Restart = %+v, %v; want running, a new pid, 1 restart", restarted, err)
	}
	if alive(st.PID) {
		t.Errorf("old pid %d alive after Restart", st.PID)
	}
	if _, err := m.sup.Start(t.Context(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Start(nope) = %v, want ErrNotFound", err)
	}
}

func TestStopKillsGrandchildren(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: forker, script: forker.py}
`)
	m := f.start()
	m.waitFor(t, "forker", "running", inState(Running))
	var grandchild int
	for deadline := time.Now().Add(10 * time.Second); grandchild == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		data, _ := os.ReadFile(filepath.Join(f.dir, "grandchild.pid"))
		grandchild, _ = strconv.Atoi(string(data))
	}
	if grandchild == 0 || !alive(grandchild) {
		t.Fatalf("grandchild pid %d not running", grandchild)
	}
	if _, err := m.sup.Stop(t.Context(), "forker"); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if alive(grandchild) {
		t.Errorf("grandchild %d still alive after Stop returned", grandchild)
	}
}

func TestStopEscalatesToKill(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: stubborn, script: stubborn.py, stop_timeout_seconds: 0.3}
`)
	m := f.start()
	m.waitFor(t, "stubborn", "ignoring TERM", func(Status) bool { return strings.Contains(f.readLog("stubborn"), "ignoring") })
	st, err := m.sup.Stop(t.Context(), "stubborn")
	if err != nil || st.State != Stopped {
		t.Fatalf("Stop = %+v, %v", st, err)
	}
	if st.LastExit == nil || st.LastExit.Signal != syscall.SIGKILL {
		t.Errorf("LastExit = %v, want killed by SIGKILL", st.LastExit)
	}
}

func TestResolutionAndMissingFiles(t *testing.T) {
	f := newFixture(t, `
programs:
  - name: show
    script: show.py
    args: "one 'two words'"
    cwd: sub
    environment: [GREETING=hi=there]
  - {name: missing, script: nowhere.py}
  - {name: novenv, script: sleeper.py, venv: no-such-venv}
`)
	if err := os.Mkdir(filepath.Join(f.dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(f.dir, "show.py"), filepath.Join(f.dir, "sub", "show.py")); err != nil {
		t.Fatal(err)
	}
	m := f.start()
	st := m.waitFor(t, "missing", "error", inState(Error))
	if want := filepath.Join(f.dir, "nowhere.py"); !strings.Contains(st.Error, want) {
		t.Errorf("error %q does not name %s", st.Error, want)
	}
	st = m.waitFor(t, "novenv", "error", inState(Error))
	if want := filepath.Join(f.dir, "no-such-venv"); !strings.Contains(st.Error, want) {
		t.Errorf("error %q does not name %s", st.Error, want)
	}
	m.waitFor(t, "show", "running", inState(Running))
	m.waitFor(t, "show", "its output", func(Status) bool { return strings.Contains(f.readLog("show"), "PROGRAM=") })
	log := f.readLog("show")
	for _, want := range []string{"args=one|two words", "cwd=" + filepath.Join(f.dir, "sub"), "GREETING=hi=there", "PROGRAM=show"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestFinishingExitCodeStops(t *testing.T) {
	f := newFixture(t, `
restart: {delay_seconds: 0}
programs:
  - {name: done, script: crash.py, args: "0", exit_codes: [0]}
  - {name: once, script: crash.py, args: "5", autorestart: false}
`)
	m := f.start()
	st := m.waitFor(t, "done", "stopped", func(s Status) bool { return s.State == Stopped && s.LastExit != nil })
	if st.RestartCount != 0 || st.ConsecutiveFailures != 0 {
		t.Errorf("finished program: %+v, want no restart and no failure", st)
	}
	st = m.waitFor(t, "once", "stopped", func(s Status) bool { return s.State == Stopped && s.LastExit != nil })
	if st.RestartCount != 0 || st.LastExit.Code != 5 {
		t.Errorf("autorestart off: %+v, want stopped after exit 5 with no restart", st)
	}
}

func TestSampling(t *testing.T) {
	f := newFixture(t, `
sampling: {interval_seconds: 0.1, history: 5}
programs:
  - {name: a, script: sleeper.py}
`)
	m := f.start()
	st := m.waitFor(t, "a", "several samples", func(s Status) bool { return len(s.History) == 5 })
	if st.MemoryRSS == 0 {
		t.Errorf("MemoryRSS = 0 for a running python")
	}
	for i, v := range st.History {
		if v := v.CPUPercent(); v < 0 || v > 200 {
			t.Errorf("History[%d] CPU = %v, out of range for an idle program", i, v)
		}
	}
}

func TestStatusesInConfigOrder(t *testing.T) {
	var b strings.Builder
	b.WriteString("programs:\n")
	for i := range 5 {
		fmt.Fprintf(&b, "  - {name: p%d, script: sleeper.py, enabled: false}\n", 4-i)
	}
	f := newFixture(t, b.String())
	m := f.start()
	got := m.sup.Statuses()
	for i, st := range got {
		if want := fmt.Sprintf("p%d", 4-i); st.Name != want || st.State != Stopped {
			t.Errorf("Statuses()[%d] = %s %s, want %s stopped", i, st.Name, st.State, want)
		}
	}
}

func TestLogsAreRotated(t *testing.T) {
	f := newFixture(t, `
sampling: {interval_seconds: 0.05}
logging: {max_size_mb: 0.02, backups: 2}
programs:
  - {name: chatty, script: chatty.py}
`)
	if err := os.WriteFile(filepath.Join(f.dir, "chatty.py"), []byte(`import time
i = 0
while True:
    i += 1
    print("line %06d %s" % (i, "x" * 60), flush=True)
    time.sleep(0.001)
`), 0o644); err != nil {
		t.Fatal(err)
	}
	m := f.start()
	m.waitFor(t, "chatty", "two rotations", func(Status) bool {
		_, err := os.Stat(filepath.Join(f.dir, "log", "chatty.log.2"))
		return err == nil
	})
	if fi, err := os.Stat(filepath.Join(f.dir, "log", "chatty.log.1")); err != nil {
		t.Errorf("chatty.log.1: %v", err)
	} else if fi.Size() < 16<<10 {
		t.Errorf("chatty.log.1 holds %d bytes; want about the 20 KB limit", fi.Size())
	}
	if _, err := os.Stat(filepath.Join(f.dir, "log", "chatty.log.3")); err == nil {
		t.Errorf("chatty.log.3 exists with backups: 2")
	}
}

func TestStopSignalIsConfigurable(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: polite, script: polite.py, stop_signal: INT}
`)
	m := f.start()
	m.waitFor(t, "polite", "up", func(Status) bool { return strings.Contains(f.readLog("polite"), "up") })
	st, err := m.sup.Stop(t.Context(), "polite")
	if err != nil || st.State != Stopped {
		t.Fatalf("Stop = %+v, %v", st, err)
	}
	if log := f.readLog("polite"); !strings.Contains(log, "got SIGINT") {
		t.Errorf("log after Stop:\n%s\nwant the program to have got SIGINT (stop_signal)", log)
	}
	if st.LastExit == nil || !st.LastExit.Known || st.LastExit.Code != 0 {
		t.Errorf("LastExit = %v, want a clean exit after the program handled SIGINT", st.LastExit)
	}
}
