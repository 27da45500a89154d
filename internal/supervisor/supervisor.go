// Package supervisor is pyvisor's core: it keeps the configured programs running.
// Each program is owned by one goroutine (runner.go) that starts, watches, stops
// and restarts its process; restart decisions are pure functions (state.go). At
// start the supervisor re-adopts the processes an earlier manager left running
// (boot.go); when it stops it leaves them running and saves their PIDs. Reload
// applies the configuration file read again (reload.go). Others read copies of
// the state (Status, Statuses) and are told of changes through Subscribe.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/logfile"
	"github.com/pyvisor/pyvisor/internal/probe"
	"github.com/pyvisor/pyvisor/internal/proc"
	"github.com/pyvisor/pyvisor/internal/statefile"
)

// File and directory names beside the configuration file, shared with the
// earlier Python tool so its users can switch without moving anything.
const (
	StateFileName = "process_manager.pids.json"
	LogDirName    = "log"
)

// ErrNotFound is returned for a program name that is not configured.
var ErrNotFound = errors.New("no such program")

// StartError is returned when a start or restart left the program not running.
type StartError struct {
	Program string
	Msg     string
}

func (e *StartError) Error() string { return e.Msg }

// Errors callers branch on.
var (
	// ErrShutdown is returned for requests made while the manager shuts down.
	ErrShutdown = errors.New("manager is shutting down")
	// ErrBusy is returned for a change that needs the program stopped (update, remove).
	ErrBusy = errors.New("program is not stopped")
	// ErrExists is returned when adding a program whose name is taken.
	ErrExists = errors.New("a program with this name exists")
	// ErrNotUploaded is returned for an upload-only change to a program of the config file.
	ErrNotUploaded = errors.New("program is defined in the configuration file, not uploaded")
	// ErrStateNotSaved is returned when the state file could not be written
	// (a full disk). A request that changed what the user wants was carried
	// out all the same; the supervisor retries the write until it succeeds.
	ErrStateNotSaved = errors.New("the state file could not be saved")
	// ErrNoProgramsListed is returned for a reload of a file that lists no
	// programs (empty, all comments, no programs key) while programs of the
	// file run: it would remove them all. `programs: []` says so on purpose.
	ErrNoProgramsListed = errors.New("the file lists no programs")
)

// Options are the supervisor's settings that do not come from the config file.
type Options struct {
	// Logger receives the manager's own log; nil means slog.Default().
	Logger *slog.Logger
	// StatePath is the PID state file; "" means process_manager.pids.json in the config's directory.
	StatePath string
	// LogDir holds the programs' log files; "" means log/ in the config's directory.
	LogDir string
	// Environ is the environment programs inherit; nil means os.Environ().
	Environ []string
	// UploadFiles names the leftovers of uploads, which Run deletes at start,
	// and sets a removed upload's directory aside; nil means the supervisor
	// leaves the uploads directory alone: nothing is swept, nothing deleted.
	UploadFiles UploadFiles
	// EventsPath is the history of events; "" means process_manager.events.jsonl in the config's directory.
	EventsPath string
	// NoCgroups gives programs no cgroups even where the machine allows them: a stop then finds the
	// processes that left a program's group by their PYVISOR_RUN tag (see Containment).
	NoCgroups bool
}

