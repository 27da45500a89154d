package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/proc"
	"github.com/pyvisor/pyvisor/internal/statefile"
	"github.com/pyvisor/pyvisor/internal/testkit"
)

// buildBinary compiles pyvisor once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pyvisor-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "pyvisor")
	out, err := exec.Command("go", "build", "-race", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func binary(t *testing.T) string {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// managerProcess is pyvisor running as a separate process.
type managerProcess struct {
	cmd    *exec.Cmd
	stdout *testkit.SyncBuffer
	stderr *testkit.SyncBuffer
}

func startManager(t *testing.T, dir string, args ...string) *managerProcess {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	m := &managerProcess{cmd: cmd, stdout: &testkit.SyncBuffer{}, stderr: &testkit.SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = m.stdout, m.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return m
}

// waitStdout waits until the manager has printed want, and fails the test if
// that takes 20 s.
func (m *managerProcess) waitStdout(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(m.stdout.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("manager did not print %q; stdout:\n%s\nstderr:\n%s", want, m.stdout, m.stderr)
		}
		time.Sleep(20 * time.Millisecond) // a pipe into a buffer gives no notice
	}
}

// ourPrograms lists the live session leaders started for the config in dir, by
// the tag every program carries, as name -> PIDs.
func ourPrograms(t *testing.T, dir string) map[string][]int {
	t.Helper()
	tagged, err := proc.FindTagged("PYVISOR_PROGRAM", "PYVISOR_")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]int{}
	for _, tp := range tagged {
		if strings.HasPrefix(tp.Env["PYVISOR_STATE_FILE"], dir+string(filepath.Separator)) {
			out[tp.Env["PYVISOR_PROGRAM"]] = append(out[tp.Env["PYVISOR_PROGRAM"]], tp.PID)
		}
	}
	return out
}

func killPrograms(t *testing.T, dir string) {
	for _, pids := range ourPrograms(t, dir) {
		for _, pid := range pids {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}

// waitPrograms waits until exactly the named programs run, one process each, and
// the state file records those PIDs.
func waitPrograms(t *testing.T, dir string, names ...string) map[string]int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		running := ourPrograms(t, dir)
		st, _ := statefile.Load(filepath.Join(dir, "process_manager.pids.json"))
		got := map[string]int{}
		ok := len(running) == len(names)
		for _, n := range names {
			pids := running[n]
			if len(pids) != 1 || st.Programs[n].PID != pids[0] {
				ok = false
				break
			}
			got[n] = pids[0]
		}
		if ok {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for programs %v: running %v, state file %+v", names, running, st.Programs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// useLocalToken has the client commands and the test's own requests
// (bearerFromEnv) send the token the manager in dir left for local clients:
// a manager running as root requires a login even on loopback. Without the
// file (the manager needs no login) it changes nothing. Call it once the
// manager answers: the token is written before it listens.
func useLocalToken(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "process_manager.token"))
	if err != nil {
		return
	}
	t.Setenv("PYVISOR_TOKEN", strings.TrimSpace(string(data)))
}

// bearerFromEnv adds PYVISOR_TOKEN, when set, to req as a bearer token.
func bearerFromEnv(req *http.Request) *http.Request {
	if token := os.Getenv("PYVISOR_TOKEN"); token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

const sleeperPy = "import time\nprint('up', flush=True)\nwhile True:\n    time.sleep(3600)\n"

func writeProject(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sleeper.py"), []byte(sleeperPy), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "process_manager.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killPrograms(t, dir) })
	return dir
}

// TestSIGKILLedManagerReadoptsWithoutDuplicates kills the manager with SIGKILL at
// several moments, including right after it started, and checks that the next
// manager adopts the very same processes and never starts a second copy.
func TestSIGKILLedManagerReadoptsWithoutDuplicates(t *testing.T) {
	port := testkit.FreePort(t)
	dir := writeProject(t, fmt.Sprintf(`
web_ui: {host: 127.0.0.1, port: %d}
programs:
  - {name: one, script: sleeper.py}
  - {name: two words, script: sleeper.py}
`, port))
	m := startManager(t, dir)
	first := waitPrograms(t, dir, "one", "two words")
	m.cmd.Process.Kill()
	m.cmd.Wait()

	// Kill managers at various moments of their start-up (adoption, state saving),
	// and once when settled; after each, exactly one copy of each program runs.
	for _, delay := range []time.Duration{0, 5 * time.Millisecond, 20 * time.Millisecond, 80 * time.Millisecond, -1} {
		m := startManager(t, dir)
		if delay < 0 {
			waitPrograms(t, dir, "one", "two words")
		} else {
			time.Sleep(delay)
		}
		m.cmd.Process.Kill()
		m.cmd.Wait()
		for name, pids := range ourPrograms(t, dir) {
			if len(pids) > 1 {
				t.Fatalf("after a manager killed at %s: %d copies of %q: %v", delay, len(pids), name, pids)
			}
		}
	}
	m = startManager(t, dir)
	got := waitPrograms(t, dir, "one", "two words")
	if !equalMaps(got, first) {
		t.Fatalf("after SIGKILLs and a restart programs run as %v, want the same PIDs %v\nstderr:\n%s", got, first, m.stderr)
	}
}

// TestSIGTERMLeavesProgramsRunning checks a clean manager exit: exit status 0,
// programs still alive, state saved.
func TestSIGTERMLeavesProgramsRunning(t *testing.T) {
	dir := writeProject(t, fmt.Sprintf(`
web_ui: {host: 127.0.0.1, port: %d}
programs:
  - {name: one, script: sleeper.py}
`, testkit.FreePort(t)))
	m := startManager(t, dir)
	pids := waitPrograms(t, dir, "one")
	m.cmd.Process.Signal(syscall.SIGTERM)
	if err := m.cmd.Wait(); err != nil {
		t.Fatalf("manager exit after SIGTERM: %v\nstderr:\n%s", err, m.stderr)
	}
	if syscall.Kill(pids["one"], 0) != nil {
		t.Errorf("program pid %d died with the manager", pids["one"])
	}
}

func TestSecondManagerRefused(t *testing.T) {
	dir := writeProject(t, fmt.Sprintf("web_ui: {host: 127.0.0.1, port: %d}\n", testkit.FreePort(t)))
	first := startManager(t, dir)
	// The manager prints this line after it has taken the lock.
	first.waitStdout(t, "Process Manager started")
	var stdout, stderr bytes.Buffer
	code := runIn(t, dir, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "another pyvisor") {
		t.Errorf("second manager: exit %d, stderr %q; want 1 and a message naming the other manager", code, stderr.String())
	}
}

func runIn(t *testing.T, dir string, stdout, stderr *bytes.Buffer, args ...string) int {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// pyvisor's own environment must not decide what the programs get by default.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PYTHONUNBUFFERED=") })
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

func TestInvalidConfigStartsNothing(t *testing.T) {
	dir := writeProject(t, `
web_ui: {port: 70000}
programs:
  - {name: one, script: sleeper.py, scirpt: x}
`)
	var stdout, stderr bytes.Buffer
	code := runIn(t, dir, &stdout, &stderr)
	if code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	for _, want := range []string{"process_manager.yaml:2", "web_ui.port", "process_manager.yaml:4", `did you mean "script"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if n := len(ourPrograms(t, dir)); n != 0 {
		t.Errorf("%d programs started from an invalid config", n)
	}
}

func TestValidate(t *testing.T) {
	dir := writeProject(t, `
programs:
  - name: one
    script: sleeper.py
    args: "--port 8080 'a b'"
    environment: {SECRET_TOKEN: hunter2}
  - {name: missing, script: nope.py}
`)
	var stdout, stderr bytes.Buffer
	if code := runIn(t, dir, &stdout, &stderr, "validate"); code != 0 {
		t.Fatalf("validate exit %d, stderr %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{filepath.Join(dir, "sleeper.py"), `["--port" "8080" "a b"]`, "SECRET_TOKEN", "PYTHONUNBUFFERED", filepath.Join(dir, "nope.py")} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("validate printed an environment value:\n%s", out)
	}
}

func TestValidateUser(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("user nobody is needed: %v", err)
	}
	dir := writeProject(t, `
user: nobody
programs:
  - {name: one, script: sleeper.py}
  - {name: two, script: sleeper.py, user: root}
`)
	var stdout, stderr bytes.Buffer
	if code := runIn(t, dir, &stdout, &stderr, "validate"); code != 0 {
		t.Fatalf("validate exit %d, stderr %s", code, stderr.String())
	}
	out := stdout.String()
	as := fmt.Sprintf("nobody (uid %s, gid %s)", nobody.Uid, nobody.Gid)
	// In this order: the global user, then each program's.
	rest := out
	for _, want := range []string{"user: " + as + " (programs without", "\none\n", "  user:        " + as, "\ntwo\n", "  user:        root (uid 0, gid 0)"} {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Fatalf("validate output lacks %q (after the previous lines looked for):\n%s", want, out)
		}
		rest = rest[i+len(want):]
	}
}

func TestNoConfigRunsOnDefaults(t *testing.T) {
	dir := t.TempDir()
	m := startManager(t, dir)
	m.waitStdout(t, "built-in defaults")
}

func equalMaps(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
