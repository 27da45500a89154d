package proc

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// managerLeaf is the cgroup the manager moves itself into, below its own, when it must enable controllers
// there: cgroup v2 lets a cgroup with processes of its own (other than the root) hand no controllers to its
// children. A manager started again in that leaf works from its parent.
const managerLeaf = "pyvisor-manager"

// wantControllers are the controllers a tree enables for its programs where the machine offers them.
var wantControllers = [...]string{ControllerMemory, ControllerCPU}

// CgroupSupport is where the manager would create its programs' cgroups, as FindCgroups sees it.
type CgroupSupport struct {
	// Base is the manager's own cgroup v2 directory (its parent if the manager runs in the leaf it moves
	// itself into).
	Base string
	// Controllers are the controllers among memory and cpu that Base offers its children.
	Controllers []string
}

// FindCgroups finds the cgroup v2 hierarchy (from /proc/self/mountinfo) and the manager's own cgroup in it
// (from /proc/self/cgroup), without changing anything. The error says why programs cannot get cgroups:
// no cgroup v2 hierarchy, or one the manager may not write to.
func FindCgroups() (CgroupSupport, error) {
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return CgroupSupport{}, fmt.Errorf("find the cgroup v2 hierarchy: %w", err)
	}
	mount := cgroup2Mount(mountinfo)
	if mount == "" {
		return CgroupSupport{}, errors.New("no cgroup v2 hierarchy is mounted")
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return CgroupSupport{}, fmt.Errorf("find the manager's cgroup: %w", err)
	}
	own, ok := unifiedPath(self)
	if !ok {
		return CgroupSupport{}, errors.New("the manager has no cgroup v2 path in /proc/self/cgroup")
	}
	base := filepath.Join(mount, own)
	if filepath.Base(base) == managerLeaf {
		base = filepath.Dir(base)
	}
	if err := unix.Access(base, unix.W_OK); err != nil {
		return CgroupSupport{}, fmt.Errorf("the manager's cgroup %s is not writable (%v): give pyvisor a delegated cgroup (systemd: Delegate=yes)", base, err)
	}
	offered, _ := os.ReadFile(filepath.Join(base, "cgroup.controllers"))
	s := CgroupSupport{Base: base}
	for _, c := range wantControllers {
		if slices.Contains(strings.Fields(string(offered)), c) {
			s.Controllers = append(s.Controllers, c)
		}
	}
	return s, nil
}

// cgroup2Mount returns the mount point of the first cgroup2 file system in a mountinfo listing, or "".
// A line is "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS".
func cgroup2Mount(mountinfo []byte) string {
	for line := range bytes.Lines(mountinfo) {
		before, after, ok := bytes.Cut(line, []byte(" - "))
		if !ok {
			continue
		}
		f, fsType := bytes.Fields(before), bytes.Fields(after)
		if len(f) >= 5 && len(fsType) >= 1 && string(fsType[0]) == "cgroup2" {
			return unescapeMountinfo(string(f[4]))
		}
	}
	return ""
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of a mountinfo path.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unifiedPath returns the cgroup v2 path from a /proc/<pid>/cgroup listing: the line "0::PATH".
func unifiedPath(listing []byte) (string, bool) {
	for line := range bytes.Lines(listing) {
		if p, ok := bytes.CutPrefix(bytes.TrimRight(line, "\n"), []byte("0::")); ok && len(p) > 0 && p[0] == '/' {
			return string(p), true
		}
	}
	return "", false
}

// OpenCgroupTree prepares the directory name below the manager's cgroup (see FindCgroups) for the cgroups of
// its programs, with the memory and cpu controllers enabled where the machine offers them. To enable them it
// may move the processes of the manager's own cgroup into a leaf below it (cgroup v2 allows controllers for
// children only in a cgroup without processes of its own). A controller it cannot enable is left out, not
// an error; a directory it cannot create is.
func OpenCgroupTree(name string) (*CgroupTree, error) {
	s, err := FindCgroups()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.Base, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	t := &CgroupTree{dir: dir}
	if len(s.Controllers) == 0 {
		return t, nil
	}
	if err := enableControllers(s.Base, s.Controllers); err != nil {
		return t, nil //nolint:nilerr // the tree works without controllers; Controllers says which are there
	}
	if err := enableControllers(dir, s.Controllers); err != nil {
		return t, nil //nolint:nilerr // as above
	}
	t.controllers = s.Controllers
	return t, nil
}

// enableControllers writes "+c" for each of controllers to dir's cgroup.subtree_control. If dir has
// processes of its own, which forbids that, they move into the leaf managerLeaf first.
func enableControllers(dir string, controllers []string) error {
	var b strings.Builder
	for _, c := range controllers {
		b.WriteString("+" + c + " ")
	}
	control := filepath.Join(dir, "cgroup.subtree_control")
	err := os.WriteFile(control, []byte(strings.TrimSpace(b.String())), 0)
	if !errors.Is(err, unix.EBUSY) {
		return err
	}
	leaf := filepath.Join(dir, managerLeaf)
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create cgroup %s: %w", leaf, err)
	}
	procs, err := readPIDs(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return err
	}
	for _, pid := range procs {
		// A process that has exited since the listing cannot be moved; it holds nothing up either.
		_ = os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
	}
	return os.WriteFile(control, []byte(strings.TrimSpace(b.String())), 0)
}

