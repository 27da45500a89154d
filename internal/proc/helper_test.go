package proc

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary behave as a child program instead of running tests; see runHelper.
const helperEnv = "PROC_TEST_HELPER"

// helperLife is how long "forever" lasts for a hanging helper, so that a test binary killed before its
// cleanups ran leaves nothing behind for long.
const helperLife = 5 * time.Minute

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// helperReport is what the "print" helper writes to stdout.
type helperReport struct {
	Args         []string `json:"args"`
	Cwd          string   `json:"cwd"`
	Value        string   `json:"value"`
	StdinDevNull bool     `json:"stdin_devnull"`
	StdinEOF     bool     `json:"stdin_eof"`
	PID          int      `json:"pid"`
	SID          int      `json:"sid"`
	PGID         int      `json:"pgid"`
}

// runHelper is the child side of the tests. Modes:
//
//	print              report args, cwd, env, stdin and session as JSON on stdout, a line on stderr, exit 0
//	exit3              exit with code 3
//	crash              die by SIGKILL
//	hang               print "ready", then sleep
//	ignore-term        ignore SIGTERM, print "ready", then sleep
//	fork-grandchild    start an ignore-term grandchild in the same group, print its pid, then sleep
//	orphan-grandchild  the same, but exit 0 after printing the pid
//	daemon-grandchild  start an ignore-term grandchild in a session of its own (as a daemon does by setsid
//	                   and a second fork), print its pid, then sleep
func runHelper(mode string) int {
	switch mode {
	case "print":
		return printReport()
	case "exit3":
		return 3
	case "crash":
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	case "hang":
		fmt.Println("ready")
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
	case "fork-grandchild", "orphan-grandchild", "daemon-grandchild":
		pid, err := startGrandchild(mode == "daemon-grandchild")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(pid)
		if mode == "orphan-grandchild" {
			return 0
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown %s %q\n", helperEnv, mode)
		return 2
	}
	time.Sleep(helperLife)
	return 0
}

func printReport() int {
	devNull, err1 := os.Stat(os.DevNull)
	stdin, err2 := os.Stdin.Stat()
	n, readErr := os.Stdin.Read(make([]byte, 1))
	cwd, _ := os.Getwd()
	sid, _ := unix.Getsid(0)
	rep := helperReport{
		Args:         os.Args[1:],
		Cwd:          cwd,
		Value:        os.Getenv("PROC_TEST_VALUE"),
		StdinDevNull: err1 == nil && err2 == nil && os.SameFile(devNull, stdin),
		StdinEOF:     n == 0 && readErr == io.EOF,
		PID:          os.Getpid(),
		SID:          sid,
		PGID:         unix.Getpgrp(),
	}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		return 1
	}
	fmt.Fprintln(os.Stderr, "to stderr")
	return 0
}

// startGrandchild starts the test binary as an ignore-term helper in our process group, or with setsid in a
// session and group of its own, and returns its pid once it is ready (so that SIGTERM is already ignored).
func startGrandchild(setsid bool) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe)
	cmd.Env = helperEnviron("ignore-term")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: setsid}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		return 0, fmt.Errorf("grandchild said %q, %v", line, err)
	}
	return cmd.Process.Pid, nil
}

// helperEnviron returns our environment plus what makes the test binary a helper in mode. Under -race, a Go
// program that exits with status 0 first sleeps a second (GORACE atexit_sleep_ms) unless told otherwise.
func helperEnviron(mode string) []string {
	return append(os.Environ(), helperEnv+"="+mode, "GORACE=atexit_sleep_ms=0")
}

// childOutput reads lines that a child writes to the pipe that is its stdout.
type childOutput struct {
	f  *os.File
	br *bufio.Reader
}

// line returns the next line, failing the test if none comes within 10 s.
func (c *childOutput) line(t testing.TB) string {
	t.Helper()
	_ = c.f.SetReadDeadline(time.Now().Add(10 * time.Second))
	s, err := c.br.ReadString('\n')
	if err != nil {
		t.Fatalf("read a line of child output: %v (got %q)", err, s)
	}
	return strings.TrimSpace(s)
}

// startHelper starts the test binary in helper mode with its stdout and stderr on a pipe, and kills its group
// when the test ends.
func startHelper(t testing.TB, mode string, extraEnv ...string) (*Process, *childOutput) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return startWithPipe(t, Spec{Path: exe, Env: append(helperEnviron(mode), extraEnv...)})
}

// startWithPipe starts spec with its output on a pipe and kills its group when the test ends.
func startWithPipe(t testing.TB, spec Spec) (*Process, *childOutput) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	spec.Output = w
	p, err := Start(spec)
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("Start(%+v): %v", spec, err)
	}
	t.Cleanup(func() {
		killGroup(t, p)
		r.Close()
	})
	return p, &childOutput{f: r, br: bufio.NewReader(r)}
}

// killGroup SIGKILLs what is left of p's group and waits for the leader to be done.
func killGroup(t testing.TB, p *Process) {
	t.Helper()
	_ = p.Signal(syscall.SIGKILL)
	waitDone(t, p, 10*time.Second)
}

// waitDone fails the test if p's Done is not closed within d. This is a liveness check, with room for a
// loaded machine, not a measure of speed.
func waitDone(t testing.TB, p *Process, d time.Duration) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(d):
		t.Fatalf("Done of pid %d (adopted %v) not closed after %v", p.Identity().PID, p.Adopted(), d)
	}
}

// isDone reports whether p's Done is closed now.
func isDone(p *Process) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

// pidExists reports whether a live process has pid. Zombies do not count: they
// run nothing and linger only until their parent (for orphans, an init that may
// be slow about it) collects them.
func pidExists(pid int) bool {
	id, zombie, err := probe(pid)
	return err == nil && id.PID == pid && !zombie
}
