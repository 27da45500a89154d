package proc

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"syscall"
	"testing"
	"time"
)

// statFilesOpen returns those of the PIDs in of whose /proc/<pid>/stat this
// process has open, once for that file and once more if it has their
// /proc/<pid>/task/<pid>/children open too (tests running in parallel may
// have others open).
func statFilesOpen(t *testing.T, of []int) []int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		var pid, tid int
		switch {
		case err != nil:
		case filepath.Base(target) == "stat":
			if _, err := fmt.Sscanf(target, "/proc/%d/stat", &pid); err == nil && slices.Contains(of, pid) {
				pids = append(pids, pid)
			}
		case filepath.Base(target) == "children":
			if _, err := fmt.Sscanf(target, "/proc/%d/task/%d/children", &pid, &tid); err == nil && slices.Contains(of, pid) {
				pids = append(pids, pid)
			}
		}
	}
	slices.Sort(pids)
	return pids
}

// TestSamplerStatFiles checks that a Sampler keeps the stat files of the
// members it remembers open, closes those of processes that have gone, and
// closes all on Close; and that SampleGroups, a Sampler used once, keeps none.
func TestSamplerStatFiles(t *testing.T) {
	t.Parallel()
	var pgids []int
	var procs []*Process
	for range 3 {
		p, err := Start(Spec{Path: "sleep", Args: []string{"300"}, Env: os.Environ()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { killGroup(t, p) })
		procs = append(procs, p)
		pgids = append(pgids, p.Identity().PID)
	}
	slices.Sort(pgids)
	if _, err := SampleGroups(pgids); err != nil {
		t.Fatal(err)
	}
	if open := statFilesOpen(t, pgids); len(open) != 0 {
		t.Fatalf("after SampleGroups(%v) the stat files of %v are open, want none", pgids, open)
	}

	var s Sampler
	sample := func(want int) {
		t.Helper()
		u, err := s.Sample(pgids)
		if err != nil || len(u) != want {
			t.Fatalf("Sample(%v) = %v, %v; want %d groups", pgids, u, err, want)
		}
	}
	sample(3) // a walk of each group: its stat and children files stay open
	sample(3) // the members are remembered now, and read through open files
	twice := func(pids []int) []int { return slices.Sorted(slices.Values(append(slices.Clone(pids), pids...))) }
	if open := statFilesOpen(t, pgids); !slices.Equal(open, twice(pgids)) {
		t.Fatalf("after two Sample(%v) the stat and children files of %v are open, want both of each of %v", pgids, open, pgids)
	}

	killGroup(t, procs[0])
	gone := procs[0].Identity().PID
	sample(2)
	rest := slices.DeleteFunc(slices.Clone(pgids), func(pid int) bool { return pid == gone })
	if open := statFilesOpen(t, pgids); !slices.Equal(open, twice(rest)) {
		t.Errorf("after %d has gone the files of %v are open, want both of each of %v", gone, open, rest)
	}

	s.Close()
	if open := statFilesOpen(t, pgids); len(open) != 0 {
		t.Errorf("after Close the stat files of %v are open, want none", open)
	}
}

// TestSamplerShrinksCaches checks that once the processes that filled a
// Sampler's caches have gone, the caches are remade at the size the members
// left need (a map keeps the table it grew to), and go on serving them.
func TestSamplerShrinksCaches(t *testing.T) {
	t.Parallel()
	const children = 150
	leader, err := Start(Spec{Path: "sh", Args: []string{"-c", fmt.Sprintf("for i in $(seq %d); do sleep 300 & done; exec sleep 300", children)},
		Env: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killGroup(t, leader) })
	pgid := leader.Identity().PID
	var s Sampler
	defer s.Close()
	sample := func() int {
		t.Helper()
		u, err := s.Sample([]int{pgid})
		if err != nil {
			t.Fatalf("Sample: %v", err)
		}
		return u[pgid].Processes
	}
	deadline := time.Now().Add(10 * time.Second)
	for sample() != 1+children {
		if time.Now().After(deadline) {
			t.Fatalf("the shell's %d children never all counted", children)
		}
		time.Sleep(20 * time.Millisecond)
	}
	grown := reflect.ValueOf(s.stats).UnsafePointer()
	for _, pid := range s.members[pgid] {
		if pid != pgid {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for sample() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the killed children are still counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(s.stats) != 1 || len(s.kids) != 1 {
		t.Fatalf("with the leader alone the caches hold %d stat and %d children files, want 1 and 1", len(s.stats), len(s.kids))
	}
	if reflect.ValueOf(s.stats).UnsafePointer() == grown {
		t.Errorf("the stat file cache that held %d files was not remade for the 1 it holds now", 1+children)
	}
	if s.walker.stats == nil || reflect.ValueOf(s.walker.stats).UnsafePointer() != reflect.ValueOf(s.stats).UnsafePointer() {
		t.Errorf("the walker does not use the remade cache")
	}
	sample()
	if open := statFilesOpen(t, []int{pgid}); !slices.Equal(open, []int{pgid, pgid}) {
		t.Errorf("after the caches were remade the files of %v are open, want the stat and children files of %d", open, pgid)
	}
}
