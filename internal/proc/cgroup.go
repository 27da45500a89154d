package proc

import (
	"fmt"
	"strings"
)

// TagVar is the environment variable that tags every process of one run of a program: Start sets it to a
// fresh random value unless Spec.Env already sets it, and the environment passes it on to every process
// the program starts, also those that leave its process group. Where a program has no cgroup, a stop finds
// the escaped ones by it.
const TagVar = "PYVISOR_RUN"

// Controllers are the cgroup v2 controllers this package sets limits with.
const (
	ControllerMemory = "memory"
	ControllerCPU    = "cpu"
)

// CgroupTree is a cgroup v2 directory in which the programs of one manager get a cgroup each. Its methods
// are safe for concurrent use.
type CgroupTree struct {
	dir         string
	controllers []string // enabled for the programs' cgroups: a subset of memory and cpu
}

// Dir returns the tree's directory in the cgroup filesystem.
func (t *CgroupTree) Dir() string { return t.dir }

// Controllers returns the controllers the programs' cgroups have (memory, cpu): those the machine offers
// to pyvisor's cgroup. A limit without its controller cannot be set.
func (t *CgroupTree) Controllers() []string { return append([]string(nil), t.controllers...) }

// Has reports whether the programs' cgroups have controller.
func (t *CgroupTree) Has(controller string) bool {
	for _, c := range t.controllers {
		if c == controller {
			return true
		}
	}
	return false
}

// Cgroup is the cgroup v2 directory of one program, which every process of the program lives in.
type Cgroup struct {
	dir          string
	memory, cpus bool // the memory and cpu controllers are enabled for it
}

// Path returns the cgroup's directory in the cgroup filesystem.
func (c *Cgroup) Path() string { return c.dir }

// HasMemory reports whether the memory controller is enabled for the cgroup, so that SetMemoryMax holds
// and memory is read from memory.current.
func (c *Cgroup) HasMemory() bool { return c.memory }

// HasCPU reports whether the cpu controller is enabled for the cgroup, so that SetCPUMax holds.
func (c *Cgroup) HasCPU() bool { return c.cpus }

// cgroupName turns a program name into a cgroup directory name that is one path element, never "." or
// "..", and cannot clash with an interface file of the cgroup filesystem (which contain a dot and no
// prefix): "p-" and the name, with every byte outside [A-Za-z0-9_-] written as %XX. Distinct names give
// distinct directory names.
func cgroupName(program string) string {
	var b strings.Builder
	b.WriteString("p-")
	for i := 0; i < len(program); i++ {
		c := program[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// cpuMax is the content of cpu.max for a limit of percent of one CPU, over the default period of 100 ms.
func cpuMax(percent float64) string {
	const period = 100000 // µs
	quota := int64(percent * period / 100)
	quota = max(quota, 1000) // the kernel's minimum quota is 1 ms
	return fmt.Sprintf("%d %d", quota, period)
}