// Program returns the cgroup of the program called name, creating it if needed.
func (t *CgroupTree) Program(name string) (*Cgroup, error) {
	cg := t.program(name)
	if err := os.Mkdir(cg.dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create cgroup %s: %w", cg.dir, err)
	}
	return cg, nil
}

// ExistingProgram returns the cgroup of the program called name if it exists;
// it creates nothing.
func (t *CgroupTree) ExistingProgram(name string) (*Cgroup, bool) {
	cg := t.program(name)
	var st unix.Stat_t
	if unix.Stat(cg.dir, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, false
	}
	return cg, true
}

// program is the cgroup of the program called name, whether or not it exists.
func (t *CgroupTree) program(name string) *Cgroup {
	return &Cgroup{dir: filepath.Join(t.dir, cgroupName(name)), memory: t.Has(ControllerMemory), cpus: t.Has(ControllerCPU)}
}

// Remove removes the tree's directory if no program's cgroup is left in it.
func (t *CgroupTree) Remove() error {
	if err := unix.Rmdir(t.dir); err != nil && !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("remove cgroup %s: %w", t.dir, err)
	}
	return nil
}

// Remove removes the cgroup if it has no processes; one that still has some is left alone.
func (c *Cgroup) Remove() error {
	if err := unix.Rmdir(c.dir); err != nil && !errors.Is(err, unix.EBUSY) && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove cgroup %s: %w", c.dir, err)
	}
	return nil
}

// SetMemoryMax sets memory.max to bytes (0: no limit) and has the kernel's out-of-memory killer end every
// process of the cgroup at once (memory.oom.group), so that a program is not left half-killed.
func (c *Cgroup) SetMemoryMax(bytes int64) error {
	if !c.memory {
		return fmt.Errorf("set memory.max of %s: the memory controller is not enabled", c.dir)
	}
	v := "max"
	if bytes > 0 {
		v = strconv.FormatInt(bytes, 10)
	}
	if err := c.write("memory.max", v); err != nil {
		return err
	}
	if bytes > 0 {
		return c.write("memory.oom.group", "1")
	}
	return nil
}

// SetCPUMax sets cpu.max to percent of one CPU (0: no limit).
func (c *Cgroup) SetCPUMax(percent float64) error {
	if !c.cpus {
		return fmt.Errorf("set cpu.max of %s: the cpu controller is not enabled", c.dir)
	}
	v := "max 100000"
	if percent > 0 {
		v = cpuMax(percent)
	}
	return c.write("cpu.max", v)
}

func (c *Cgroup) write(file, value string) error {
	if err := os.WriteFile(filepath.Join(c.dir, file), []byte(value), 0); err != nil {
		return fmt.Errorf("set %s of %s to %s: %w", file, c.dir, value, err)
	}
	return nil
}

