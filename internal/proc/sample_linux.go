package proc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SampleGroups returns the usage of each process group in pgids that has live members; groups with none are
// absent from the map. Zombies do not count. It reads every /proc/<pid>/stat once, reusing its buffers, so
// that sampling a hundred programs every few seconds stays cheap.
func SampleGroups(pgids []int) (map[int]Usage, error) {
	usage := make(map[int]Usage, len(pgids))
	if len(pgids) == 0 {
		return usage, nil
	}
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
