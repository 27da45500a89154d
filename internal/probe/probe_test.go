package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestHTTP(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fine")) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/fail", http.StatusFound) })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tlsSrv := httptest.NewTLSServer(mux)
	t.Cleanup(tlsSrv.Close)
	t.Cleanup(func() { close(release) })
	p := New()
	tests := []struct {
		name   string
		url    string
		ok     bool
		detail string
	}{
		{"2xx passes", srv.URL + "/ok", true, ""},
		{"3xx passes and is not followed", srv.URL + "/moved", true, ""},
		{"5xx fails", srv.URL + "/fail", false, "HTTP 503 Service Unavailable"},
		{"no answer in time", srv.URL + "/hang", false, "no answer within 300ms"},
		{"refused", "http://" + closedAddr(t) + "/", false, "connection refused"},
		{"https with a certificate not trusted", tlsSrv.URL + "/ok", false, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Only the hanging server needs a short timeout; the others answer at
			// once, but a TLS handshake under the race detector on a loaded machine
			// can take longer than that.
			timeout := 10 * time.Second
			if strings.HasSuffix(tt.url, "/hang") {
				timeout = 300 * time.Millisecond
			}
			got := p.HTTP(t.Context(), tt.url, timeout)
			if got.OK != tt.ok || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("HTTP(%s) = %+v, want OK %t and a detail with %q", tt.url, got, tt.ok, tt.detail)
			}
		})
	}
}

func TestTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	tests := []struct {
		name   string
		addr   string
		ok     bool
		detail string
	}{
		{"listening", l.Addr().String(), true, ""},
		{"a host name", "localhost:" + port, true, ""},
		{"refused", closedAddr(t), false, "connection refused"},
		{"a listener whose queue is full", fullListener(t), false, "no answer within 300ms"},
		{"no such port name", "127.0.0.1:no-such-service", false, "no-such-service"},
	}
	if l6, err := net.Listen("tcp", "[::1]:0"); err == nil {
		t.Cleanup(func() { l6.Close() })
		tests = append(tests, struct {
			name   string
			addr   string
			ok     bool
			detail string
		}{"IPv6", l6.Addr().String(), true, ""})
	}
	p := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.TCP(t.Context(), tt.addr, 300*time.Millisecond)
			if got.OK != tt.ok || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("TCP(%s) = %+v, want OK %t and a detail with %q", tt.addr, got, tt.ok, tt.detail)
			}
		})
	}
}

// fullListener returns the address of a listener that never accepts and whose queue of connections is
// full, so that the kernel drops new attempts and they go unanswered.
func fullListener(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.CloseOnExec(fd)
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	// Fill the queue: the first connections are queued, unaccepted; the rest wait in vain.
	for range 3 {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return addr
}

// alive reports whether the process whose PID is written in file exists and is not a zombie (which an init
// may take a while to collect).
func alive(t *testing.T, file string) bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read the pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !os.IsNotExist(err) // no /proc (macOS): kill's answer stands
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

func TestCommand(t *testing.T) {
	dir := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "CHECK=yes"}
	pidFile := filepath.Join(dir, "child.pid")
	tests := []struct {
		name     string
		script   string
		ok       bool
		detail   string
		leftover bool // a child wrote its PID to pidFile: it must be gone afterwards
	}{
		{"exit 0 passes", `test "$(pwd)" = "` + dir + `" && test "$CHECK" = yes`, true, "", false},
		{"exit 1 fails with the last line", "echo starting; echo 'database is down' >&2; exit 1", false, "exit status 1: database is down", false},
		{"hang is killed with its group", "sleep 30 & echo $! > child.pid; echo waiting; sleep 30", false, "still running after 500ms: killed: waiting", true},
		{"children left behind are killed", "sleep 30 & echo $! > child.pid; echo ok", true, "", true},
		{"not found", "", false, "no-such-check", false},
	}
	p := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(pidFile)
			c := Command{Args: []string{"sh", "-c", tt.script}, Dir: dir, Env: env}
			if tt.script == "" {
				c.Args = []string{"no-such-check"}
			}
			start := time.Now()
			// Only the hanging command needs a short timeout: a shell started on a
			// loaded machine can take longer than that to run the others.
			timeout := 10 * time.Second
			if strings.HasPrefix(tt.name, "hang") {
				timeout = 500 * time.Millisecond
			}
			got := p.Command(t.Context(), c, timeout)
			if got.OK != tt.ok || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("Command(%q) = %+v, want OK %t and a detail with %q", tt.script, got, tt.ok, tt.detail)
			}
			if tt.leftover && alive(t, pidFile) {
				t.Errorf("Command(%q) left its child running", tt.script)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("Command(%q) took %s", tt.script, took)
			}
		})
	}
}

func TestCommandCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	got := New().Command(ctx, Command{Args: []string{"sleep", "30"}, Env: []string{"PATH=" + os.Getenv("PATH")}}, time.Minute)
	if got.OK || got.Detail != "canceled" {
		t.Errorf("Command(sleep 30) canceled = %+v, want a failure saying canceled", got)
	}
}

// TestAgain checks that a check with Again runs again while it passes, at the times Again gives, and sends
// only the failure that ends the series, with its due time; and that canceling a series ends it. It runs
// each kind of check: an HTTP and a TCP one to an address (on Linux, on the engine), an HTTP one to a host
// name (looked up), and a command.
func TestAgain(t *testing.T) {
	const passes = 3 // runs that pass before the one that fails
	var (
		mu    sync.Mutex
		runs  int
		limit = passes
	)
	run := func() bool { // counts a run of a check; reports whether it is to pass
		mu.Lock()
		defer mu.Unlock()
		runs++
		return runs <= limit
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !run() {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	// For TCP, a listener that closes after passes connections.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
			run()
			mu.Lock()
			last := runs >= limit
			mu.Unlock()
			if last { // the next connection is refused, and not counted
				l.Close()
			}
		}
	}()
	dir := t.TempDir()
	counter := filepath.Join(dir, "runs")
	script := `n=$(cat runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > runs; test $n -le ` + strconv.Itoa(passes)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))

	tests := []struct {
		name   string
		check  Check
		runs   func() int
		want   int // runs counted
		detail string
	}{
		{"http", Check{HTTP: srv.URL + "/"}, nil, passes + 1, "HTTP 503"},
		{"http to a host name", Check{HTTP: "http://localhost:" + port + "/"}, nil, passes + 1, "HTTP 503"},
		{"tcp", Check{TCP: l.Addr().String()}, nil, passes, "connection refused"},
		{"command", Check{Command: &Command{Args: []string{"sh", "-c", script}, Dir: dir, Env: os.Environ()}}, func() int {
			b, _ := os.ReadFile(counter)
			n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return n
		}, passes + 1, "exit status 1"},
	}
	p := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			runs = 0
			mu.Unlock()
			var lastDue time.Time // the last time Again gave
			again := 0
			tt.check.Timeout = 10 * time.Second
			tt.check.At = time.Now().Add(10 * time.Millisecond)
			tt.check.Again = func(due, ended time.Time) time.Time {
				if !ended.After(due) {
					t.Errorf("Again(%s, %s): the run ended before it was due", due.Format(time.StampMicro), ended.Format(time.StampMicro))
				}
				again++
				lastDue = ended.Add(20 * time.Millisecond)
				return lastDue
			}
			done := make(chan Result, 1)
			p.Start(t.Context(), tt.check, done)
			got := <-done
			if got.OK || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("the series ended with %+v, want a failure with %q", got, tt.detail)
			}
			if again != passes || !got.Due.Equal(lastDue) {
				t.Errorf("Again was called %d times, the result was due at %s; want %d calls and due at %s, Again's last answer",
					again, got.Due.Format(time.StampMicro), passes, lastDue.Format(time.StampMicro))
			}
			count := tt.runs
			if count == nil {
				count = func() int { mu.Lock(); defer mu.Unlock(); return runs }
			}
			time.Sleep(100 * time.Millisecond) // five more runs, were the series not ended by its failure
			if n := count(); n != tt.want {
				t.Errorf("the check was counted %d times, want %d: %d passes, then the failure", n, tt.want, passes)
			}
		})
	}

	t.Run("canceled", func(t *testing.T) {
		mu.Lock()
		runs, limit = 0, 1<<30
		mu.Unlock()
		ctx, cancel := context.WithCancel(t.Context())
		passed := make(chan struct{}, 100)
		check := Check{HTTP: srv.URL, Timeout: 10 * time.Second, Again: func(due, ended time.Time) time.Time {
			passed <- struct{}{}
			return ended.Add(10 * time.Millisecond)
		}}
		done := make(chan Result, 1)
		p.Start(ctx, check, done)
		<-passed
		<-passed
		cancel()
		if got := <-done; got.OK || got.Detail != "canceled" {
			t.Errorf("a series canceled = %+v, want a failure saying canceled", got)
		}
	})
}
