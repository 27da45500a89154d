package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/proc"
)

// Containment modes, as the start-up log and Containment say them.
const (
	ModeCgroup = "cgroup"
	ModeTags   = "process tags"
)

// Containment says how a stop reaches every process of a program, and which limits the kernel enforces.
type Containment struct {
	// Mode is ModeCgroup (a cgroup v2 per program: cgroup.kill reaches everything) or ModeTags (the process
	// group, then every process carrying the run's PYVISOR_RUN tag).
	Mode string
	// Dir is the cgroup directory the programs' cgroups are in (ModeCgroup).
	Dir string
	// Controllers are the cgroup controllers the programs have: "memory" (memory_max_mb is memory.max),
	// "cpu" (cpu_max_percent is cpu.max).
	Controllers []string
	// Reason says why there are no cgroups (ModeTags).
	Reason string
}

// String describes the containment in one line, for validate and the start-up log.
func (c Containment) String() string {
	if c.Mode != ModeCgroup {
		return fmt.Sprintf("%s (no cgroups: %s): a stop signals the process group, then kills every process "+
			"that carries the run's PYVISOR_RUN environment variable", c.Mode, c.Reason)
	}
	ctl := "none"
	if len(c.Controllers) > 0 {
		ctl = strings.Join(c.Controllers, ", ")
	}
	return fmt.Sprintf("%s (a cgroup per program under %s; controllers: %s): a stop kills the whole cgroup", c.Mode, c.Dir, ctl)
}

// has reports whether the programs' cgroups have controller.
func (c Containment) has(controller string) bool {
	for _, x := range c.Controllers {
		if x == controller {
			return true
		}
	}
	return false
}

// LimitWarnings lists, one line per program, the limits of programs that c cannot enforce as the kernel's:
// cpu_max_percent without the cpu controller (not enforced at all), memory_max_mb without the memory
// controller (enforced by sampling).
func (c Containment) LimitWarnings(programs []config.Program) []string {
	var out []string
	for _, p := range programs {
		if p.Limits.CPUMaxPercent > 0 && !c.has(proc.ControllerCPU) {
			out = append(out, fmt.Sprintf("program %q: cpu_max_percent %g cannot be enforced: no cgroup v2 cpu controller",
				p.Name, p.Limits.CPUMaxPercent))
		}
		if p.Limits.MemoryMax > 0 && !c.has(proc.ControllerMemory) {
			out = append(out, fmt.Sprintf("program %q: memory_max_mb is enforced by sampling: no cgroup v2 memory controller, "+
				"so pyvisor restarts the program after two samples above %s", p.Name, mib(p.Limits.MemoryMax)))
		}
	}
	return out
}

// ProbeContainment says what containment a manager would use here, without creating anything: for
// pyvisor validate. A manager that may write to its cgroup gets a cgroup per program.
func ProbeContainment(noCgroups bool) Containment {
	if noCgroups {
		return Containment{Mode: ModeTags, Reason: "turned off"}
	}
	s, err := proc.FindCgroups()
	if err != nil {
		return Containment{Mode: ModeTags, Reason: err.Error()}
	}
	return Containment{Mode: ModeCgroup, Dir: s.Base, Controllers: s.Controllers}
}

// cgroupTreeName is the directory, below the manager's cgroup, of the cgroups of the programs of the
// manager that keeps statePath: managers of different configurations share no program cgroups.
func cgroupTreeName(statePath string) string {
	sum := sha256.Sum256([]byte(statePath))
	return "pyvisor-" + hex.EncodeToString(sum[:6])
}

// openContainment sets up the cgroups of the programs, or says why they have none.
func (s *Supervisor) openContainment(noCgroups bool) Containment {
	if noCgroups {
		return Containment{Mode: ModeTags, Reason: "turned off"}
	}
	tree, err := proc.OpenCgroupTree(cgroupTreeName(s.statePath))
	if err != nil {
		return Containment{Mode: ModeTags, Reason: err.Error()}
	}
	s.cgroups.Store(tree)
	return Containment{Mode: ModeCgroup, Dir: tree.Dir(), Controllers: tree.Controllers()}
}

