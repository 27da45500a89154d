package supervisor

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/probe"
	"github.com/pyvisor/pyvisor/internal/proc"
)

// Environment variables every program is started with. They tag the process, so
// that a manager adopts only processes that carry its deployment's identity and
// the run value saved for them, and can find a program started by a manager that
// was killed before it saved the PID.
const (
	envProgram    = "PYVISOR_PROGRAM"
	envStateFile  = "PYVISOR_STATE_FILE"
	envDeployment = "PYVISOR_DEPLOYMENT"
	envRun        = "PYVISOR_RUN"
)

// op is what a request asks of a program's goroutine.
type op int

const (
	opStart op = iota
	opStop
	opRestart
	opUpdate
	opRemove
	opReload
	opDrop
	opMemoryLimit // the sampler found the process above its memory limit twice
	opRegroup     // only the dashboard's group changed
)

func (o op) String() string {
	return [...]string{"start", "stop", "restart", "update", "remove", "reload", "drop", "memory limit", "regroup"}[o]
}

// request is one op for a program's goroutine, with its reply channel.
type request struct {
	op    op
	reply chan result
	// For opUpdate, opReload and opRegroup: the new definition and the configuration it is
	// resolved against.
	spec *config.Program
	cfg  *config.Config
	// For opUpdate: how to install it.
	install InstallFunc
	// actor is who asked for a start, stop or restart, for the history; "" if unknown.
	actor string
	// For opMemoryLimit: the process that was sampled.
	pid int
}

// program is one supervised program. Its mutable state lives in a runner owned by
// the goroutine started in run (runner.go); everyone else reads the published
// snapshot or sends a request.
type program struct {
	name      string
	spec      *config.Program // owned by the goroutine once it runs (updates and reloads replace it); never changed in place
	cfg       *config.Config  // resolves spec; owned like spec
	environ   []string
	logPath   string
	statePath string
	// deployment is the configuration's identity, given to its processes.
	deployment string
	log        *slog.Logger
	persist    *persister
	watcher    *proc.Watcher // notices the exits of the processes it starts; nil: a goroutine per process
	// cgroupTree returns where programs get their cgroups; nil when they get none.
	cgroupTree func() *proc.CgroupTree
	// cgroup is the program's cgroup once its runner created it, for the sampler.
	cgroup atomic.Pointer[proc.Cgroup]
	// notify records a change and wakes the subscribers; bumpGeneration records
	// one without waking them (Supervisor's methods of the same names).
	notify         func()
	bumpGeneration func()
	// emit records an event in the history (eventHub.emit).
	emit func(Event)
	// prober runs the health checks; lookupStatus and subscribe are the Supervisor's Status and
	// Subscribe, for waiting on dependencies.
	prober       *probe.Prober
	lookupStatus func(name string) (Status, bool)
	subscribe    func() (<-chan struct{}, func())

	requests chan request
	snapshot atomic.Pointer[Status]
	// published is spec, for other goroutines to read.
	published atomic.Pointer[config.Program]
	done      chan struct{} // closed when run returns
}

// status returns a copy of the state last published.
func (p *program) status() Status {
	return *p.snapshot.Load()
}

// result answers a request: the state it produced, and an error if it failed.
type result struct {
	status Status
	err    error
}

// request hands r to the program's goroutine and waits for the answer, which
// comes once the state r produced is published. It gives up when ctx ends or
// the goroutine has ended.
func (p *program) request(ctx context.Context, r request) (Status, error) {
	r.reply = make(chan result, 1)
	select {
	case p.requests <- r:
	case <-p.done:
		return p.status(), ErrShutdown
	case <-ctx.Done():
		return p.status(), ctx.Err()
	}
	select {
	case res := <-r.reply:
		return res.status, res.err
	case <-p.done:
		select {
		case res := <-r.reply: // the goroutine answered, then ended (a remove)
			return res.status, res.err
		default:
			return p.status(), ErrShutdown
		}
	case <-ctx.Done():
		return p.status(), ctx.Err()
	}
}

// publish makes the current state visible to readers, as a copy.
func (r *runner) publish() {
	r.stampState()
	s := r.st
	old := r.snapshot.Swap(&s)
	if sameForEvents(old, &s) {
		// Still a change for Generation: fields that need no event (when the
		// process started, how the last run ended) may differ, and readers of
		// Statuses must not miss them.
		r.bumpGeneration()
	} else {
		r.notify()
	}
}

// sameForEvents reports whether two snapshots differ only in ways that need no
// event of their own. A changed definition (a reload, an upload's update) is an
// event even when the state stays, so open dashboards show it at once.
func sameForEvents(a, b *Status) bool {
	return a.State == b.State && a.PID == b.PID && a.Error == b.Error &&
		a.RestartCount == b.RestartCount && a.ConsecutiveFailures == b.ConsecutiveFailures &&
		a.NextStart.Equal(b.NextStart) && a.Health == b.Health && a.HealthDetail == b.HealthDetail &&
		a.NextRun.Equal(b.NextRun) && a.LastRun == b.LastRun && a.SkippedRuns == b.SkippedRuns &&
		a.Enabled == b.Enabled && a.Script == b.Script && a.Cwd == b.Cwd && slices.Equal(a.Args, b.Args) &&
		a.Group == b.Group
}
