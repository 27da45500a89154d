package supervisor

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/proc"
)

// Programs of the limit and containment tests, written beside the config.
var guardScripts = map[string]string{
	// Double-forks a daemon in a session of its own and records its PID.
	"daemon.py": `import os, sys, time
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        open("daemon.tmp", "w").write(str(os.getpid()))
        os.rename("daemon.tmp", "daemon.pid")
        time.sleep(3600)
    os._exit(0)
os.waitpid(pid, 0)
print("daemonized", flush=True)
time.sleep(3600)
`,
	// Grows to about 80 MiB and stays there; exits 0 on SIGTERM.
	"hog.py": `import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
block = bytearray(80 << 20)
for i in range(0, len(block), 4096):
    block[i] = 1
print("allocated", flush=True)
time.sleep(3600)
`,
	// Runs again without pyvisor's variables in its environment, so only its cgroup says whose it is.
	"untagged.py": `import os, sys, time
if "PYVISOR_PROGRAM" in os.environ:
    os.execve(sys.executable, [sys.executable, sys.argv[0]], {"PATH": os.environ.get("PATH", "")})
print("untagged", flush=True)
time.sleep(3600)
`,
	"spin.py": `while True:
    pass
`,
}

// guardFixture is a fixture with the guard scripts.
func guardFixture(t *testing.T, yaml string) *fixture {
	t.Helper()
	f := newFixture(t, yaml)
	for name, src := range guardScripts {
		if err := os.WriteFile(filepath.Join(f.dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// startWith starts a manager with opts (a logger is added).
func (f *fixture) startWith(opts Options) *manager {
	f.t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	opts.UploadFiles = testUploadFiles{}
	sup := New(f.cfg, opts)
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

// readPID waits for the file name in the fixture's directory to hold a PID.
func (f *fixture) readPID(t *testing.T, name string) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		data, _ := os.ReadFile(filepath.Join(f.dir, name))
		if pid, err := strconv.Atoi(string(data)); err == nil {
			return pid
		}
	}
	t.Fatalf("no PID in %s", name)
	return 0
}

// requireCgroups skips the test where programs get no cgroups, saying why.
func requireCgroups(t *testing.T) proc.CgroupSupport {
	t.Helper()
	s, err := proc.FindCgroups()
	if err != nil {
		t.Skipf("cgroup mode not available on this machine: %v", err)
	}
	return s
}

// TestStopKillsDaemon: a double-forked daemon in a session of its own is gone after a stop, in cgroup mode
// and in the fallback by tags.
func TestStopKillsDaemon(t *testing.T) {
	for _, noCgroups := range []bool{false, true} {
		t.Run("no_cgroups="+strconv.FormatBool(noCgroups), func(t *testing.T) {
			if !noCgroups {
				requireCgroups(t)
			}
			f := guardFixture(t, "programs:\n  - {name: d, script: daemon.py}\n")
			m := f.startWith(Options{NoCgroups: noCgroups})
			m.waitFor(t, "d", "running", inState(Running))
			daemon := f.readPID(t, "daemon.pid")
			t.Cleanup(func() { _ = syscall.Kill(daemon, syscall.SIGKILL) })
			if !alive(daemon) {
				t.Fatalf("daemon %d not running", daemon)
			}
			if _, err := m.sup.Stop(t.Context(), "d"); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if alive(daemon) {
				t.Errorf("setsid daemon %d still alive after Stop returned (no_cgroups=%v)", daemon, noCgroups)
			}
		})
	}
}

// TestMemoryLimitRestarts: a program that grows past memory_max_mb is ended and restarted, its exit
// described as out of memory and counted as a failure, although its exit code is listed as a clean one.
func TestMemoryLimitRestarts(t *testing.T) {
	f := guardFixture(t, `
sampling: {interval_seconds: 0.2}
programs:
  - {name: hog, script: hog.py, memory_max_mb: 40, exit_codes: [0]}
`)
	m := f.start()
	st := m.waitFor(t, "hog", "a restart after the memory limit", func(st Status) bool { return st.LastExit != nil })
	want := "killed: out of memory (limit 40 MiB)"
	if got := st.LastExit.String(); got != want {
		t.Errorf("exit description = %q, want %q", got, want)
	}
	if st.ConsecutiveFailures < 1 || st.State == Stopped {
		t.Errorf("after the memory limit: state %s, %d failures; want a failure and a restart", st.State, st.ConsecutiveFailures)
	}
}

// TestCPULimit: a CPU-bound program with cpu_max_percent 20 uses about a fifth of a core, where the cpu
// controller exists.
func TestCPULimit(t *testing.T) {
	s := requireCgroups(t)
	if !strings.Contains(strings.Join(s.Controllers, " "), "cpu") {
		t.Skipf("no cgroup v2 cpu controller for pyvisor's cgroup %s (controllers offered: %q)", s.Base, s.Controllers)
	}
	f := guardFixture(t, "sampling: {interval_seconds: 0.5}\nprograms:\n  - {name: spin, script: spin.py, cpu_max_percent: 20}\n")
	m := f.start()
	m.waitFor(t, "spin", "running", inState(Running))
	st := m.waitFor(t, "spin", "ten samples", func(st Status) bool { return len(st.History) >= 10 })
	var sum float64
	for _, v := range st.History[len(st.History)-6:] {
		sum += v.CPUPercent()
	}
	if avg := sum / 6; avg > 30 || avg < 10 {
		t.Errorf("CPU of a spinning program limited to 20%%: %.1f%% on average, want about 20%%", avg)
	}
}

// TestAdoptByCgroup: a program whose environment no longer names it, and whose PID the state file lost,
// is found again in its cgroup by the next manager.
func TestAdoptByCgroup(t *testing.T) {
	requireCgroups(t)
	f := guardFixture(t, "programs:\n  - {name: u, script: untagged.py}\n")
	m := f.start()
	st := m.waitFor(t, "u", "running", inState(Running))
	pid := st.PID
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(f.readLog("u"), "untagged"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("program did not re-execute without its tags; log:\n%s", f.readLog("u"))
		}
	}
	m.stop()
	if err := os.Remove(filepath.Join(f.dir, StateFileName)); err != nil {
		t.Fatal(err)
	}
	m2 := f.start()
	st = m2.waitFor(t, "u", "running", inState(Running))
	if st.PID != pid || !st.Adopted {
		t.Errorf("after a restart without a state file: pid %d adopted %v, want pid %d adopted", st.PID, st.Adopted, pid)
	}
	if _, err := m2.sup.Stop(t.Context(), "u"); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if alive(pid) {
		t.Errorf("adopted pid %d alive after Stop", pid)
	}
}

func TestMemoryOver(t *testing.T) {
	tests := []struct {
		name       string
		over       int
		rss        uint64
		limit      int64
		want       int
		restartNow bool
	}{
		{"under the limit", 1, 10, 20, 0, false},
		{"first sample over", 0, 30, 20, 1, false},
		{"second sample over", 1, 30, 20, 2, true},
		{"at the limit is not over", 1, 20, 20, 0, false},
		{"no limit", 5, 1 << 40, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := memoryOver(tt.over, tt.rss, tt.limit)
			if got != tt.want || (got >= memorySamples) != tt.restartNow {
				t.Errorf("memoryOver(%d, %d, %d) = %d, want %d (restart %v)", tt.over, tt.rss, tt.limit, got, tt.want, tt.restartNow)
			}
		})
	}
}

func TestContainmentText(t *testing.T) {
	c := Containment{Mode: ModeTags, Reason: "turned off"}
	if got := c.String(); !strings.Contains(got, "PYVISOR_RUN") || !strings.Contains(got, "turned off") {
		t.Errorf("String() = %q, want the fallback and its reason", got)
	}
	if got := outOfMemory(256 << 20); got != "killed: out of memory (limit 256 MiB)" {
		t.Errorf("outOfMemory(256 MiB) = %q", got)
	}
}

// removeTestCgroups kills what is left in the cgroups of the manager of statePath and removes them, so that
// tests leave no cgroup behind.
func removeTestCgroups(statePath string) {
	s, err := proc.FindCgroups()
	if err != nil {
		return
	}
	dir := filepath.Join(s.Base, cgroupTreeName(statePath))
	progs, _ := filepath.Glob(filepath.Join(dir, "p-*"))
	for _, p := range progs {
		_ = os.WriteFile(filepath.Join(p, "cgroup.kill"), []byte("1"), 0)
		for range 100 {
			if syscall.Rmdir(p) == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	_ = syscall.Rmdir(dir)
}
