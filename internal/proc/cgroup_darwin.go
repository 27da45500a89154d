package proc

import (
	"errors"
	"os"
	"syscall"
)

// errNoCgroups is why programs get no cgroups on macOS.
var errNoCgroups = errors.New("cgroups are a Linux feature")

// CgroupSupport is where the manager would create its programs' cgroups; macOS has none.
type CgroupSupport struct {
	// Base is the manager's own cgroup v2 directory.
	Base string
	// Controllers are the controllers among memory and cpu that Base offers its children.
	Controllers []string
}

// FindCgroups reports that macOS has no cgroups.
func FindCgroups() (CgroupSupport, error) { return CgroupSupport{}, errNoCgroups }

// OpenCgroupTree reports that macOS has no cgroups.
func OpenCgroupTree(string) (*CgroupTree, error) { return nil, errNoCgroups }

// Program reports that macOS has no cgroups.
func (t *CgroupTree) Program(string) (*Cgroup, error) { return nil, errNoCgroups }

// ExistingProgram reports none on macOS.
func (t *CgroupTree) ExistingProgram(string) (*Cgroup, bool) { return nil, false }

// Remove does nothing on macOS.
func (t *CgroupTree) Remove() error { return nil }

// Remove does nothing on macOS.
func (c *Cgroup) Remove() error { return nil }

// SetMemoryMax reports that macOS has no cgroups.
func (c *Cgroup) SetMemoryMax(int64) error { return errNoCgroups }

// SetCPUMax reports that macOS has no cgroups.
func (c *Cgroup) SetCPUMax(float64) error { return errNoCgroups }

// Kill reports that macOS has no cgroups.
func (c *Cgroup) Kill() error { return errNoCgroups }

// Populated reports false on macOS.
func (c *Cgroup) Populated() bool { return false }

// Procs reports that macOS has no cgroups.
func (c *Cgroup) Procs() ([]int, error) { return nil, errNoCgroups }

// OOMKills returns 0 on macOS.
func (c *Cgroup) OOMKills() uint64 { return 0 }

// Usage reports that macOS has no cgroups.
func (c *Cgroup) Usage() (Usage, error) { return Usage{}, errNoCgroups }

// CgroupOf reports that macOS has no cgroups.
func CgroupOf(int) (string, error) { return "", errNoCgroups }

// Contains reports false on macOS.
func (c *Cgroup) Contains(int) bool { return false }

func intoCgroup(*syscall.SysProcAttr, *Cgroup) (*os.File, error) { return nil, nil }

// findByTag finds nothing on macOS: reading other processes' environments there needs sysctl
// KERN_PROCARGS2, which this package does not parse; a stop reaches the process group only.
func findByTag(string) []Identity { return nil }

// tagOf returns "" on macOS (see findByTag).
func tagOf(int) string { return "" }

// Leaders returns nothing on macOS.
func (c *Cgroup) Leaders() []Identity { return nil }
