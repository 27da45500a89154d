package proc

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestAdoptOwnChild(t *testing.T) {
	t.Parallel()
	p, out := startHelper(t, "hang")
	out.line(t)
	id, err := Identify(p.Identity().PID)
	if err != nil || id != p.Identity() {
		t.Fatalf("Identify(%d) = %+v, %v; want %+v", p.Identity().PID, id, err, p.Identity())
	}
	a, err := Adopt(id)
	if err != nil {
		t.Fatalf("Adopt(%+v) = %v", id, err)
	}
	if !a.Adopted() || p.Adopted() || a.Identity() != id {
		t.Errorf("Adopted() = %v for Adopt and %v for Start, Identity() = %+v; want true, false, %+v",
			a.Adopted(), p.Adopted(), a.Identity(), id)
	}
	if isDone(a) {
		t.Fatalf("Done of the adopted process closed while it runs")
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("Signal(SIGKILL) = %v", err)
	}
	waitDone(t, a, 10*time.Second)
	waitDone(t, p, 10*time.Second)
	if got := a.Exit(); got.Known {
		t.Errorf("Exit() of the adopted process = %+v, want Known false", got)
	}
	if got, want := p.Exit(), (ExitStatus{Known: true, Code: -1, Signal: syscall.SIGKILL}); got != want {
		t.Errorf("Exit() of the started process = %+v, want %+v", got, want)
	}
}

func TestAdoptRefusesStrangers(t *testing.T) {
	t.Parallel()
	p, out := startHelper(t, "hang")
	out.line(t)
	stranger := Identity{PID: p.Identity().PID, StartTime: p.Identity().StartTime + 1}

	if _, err := Adopt(stranger); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Adopt(%+v) with a wrong start time = %v, want ErrNotRunning", stranger, err)
	}
	// A Process value that somehow holds the stranger's identity must not signal the real process either.
	s := newProcess(stranger, true)
	if err := s.Signal(syscall.SIGTERM); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Signal(SIGTERM) for %+v = %v, want ErrNotRunning", stranger, err)
	}
	if s.GroupAlive() {
		t.Errorf("GroupAlive() for %+v = true, want false", stranger)
	}
	// Had SIGTERM been delivered, the helper would have died of it (default action) before our SIGKILL.
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("Signal(SIGKILL) = %v", err)
	}
	waitDone(t, p, 10*time.Second)
	if got := p.Exit(); got.Signal != syscall.SIGKILL {
		t.Errorf("real process ended with %v, want killed by SIGKILL (the stranger's SIGTERM must not reach it)", got)
	}
}

func TestAdoptDeadPID(t *testing.T) {
	t.Parallel()
	p, _ := startHelper(t, "exit3")
	waitDone(t, p, 10*time.Second)
	if a, err := Adopt(p.Identity()); !errors.Is(err, ErrNotRunning) {
		if a != nil {
			killGroup(t, a)
		}
		t.Fatalf("Adopt(%+v) of an exited process = %v, want ErrNotRunning", p.Identity(), err)
	}
}

// TestAdoptNonChild adopts a python3 program that is not our child: sh starts it in the background and exits,
// and the program makes itself a session leader, as if a previous manager had started it.
func TestAdoptNonChild(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found")
	}
	script := "import os, time\nos.setsid()\nprint(os.getpid(), flush=True)\ntime.sleep(300)\n"
	sh, out := startWithPipe(t, Spec{Path: "sh", Args: []string{"-c", `python3 -c "$0" &`, script}, Env: os.Environ()})
	line := out.line(t)
	pid, err := strconv.Atoi(line)
	if err != nil {
		t.Fatalf("python printed %q, want its pid", line)
	}
	t.Cleanup(func() { _ = unix.Kill(-pid, unix.SIGKILL) })
	waitDone(t, sh, 10*time.Second)
	if _, err := unix.Wait4(pid, nil, unix.WNOHANG, nil); !errors.Is(err, unix.ECHILD) {
		t.Fatalf("Wait4(%d) = %v, want ECHILD: the program must not be our child", pid, err)
	}

	id, err := Identify(pid)
	if err != nil {
		t.Fatalf("Identify(%d) = %v", pid, err)
	}
	a, err := Adopt(id)
	if err != nil {
		t.Fatalf("Adopt(%+v) = %v", id, err)
	}
	if !a.GroupAlive() || isDone(a) {
		t.Fatalf("adopted program: GroupAlive() = %v, Done closed = %v; want true, false", a.GroupAlive(), isDone(a))
	}
	if err := a.Stop(t.Context(), syscall.SIGTERM, time.Minute); err != nil {
		t.Fatalf("Stop(SIGTERM) of adopted pid %d = %v", pid, err)
	}
	if !isDone(a) || a.GroupAlive() || pidExists(pid) {
		t.Errorf("after Stop: Done closed = %v, GroupAlive() = %v, pid %d exists = %v; want true, false, false",
			isDone(a), a.GroupAlive(), pid, pidExists(pid))
	}
	if got := a.Exit(); got.Known {
		t.Errorf("Exit() of adopted process = %+v, want Known false", got)
	}
}

// TestFallbackWatchers runs the watchers used where pidfds are unavailable (macOS, old Linux kernels).
func TestFallbackWatchers(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		watch func(p *Process, osp *os.Process)
		want  ExitStatus
	}{
		{"own child reaped by a blocking wait", waitChild, ExitStatus{Known: true, Code: -1, Signal: syscall.SIGKILL}},
		// The child is never reaped while watched, so this also shows that a zombie counts as exited.
		{"adopted process polled", func(p *Process, _ *os.Process) { pollAdopted(p) }, ExitStatus{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			attr := &os.ProcAttr{
				Env:   helperEnviron("hang"),
				Files: []*os.File{nil, nil, nil},
				Sys:   &syscall.SysProcAttr{Setsid: true},
			}
			osp, err := os.StartProcess(exe, []string{exe}, attr)
			if err != nil {
				t.Fatal(err)
			}
			id, err := Identify(osp.Pid)
			if err != nil {
				t.Fatal(err)
			}
			p := newProcess(id, tt.want == ExitStatus{})
			go tt.watch(p, osp)
			t.Cleanup(func() {
				_ = osp.Kill()
				_, _ = osp.Wait() // a no-op if the watcher reaped it
				select {
				case <-p.Done():
				case <-time.After(10 * time.Second):
				}
			})
			if err := osp.Kill(); err != nil {
				t.Fatal(err)
			}
			waitDone(t, p, 10*time.Second)
			if got := p.Exit(); got != tt.want {
				t.Errorf("Exit() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
