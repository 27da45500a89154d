package proc

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartOutputArgsEnvSession(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "out.log")
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.WriteString("before\n"); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{
		Path:   exe,
		Args:   []string{"one", "two words"},
		Dir:    dir,
		Env:    append(helperEnviron("print"), "PROC_TEST_VALUE=v=42"),
		Output: log,
	}
	p, err := Start(spec)
	log.Close() // the caller's copy; the child has its own
	if err != nil {
		t.Fatalf("Start(%+v): %v", spec, err)
	}
	t.Cleanup(func() { killGroup(t, p) })
	waitDone(t, p, 10*time.Second)
	if got, want := p.Exit(), (ExitStatus{Known: true}); got != want {
		t.Fatalf("Exit() of print helper = %+v, want %+v", got, want)
	}

	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || lines[0] != "before" || lines[2] != "to stderr" {
		t.Fatalf("log file = %q, want the line before, a JSON report (stdout), then %q (stderr)", b, "to stderr")
	}
	var got helperReport
	if err := json.Unmarshal([]byte(lines[1]), &got); err != nil {
		t.Fatalf("decode report %q: %v", lines[1], err)
	}
	want := helperReport{
		Args: spec.Args, Cwd: dir, Value: "v=42", StdinDevNull: true, StdinEOF: true,
		PID: p.Identity().PID, SID: p.Identity().PID, PGID: p.Identity().PID,
	}
	if got.Cwd, err = filepath.EvalSymlinks(got.Cwd); err != nil {
		t.Fatal(err)
	}
	if want.Cwd, err = filepath.EvalSymlinks(want.Cwd); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("child reported %+v, want %+v", got, want)
	}
}

func TestStartLooksUpChildPATH(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	script := filepath.Join(bin, "pyvisor-test-script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"hi $1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The manager's PATH does not contain bin, so only the child's PATH can find the script.
	p, out := startWithPipe(t, Spec{Path: "pyvisor-test-script", Args: []string{"there"}, Env: []string{"PATH=" + bin}})
	if got, want := out.line(t), "hi there"; got != want {
		t.Errorf("script found through the child's PATH printed %q, want %q", got, want)
	}
	waitDone(t, p, 10*time.Second)
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plain := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runnable := filepath.Join(dir, "runnable")
	if err := os.WriteFile(runnable, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		spec   Spec
		wantIs error
	}{
		{"missing absolute path", Spec{Path: filepath.Join(dir, "no-such-program")}, fs.ErrNotExist},
		{"not in the child's PATH", Spec{Path: "pyvisor-no-such-program", Env: []string{"PATH=" + dir}}, exec.ErrNotFound},
		{"in the manager's PATH only", Spec{Path: "sh", Env: []string{"PATH=" + dir}}, exec.ErrNotFound},
		{"no PATH in the child's env", Spec{Path: "sh", Env: []string{"HOME=/"}}, exec.ErrNotFound},
		{"not executable", Spec{Path: "not-executable", Env: []string{"PATH=" + dir}}, exec.ErrNotFound},
		{"relative PATH entry", Spec{Path: "runnable", Dir: dir, Env: []string{"PATH=."}}, exec.ErrNotFound},
		{"missing working directory", Spec{Path: runnable, Dir: filepath.Join(dir, "no-such-dir")}, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Start(tt.spec)
			if err == nil {
				killGroup(t, p)
				t.Fatalf("Start(%+v) succeeded, want an error", tt.spec)
			}
			if !strings.Contains(err.Error(), tt.spec.Path) || !errors.Is(err, tt.wantIs) {
				t.Errorf("Start(%+v) = %v, want an error naming %q and wrapping %v", tt.spec, err, tt.spec.Path, tt.wantIs)
			}
		})
	}
}

