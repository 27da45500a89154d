package logfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Watcher shares one inotify instance among the follows of a manager: a user
// may open only 128 instances by default, and a follow of its own per live log
// stream would run out of them. The instance is opened for the first follow
// and closed after the last. One lock guards the registry, held only while it
// is read or changed, never across a wait.
type Watcher struct {
	mu sync.Mutex
	// in is the inotify instance; nil while nobody follows. The other fields
	// belong to it and are reset with it.
	in *os.File
	rc syscall.RawConn
	// subs are the subscriptions by path followed.
	subs map[string]map[*subscription]bool
	// watched are the paths each watch descriptor concerns: its file's path,
	// or every followed path in its directory.
	watched map[int32]map[string]bool
	// fileWd and dirWd are the watch descriptors of each path's file and of
	// each directory.
	fileWd, dirWd map[string]int32
}

// subscription is one follow's interest in a path.
type subscription struct {
	wake chan<- struct{}
	// failed is closed when the instance can no longer be read: the follow
	// then polls.
	failed chan struct{}
}

// NewWatcher returns a Watcher; it opens nothing until the first follow.
func NewWatcher() *Watcher { return &Watcher{} }

// notifyLoop is notifyLoop through w's shared instance.
func (w *Watcher) notifyLoop(ctx context.Context, path string, wake chan<- struct{}, started func()) error {
	s := &subscription{wake: wake, failed: make(chan struct{})}
	if err := w.subscribe(path, s); err != nil {
		return err
	}
	defer w.unsubscribe(path, s)
	started()
	select {
	case <-ctx.Done():
		return nil
	case <-s.failed:
		return errors.New("the shared inotify instance failed")
	}
}

// add adds a watch of path with mask to the instance; w.mu is held.
func (w *Watcher) add(path string, mask uint32) (int32, error) {
	var wd int
	var addErr error
	if err := w.rc.Control(func(fd uintptr) { wd, addErr = unix.InotifyAddWatch(int(fd), path, mask) }); err != nil {
		return 0, err
	}
	return int32(wd), addErr
}

// forget removes path from what wd concerns, and the watch when it concerns
// nothing any more; w.mu is held.
func (w *Watcher) forget(wd int32, path string) {
	delete(w.watched[wd], path)
	if len(w.watched[wd]) == 0 {
		delete(w.watched, wd)
		_ = w.rc.Control(func(fd uintptr) { _, _ = unix.InotifyRmWatch(int(fd), uint32(wd)) })
	}
}

func (w *Watcher) subscribe(path string, s *subscription) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.in == nil {
		fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
		if err != nil {
			return fmt.Errorf("inotify init: %w", err)
		}
		// Non-blocking and read through an *os.File, so that the wait sits in
		// the Go netpoller instead of holding a thread.
		in := os.NewFile(uintptr(fd), "inotify")
		rc, err := in.SyscallConn()
		if err != nil {
			in.Close()
			return err
		}
		w.in, w.rc = in, rc
		w.subs, w.watched = map[string]map[*subscription]bool{}, map[int32]map[string]bool{}
		w.fileWd, w.dirWd = map[string]int32{}, map[string]int32{}
		go w.read(in)
	}
	dir := filepath.Dir(path)
	wd, ok := w.dirWd[dir]
	if !ok {
		var err error
		if wd, err = w.add(dir, unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ONLYDIR); err != nil {
			w.closeIfIdle()
			return fmt.Errorf("inotify watch %s: %w", dir, err)
		}
		w.dirWd[dir] = wd
	}
	w.concern(wd, path)
	if w.subs[path] == nil {
		w.subs[path] = map[*subscription]bool{}
	}
	w.subs[path][s] = true
	w.watchFile(path)
	return nil
}

// concern records that wd concerns path; w.mu is held.
func (w *Watcher) concern(wd int32, path string) {
	if w.watched[wd] == nil {
		w.watched[wd] = map[string]bool{}
	}
	w.watched[wd][path] = true
}

// watchFile watches the file now at path, dropping the watch of the one that
// was there before (a rotated file); w.mu is held. A missing file is fine:
// its directory's watch reports when it appears.
func (w *Watcher) watchFile(path string) {
	wd, err := w.add(path, fileEvents)
	if err != nil {
		return
	}
	if old, ok := w.fileWd[path]; ok && old != wd {
		w.forget(old, path)
	}
	w.fileWd[path] = wd
	w.concern(wd, path)
}

func (w *Watcher) unsubscribe(path string, s *subscription) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.in == nil || !w.subs[path][s] {
		return // the instance failed and was reset meanwhile
	}
	delete(w.subs[path], s)
	if len(w.subs[path]) == 0 {
		delete(w.subs, path)
		if wd, ok := w.fileWd[path]; ok {
			delete(w.fileWd, path)
			w.forget(wd, path)
		}
		dir := filepath.Dir(path)
		if wd, ok := w.dirWd[dir]; ok {
			w.forget(wd, path)
			if w.watched[wd] == nil {
				delete(w.dirWd, dir)
			}
		}
	}
	w.closeIfIdle()
}

// closeIfIdle closes the instance when nobody follows; w.mu is held.
func (w *Watcher) closeIfIdle() {
	if len(w.subs) == 0 {
		w.reset()
	}
}

// reset closes the instance and forgets its registry; w.mu is held.
func (w *Watcher) reset() {
	w.in.Close()
	w.in, w.rc, w.subs, w.watched, w.fileWd, w.dirWd = nil, nil, nil, nil, nil, nil
}

// read hands the events of the instance in to the subscriptions until in is
// closed. If reading fails otherwise, every follow of the instance is told
// to poll, and the next follow opens a new instance.
func (w *Watcher) read(in *os.File) {
	buf := make([]byte, 64<<10)
	for {
		n, err := in.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			w.mu.Lock()
			if w.in == in {
				for _, subs := range w.subs {
					for s := range subs {
						close(s.failed)
					}
				}
				w.reset()
			}
			w.mu.Unlock()
			return
		}
		w.dispatch(in, buf[:n])
	}
}

// dispatch wakes the follows concerned by the events in buf.
func (w *Watcher) dispatch(in *os.File, buf []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.in != in {
		return // closed meanwhile
	}
	for off := 0; off+unix.SizeofInotifyEvent <= len(buf); {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		off += unix.SizeofInotifyEvent + int(ev.Len)
		wd := ev.Wd
		for path := range w.watched[wd] {
			if ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 {
				// A file created or renamed into the directory: maybe a new
				// file at a followed path, which needs a watch of its own.
				w.watchFile(path)
			}
			for s := range w.subs[path] {
				notify(s.wake)
			}
		}
		if ev.Mask&unix.IN_IGNORED != 0 {
			// The file went away (deleted), and its watch with it.
			for path := range w.watched[wd] {
				if w.fileWd[path] == wd {
					delete(w.fileWd, path)
				}
			}
			delete(w.watched, wd)
		}
	}
}
