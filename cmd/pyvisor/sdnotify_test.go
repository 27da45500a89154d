package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// startManagerEnv is startManager with extra environment variables.
func startManagerEnv(t *testing.T, dir string, env ...string) *managerProcess {
	t.Helper()
	cmd := exec.Command(binary(t))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
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

// fakeSystemd is a notification socket as systemd makes one for a unit of
// Type=notify; it hands on every datagram it receives.
func fakeSystemd(t *testing.T) (socket string, received <-chan string) {
	t.Helper()
	socket = filepath.Join(t.TempDir(), "notify")
	if len(socket) >= 104 { // sun_path is 104 bytes on macOS, 108 on Linux
		t.Fatalf("socket path %q is too long for a unix socket", socket)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on %s: %v", socket, err)
	}
	ch := make(chan string, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				return // closed by the cleanup
			}
			ch <- string(buf[:n])
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return socket, ch
}

func nextNotification(t *testing.T, received <-chan string, m *managerProcess, waitingFor string) string {
	t.Helper()
	select {
	case msg := <-received:
		return msg
	case <-time.After(30 * time.Second):
		t.Fatalf("no notification (waiting for %s) after 30 s; stderr:\n%s", waitingFor, m.stderr)
		return ""
	}
}

// TestSystemdNotify runs the manager as systemd would run a Type=notify unit:
// READY=1 comes once the web UI answers, STOPPING=1 on SIGTERM, and the
// programs do not see the socket.
func TestSystemdNotify(t *testing.T) {
	port := testkit.FreePort(t)
	dir := writeProject(t, fmt.Sprintf(`
web_ui: {host: 127.0.0.1, port: %d}
programs:
  - {name: one, script: sleeper.py}
`, port))
	socket, received := fakeSystemd(t)
	m := startManagerEnv(t, dir, "NOTIFY_SOCKET="+socket)

	msg := nextNotification(t, received, m, "READY=1")
	// At once, before anything else can happen: the web UI must answer now.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err != nil {
		t.Fatalf("GET /healthz right after %q: %v", msg, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz right after %q: status %d, want 200", msg, resp.StatusCode)
	}
	lines := strings.Split(msg, "\n")
	if lines[0] != "READY=1" {
		t.Errorf("first notification %q, want READY=1 first", msg)
	}
	if want := fmt.Sprintf("MAINPID=%d", m.cmd.Process.Pid); !strings.Contains(msg, want+"\n") {
		t.Errorf("first notification %q lacks %s", msg, want)
	}
	if want := fmt.Sprintf("web UI on http://127.0.0.1:%d", port); !strings.Contains(msg, want) {
		t.Errorf("first notification %q: its STATUS lacks %q", msg, want)
	}

	pids := waitPrograms(t, dir, "one")
	if runtime.GOOS == "linux" {
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pids["one"]))
		if err != nil {
			t.Fatalf("read the program's environment: %v", err)
		}
		if strings.Contains(string(env), "NOTIFY_SOCKET=") {
			t.Errorf("the program's environment has NOTIFY_SOCKET; the manager must keep it to itself")
		}
	}

	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if msg := nextNotification(t, received, m, "STOPPING=1"); !strings.HasPrefix(msg, "STOPPING=1") {
		t.Errorf("notification after SIGTERM %q, want STOPPING=1", msg)
	}
	if err := m.cmd.Wait(); err != nil {
		t.Errorf("manager exit after SIGTERM: %v, want status 0\nstderr:\n%s", err, m.stderr)
	}
	select {
	case msg := <-received:
		t.Errorf("notification after STOPPING=1: %q, want none", msg)
	default:
	}
}

// TestSystemdNotifyFailureIsNotFatal gives the manager a notification socket
// nobody listens on: it says so in its log and runs as usual.
func TestSystemdNotifyFailureIsNotFatal(t *testing.T) {
	port := testkit.FreePort(t)
	dir := writeProject(t, fmt.Sprintf("web_ui: {host: 127.0.0.1, port: %d}\n", port))
	socket := filepath.Join(t.TempDir(), "nobody-listens")
	m := startManagerEnv(t, dir, "NOTIFY_SOCKET="+socket)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(m.stderr.String(), "tell systemd") {
		if time.Now().After(deadline) {
			t.Fatalf("with NOTIFY_SOCKET=%s nobody listens on: no warning in the log after 30 s; stderr:\n%s", socket, m.stderr)
		}
		time.Sleep(20 * time.Millisecond) // the log gives no notice of a write
	}
	if !strings.Contains(m.stderr.String(), socket) {
		t.Errorf("the warning does not name the socket %s; stderr:\n%s", socket, m.stderr)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err != nil {
		t.Fatalf("GET /healthz after the failed notification: %v", err)
	}
	resp.Body.Close()
	m.cmd.Process.Signal(syscall.SIGTERM)
	if err := m.cmd.Wait(); err != nil {
		t.Errorf("manager exit after SIGTERM: %v, want status 0\nstderr:\n%s", err, m.stderr)
	}
}