// mib writes a byte count as pyvisor's messages do: "256 MiB".
func mib(bytes int64) string {
	if bytes%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", bytes>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20))
}

// outOfMemory is the exit description of a program ended for using more than limit bytes.
func outOfMemory(limit int64) string {
	return fmt.Sprintf("killed: out of memory (limit %s)", mib(limit))
}

// limitState is what a runner keeps of its program's cgroup and limits.
type limitState struct {
	cgroup  *proc.Cgroup // the program's cgroup, once created; nil in ModeTags
	oomBase uint64       // the cgroup's oom_kill count when the current process started
	memMax  int64        // the memory limit the current process runs under
}

// startCgroup returns the cgroup to start the program in, with its limits set, or nil when programs have
// no cgroups here (or this one's cannot be created: the run is then found by its tag).
func (r *runner) startCgroup() *proc.Cgroup {
	tree := r.cgroupTree()
	if tree == nil {
		return nil
	}
	if old := r.limits.cgroup; old != nil {
		// A fresh cgroup for each run starts its CPU time and out-of-memory count at zero; one that still
		// has processes (adopted leftovers) stays.
		if old.Remove() == nil {
			r.limits.cgroup = nil
		}
	}
	if r.limits.cgroup == nil {
		cg, err := tree.Program(r.name)
		if err != nil {
			r.log.Warn("no cgroup for the program; a stop finds its processes by their tag", "err", err)
			return nil
		}
		r.limits.cgroup = cg
		r.cgroup.Store(cg)
	}
	cg := r.limits.cgroup
	lim := r.spec.Limits
	// Set on every start, so that a reloaded limit (or one lifted) applies to the next run.
	if cg.HasMemory() {
		if err := cg.SetMemoryMax(lim.MemoryMax); err != nil {
			r.log.Warn("set the memory limit", "err", err)
		}
	}
	if cg.HasCPU() {
		if err := cg.SetCPUMax(lim.CPUMaxPercent); err != nil {
			r.log.Warn("set the CPU limit", "err", err)
		}
	}
	r.limits.oomBase = cg.OOMKills()
	r.limits.memMax = lim.MemoryMax
	return cg
}

// attachCgroup gives an adopted process its program's cgroup when it is in it, so that a stop kills all
// of the cgroup and usage comes from its files.
func (r *runner) attachCgroup(p *proc.Process) {
	tree := r.cgroupTree()
	if tree == nil {
		return
	}
	cg, err := tree.Program(r.name)
	if err != nil || !p.AttachCgroup(cg) {
		return
	}
	r.limits.cgroup, r.limits.oomBase, r.limits.memMax = cg, cg.OOMKills(), r.spec.Limits.MemoryMax
	r.cgroup.Store(cg)
}

// withOOMCause adds the out-of-memory cause to exit when the kernel killed a process of the program's
// cgroup for its memory limit during the run.
func (r *runner) withOOMCause(exit proc.ExitStatus) proc.ExitStatus {
	cg := r.limits.cgroup
	if cg != nil && cg.HasMemory() && r.limits.memMax > 0 && cg.OOMKills() > r.limits.oomBase {
		exit.Cause = outOfMemory(r.limits.memMax)
	}
	return exit
}

// memoryExceeded stops the process the sampler found above its memory limit (where no memory controller
// enforces it) and treats its end as a failed exit, described as out of memory.
func (r *runner) memoryExceeded(req request) {
	r.respond(req, nil)
	if r.proc == nil || r.proc.Identity().PID != req.pid || r.st.State != Running {
		return // gone or replaced since the sample
	}
	limit := r.spec.Limits.MemoryMax
	ran := time.Since(r.st.StartedAt)
	r.log.Warn("memory limit exceeded in two samples in a row; restarting", "pid", req.pid, "limit", mib(limit))
	r.beginStop(func(err error) {
		if err != nil {
			r.setError(fmt.Sprintf("stop after the memory limit: %v", err))
			return
		}
		exit := *r.st.LastExit
		exit.Cause = outOfMemory(limit)
		r.st.LastExit = &exit
		r.decideAfterExit(exit, ran, nil)
	})
}

