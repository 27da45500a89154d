package proc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestCgroup2Mount(t *testing.T) {
	tests := []struct {
		name, mountinfo, want string
	}{
		{"hybrid: v1 controllers, v2 beside them",
			"31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" +
				"40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
			"/sys/fs/cgroup/unified"},
		{"pure v2 with optional fields", "35 24 0:30 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n",
			"/sys/fs/cgroup"},
		{"escaped space", `40 30 0:37 / /mnt/cg\040two rw - cgroup2 none rw` + "\n", "/mnt/cg two"},
		{"v1 only", "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cgroup2Mount([]byte(tt.mountinfo)); got != tt.want {
				t.Errorf("cgroup2Mount(%q) = %q, want %q", tt.mountinfo, got, tt.want)
			}
		})
	}
}

func TestUnifiedPath(t *testing.T) {
	tests := []struct {
		name, listing, want string
		ok                  bool
	}{
		{"hybrid", "4:memory:/x\n1:cpu:/\n0::/\n", "/", true},
		{"pure v2", "0::/system.slice/pyvisor.service\n", "/system.slice/pyvisor.service", true},
		{"v1 only", "4:memory:/x\n", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := unifiedPath([]byte(tt.listing))
			if got != tt.want || ok != tt.ok {
				t.Errorf("unifiedPath(%q) = %q, %v, want %q, %v", tt.listing, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCgroupName(t *testing.T) {
	tests := []struct{ program, want string }{
		{"web", "p-web"},
		{"my_app-2", "p-my_app-2"},
		{"..", "p-%2E%2E"},
		{"cgroup.procs", "p-cgroup%2Eprocs"},
		{"a b%", "p-a%20b%25"},
		{"é", "p-%C3%A9"},
	}
	for _, tt := range tests {
		if got := cgroupName(tt.program); got != tt.want {
			t.Errorf("cgroupName(%q) = %q, want %q", tt.program, got, tt.want)
		}
	}
}

func TestCPUMax(t *testing.T) {
	tests := []struct {
		percent float64
		want    string
	}{
		{100, "100000 100000"},
		{50, "50000 100000"},
		{250, "250000 100000"},
		{0.5, "1000 100000"}, // the kernel's minimum
	}
	for _, tt := range tests {
		if got := cpuMax(tt.percent); got != tt.want {
			t.Errorf("cpuMax(%v) = %q, want %q", tt.percent, got, tt.want)
		}
	}
}

func TestKeyedValue(t *testing.T) {
	b := []byte("low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\noom_group_kill 0\n")
	if v, ok := keyedValue(b, "oom_kill"); v != 1 || !ok {
		t.Errorf("keyedValue(oom_kill) = %d, %v, want 1, true", v, ok)
	}
	if v, ok := keyedValue(b, "oom"); v != 2 || !ok {
		t.Errorf("keyedValue(oom) = %d, %v, want 2, true", v, ok)
	}
	if _, ok := keyedValue(b, "populated"); ok {
		t.Errorf("keyedValue(populated) found a key that is not there")
	}
}

// testTree opens a cgroup tree of the test's own, or skips the test saying why cgroups cannot be used here.
func testTree(t *testing.T) *CgroupTree {
	t.Helper()
	tree, err := OpenCgroupTree("pyvisor-test-" + rand.Text()[:10])
	if err != nil {
		t.Skipf("cgroup mode not available on this machine: %v", err)
	}
	t.Cleanup(func() {
		if err := tree.Remove(); err != nil {
			t.Errorf("remove the test's cgroup tree: %v", err)
		}
	})
	return tree
}

// testCgroup is a program cgroup in a tree of the test's own, removed when the test ends.
func testCgroup(t *testing.T) *Cgroup {
	t.Helper()
	tree := testTree(t)
	cg, err := tree.Program("prog")
	if err != nil {
		t.Fatalf("Program: %v", err)
	}
	t.Cleanup(func() {
		_ = cg.Kill()
		for range 100 {
			if !cg.Populated() {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := cg.Remove(); err != nil {
			t.Errorf("remove the test's cgroup: %v", err)
		}
	})
	return cg
}

// startDaemonProgram starts the test binary as a program (in a cgroup of its
// own in mode "cgroup", found by its tag in mode "tag") that forks a grandchild
// in a session of its own, and returns it, its spec and the grandchild's PID.
func startDaemonProgram(t *testing.T, mode string) (*Process, Spec, int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{Path: exe, Env: helperEnviron("daemon-grandchild")}
	if mode == "cgroup" {
		spec.Cgroup = testCgroup(t)
	}
	p, out := startWithPipe(t, spec)
	grandchild, err := strconv.Atoi(out.line(t))
	if err != nil {
		t.Fatalf("grandchild pid: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Kill(grandchild, syscall.SIGKILL) })
	return p, spec, grandchild
}

// TestStopKillsSetsidDaemon: a grandchild that made itself a session of its own (outside the process group
// that stop signals) is gone after Stop, both where the program has a cgroup and where its tag finds it.
func TestStopKillsSetsidDaemon(t *testing.T) {
	for _, mode := range []string{"cgroup", "tag"} {
		t.Run(mode, func(t *testing.T) {
			p, spec, grandchild := startDaemonProgram(t, mode)
			if sid, _ := unix.Getsid(grandchild); sid != grandchild {
				t.Fatalf("grandchild %d has session %d, want a session of its own", grandchild, sid)
			}
			if mode == "cgroup" {
				if !spec.Cgroup.Contains(grandchild) {
					t.Fatalf("grandchild %d is not in the program's cgroup %s", grandchild, spec.Cgroup.Path())
				}
				if got := spec.Cgroup.Leaders(); len(got) != 2 || got[0].PID != p.Identity().PID || got[1].PID != grandchild {
					t.Errorf("Leaders() = %v, want the program %d, then the daemon %d", got, p.Identity().PID, grandchild)
				}
			}
			if err := p.Stop(t.Context(), syscall.SIGTERM, 5*time.Second); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if pidExists(grandchild) {
				t.Errorf("setsid grandchild %d still runs after Stop (mode %s)", grandchild, mode)
			}
			if mode == "cgroup" && spec.Cgroup.Populated() {
				t.Errorf("cgroup %s still populated after Stop", spec.Cgroup.Path())
			}
		})
	}
}

// TestGroupAliveSeesDaemon: once the leader has exited, GroupAlive still sees its daemon, so that the
// supervisor removes it before a restart.
func TestGroupAliveSeesDaemon(t *testing.T) {
	for _, mode := range []string{"cgroup", "tag"} {
		t.Run(mode, func(t *testing.T) {
			p, _, grandchild := startDaemonProgram(t, mode)
			_ = syscall.Kill(p.Identity().PID, syscall.SIGKILL)
			waitDone(t, p, 10*time.Second)
			if !p.GroupAlive() {
				t.Fatalf("GroupAlive() = false with the daemon %d running", grandchild)
			}
			if err := p.Stop(context.Background(), syscall.SIGTERM, time.Second); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if p.GroupAlive() || pidExists(grandchild) {
				t.Errorf("after Stop: GroupAlive() = %v, daemon alive %v; want both false", p.GroupAlive(), pidExists(grandchild))
			}
		})
	}
}

// TestStartTagsTheRun: the child gets a TagVar, or keeps the one its environment sets, and an adopted
// process's tag is read back from its environment.
func TestStartTagsTheRun(t *testing.T) {
	p, out := startHelper(t, "hang", TagVar+"=fixed-"+rand.Text())
	out.line(t)
	want := tagOf(p.Identity().PID)
	if want == "" || want != p.tag {
		t.Fatalf("tag of the child = %q, Process tag %q; want the same, not empty", want, p.tag)
	}
	adopted, err := Adopt(p.Identity())
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	if adopted.tag != want {
		t.Errorf("adopted tag = %q, want %q", adopted.tag, want)
	}
	found := findByTag(want)
	if !slices.ContainsFunc(found, func(id Identity) bool { return id.PID == p.Identity().PID }) {
		t.Errorf("findByTag(%q) = %v, want it to contain %d", want, found, p.Identity().PID)
	}

	q, out2 := startHelper(t, "hang")
	out2.line(t)
	if q.tag == "" || q.tag == p.tag {
		t.Errorf("a start without a tag got %q, want a new random one", q.tag)
	}
}

// TestCgroupUsage: the cgroup's CPU time and processes are read from its files.
func TestCgroupUsage(t *testing.T) {
	cg := testCgroup(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, out := startWithPipe(t, Spec{Path: exe, Env: helperEnviron("daemon-grandchild"), Cgroup: cg})
	grandchild, _ := strconv.Atoi(out.line(t))
	t.Cleanup(func() { _ = syscall.Kill(grandchild, syscall.SIGKILL) })
	u, err := cg.Usage()
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	if u.Processes != 2 || u.CPU <= 0 || u.RSSBytes == 0 {
		t.Errorf("Usage() = %+v, want 2 processes (pid %d and %d) with CPU time and memory", u, p.Identity().PID, grandchild)
	}
	dir, err := CgroupOf(grandchild)
	if err != nil || dir != cg.Path() {
		t.Errorf("CgroupOf(%d) = %q, %v, want %q", grandchild, dir, err, cg.Path())
	}
	adopted, err := Adopt(p.Identity())
	if err != nil {
		t.Fatal(err)
	}
	if !adopted.AttachCgroup(cg) || adopted.Cgroup() != cg {
		t.Errorf("AttachCgroup of a process in the cgroup = false, want true")
	}
	other := &Cgroup{dir: fmt.Sprintf("%s-other", cg.Path())}
	if adopted.AttachCgroup(other) {
		t.Errorf("AttachCgroup of a cgroup the process is not in = true, want false")
	}
}

// TestExistingProgram checks that ExistingProgram finds a program's cgroup
// only once Program has made it, and makes none itself.
func TestExistingProgram(t *testing.T) {
	tree := testTree(t)
	if cg, ok := tree.ExistingProgram("prog"); ok {
		t.Fatalf("ExistingProgram before Program = %s, true; want none", cg.dir)
	}
	dir := filepath.Join(tree.dir, cgroupName("prog"))
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after ExistingProgram, stat %s = %v; want it missing", dir, err)
	}
	made, err := tree.Program("prog")
	if err != nil {
		t.Fatalf("Program: %v", err)
	}
	t.Cleanup(func() { made.Remove() })
	if cg, ok := tree.ExistingProgram("prog"); !ok || cg.dir != made.dir {
		t.Errorf("ExistingProgram after Program = %v, %t; want %s", cg, ok, made.dir)
	}
}
