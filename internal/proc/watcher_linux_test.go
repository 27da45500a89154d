package proc

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// goroutineSlack is how many goroutines besides the Watcher's the test binary may start or end meanwhile
// (the runtime's own, a timer's); far fewer than the one per process a missing Watcher would add.
const goroutineSlack = 3

// settleGoroutines runs a collection first, so that the runtime's background
// mark workers, started at the first one (one per CPU), exist before a test
// counts goroutines.
func settleGoroutines() { runtime.GC() }

// newTestWatcher returns a Watcher closed when the test ends, after the cleanups registered later (which
// stop the processes) have run.
func newTestWatcher(t *testing.T) *Watcher {
	t.Helper()
	w, err := NewWatcher()
	if err != nil {
		t.Fatalf("NewWatcher() = %v", err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return w
}

// registered returns how many pidfds w watches.
func (w *Watcher) registered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.watched)
}

// TestWatcherManyChildren starts 50 children through one Watcher, some exiting at once with a code of their
// own, the others killed in random order with various signals, and checks that each Done closes with the
// right status while one goroutine waits for them all.
func TestWatcherManyChildren(t *testing.T) {
	// Not parallel: it counts the goroutines of the whole test binary.
	settleGoroutines()
	before := runtime.NumGoroutine()
	w := newTestWatcher(t)
	type child struct {
		p    *Process
		spec Spec
		want ExitStatus
	}
	sigs := []syscall.Signal{unix.SIGKILL, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2}
	var children []child
	for i := range 50 {
		c := child{spec: Spec{Path: "sleep", Args: []string{"300"}, Env: os.Environ(), Watcher: w}}
		if i%5 == 0 {
			// Exits at once, possibly before it is registered: its pidfd is readable from the start.
			code := i/5 + 1
			c.spec.Path, c.spec.Args = "sh", []string{"-c", "exit " + strconv.Itoa(code)}
			c.want = ExitStatus{Known: true, Code: code}
		} else {
			c.want = ExitStatus{Known: true, Code: -1, Signal: sigs[i%len(sigs)]}
		}
		p, err := Start(c.spec)
		if err != nil {
			t.Fatalf("Start(%+v) = %v", c.spec, err)
		}
		t.Cleanup(func() { killGroup(t, p) })
		c.p = p
		children = append(children, c)
	}
	if after := runtime.NumGoroutine(); after-before > 1+goroutineSlack {
		t.Errorf("goroutines: %d before NewWatcher, %d with 50 children watched; want at most %d more",
			before, after, 1+goroutineSlack)
	}

	rand.Shuffle(len(children), func(i, j int) { children[i], children[j] = children[j], children[i] })
	for _, c := range children {
		if c.want.Signal == 0 {
			continue
		}
		if isDone(c.p) {
			t.Fatalf("Done of %q (pid %d) closed before it was signalled", c.spec.Path, c.p.Identity().PID)
		}
		if err := c.p.Signal(c.want.Signal); err != nil {
			t.Fatalf("Signal(%v) to pid %d = %v", c.want.Signal, c.p.Identity().PID, err)
		}
	}
	for _, c := range children {
		waitDone(t, c.p, 30*time.Second)
		if got := c.p.Exit(); got != c.want {
			t.Errorf("Exit() of %q %v (pid %d) = %+v, want %+v", c.spec.Path, c.spec.Args, c.p.Identity().PID, got, c.want)
		}
	}
	if n := w.registered(); n != 0 {
		t.Errorf("after every child exited the Watcher still watches %d pidfds, want 0", n)
	}
}

// TestWatcherAdopt adopts a running process through a Watcher and sees it exit, with an unknown status.
func TestWatcherAdopt(t *testing.T) {
	t.Parallel()
	w := newTestWatcher(t)
	p, out := startHelper(t, "hang")
	out.line(t)
	a, err := w.Adopt(p.Identity())
	if err != nil {
		t.Fatalf("Adopt(%+v) through a Watcher = %v", p.Identity(), err)
	}
	if !a.Adopted() || a.Identity() != p.Identity() {
		t.Errorf("Adopt(%+v) through a Watcher: Adopted() = %v, Identity() = %+v; want true and the same identity",
			p.Identity(), a.Adopted(), a.Identity())
	}
	if n := w.registered(); n != 1 {
		t.Errorf("after Adopt the Watcher watches %d pidfds, want 1", n)
	}
	if isDone(a) {
		t.Fatalf("Done of the adopted process closed while it runs")
	}
	if err := p.Signal(unix.SIGKILL); err != nil {
		t.Fatalf("Signal(SIGKILL) = %v", err)
	}
	waitDone(t, a, 10*time.Second)
	if got := a.Exit(); got.Known {
		t.Errorf("Exit() of the adopted process = %+v, want Known false", got)
	}

	stranger := Identity{PID: p.Identity().PID, StartTime: p.Identity().StartTime + 1}
	if _, err := w.Adopt(stranger); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Adopt(%+v) of a process that is gone = nil error, want ErrNotRunning", stranger)
	}
}

