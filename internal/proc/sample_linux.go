package proc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SampleGroups returns the usage of each process group in pgids that has live members; groups with none are
// absent from the map. Zombies do not count.
//
// Each group is found from its leader (pgid == leader pid): the leader and its descendants that are still in
// the group, listed through /proc/<pid>/task/<tid>/children. That reads a couple of small files per process
// of ours and nothing of the rest of the machine, which keeps sampling a hundred programs every few seconds
// cheap. A member that is not the leader's descendant (orphaned when its parent exited) is missed; groups
// whose leader is gone, and kernels without the children files, are sampled by a scan of all of /proc.
func SampleGroups(pgids []int) (map[int]Usage, error) {
	var s Sampler
	defer s.Close()
	return s.Sample(pgids)
}

// Sampler is SampleGroups for repeated use: it remembers the members of each
// group and walks a group's process tree again only every rediscoverEvery
// calls, or as soon as a remembered member has gone or left the group; in
// between it reads just the members' stat files, which it keeps open. A
// process a program starts shows up within rediscoverEvery calls. It keeps
// its maps and /proc open between calls because a round runs every few
// seconds for as long as the manager runs. The zero value is ready; Close
// releases the open files. It is not safe for concurrent use.
type Sampler struct {
	members  map[int][]int // pgid -> live members at the last call
	spare    map[int][]int // the members map before last, reused for the next
	live     map[int]bool  // closeGone's set, reused
	usage    map[int]Usage // what Sample returns, reused
	proc     int           // /proc, open while procOpen
	procOpen bool
	calls    int
	walker   *treeWalker
	// stats and kids are the open /proc/<pid>/stat and children files of
	// the processes walked, kept for the members remembered.
	stats, kids fileCache
	// peak is the most files either cache has held since it was made; see
	// shrink.
	peak int
}

// fileCache keeps files of processes in /proc open, by PID, to read them
// again with pread: that costs no path lookup, the most of what opening them
// costs. A file stays bound to its process: once that process is gone it
// reads an error, never a newer process that got the same PID.
type fileCache map[int]int

// open returns the descriptor of pid's file, opening path (NUL-terminated,
// relative to dir) unless it is open already; ok is false if it cannot be
// opened (the process is gone).
func (c fileCache) open(dir, pid int, path []byte) (fd int, ok bool) {
	if fd, ok := c[pid]; ok {
		return fd, true
	}
	// A raw openat because unix.Openat copies its string argument into a new
	// NUL-terminated slice; path is one already. Without the runtime's
	// bookkeeping too, as for preadNow.
	r, _, errno := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(dir), uintptr(unsafe.Pointer(&path[0])),
		uintptr(unix.O_RDONLY|unix.O_CLOEXEC), 0, 0, 0)
	if errno != 0 {
		return 0, false
	}
	c[pid] = int(r)
	return int(r), true
}

// resized returns a copy of c in a map made for its size.
func (c fileCache) resized() fileCache {
	r := make(fileCache, len(c))
	for pid, fd := range c {
		r[pid] = fd
	}
	return r
}

// drop closes and forgets pid's file.
func (c fileCache) drop(pid int) {
	if fd, ok := c[pid]; ok {
		unix.Close(fd)
		delete(c, pid)
	}
}

// readAt reads pid's file from offset off into buf. A file opened earlier
// that reads an error was its process's, now gone: when fresh, the path is
// opened anew, as the PID may now be another process's (one found just now
// in a children list); otherwise the error stands.
func (c fileCache) readAt(dir, pid int, path, buf []byte, off int64, fresh bool) (n int, ok bool) {
	_, cached := c[pid]
	fd, ok := c.open(dir, pid, path)
	if !ok {
		return 0, false
	}
	var err error
	if off == 0 {
		n, err = preadNow(fd, buf)
	} else {
		n, err = unix.Pread(fd, buf, off)
	}
	if err == nil && n >= 0 {
		return n, true
	}
	c.drop(pid)
	if !cached || !fresh {
		return 0, false
	}
	return c.readAt(dir, pid, path, buf, off, false)
}

