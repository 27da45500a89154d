package memtune

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// releaseExecutablePages lets go of the pages of the running executable that
// the calling process has mapped; those it touches again are mapped back as it
// does. It returns how many bytes were mapped before.
//
// Why: a manager touches much of its binary while it starts (package
// initialisation, configuration, spawning) and much less afterwards, but the
// kernel keeps mapped whatever it once mapped. The pages stay in the page
// cache, shared and clean; a page needed again costs a minor fault.
//
// Only read-only mappings of the executable with no private copy of any page
// ("Anonymous: 0 kB" in smaps) are released: for those MADV_DONTNEED drops
// nothing but the mapping, as every page equals the file's. Writable mappings
// (the data segment) are never touched.
func releaseExecutablePages() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		return 0, fmt.Errorf("release executable pages: %w", err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("release executable pages: %w", err)
	}
	var released uint64
	for _, m := range releasable(smaps, unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino) {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return released, fmt.Errorf("release executable pages: madvise %#x-%#x: %w", m.start, m.end, errno)
		}
		released += m.rss
	}
	return released, nil
}

// mapping is one memory area of /proc/<pid>/smaps.
type mapping struct {
	start, end uintptr
	rss        uint64 // bytes
}

// releasable returns the areas of smaps that map the file dev:ino read-only
// and hold no private page.
func releasable(smaps []byte, major, minor uint32, ino uint64) []mapping {
	var out []mapping
	var cur mapping
	// An area counts only once its Anonymous field said 0: a kernel that
	// printed none would leave it unknown whether a page was copied.
	var candidate, clean bool
	flush := func() {
		if candidate && clean {
			out = append(out, cur)
		}
		candidate, clean = false, false
	}
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		line := sc.Text()
		key, value, isField := strings.Cut(line, ":")
		if isField && !strings.Contains(key, " ") && !strings.Contains(key, "-") {
			// A "Key:   value kB" line of the current area.
			if !candidate {
				continue
			}
			switch key {
			case "Rss":
				cur.rss = kib(value)
			case "Anonymous":
				clean = strings.TrimSpace(value) == "0 kB"
			}
			continue
		}
		// A header: "start-end perms offset major:minor inode [path]".
		flush()
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		maj, mnr, ok2 := strings.Cut(f[3], ":")
		devMajor, err3 := strconv.ParseUint(maj, 16, 32)
		devMinor, err4 := strconv.ParseUint(mnr, 16, 32)
		inode, err5 := strconv.ParseUint(f[4], 10, 64)
		if !ok || !ok2 || err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil {
			continue
		}
		perms := f[1]
		candidate = len(perms) == 4 && perms[0] == 'r' && perms[1] != 'w' &&
			uint32(devMajor) == major && uint32(devMinor) == minor && inode == ino && inode != 0
		cur = mapping{start: uintptr(start), end: uintptr(end)}
	}
	flush()
	return out
}

// kib parses an smaps value such as "  1472 kB" into bytes; 0 if it cannot.
func kib(v string) uint64 {
	n, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
	return n << 10
}