// TestWatcherNilAndClosed checks that without a usable Watcher (nil, or closed) a process is still seen to
// exit, by a goroutine of its own.
func TestWatcherNilAndClosed(t *testing.T) {
	t.Parallel()
	closed, err := NewWatcher()
	if err != nil {
		t.Fatalf("NewWatcher() = %v", err)
	}
	if err := closed.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := closed.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	for _, tc := range []struct {
		name string
		w    *Watcher
	}{{"nil", nil}, {"closed", closed}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := Spec{Path: "sh", Args: []string{"-c", "exit 4"}, Env: os.Environ(), Watcher: tc.w}
			p, err := Start(spec)
			if err != nil {
				t.Fatalf("Start(%+v) = %v", spec, err)
			}
			waitDone(t, p, 10*time.Second)
			if got, want := p.Exit(), (ExitStatus{Known: true, Code: 4}); got != want {
				t.Errorf("Exit() with a %s Watcher = %+v, want %+v", tc.name, got, want)
			}
			h, out := startHelper(t, "hang")
			out.line(t)
			a, err := tc.w.Adopt(h.Identity())
			if err != nil {
				t.Fatalf("Adopt(%+v) with a %s Watcher = %v", h.Identity(), tc.name, err)
			}
			killGroup(t, h)
			waitDone(t, a, 10*time.Second)
		})
	}
}

// TestWatcherClose closes a Watcher with processes registered: its goroutine ends, its descriptors are
// closed, and the processes keep running (a manager going away leaves its programs to the next one).
func TestWatcherClose(t *testing.T) {
	// Not parallel: it counts goroutines and checks that descriptor numbers are no longer open, which
	// another test could open again meanwhile.
	settleGoroutines()
	before := runtime.NumGoroutine()
	w, err := NewWatcher()
	if err != nil {
		t.Fatalf("NewWatcher() = %v", err)
	}
	t.Cleanup(func() { _ = w.Close() }) // for a test that fails before its own Close; a second Close does nothing
	var procs []*Process
	for range 4 {
		spec := Spec{Path: "sleep", Args: []string{"300"}, Env: os.Environ(), Watcher: w}
		p, err := Start(spec)
		if err != nil {
			t.Fatalf("Start(%+v) = %v", spec, err)
		}
		// Done never closes once the Watcher is gone, so the cleanup reaps the child itself.
		t.Cleanup(func() {
			_ = unix.Kill(-p.Identity().PID, unix.SIGKILL)
			_, _ = unix.Wait4(p.Identity().PID, nil, 0, nil)
		})
		procs = append(procs, p)
	}
	a, err := w.Adopt(procs[0].Identity())
	if err != nil {
		t.Fatalf("Adopt(%+v) = %v", procs[0].Identity(), err)
	}
	procs = append(procs, a)

	w.mu.Lock()
	fds := []int{w.ep}
	for fd := range w.watched {
		fds = append(fds, fd)
	}
	w.mu.Unlock()
	if len(fds) != 1+len(procs) {
		t.Fatalf("the Watcher holds descriptors %v, want its epoll descriptor and %d pidfds", fds, len(procs))
	}
	for _, fd := range fds {
		if _, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err != nil {
			t.Fatalf("descriptor %d of the Watcher is not open: %v", fd, err)
		}
	}

	if err := w.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	for _, fd := range fds {
		if target, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil {
			t.Errorf("after Close descriptor %d is still open (%s), want closed", fd, target)
		}
	}
	for _, p := range procs {
		if !p.Identity().Alive() || isDone(p) {
			t.Errorf("after Close pid %d: Alive() = %v, Done closed = %v; want it running and not done",
				p.Identity().PID, p.Identity().Alive(), isDone(p))
		}
	}
	// Close has waited for the goroutine to return; the runtime may count it a moment longer. Nothing
	// else of this test runs a goroutine, so the count must come back to where it was.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines: %d before NewWatcher, %d after Close; want at most %d", before, after, before)
	}
}
