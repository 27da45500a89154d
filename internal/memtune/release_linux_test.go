package memtune

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReleasable(t *testing.T) {
	// Areas as the kernel prints them; the executable is fe:00 inode 777.
	const smaps = `00400000-00835000 r-xp 00000000 fe:00 777                                /usr/bin/pyvisor
Size:               4308 kB
Rss:                3820 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
00835000-00c8c000 r--p 00435000 fe:00 777                                /usr/bin/pyvisor
Size:               4444 kB
Rss:                4000 kB
Anonymous:             0 kB
VmFlags: rd mr mw me
00c8c000-00ced000 rw-p 0088c000 fe:00 777                                /usr/bin/pyvisor
Rss:                 244 kB
Anonymous:            80 kB
00d00000-00d10000 r--p 00000000 fe:00 777                                /usr/bin/pyvisor
Rss:                  16 kB
Anonymous:             8 kB
00e00000-00e10000 r--p 00000000 fe:01 777                                /other/disk/same/inode
Rss:                  16 kB
Anonymous:             0 kB
00f00000-00f10000 r--p 00000000 fe:00 777                                /usr/bin/pyvisor
Rss:                  16 kB
7f4951000000-7f4951010000 r-xp 00000000 fe:00 778                        /usr/lib/libother.so
Rss:                  64 kB
Anonymous:             0 kB
7f4951307000-7f4951309000 r-xp 00000000 00:00 0                          [vdso]
Rss:                   8 kB
Anonymous:             0 kB
3e7fa0000000-3e7fa0800000 rw-p 00000000 00:00 0 
Rss:                3840 kB
Anonymous:          3840 kB
`
	got := releasable([]byte(smaps), 0xfe, 0, 777)
	want := []mapping{
		{start: 0x400000, end: 0x835000, rss: 3820 << 10},
		{start: 0x835000, end: 0xc8c000, rss: 4000 << 10},
	}
	if len(got) != len(want) {
		t.Fatalf("releasable(...) = %+v, want %+v (the read-only areas of fe:00 inode 777 with no private page)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("releasable(...)[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// dataCheck lives in the writable data segment, which must not be released:
// the test changes it, and a release would bring back the value in the file.
var dataCheck = 7

func TestReleaseExecutablePages(t *testing.T) {
	dataCheck = 42
	before := statusKiB(t, "RssFile")
	released, err := releaseExecutablePages()
	if err != nil {
		t.Fatalf("releaseExecutablePages() error: %v", err)
	}
	after := statusKiB(t, "RssFile")
	t.Logf("RssFile %d KiB -> %d KiB; released %d KiB", before, after, released>>10)
	if released == 0 {
		t.Fatalf("releaseExecutablePages() released 0 bytes; the test binary had %d KiB of file pages mapped", before)
	}
	if after >= before {
		t.Errorf("RssFile after releaseExecutablePages() = %d KiB, want less than the %d KiB before", after, before)
	}
	if dataCheck != 42 {
		t.Errorf("a variable of the data segment set to 42 reads %d after the release", dataCheck)
	}
	// The released text runs again: this very test goes on, and so does a
	// function that needs the read-only data of the binary.
	if got := unix.SignalName(unix.SIGTERM); got != "SIGTERM" {
		t.Errorf("unix.SignalName(SIGTERM) after the release = %q, want SIGTERM", got)
	}
}

// statusKiB reads a "kB" field of /proc/self/status.
func statusKiB(t *testing.T, field string) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return kib(v) >> 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