// Kill kills every process in the cgroup with SIGKILL (cgroup.kill), also those that left the program's
// process group or session.
func (c *Cgroup) Kill() error {
	if err := c.write("cgroup.kill", "1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Populated reports whether some process is still in the cgroup. Exited processes leave it when they exit,
// before their parent reaps them.
func (c *Cgroup) Populated() bool {
	b, err := os.ReadFile(filepath.Join(c.dir, "cgroup.events"))
	if err != nil {
		return false
	}
	v, ok := keyedValue(b, "populated")
	return ok && v != 0
}

// Procs lists the processes in the cgroup.
func (c *Cgroup) Procs() ([]int, error) {
	return readPIDs(filepath.Join(c.dir, "cgroup.procs"))
}

// OOMKills returns how many processes of the cgroup the kernel's out-of-memory killer has killed (oom_kill
// in memory.events); 0 without the memory controller.
func (c *Cgroup) OOMKills() uint64 {
	b, err := os.ReadFile(filepath.Join(c.dir, "memory.events"))
	if err != nil {
		return 0
	}
	v, _ := keyedValue(b, "oom_kill")
	return v
}

// Usage returns what the cgroup's processes use: CPU time from cpu.stat, which also counts processes that
// have exited; memory from memory.current with the memory controller, else the summed RSS of the processes
// (as Usage.RSSBytes always is).
func (c *Cgroup) Usage() (Usage, error) {
	var u Usage
	stat, err := os.ReadFile(filepath.Join(c.dir, "cpu.stat"))
	if err != nil {
		return u, fmt.Errorf("sample cgroup %s: %w", c.dir, err)
	}
	usec, _ := keyedValue(stat, "usage_usec")
	u.CPU = time.Duration(usec) * time.Microsecond
	pids, err := c.Procs()
	if err != nil {
		return u, fmt.Errorf("sample cgroup %s: %w", c.dir, err)
	}
	pageSize := uint64(os.Getpagesize())
	for _, pid := range pids {
		st, ok := readStatFile(pid)
		if !ok || st.state == 'Z' || st.state == 'X' {
			continue
		}
		u.Processes++
		u.RSSBytes += st.rssPages * pageSize
	}
	if c.memory {
		if b, err := os.ReadFile(filepath.Join(c.dir, "memory.current")); err == nil {
			if v, ok := parseUint(bytes.TrimSpace(b)); ok {
				u.RSSBytes = v
			}
		}
	}
	return u, nil
}

// keyedValue returns the value of key in a flat keyed file of the cgroup filesystem ("key value" lines).
func keyedValue(b []byte, key string) (uint64, bool) {
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte(key+" ")); ok {
			return parseUint(bytes.TrimSpace(v))
		}
	}
	return 0, false
}

// readPIDs reads a list of PIDs, one a line.
func readPIDs(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var pids []int
	for _, f := range bytes.Fields(b) {
		if v, ok := parseUint(f); ok {
			pids = append(pids, int(v))
		}
	}
	return pids, nil
}

// CgroupOf returns the cgroup v2 directory that pid is in; the error wraps ErrNotRunning if pid is gone.
func CgroupOf(pid int) (string, error) {
	listing, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
		return "", fmt.Errorf("cgroup of pid %d: %w", pid, ErrNotRunning)
	}
	if err != nil {
		return "", fmt.Errorf("cgroup of pid %d: %w", pid, err)
	}
	path, ok := unifiedPath(listing)
	if !ok {
		return "", fmt.Errorf("cgroup of pid %d: not in a cgroup v2 hierarchy", pid)
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("cgroup of pid %d: %w", pid, err)
	}
	mount := cgroup2Mount(mountinfo)
	if mount == "" {
		return "", fmt.Errorf("cgroup of pid %d: no cgroup v2 hierarchy is mounted", pid)
	}
	return filepath.Join(mount, path), nil
}

// Contains reports whether process pid is in the cgroup.
func (c *Cgroup) Contains(pid int) bool {
	dir, err := CgroupOf(pid)
	return err == nil && dir == c.dir
}

// intoCgroup has the child of sys start in c (CLONE_INTO_CGROUP), so that not even its first instruction
// runs outside it and nothing it forks can escape. The caller closes the returned file after the start.
func intoCgroup(sys *syscall.SysProcAttr, c *Cgroup) (*os.File, error) {
	if c == nil {
		return nil, nil
	}
	dir, err := os.Open(c.dir)
	if err != nil {
		return nil, fmt.Errorf("open cgroup: %w", err)
	}
	sys.UseCgroupFD, sys.CgroupFD = true, int(dir.Fd())
	return dir, nil
}

// Leaders returns the live session leaders in the cgroup, oldest first: a program's main process, then
// any process of it that made itself a session of its own.
func (c *Cgroup) Leaders() []Identity {
	pids, err := c.Procs()
	if err != nil {
		return nil
	}
	var out []Identity
	for _, pid := range pids {
		st, ok := readStatFile(pid)
		if ok && st.session == pid && st.state != 'Z' && st.state != 'X' {
			out = append(out, Identity{PID: pid, StartTime: st.startTime})
		}
	}
	slices.SortFunc(out, func(a, b Identity) int { return cmp.Compare(a.StartTime, b.StartTime) })
	return out
}