func TestExit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		mode       string
		signal     syscall.Signal // sent once the helper is ready; 0 for none
		want       ExitStatus
		wantString string
	}{
		{"exit code", "exit3", 0, ExitStatus{Known: true, Code: 3}, "exit status 3"},
		{"killed by its own SIGKILL", "crash", 0, ExitStatus{Known: true, Code: -1, Signal: syscall.SIGKILL}, "killed by SIGKILL"},
		{"killed by our SIGTERM", "hang", syscall.SIGTERM, ExitStatus{Known: true, Code: -1, Signal: syscall.SIGTERM}, "killed by SIGTERM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, out := startHelper(t, tt.mode)
			if tt.signal != 0 {
				out.line(t)
				if err := p.Signal(tt.signal); err != nil {
					t.Fatalf("Signal(%v) = %v", tt.signal, err)
				}
			}
			waitDone(t, p, 10*time.Second)
			if got := p.Exit(); got != tt.want || got.String() != tt.wantString {
				t.Errorf("Exit() of %s helper = %+v (%q), want %+v (%q)", tt.mode, got, got, tt.want, tt.wantString)
			}
		})
	}
}

func TestExitStatusString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status ExitStatus
		want   string
	}{
		{"success", ExitStatus{Known: true}, "exit status 0"},
		{"failure", ExitStatus{Known: true, Code: 3}, "exit status 3"},
		{"signal", ExitStatus{Known: true, Code: -1, Signal: syscall.SIGKILL}, "killed by SIGKILL"},
		{"signal without a name", ExitStatus{Known: true, Code: -1, Signal: syscall.Signal(200)}, "killed by signal 200"},
		{"adopted", ExitStatus{}, "exit status unknown (adopted process)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.status.String(); got != tt.want {
				t.Errorf("%+v.String() = %q, want %q", tt.status, got, tt.want)
			}
		})
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		mode       string
		timeout    time.Duration
		grandchild bool // the helper prints the pid of a grandchild in its group
		natural    bool // let the leader exit on its own before Stop
		want       ExitStatus
	}{
		{"SIGTERM stops a plain child", "hang", time.Minute, false, false,
			ExitStatus{Known: true, Code: -1, Signal: syscall.SIGTERM}},
		{"a child ignoring SIGTERM is killed after the timeout", "ignore-term", 200 * time.Millisecond, false, false,
			ExitStatus{Known: true, Code: -1, Signal: syscall.SIGKILL}},
		{"a grandchild ignoring SIGTERM does not survive", "fork-grandchild", time.Minute, true, false,
			ExitStatus{Known: true, Code: -1, Signal: syscall.SIGTERM}},
		{"after a natural exit leftover members are removed", "orphan-grandchild", time.Minute, true, true,
			ExitStatus{Known: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, out := startHelper(t, tt.mode)
			first := out.line(t) // "ready", or the grandchild's pid
			grandchild := 0
			if tt.grandchild {
				var err error
				if grandchild, err = strconv.Atoi(first); err != nil {
					t.Fatalf("helper %s printed %q, want a pid", tt.mode, first)
				}
				t.Cleanup(func() { _ = syscall.Kill(grandchild, syscall.SIGKILL) })
			}
			if tt.natural {
				waitDone(t, p, 10*time.Second)
				if !p.GroupAlive() {
					t.Fatalf("GroupAlive() = false after the leader exited with grandchild %d alive, want true", grandchild)
				}
			}
			if err := p.Stop(t.Context(), syscall.SIGTERM, tt.timeout); err != nil {
				t.Fatalf("Stop(SIGTERM, %v) = %v, want nil", tt.timeout, err)
			}
			if !isDone(p) {
				t.Errorf("Done not closed after Stop returned")
			}
			if got := p.Exit(); got != tt.want {
				t.Errorf("Exit() after Stop = %v, want %v", got, tt.want)
			}
			if p.GroupAlive() {
				t.Errorf("GroupAlive() after Stop = true, want false")
			}
			if tt.grandchild && pidExists(grandchild) {
				t.Errorf("grandchild %d exists after Stop, want it gone", grandchild)
			}
			if err := p.Signal(syscall.SIGTERM); !errors.Is(err, ErrNotRunning) {
				t.Errorf("Signal(SIGTERM) after Stop = %v, want ErrNotRunning", err)
			}
			// A second Stop has nothing to do.
			if err := p.Stop(t.Context(), syscall.SIGTERM, tt.timeout); err != nil {
				t.Errorf("second Stop = %v, want nil", err)
			}
		})
	}
}

func TestKillGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		mode       string
		grandchild bool // the helper prints the pid of a grandchild in its group
		natural    bool // let the leader exit on its own first
		want       ExitStatus
	}{
		{"a running leader and its grandchild", "fork-grandchild", true, false, ExitStatus{Known: true, Code: -1, Signal: syscall.SIGKILL}},
		{"a grandchild left behind by a leader that exited", "orphan-grandchild", true, true, ExitStatus{Known: true}},
		{"nothing left", "exit3", false, true, ExitStatus{Known: true, Code: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, out := startHelper(t, tt.mode)
			grandchild := 0
			if tt.grandchild {
				var err error
				if grandchild, err = strconv.Atoi(out.line(t)); err != nil {
					t.Fatalf("helper %s printed no pid: %v", tt.mode, err)
				}
				t.Cleanup(func() { _ = syscall.Kill(grandchild, syscall.SIGKILL) })
			}
			if tt.natural {
				waitDone(t, p, 10*time.Second)
			}
			if err := p.KillGroup(t.Context()); err != nil {
				t.Fatalf("KillGroup() = %v, want nil", err)
			}
			waitDone(t, p, 10*time.Second)
			if got := p.Exit(); got != tt.want {
				t.Errorf("Exit() after KillGroup = %v, want %v", got, tt.want)
			}
			if tt.grandchild && pidExists(grandchild) {
				t.Errorf("grandchild %d exists after KillGroup, want it gone", grandchild)
			}
		})
	}
}

func TestStopEndsWithContext(t *testing.T) {
	t.Parallel()
	p, out := startHelper(t, "ignore-term")
	out.line(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.Stop(ctx, syscall.SIGTERM, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop with a cancelled context = %v, want context.Canceled", err)
	}
	if isDone(p) || !p.Identity().Alive() {
		t.Errorf("child ignoring SIGTERM ended although Stop returned before the KILL step")
	}
}

func TestIdentify(t *testing.T) {
	t.Parallel()
	self, err := Identify(os.Getpid())
	if err != nil {
		t.Fatalf("Identify(own pid %d) = %v", os.Getpid(), err)
	}
	exited, _ := startHelper(t, "exit3")
	waitDone(t, exited, 10*time.Second)

	tests := []struct {
		name      string
		pid       int
		wantErr   bool
		wantAlive Identity // identity to check with Alive, true if wantErr is false
	}{
		{"own process", os.Getpid(), false, self},
		{"exited child", exited.Identity().PID, true, exited.Identity()},
		{"pid zero", 0, true, Identity{}},
		{"negative pid", -1, true, Identity{PID: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := Identify(tt.pid)
			if tt.wantErr {
				if !errors.Is(err, ErrNotRunning) {
					t.Errorf("Identify(%d) = %+v, %v; want ErrNotRunning", tt.pid, id, err)
				}
				if tt.wantAlive.Alive() {
					t.Errorf("%+v.Alive() = true, want false", tt.wantAlive)
				}
				return
			}
			if err != nil || id != tt.wantAlive || id.StartTime == 0 || !id.Alive() {
				t.Errorf("Identify(%d) = %+v, %v; want %+v, alive", tt.pid, id, err, tt.wantAlive)
			}
			stranger := Identity{PID: id.PID, StartTime: id.StartTime + 1}
			if stranger.Alive() {
				t.Errorf("%+v.Alive() with a wrong start time = true, want false", stranger)
			}
		})
	}

	t.Run("start time as wall clock", func(t *testing.T) {
		boot, started, now := BootTime(), self.Started(), time.Now()
		if boot.IsZero() || boot.After(now) {
			t.Fatalf("BootTime() = %v, want a time before now (%v)", boot, now)
		}
		// Boot time has a precision of a second; this is a sanity check, not a measure of speed.
		if started.Before(boot) || started.After(now.Add(2*time.Second)) {
			t.Errorf("Started() of the test process = %v, want between boot %v and now %v", started, boot, now)
		}
	})
	t.Run("JSON", func(t *testing.T) {
		b, err := json.Marshal(Identity{PID: 7, StartTime: 9})
		if want := `{"pid":7,"start_time":9}`; err != nil || string(b) != want {
			t.Errorf("json.Marshal(Identity) = %s, %v; want %s", b, err, want)
		}
	})
}
