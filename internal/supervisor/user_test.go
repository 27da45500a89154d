package supervisor

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// userScript starts a child, then reports its pid and the environment it got, to its log.
const userScript = `import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
print("child", child.pid)
print("env", os.environ.get("HOME"), os.environ.get("USER"), os.environ.get("LOGNAME"), flush=True)
time.sleep(3600)
`

// statusIDs returns the Uid and Gid lines of /proc/PID/status (real, effective, saved and filesystem ids).
func statusIDs(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the status of pid %d: %v", pid, err)
	}
	var ids []string
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "Uid:") || strings.HasPrefix(line, "Gid:") {
			ids = append(ids, strings.Join(strings.Fields(line), " "))
		}
	}
	return strings.Join(ids, "; ")
}

// TestProgramRunsAsUser runs a program with `user: nobody` under a manager running as root: the program and
// the child it starts run as nobody, with nobody's HOME, USER and LOGNAME, and its output reaches its log,
// which the manager opened. A program whose working directory nobody may not enter is in error, saying so.
func TestProgramRunsAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running programs as another user needs root; run the tests as root to cover it")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("user nobody is needed: %v", err)
	}
	// Debian's python3: root's pyenv interpreter, first on the manager's PATH, is behind /root (mode 0700).
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skipf("/usr/bin/python3 is needed (an interpreter nobody may run): %v", err)
	}
	f := newFixture(t, `
programs:
  - name: as nobody
    script: user.py
    user: nobody
    environment: {PATH: /usr/bin:/bin}
  - name: denied
    script: user.py
    cwd: private
    user: nobody
    environment: {PATH: /usr/bin:/bin}
`)
	// The fixture's directory is in t.TempDir's own, which is root's and mode 0700: let nobody through.
	if err := os.Chmod(filepath.Dir(f.dir), 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "user.py"), []byte(userScript), 0o644); err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(f.dir, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(private, "user.py"), []byte(userScript), 0o644); err != nil {
		t.Fatal(err)
	}
	m := f.start()

	st := m.waitFor(t, "as nobody", "its child's pid in the log", func(st Status) bool {
		return st.State == Error || st.State == Broken || strings.Contains(f.readLog("as nobody"), "env ")
	})
	if st.State != Running {
		t.Fatalf("program with user nobody: state %s (%s), want running; log:\n%s", st.State, st.Error, f.readLog("as nobody"))
	}
	log := f.readLog("as nobody")
	match := regexp.MustCompile(`child (\d+)`).FindStringSubmatch(log)
	if match == nil {
		t.Fatalf("log of the program with user nobody = %q, want its child's pid", log)
	}
	child, _ := strconv.Atoi(match[1])
	want := fmt.Sprintf("Uid: %[1]s %[1]s %[1]s %[1]s; Gid: %[2]s %[2]s %[2]s %[2]s", nobody.Uid, nobody.Gid)
	for _, pid := range []int{st.PID, child} {
		if got := statusIDs(t, pid); got != want {
			t.Errorf("/proc/%d/status of the program with user nobody (pid %d) or its child: %q, want %q", pid, st.PID, got, want)
		}
	}
	if wantEnv := fmt.Sprintf("env %s nobody nobody", nobody.HomeDir); !strings.Contains(log, wantEnv) {
		t.Errorf("log of the program with user nobody = %q, want %q (HOME, USER, LOGNAME)", log, wantEnv)
	}

	st = m.waitFor(t, "denied", "error", inState(Error))
	if want := "may not enter " + private; !strings.Contains(st.Error, "permission denied") || !strings.Contains(st.Error, want) {
		t.Errorf("program whose cwd nobody may not enter: error %q, want %q and %q", st.Error, "permission denied", want)
	}
}