// preadNow reads fd from its start into buf, as unix.Pread(fd, buf, 0) but as a raw system call: without
// the runtime's bookkeeping for a call that may block. Reads of a process's files in /proc never wait on
// anything, and a call made the usual way wakes the runtime's sysmon thread from its deep sleep, which then
// wakes every 20 µs for as long as the sampling round lasts and a millisecond after: on an idle manager
// that costs more than the reads themselves. (The offset is 0, which every architecture passes alike.)
func preadNow(fd int, buf []byte) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	r, _, errno := unix.RawSyscall6(unix.SYS_PREAD64, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// Close closes the files the Sampler keeps open; it may be used again after.
func (s *Sampler) Close() {
	for _, c := range []fileCache{s.stats, s.kids} {
		for pid := range c {
			c.drop(pid)
		}
	}
	if s.procOpen {
		unix.Close(s.proc)
		s.procOpen = false
	}
}

// Sample is SampleGroups, remembering members for the next call. The map it
// returns is the Sampler's own, valid until the next call.
func (s *Sampler) Sample(pgids []int) (map[int]Usage, error) {
	if s.usage == nil {
		s.usage = make(map[int]Usage, len(pgids))
	}
	clear(s.usage)
	usage := s.usage
	if len(pgids) == 0 {
		return usage, nil
	}
	if !s.procOpen {
		dir, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("sample process groups: open /proc: %w", err)
		}
		s.proc, s.procOpen = dir, true
	}
	if s.walker == nil {
		s.stats, s.kids = fileCache{}, fileCache{}
		s.walker = &treeWalker{
			statReader: statReader{path: make([]byte, 0, 64), buf: make([]byte, 1024)},
			pageSize:   uint64(os.Getpagesize()),
			list:       make([]byte, 0, 1024),
			stats:      s.stats,
			kids:       s.kids,
		}
	}
	w := s.walker
	w.dir = s.proc
	discover := s.calls%rediscoverEvery == 0
	s.calls++
	members := s.spare
	if members == nil {
		members = make(map[int][]int, len(pgids))
	}
	clear(members)
	var rest []int
	for _, pgid := range pgids {
		if known, ok := s.members[pgid]; ok && !discover {
			if u, ok := s.known(pgid, known); ok {
				usage[pgid], members[pgid] = u, known
				continue
			}
		}
		u, ok := w.group(pgid)
		switch {
		case !ok:
			rest = append(rest, pgid)
		case u.Processes > 0:
			usage[pgid] = u
			// The group's old list is not used again (the old map becomes the
			// spare, cleared next call), so its array can take the new one.
			members[pgid] = append(s.members[pgid][:0], w.found...)
		}
	}
	s.spare, s.members = s.members, members
	s.closeGone()
	if len(rest) == 0 {
		return usage, nil
	}
	scanned, err := sampleByScan(rest)
	if err != nil {
		return nil, err
	}
	for g, u := range scanned {
		usage[g] = u
	}
	return usage, nil
}

// known sums the remembered members of pgid from their stat files; ok is
// false when one of them has gone, died or left the group, and the group must
// be walked again.
func (s *Sampler) known(pgid int, pids []int) (u Usage, ok bool) {
	w := s.walker
	for _, pid := range pids {
		w.path = append(strconv.AppendInt(w.path[:0], int64(pid), 10), "/stat\x00"...)
		n, ok := s.stats.readAt(w.dir, pid, w.path, w.buf, 0, false)
		if !ok || n == 0 {
			return Usage{}, false // gone: closeGone closes the file
		}
		st, parsed := parseStat(w.buf[:n])
		if !parsed || st.pgrp != pgid || st.state == 'Z' || st.state == 'X' {
			return Usage{}, false
		}
		u.CPU += ticksToDuration(st.utime + st.stime)
		u.RSSBytes += st.rssPages * w.pageSize
		u.Processes++
	}
	return u, true
}

// closeGone closes the files of processes no longer remembered.
func (s *Sampler) closeGone() {
	if len(s.stats) == 0 && len(s.kids) == 0 {
		return
	}
	if s.live == nil {
		s.live = make(map[int]bool, len(s.stats))
	}
	clear(s.live)
	live := s.live
	for _, pids := range s.members {
		for _, pid := range pids {
			live[pid] = true
		}
	}
	s.peak = max(s.peak, len(s.stats), len(s.kids))
	for _, c := range []fileCache{s.stats, s.kids} {
		for pid := range c {
			if !live[pid] {
				c.drop(pid)
			}
		}
	}
	s.shrink()
}

// shrinkSlack is how many more files than they hold now the caches may have
// held at their largest before shrink remakes them.
const shrinkSlack = 64

