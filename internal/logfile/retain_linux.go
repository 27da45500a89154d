package logfile

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// notifier tells Run of the first write to each idle log, through one-shot
// inotify watches: a log costs nothing while no one writes to it, and one
// event when someone starts; and of the files created in the directories of
// missing logs. A nil notifier watches nothing.
type notifier struct {
	f      *os.File // the inotify descriptor, in Go's poller
	events chan int32
}

// newNotifier returns nil if inotify cannot be set up (the caller then polls).
func newNotifier() *notifier {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	n := &notifier{f: os.NewFile(uintptr(fd), "inotify"), events: make(chan int32, 64)}
	go n.read()
	return n
}

// read sends the watch descriptor of each write or creation event until the
// descriptor is closed.
func (n *notifier) read() {
	defer close(n.events)
	var buf [4096]byte
	for {
		got, err := n.f.Read(buf[:])
		if err != nil {
			return // closed
		}
		for off := 0; off+unix.SizeofInotifyEvent <= got; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			if ev.Mask&(unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO) != 0 {
				n.events <- ev.Wd
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
}

// written is the channel of write events; nil (never ready) for a nil
// notifier.
func (n *notifier) written() <-chan int32 {
	if n == nil {
		return nil
	}
	return n.events
}

// pending returns the next event already sent, or -1.
func (n *notifier) pending() int32 {
	if n == nil {
		return -1
	}
	select {
	case wd, ok := <-n.events:
		if ok {
			return wd
		}
	default:
	}
	return -1
}

// watch arms a one-shot watch for the next write to path.
func (n *notifier) watch(path string) (int32, bool) {
	if n == nil {
		return -1, false
	}
	wd, err := unix.InotifyAddWatch(int(n.f.Fd()), path, unix.IN_MODIFY|unix.IN_ONESHOT)
	if err != nil {
		return -1, false
	}
	return int32(wd), true
}

// watchDir arms a watch for every file created or moved into dir, until
// unwatched; the error wraps os.ErrNotExist when dir does not exist.
func (n *notifier) watchDir(dir string) (int32, error) {
	if n == nil {
		return -1, errNoNotifier
	}
	wd, err := unix.InotifyAddWatch(int(n.f.Fd()), dir, unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ONLYDIR)
	if err != nil {
		return -1, &os.PathError{Op: "inotify_add_watch", Path: dir, Err: err}
	}
	return int32(wd), nil
}

func (n *notifier) unwatch(wd int32) {
	if n == nil {
		return
	}
	// Its only error, EINVAL, says the watch already fired (one-shot) or
	// its file is gone: nothing to undo either way.
	unix.InotifyRmWatch(int(n.f.Fd()), uint32(wd))
}

func (n *notifier) close() {
	if n == nil {
		return
	}
	n.f.Close()
	for range n.events { // let read end
	}
}