// Supervisor runs the programs of one configuration.
type Supervisor struct {
	// cfg is the configuration in effect: the global settings that resolve
	// programs and define new uploads, and those read once at start (which a
	// reload keeps, see effectiveConfig). Reload replaces it as a whole; a
	// Config is never changed once stored, so readers need no lock. Its
	// Programs are read by New only: the registry below is the truth.
	cfg       atomic.Pointer[config.Config]
	log       *slog.Logger
	statePath string
	// dep is the configuration's identity, set by Run before any program starts.
	dep     deployment
	logDir  string
	rotator logfile.Rotator
	environ []string
	// uploadFiles is Options.UploadFiles.
	uploadFiles UploadFiles
	noCgroups   bool
	// cgroups is where programs get their cgroups; Run sets it before any program starts, nil for none.
	cgroups atomic.Pointer[proc.CgroupTree]
	// prober runs every program's health checks.
	prober *probe.Prober

	// mu guards the registry of programs (each program's state is its own goroutine's)
	// and what Run sets up for programs added later.
	mu       sync.RWMutex
	programs []*program // in config order, then uploads in the order added (see register)
	byName   map[string]*program
	runCtx   context.Context // nil until Run starts and after it ends
	persist  *persister
	// watcher notices the exits of all programs' processes with one goroutine. Run sets it before anything
	// uses it and closes it when the runners have ended; nil if it could not be created.
	watcher *proc.Watcher
	wg      sync.WaitGroup
	ready   chan struct{} // closed once Run has set up every program
	// reloadMu serializes reloads.
	reloadMu sync.Mutex
	// usage is the last sampling round's measurements, by program name; the
	// sampler updates it in place (see sampler.round) under usageMu.
	usageMu sync.RWMutex
	usage   map[string]usage

	subsMu sync.Mutex
	subs   map[chan struct{}]struct{}
	// events records what happens to the programs (events.go).
	events     *eventHub
	eventsPath string
	// gen counts the changes to what Statuses returns (see Generation). It is
	// bumped after each change is visible to readers, never before.
	gen atomic.Uint64
}

// New prepares a supervisor for cfg. Nothing starts until Run.
func New(cfg *config.Config, opts Options) *Supervisor {
	s := &Supervisor{
		log:       opts.Logger,
		statePath: opts.StatePath,
		logDir:    opts.LogDir,
		rotator:   logfile.Rotator{Backups: cfg.Logging.Backups},
		byName:    map[string]*program{},
		subs:      map[chan struct{}]struct{}{},
		ready:     make(chan struct{}),
		prober:    probe.New(),
	}
	s.cfg.Store(cfg)
	if s.log == nil {
		s.log = slog.Default()
	}
	s.events, s.eventsPath = newEventHub(s.log), eventsPath(&opts, cfg.Dir)
	if s.statePath == "" {
		s.statePath = filepath.Join(cfg.Dir, StateFileName)
	}
	if s.logDir == "" {
		s.logDir = filepath.Join(cfg.Dir, LogDirName)
	}
	s.environ = opts.Environ
	s.uploadFiles = opts.UploadFiles
	s.noCgroups = opts.NoCgroups
	if s.environ == nil {
		s.environ = os.Environ()
	}
	for i := range cfg.Programs {
		p := s.newProgram(&cfg.Programs[i], cfg)
		s.programs = append(s.programs, p)
		s.byName[p.name] = p
	}
	return s
}

// config returns the configuration in effect.
func (s *Supervisor) config() *config.Config { return s.cfg.Load() }

// newProgram prepares the program spec, resolved against cfg. The program
// holds and publishes spec itself as its definition, so nothing may change
// *spec afterwards: it is an entry of the configuration (which stays as
// loaded) or a copy of the caller's own. An update or a reload replaces the
// program's definition with another (setSpec); none is changed in place, and
// a manager keeps no copy of a definition beside its configuration.
func (s *Supervisor) newProgram(spec *config.Program, cfg *config.Config) *program {
	cmd := cfg.Command(spec, s.environ)
	p := &program{
		name:           spec.Name,
		spec:           spec,
		cfg:            cfg,
		environ:        s.environ,
		logPath:        filepath.Join(s.logDir, config.LogFileName(spec.Name)),
		statePath:      s.statePath,
		deployment:     s.dep.id,
		log:            s.log.With("program", spec.Name),
		cgroupTree:     s.cgroups.Load,
		notify:         s.notify,
		bumpGeneration: s.bumpGeneration,
		emit:           s.events.emit,
		prober:         s.prober,
		lookupStatus:   s.lookupStatus,
		subscribe:      s.Subscribe,
		requests:       make(chan request),
		done:           make(chan struct{}),
	}
	p.published.Store(spec)
	// Until its runner publishes, a program reads as stopped since now: the
	// manager's start, as StateSince says, not the zero time.
	p.snapshot.Store(&Status{
		Name:       spec.Name,
		State:      Stopped,
		StateSince: time.Now(),
		Enabled:    spec.Enabled,
		Uploaded:   spec.Uploaded,
		Script:     cmd.Script,
		Cwd:        cmd.Dir,
		Args:       spec.Args,
		Schedule:   spec.Schedule,
		InstanceOf: spec.InstanceOf,
		Instance:   spec.Instance,
		Group:      spec.Group,
	})
	return p
}