// memoryOver counts the samples in a row in which a program's memory was above its limit: over is the
// count before, rss the new sample. It returns the new count; at memorySamples the program is restarted.
func memoryOver(over int, rss uint64, limit int64) int {
	if limit <= 0 || rss <= uint64(limit) {
		return 0
	}
	return over + 1
}

// memorySamples is how many samples in a row above the limit restart a program: one could be a spike
// that the program frees again at once.
const memorySamples = 2

// enforceMemory restarts, through their runners, the programs whose sampled memory stayed above their
// limit without a memory controller to enforce it. over is the sampler's count per program.
func (s *Supervisor) enforceMemory(ctx context.Context, programs []*program, all map[string]usage, over map[string]int) {
	for _, p := range programs {
		limit := p.published.Load().Limits.MemoryMax
		if cg := p.cgroup.Load(); cg != nil && cg.HasMemory() {
			limit = 0 // the kernel enforces it
		}
		u := all[p.name]
		pid := p.snapshot.Load().PID
		if pid == 0 || u.pid != pid {
			delete(over, p.name)
			continue
		}
		n := memoryOver(over[p.name], u.rssBytes, limit)
		if n < memorySamples {
			over[p.name] = n
			continue
		}
		delete(over, p.name)
		// Not from this goroutine: the runner may be busy, and sampling must go on.
		go func() { _, _ = p.request(ctx, request{op: opMemoryLimit, pid: pid}) }()
	}
}

// sampleCgroups adds to measured (by PID) the usage of the running programs whose cgroup has a memory
// controller, read from the cgroup's files, which count every process of the program (and, for CPU, those
// that have exited too) and the memory memory.max limits. Programs without one are sampled by their process
// group, through proc.Sampler's files kept open: reading a cgroup's files costs an open and a close each
// round, which made an idle manager of 100 programs ten times as busy.
// It returns measured, or a new map if it was nil.
func sampleCgroups(programs []*program, pids map[string]int, measured map[int]proc.Usage) map[int]proc.Usage {
	for _, p := range programs {
		cg, pid := p.cgroup.Load(), pids[p.name]
		if cg == nil || pid == 0 || !cg.HasMemory() {
			continue
		}
		u, err := cg.Usage()
		if err != nil {
			continue // gone with the program: no figure this round
		}
		if measured == nil {
			measured = map[int]proc.Usage{}
		}
		measured[pid] = u
	}
	return measured
}

// cgroupLeader returns, for a program neither the state file nor a tag names,
// the oldest session leader in the program's cgroup whose command line ends
// with the program's script and arguments: its main process. A process of it
// that made itself a session of its own is younger, and runs another command.
// command is called only if the cgroup has a leader to check.
func (s *Supervisor) cgroupLeader(name string, command func() config.Command) (proc.Identity, bool) {
	tree := s.cgroups.Load()
	if tree == nil {
		return proc.Identity{}, false
	}
	cg, ok := tree.ExistingProgram(name)
	if !ok {
		return proc.Identity{}, false
	}
	leaders := cg.Leaders()
	if len(leaders) == 0 {
		_ = cg.Remove()
		return proc.Identity{}, false
	}
	for _, id := range leaders {
		if t, err := proc.Describe(id, "PYVISOR_"); err == nil && runsCommand(t.Argv, command()) {
			return id, true
		}
	}
	return proc.Identity{}, false
}

// removeEmptyCgroups removes the cgroups of programs that have no process left, and the programs' cgroup
// directory if none is left in it; those of programs left running stay for the next manager.
func (s *Supervisor) removeEmptyCgroups() {
	tree := s.cgroups.Load()
	if tree == nil {
		return
	}
	for _, p := range s.appendPrograms(nil) {
		if cg := p.cgroup.Load(); cg != nil {
			if err := cg.Remove(); err != nil {
				s.log.Warn("remove a program's cgroup", "err", err)
			}
		}
	}
	if err := tree.Remove(); err != nil {
		s.log.Warn("remove the programs' cgroup directory", "err", err)
	}
}
