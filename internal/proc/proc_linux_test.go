package proc

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFindTagged(t *testing.T) {
	t.Parallel()
	tag := "find-" + strings.ReplaceAll(time.Now().Format(time.RFC3339Nano), ":", "")
	// The helper is a session leader; its grandchild inherits the tag but is not a leader.
	p, out := startHelper(t, "fork-grandchild", "PYVISOR_TEST_TAG="+tag, "PYVISOR_TEST_EXTRA=x=1")
	grandchild := out.line(t)

	found, err := FindTagged("PYVISOR_TEST_TAG", "PYVISOR_TEST_")
	if err != nil {
		t.Fatalf("FindTagged = %v", err)
	}
	var ours []Tagged
	for _, f := range found {
		if f.Env["PYVISOR_TEST_TAG"] == tag {
			ours = append(ours, f)
		}
	}
	want := Tagged{Identity: p.Identity(), Env: map[string]string{"PYVISOR_TEST_TAG": tag, "PYVISOR_TEST_EXTRA": "x=1"}}
	if len(ours) != 1 || ours[0].Identity != want.Identity || len(ours[0].Env) != len(want.Env) ||
		ours[0].Env["PYVISOR_TEST_EXTRA"] != "x=1" {
		t.Fatalf("FindTagged found %+v with our tag, want only the leader %+v (not grandchild %s)", ours, want, grandchild)
	}
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	// Fields 3..24 after the comm field; 5 pgrp, 6 session, 14 utime, 15 stime, 22 starttime, 23 vsize, 24 rss.
	tail := " S 1 4242 4242 0 -1 4194560 120 0 0 0 7 3 0 0 20 0 1 0 98765 123456 321 18446744073709551615 1 1 0 0 0\n"
	tests := []struct {
		name   string
		line   string
		want   statFields
		wantOK bool
	}{
		{"plain", "4242 (python3)" + tail, statFields{'S', 4242, 4242, 7, 3, 1, 98765, 123456, 321}, true},
		{"comm with spaces and parens", "4242 (a) (b c) d)" + tail, statFields{'S', 4242, 4242, 7, 3, 1, 98765, 123456, 321}, true},
		{"zombie", "9 (x) Z" + tail[2:], statFields{'Z', 4242, 4242, 7, 3, 1, 98765, 123456, 321}, true},
		{"no closing paren", "4242 (python3" + strings.ReplaceAll(tail, ")", ""), statFields{}, false},
		{"truncated", "4242 (python3) S 1 4242 4242", statFields{}, false},
		{"not a number", "4242 (python3) S 1 x 4242" + tail[14:], statFields{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseStat([]byte(tt.line))
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("parseStat(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// FuzzParseStat formats stat lines around arbitrary comm values and checks that parsing returns the numbers.
func FuzzParseStat(f *testing.F) {
	f.Add("python3", uint32(4242), uint64(7), uint64(98765))
	f.Add(") (", uint32(1), uint64(0), uint64(18446744073709551615))
	f.Add("a b) S 1 2", uint32(7), uint64(1), uint64(2))
	f.Fuzz(func(t *testing.T, comm string, pgrp uint32, utime, start uint64) {
		line := fmt.Sprintf("1 (%s) S 1 %d %d 0 -1 0 0 0 0 0 %d 3 0 0 20 0 1 0 %d 0 5 0\n", comm, pgrp, pgrp, utime, start)
		want := statFields{'S', int(pgrp), int(pgrp), utime, 3, 1, start, 0, 5}
		if got, ok := parseStat([]byte(line)); !ok || got != want {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v, true", line, got, ok, want)
		}
	})
}

// TestWaitingUsesNoThreads checks that waiting children park in the netpoller instead of each holding an OS
// thread in wait4. It is not parallel, so that other tests' blocking syscalls do not add threads meanwhile.
func TestWaitingUsesNoThreads(t *testing.T) {
	const children = 60
	before := threadCount(t)
	parked := blockedWatchers(t)
	for range children {
		p, err := Start(Spec{Path: "sleep", Args: []string{"300"}, Env: os.Environ()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { killGroup(t, p) })
	}
	waitBlockedWatchers(t, parked+children)
	if after := threadCount(t); after-before >= children/2 {
		t.Errorf("threads went from %d to %d while waiting for %d children, want far fewer than one per child",
			before, after, children)
	}
}

// watcherPrefix begins the last line of the stack of a goroutine that watches a child: started by
// watchAlone (a pidfd) or watchChild (a blocking wait).
const watcherPrefix = "created by github.com/pyvisor/pyvisor/internal/proc.watch"

// blockedWatchers counts the goroutines watching a child that are blocked in their wait, whether parked in
// the netpoller ("IO wait") or holding a thread in a system call ("syscall").
func blockedWatchers(t *testing.T) int {
	t.Helper()
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	blocked := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if !strings.Contains(g, watcherPrefix) {
			continue
		}
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(header, "[IO wait") || strings.Contains(header, "[syscall") {
			blocked++
		}
	}
	return blocked
}

// waitBlockedWatchers waits until n goroutines watching children are blocked in their wait, so that the
// threads they need, if any, exist.
func waitBlockedWatchers(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := blockedWatchers(t)
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines watching children are blocked in their wait, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond) // nothing tells when a goroutine has parked
	}
}

// threadCount returns the number of OS threads of the test process.
func threadCount(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}
