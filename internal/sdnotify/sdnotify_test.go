package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listen opens a unixgram socket at addr (a path, or '@' and an abstract
// name) as systemd's notification socket, closed at the end of the test.
func listen(t *testing.T, addr string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on unixgram %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// receive returns the next datagram on conn, failing the test after 10 s.
func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, _, err := conn.ReadFromUnix(buf)
	if err != nil {
		t.Fatalf("read the notification socket: %v", err)
	}
	return string(buf[:n])
}

func TestNotifyDelivers(t *testing.T) {
	tests := []struct {
		name   string
		socket func(t *testing.T) string
	}{
		{"path", func(t *testing.T) string { return filepath.Join(t.TempDir(), "notify") }},
		{"abstract", func(t *testing.T) string {
			if runtime.GOOS != "linux" {
				t.Skip("the abstract socket namespace is Linux's")
			}
			return fmt.Sprintf("@pyvisor-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			socket := tt.socket(t)
			conn := listen(t, socket)
			if _, err := os.Lstat(socket); strings.HasPrefix(socket, "@") && err == nil {
				t.Fatalf("listening on %q made a file of that name, not an abstract socket", socket)
			}
			n := Notifier{Socket: socket}
			for _, state := range []string{Ready + "\nMAINPID=42\nSTATUS=serving", Stopping} {
				if err := n.Notify(state); err != nil {
					t.Fatalf("Notifier{%q}.Notify(%q): %v", socket, state, err)
				}
				if got := receive(t, conn); got != state {
					t.Errorf("Notifier{%q}.Notify(%q): the socket received %q, want the state as one datagram", socket, state, got)
				}
			}
		})
	}
}

func TestNotifyErrors(t *testing.T) {
	tests := []struct {
		name    string
		socket  string
		wantErr string // "" for none
		is      error
	}{
		{name: "no socket is a no-op", socket: ""},
		{name: "relative path", socket: "notify.sock", wantErr: "absolute path"},
		{name: "nothing listens", socket: "/nonexistent/pyvisor/notify", wantErr: "/nonexistent/pyvisor/notify", is: syscall.ENOENT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Notifier{Socket: tt.socket}.Notify(Ready)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Notifier{%q}.Notify(READY=1) = %v, want nil", tt.socket, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Notifier{%q}.Notify(READY=1) = %v, want an error naming %q", tt.socket, err, tt.wantErr)
			case tt.is != nil && !errors.Is(err, tt.is):
				t.Errorf("Notifier{%q}.Notify(READY=1) = %v, want one wrapping %v", tt.socket, err, tt.is)
			}
		})
	}
}