// shrink remakes the caches, and closeGone's set, at the size they need now
// once they have held more than twice that. A map keeps the table it grew to
// when its entries are deleted, and processes that came and went grow it: a
// start-up through pyenv's shims, for one, runs a dozen short-lived
// processes per program, and left the two caches of a hundred programs with
// tables of 18 KB where 2 KB do. A table that large also has a span of the
// heap to itself (the allocator puts four of its size in one span), so the
// waste is several times the table, and stays for as long as the manager
// runs.
func (s *Sampler) shrink() {
	n := max(len(s.stats), len(s.kids))
	if s.peak <= 2*n+shrinkSlack {
		return
	}
	s.stats, s.kids = s.stats.resized(), s.kids.resized()
	s.walker.stats, s.walker.kids = s.stats, s.kids
	s.live = nil // made anew at the right size on the next call
	s.peak = n
}

// treeWalker sums a process group from its leader down, reusing its buffers.
type treeWalker struct {
	statReader
	pageSize uint64
	queue    []int
	dents    []byte
	list     []byte
	found    []int // the live members counted by the last group call
	// stats and kids keep the stat and children files of the processes
	// walked open for the next walk (the Sampler's).
	stats, kids fileCache
}

// stat reads and parses pid's stat file; ok is false if the process has gone.
func (w *treeWalker) stat(pid int) (statFields, bool) {
	w.path = append(strconv.AppendInt(w.path[:0], int64(pid), 10), "/stat\x00"...)
	n, ok := w.stats.readAt(w.dir, pid, w.path, w.buf, 0, true)
	if !ok || n == 0 {
		return statFields{}, false
	}
	return parseStat(w.buf[:n])
}

// group sums the live members of pgid reachable from its leader. ok is false when the tree cannot be
// walked (leader gone or no children files): the caller then scans.
func (w *treeWalker) group(pgid int) (u Usage, ok bool) {
	w.queue = append(w.queue[:0], pgid)
	w.found = w.found[:0]
	for i := 0; i < len(w.queue); i++ {
		pid := w.queue[i]
		st, live := w.stat(pid)
		if pid == pgid && (!live || st.state == 'Z' || st.state == 'X') {
			return Usage{}, false
		}
		if !live || st.pgrp != pgid {
			continue // gone, or moved to a group of its own (it and its children are not ours to count)
		}
		if st.state != 'Z' && st.state != 'X' {
			u.CPU += ticksToDuration(st.utime + st.stime)
			u.RSSBytes += st.rssPages * w.pageSize
			u.Processes++
			w.found = append(w.found, pid)
		}
		if !w.children(pid, st.numThreads) && pid == pgid {
			return Usage{}, false
		}
	}
	return u, true
}

// children queues the children of every thread of pid; false if the children files are missing.
func (w *treeWalker) children(pid, threads int) bool {
	if threads <= 1 {
		// The common case needs no directory listing: the only thread has the process's id.
		return w.readChildren(pid, pid)
	}
	w.path = append(strconv.AppendInt(w.path[:0], int64(pid), 10), "/task\x00"...)
	fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(w.dir), uintptr(unsafe.Pointer(&w.path[0])),
		uintptr(unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC), 0, 0, 0)
	if errno != 0 {
		return false
	}
	defer unix.Close(int(fd))
	if w.dents == nil {
		w.dents = make([]byte, 8<<10)
	}
	found := false
	for {
		n, err := unix.Getdents(int(fd), w.dents)
		if err != nil || n <= 0 {
			return found
		}
		for rec := w.dents[:n]; len(rec) >= direntNameOffset; {
			reclen := int(binary.NativeEndian.Uint16(rec[16:18]))
			if reclen < direntNameOffset || reclen > len(rec) {
				return found
			}
			name := rec[direntNameOffset:reclen]
			rec = rec[reclen:]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if tid, ok := parseUint(name); ok && w.readChildren(pid, int(tid)) {
				found = true
			}
		}
	}
}