// Run re-adopts or starts the programs, samples them and rotates their logs until
// ctx ends. Then it saves the state and returns, leaving the programs running;
// the error, wrapping ErrStateNotSaved, says the last write of the state file
// failed.
func (s *Supervisor) Run(ctx context.Context) error {
	w, err := proc.NewWatcher()
	if err != nil {
		// Each process then has a goroutine of its own waiting for its exit, as proc does without one.
		s.log.Warn("watch program exits with one goroutine; falling back to one per program", "err", err)
		w = nil
	}
	s.mu.Lock()
	s.watcher = w // read by uploads and reloads, which may come while Run starts
	s.mu.Unlock()
	defer func() {
		if err := w.Close(); err != nil {
			s.log.Warn("close the exit watcher", "err", err)
		}
	}()
	c := s.openContainment(s.noCgroups)
	s.log.Info("process containment: "+c.String(), "mode", c.Mode)
	for _, w := range c.LimitWarnings(s.config().Programs) {
		s.log.Warn(w)
	}
	saved, err := statefile.Load(s.statePath)
	if err != nil {
		// A corrupt file was set aside; starting fresh is the only way on.
		s.log.Error("load state", "err", err)
	}
	s.events.open(s.eventsPath)
	defer s.events.close()
	dep, saved, legacy := s.identify(saved)
	s.mu.Lock()
	s.dep = dep // read by newProgram for uploads and reloads
	s.mu.Unlock()
	boots := s.plan(saved, s.programs, legacy)
	s.stopRemoved(ctx, saved, legacy)
	s.sweepUploads()

	entries := map[string]statefile.Entry{}
	for name, e := range saved.Programs {
		if _, ok := s.byName[name]; ok {
			entries[name] = e
		}
	}
	s.mu.Lock()
	s.persist = newPersister(s.statePath, dep, entries, s.log)
	s.runCtx = ctx
	for _, p := range s.programs {
		p.deployment = dep.id
		p.persist = s.persist
		p.watcher = w
		b := boots[p.name]
		s.wg.Go(func() { p.run(ctx, &b) })
	}
	s.mu.Unlock()
	close(s.ready)
	s.sampleLoop(ctx)
	s.mu.Lock()
	s.runCtx = nil // no more Add
	s.mu.Unlock()
	s.wg.Wait()
	s.removeEmptyCgroups()
	if err := s.persist.close(); err != nil {
		// The next manager still finds the programs by their environment tags,
		// but not what the user changed since the last successful write.
		return fmt.Errorf("exit with programs left running: %w", err)
	}
	s.log.Info("state saved; programs left running", "state_file", s.statePath)
	return nil
}

// Ready is closed once Run has adopted or started the programs (or begun to) and
// accepts AddUpload and Reload.
func (s *Supervisor) Ready() <-chan struct{} { return s.ready }

// Subscribe returns a channel that receives a value after state changes and
// after each sampling round. Changes coalesce: a slow reader sees one value for
// many changes, and then reads the current state. cancel releases it.
func (s *Supervisor) Subscribe() (changed <-chan struct{}, cancel func()) {
	ch := make(chan struct{}, 1)
	s.subsMu.Lock()
	s.subs[ch] = struct{}{}
	s.subsMu.Unlock()
	return ch, func() {
		s.subsMu.Lock()
		delete(s.subs, ch)
		s.subsMu.Unlock()
	}
}

