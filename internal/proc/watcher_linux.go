package proc

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Watcher notices the exits of many processes with one goroutine: their pidfds sit in one epoll instance,
// and the goroutine waits on the epoll descriptor through the Go netpoller (an epoll descriptor is itself
// pollable), so it parks without holding an OS thread. Without a Watcher each process has a goroutine of its
// own parked on its pidfd; a hundred idle programs then keep a hundred stacks alive for the collector to
// walk.
//
// A process that cannot be registered (no pidfd, a failing epoll_ctl, a closed Watcher) is watched the way
// it would be without a Watcher. The methods of a nil *Watcher are safe and mean "no Watcher".
type Watcher struct {
	// ep is the epoll descriptor; file wraps it for the netpoller and closes it. epoll_ctl is called on ep only
	// under mu while closed is false, and Close sets closed before it closes file, so ep is never a number
	// that has meanwhile been closed and reused.
	ep   int
	file *os.File
	// ended is closed when the goroutine has returned.
	ended chan struct{}

	mu     sync.Mutex
	closed bool
	// stopped is set when the goroutine has given up on the epoll descriptor; registrations then fail.
	stopped bool
	// watched maps each registered pidfd to what its readiness finishes. The goroutine removes an entry
	// before it closes the pidfd, so a number in the map is always open and cannot have been reused.
	watched map[int]watched
}

// watched is what the Watcher does when a pidfd becomes readable.
type watched struct {
	p *Process
	// osp is our own child, reaped before p is finished; nil for an adopted process.
	osp *os.Process
}

// NewWatcher creates the epoll instance and starts the goroutine that waits on it. Call Close when done.
func NewWatcher() (*Watcher, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create exit watcher: epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(ep, true); err != nil {
		unix.Close(ep)
		return nil, fmt.Errorf("create exit watcher: set epoll descriptor nonblocking: %w", err)
	}
	w := &Watcher{
		ep:      ep,
		file:    os.NewFile(uintptr(ep), "epoll:exit-watcher"),
		ended:   make(chan struct{}),
		watched: map[int]watched{},
	}
	rc, err := w.file.SyscallConn()
	if err != nil {
		w.file.Close()
		return nil, fmt.Errorf("create exit watcher: %w", err)
	}
	go w.loop(rc)
	return w, nil
}

// Close stops the goroutine, waits until it has returned and closes the epoll descriptor and the pidfd of
// every process still registered. Those processes keep running, untouched, but their Done is then never
// closed: Close is for a manager that is going away and leaves its programs to the next one. Close is
// idempotent and safe on a nil Watcher.
func (w *Watcher) Close() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.ended
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	// A Read pending on the file returns ErrClosed; the descriptor itself is closed once it has.
	err := w.file.Close()
	<-w.ended
	w.mu.Lock()
	for fd := range w.watched {
		unix.Close(fd)
	}
	clear(w.watched)
	w.mu.Unlock()
	if err != nil {
		return fmt.Errorf("close exit watcher: %w", err)
	}
	return nil
}

// register adds pidfd, which becomes readable when p's process exits, to the epoll set. On success the
// Watcher owns pidfd; on error the caller still does.
func (w *Watcher) register(pidfd int, p *Process, osp *os.Process) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.stopped {
		return fmt.Errorf("watch pid %d: %w", p.id.PID, os.ErrClosed)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(pidfd)}
	if err := unix.EpollCtl(w.ep, unix.EPOLL_CTL_ADD, pidfd, &ev); err != nil {
		return fmt.Errorf("watch pid %d: epoll_ctl: %w", p.id.PID, err)
	}
	w.watched[pidfd] = watched{p: p, osp: osp}
	return nil
}

// loop waits for pidfds to become readable and finishes their processes, until Close.
func (w *Watcher) loop(rc syscall.RawConn) {
	defer close(w.ended)
	events := make([]unix.EpollEvent, 32)
	for {
		var n int
		var waitErr error
		err := rc.Read(func(fd uintptr) bool {
			// As in waitReadable: look rather than trust the wakeup; false makes the netpoller wait for
			// the next edge of the epoll descriptor.
			for {
				n, waitErr = unix.EpollWait(int(fd), events, 0)
				if !errors.Is(waitErr, unix.EINTR) {
					return waitErr != nil || n > 0
				}
			}
		})
		if err != nil {
			return // Close closed the file
		}
		if waitErr != nil {
			// epoll_wait on a valid descriptor with a valid buffer has no reason to fail; if it does, each
			// process goes back to a goroutine of its own rather than never being seen to exit.
			w.handBack()
			return
		}
		for _, ev := range events[:n] {
			w.exited(int(ev.Fd))
		}
	}
}

// handBack stops registrations and gives every registered process a goroutine of its own, as without a
// Watcher.
func (w *Watcher) handBack() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.closed {
		return // Close closes the pidfds
	}
	for fd, x := range w.watched {
		_ = unix.EpollCtl(w.ep, unix.EPOLL_CTL_DEL, fd, nil)
		watchAlone(x.p, x.osp, os.NewFile(uintptr(fd), pidfdName(x.p.id.PID)))
	}
	clear(w.watched)
}

// exited takes pidfd out of the set, closes it and finishes its process: for our own child after reaping
// it, which does not block since it has exited.
func (w *Watcher) exited(pidfd int) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	x, ok := w.watched[pidfd]
	if ok {
		delete(w.watched, pidfd)
		_ = unix.EpollCtl(w.ep, unix.EPOLL_CTL_DEL, pidfd, nil)
		unix.Close(pidfd)
	}
	w.mu.Unlock()
	switch {
	case !ok:
	case x.osp != nil:
		waitChild(x.p, x.osp)
	default:
		x.p.finish(ExitStatus{})
	}
}