// readChildren queues the pids listed in /proc/<pid>/task/<tid>/children.
func (w *treeWalker) readChildren(pid, tid int) bool {
	w.path = strconv.AppendInt(w.path[:0], int64(pid), 10)
	w.path = strconv.AppendInt(append(w.path, "/task/"...), int64(tid), 10)
	w.path = append(w.path, "/children\x00"...)
	// Read the whole list before parsing, so a number is never split between two reads.
	w.list = w.list[:0]
	if tid == pid {
		// The main thread's list, which is all there is for a process of one
		// thread, is kept open between walks.
		for {
			if len(w.list) == cap(w.list) {
				w.list = append(w.list, 0)[:len(w.list)]
			}
			off := len(w.list)
			n, ok := w.kids.readAt(w.dir, pid, w.path, w.list[off:cap(w.list)], int64(off), off == 0)
			if !ok && off == 0 {
				return false
			}
			if !ok || n == 0 {
				break
			}
			w.list = w.list[:off+n]
		}
	} else {
		fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(w.dir), uintptr(unsafe.Pointer(&w.path[0])),
			uintptr(unix.O_RDONLY|unix.O_CLOEXEC), 0, 0, 0)
		if errno != 0 {
			return false
		}
		defer unix.Close(int(fd))
		for {
			if len(w.list) == cap(w.list) {
				w.list = append(w.list, 0)[:len(w.list)]
			}
			n, err := unix.Read(int(fd), w.list[len(w.list):cap(w.list)])
			if err != nil || n <= 0 {
				break
			}
			w.list = w.list[:len(w.list)+n]
		}
	}
	for rest := w.list; len(rest) > 0; {
		rest = bytes.TrimLeft(rest, " \n")
		n := bytes.IndexAny(rest, " \n")
		if n < 0 {
			n = len(rest)
		}
		if child, ok := parseUint(rest[:n]); ok {
			w.queue = append(w.queue, int(child))
		}
		rest = rest[n:]
	}
	return true
}

// sampleByScan is SampleGroups by one pass over every /proc/<pid>/stat.
func sampleByScan(pgids []int) (map[int]Usage, error) {
	usage := make(map[int]Usage, len(pgids))
	want := make(map[int]bool, len(pgids))
	for _, g := range pgids {
		want[g] = true
	}
	dir, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sample process groups: open /proc: %w", err)
	}
	defer unix.Close(dir)
	s := statReader{dir: dir, path: make([]byte, 0, 32), buf: make([]byte, 1024)}
	pageSize := uint64(os.Getpagesize())
	dents := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(dir, dents)
		if err != nil {
			return nil, fmt.Errorf("sample process groups: read /proc: %w", err)
		}
		if n <= 0 {
			return usage, nil
		}
		for rec := dents[:n]; len(rec) >= direntNameOffset; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name (NUL-terminated).
			reclen := int(binary.NativeEndian.Uint16(rec[16:18]))
			if reclen < direntNameOffset || reclen > len(rec) {
				return nil, fmt.Errorf("sample process groups: read /proc: malformed directory entry")
			}
			name := rec[direntNameOffset:reclen]
			rec = rec[reclen:]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if _, ok := parseUint(name); !ok {
				continue // not a process directory
			}
			st, ok := s.read(name)
			if !ok || st.state == 'Z' || st.state == 'X' || !want[st.pgrp] {
				continue // exited since the listing, a zombie, or not asked for
			}
			u := usage[st.pgrp]
			u.CPU += ticksToDuration(st.utime + st.stime)
			u.RSSBytes += st.rssPages * pageSize
			u.Processes++
			usage[st.pgrp] = u
		}
	}
}

// direntNameOffset is the offset of d_name in struct linux_dirent64.
const direntNameOffset = 19

// statReader reads /proc/<pid>/stat files relative to an open /proc, reusing its buffers.
type statReader struct {
	dir  int
	path []byte // "<pid>/stat\x00"
	buf  []byte
}

// read reads and parses <name>/stat; ok is false if the process has gone.
func (s *statReader) read(name []byte) (statFields, bool) {
	s.path = append(append(s.path[:0], name...), "/stat\x00"...)
	// A raw openat because unix.Openat copies its string argument into a new NUL-terminated slice, which here
	// would be an allocation per process on every sample; s.path is already NUL-terminated.
	fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(s.dir), uintptr(unsafe.Pointer(&s.path[0])),
		uintptr(unix.O_RDONLY|unix.O_CLOEXEC), 0, 0, 0)
	if errno != 0 {
		return statFields{}, false
	}
	n, err := unix.Read(int(fd), s.buf)
	unix.Close(int(fd))
	if err != nil || n <= 0 {
		return statFields{}, false
	}
	// One read returns the whole line, which the kernel formats at once; the fields used here come within
	// its first few hundred bytes even if it were longer than the buffer.
	return parseStat(s.buf[:n])
}