// Generation returns a number that grows after every change to what Statuses
// and Status return, except those that come with the passing of time alone
// (uptime, the time to a restart): states, measurements, definitions, programs
// added or removed. A caller that reads it before Statuses, and later reads
// the same number again, knows the statuses it read are still current. It
// may grow with nothing visible changed (a request that changed nothing), and
// it grows also for changes that Subscribe does not report.
func (s *Supervisor) Generation() uint64 { return s.gen.Load() }

// bumpGeneration records a change that needs no event of its own (see
// sameForEvents): Generation grows, the subscribers are not woken.
func (s *Supervisor) bumpGeneration() { s.gen.Add(1) }

// notify records a change (bumpGeneration) and wakes the subscribers.
func (s *Supervisor) notify() {
	s.bumpGeneration()
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Statuses returns a copy of every program's state, in config order.
func (s *Supervisor) Statuses() []Status {
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.usageMu.RLock()
	defer s.usageMu.RUnlock()
	out := make([]Status, len(s.programs))
	for i, p := range s.programs {
		out[i] = withUsage(p.status(), s.usage)
	}
	return out
}

// withUsage returns st with the last measurements of its program.
func (s *Supervisor) withUsage(st Status) Status {
	s.usageMu.RLock()
	defer s.usageMu.RUnlock()
	return withUsage(st, s.usage)
}

// appendPrograms appends the programs now registered to dst.
func (s *Supervisor) appendPrograms(dst []*program) []*program {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append(dst, s.programs...)
}

// Status returns a copy of one program's state.
func (s *Supervisor) Status(name string) (Status, error) {
	p, err := s.lookup(name)
	if err != nil {
		return Status{}, err
	}
	return s.withUsage(p.status()), nil
}

// LogPath returns the path of a program's log file.
func (s *Supervisor) LogPath(name string) (string, error) {
	p, err := s.lookup(name)
	if err != nil {
		return "", err
	}
	return p.logPath, nil
}

// Start starts a program that is not running and returns its state once it runs
// (or failed to). Starting a running program changes nothing.
func (s *Supervisor) Start(ctx context.Context, name string) (Status, error) {
	return s.request(ctx, name, opStart)
}

// Stop stops a program and returns once its whole process group is gone.
// Stopping a stopped program changes nothing.
func (s *Supervisor) Stop(ctx context.Context, name string) (Status, error) {
	return s.request(ctx, name, opStop)
}

// Restart stops the program if it runs, then starts it; it clears broken.
func (s *Supervisor) Restart(ctx context.Context, name string) (Status, error) {
	return s.request(ctx, name, opRestart)
}

// request asks the program name to carry out o and returns the state o left it in.
func (s *Supervisor) request(ctx context.Context, name string, o op) (Status, error) {
	p, err := s.lookup(name)
	if err != nil {
		return Status{}, err
	}
	st, err := p.request(ctx, request{op: o, actor: actorOf(ctx)})
	st = s.withUsage(st)
	if err != nil {
		return st, fmt.Errorf("%s %q: %w", o, name, err)
	}
	return st, nil
}

// lookupStatus returns the state last published by the program name, without waiting on it.
func (s *Supervisor) lookupStatus(name string) (Status, bool) {
	p, err := s.lookup(name)
	if err != nil {
		return Status{}, false
	}
	return p.status(), true
}

func (s *Supervisor) lookup(name string) (*program, error) {
	s.mu.RLock()
	p, ok := s.byName[name]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return p, nil
}

// Lock claims the configuration's state file for this manager until unlock is
// called or the process ends, so that two managers never run the same programs.
// A second manager gets an error wrapping statefile.ErrLocked.
func (s *Supervisor) Lock() (unlock func(), err error) {
	return statefile.Lock(s.statePath)
}
