package supervisor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/statefile"
)

// ReloadResult says what a reload changed. Program names are in the order of
// the new file (removed ones: in the order they were shown).
type ReloadResult struct {
	// Added are programs new in the file: registered, and started if enabled.
	Added []string
	// Removed are programs no longer in the file: stopped and dropped.
	Removed []string
	// Changed are programs whose definition changed, directly or through a
	// global setting: restarted with it unless the user had stopped them.
	Changed []string
	// NeedsRestart names the settings that changed but take effect only when
	// the manager is restarted, such as "web_ui.port".
	NeedsRestart []string
}

// Reload applies a configuration loaded again from the same file. Only the
// programs of the file take part; uploaded programs are left as they are.
//
//   - A program new in the file is added and started if enabled (or adopted,
//     should a process tagged with its name still run).
//   - A program gone from the file is stopped (its whole group, stop_signal
//     then KILL) and dropped, with its state file entry; its log file stays.
//   - A program whose definition changed (the entry itself, or what it
//     resolves to: interpreter, script, directory, arguments, environment)
//     takes the new one, and then is as a manager starting afresh would leave
//     it: a program the user stopped stays stopped; one that runs, waits to
//     restart, is broken or in error is restarted (which clears broken); a
//     program stopped for other reasons (disabled, finished) is started if it
//     is now enabled. Its old process is stopped as its old definition said.
//   - Other programs are not disturbed.
//
// Settings that are read once at start (the global user, web_ui with its credentials, logging, sampling, uploads,
// pip_args) are not applied: the configuration in effect keeps their values
// from the start, and the result lists those that changed in NeedsRestart.
//
// Reloads are serialized. Reload fails with ErrShutdown once the manager is
// shutting down, and changes nothing when cfg is of another directory, when
// one of its new programs has the name of an upload made meanwhile
// (ErrExists), or when the file lists no programs (cfg.ProgramsListed is
// false) while some of the file run (ErrNoProgramsListed): an empty file
// removes them all only if it says `programs: []`.
// Once the changes begin, Reload sees them through even if ctx ends.
func (s *Supervisor) Reload(ctx context.Context, cfg *config.Config) (ReloadResult, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	select {
	case <-s.ready:
	case <-ctx.Done():
		return ReloadResult{}, fmt.Errorf("reload %s: %w", cfg.Path, ctx.Err())
	}
	old := s.config()
	if cfg.Dir != old.Dir {
		return ReloadResult{}, fmt.Errorf("reload %s: the manager runs the programs of %s; start another manager for %s",
			cfg.Path, old.Dir, cfg.Dir)
	}
	eff := effectiveConfig(old, cfg)
	// Only reloads change the programs of the file, and they hold reloadMu: the
	// list can be read now and the registry changed later.
	var cur []definition
	for _, p := range s.appendPrograms(nil) {
		if spec := p.published.Load(); !spec.Uploaded {
			cur = append(cur, definition{*spec, old.Command(spec, s.environ)})
		}
	}
	var next []definition
	for i := range eff.Programs {
		if spec := &eff.Programs[i]; !spec.Uploaded {
			next = append(next, definition{*spec, eff.Command(spec, s.environ)})
		}
	}
	if len(next) == 0 && len(cur) > 0 && !cfg.ProgramsListed {
		// An empty or truncated file (a failed copy, an editor's crash) must
		// not remove every program.
		return ReloadResult{}, fmt.Errorf("reload %s: %w (it is empty, all comments, or has no programs list), "+
			"which would remove all %d programs of the file; nothing changed. To remove them all, write \"programs: []\" in it",
			cfg.Path, ErrNoProgramsListed, len(cur))
	}
	res := diffPrograms(cur, next)
	res.NeedsRestart = needsRestart(old, cfg)

	dropped, err := s.register(eff, next, res)
	if err != nil {
		return ReloadResult{}, err
	}
	err = s.applyChanges(context.WithoutCancel(ctx), eff, next, res, dropped)
	s.logReload(res, err)
	return res, err
}

// definition is a program of the file and what it resolves to.
type definition struct {
	spec config.Program
	cmd  config.Command
}

// diffPrograms compares the programs of the file now in force (cur) with those
// of the new file (next). It is pure.
func diffPrograms(cur, next []definition) ReloadResult {
	var res ReloadResult
	before := map[string]definition{}
	for _, d := range cur {
		before[d.spec.Name] = d
	}
	inNext := map[string]bool{}
	for _, d := range next {
		inNext[d.spec.Name] = true
		b, ok := before[d.spec.Name]
		switch {
		case !ok:
			res.Added = append(res.Added, d.spec.Name)
		case !sameDefinition(b, d):
			res.Changed = append(res.Changed, d.spec.Name)
		}
	}
	for _, d := range cur {
		if !inNext[d.spec.Name] {
			res.Removed = append(res.Removed, d.spec.Name)
		}
	}
	return res
}

// sameDefinition reports whether a program would run the same way under both
// definitions. Every field of the entry counts, new ones included, except its
// line in the file.
func sameDefinition(a, b definition) bool {
	a.spec.Line, b.spec.Line = 0, 0
	a.spec.Group, b.spec.Group = "", "" // a heading of the dashboard; see regroup
	return reflect.DeepEqual(a, b)
}

// needsRestart lists the settings that differ between old and next but are
// read once, when the manager starts. It is pure.
func needsRestart(old, next *config.Config) []string {
	var out []string
	check := func(field string, same bool) {
		if !same {
			out = append(out, field)
		}
	}
	o, n := old, next
	check("web_ui.host", o.WebUI.Host == n.WebUI.Host)
	check("web_ui.port", o.WebUI.Port == n.WebUI.Port)
	check("web_ui.title", o.WebUI.Title == n.WebUI.Title)
	check("web_ui.allowed_hosts", slices.Equal(o.WebUI.AllowedHosts, n.WebUI.AllowedHosts))
	check("web_ui.auth", reflect.DeepEqual(o.WebUI.Auth, n.WebUI.Auth))
	check("web_ui.tls_cert", o.WebUI.TLSCert == n.WebUI.TLSCert)
	check("web_ui.tls_key", o.WebUI.TLSKey == n.WebUI.TLSKey)
	check("web_ui.secure_cookies", o.WebUI.SecureCookies == n.WebUI.SecureCookies)
	check("logging.max_size_mb", o.Logging.MaxSizeBytes == n.Logging.MaxSizeBytes)
	check("logging.backups", o.Logging.Backups == n.Logging.Backups)
	check("sampling.interval_seconds", o.Sampling.Interval == n.Sampling.Interval)
	check("sampling.history", o.Sampling.History == n.Sampling.History)
	check("uploads.max_zip_mb", o.Uploads.MaxZipBytes == n.Uploads.MaxZipBytes)
	check("uploads.max_files", o.Uploads.MaxFiles == n.Uploads.MaxFiles)
	check("uploads.max_unpacked_mb", o.Uploads.MaxUnpackedBytes == n.Uploads.MaxUnpackedBytes)
	check("uploads.python", o.Uploads.Python == n.Uploads.Python)
	check("uploads.install_timeout_seconds", o.Uploads.InstallTimeout == n.Uploads.InstallTimeout)
	check("pip_args", slices.Equal(o.Uploads.PipArgs, n.Uploads.PipArgs))
	// The global user is also the user installs of uploads run as, which is
	// fixed at start; applied to programs only, an upload installed as one
	// user would run as another.
	check("user", reflect.DeepEqual(o.User, n.User))
	return out
}

// effectiveConfig is next with the settings needsRestart covers kept from old:
// the configuration in effect after a reload.
func effectiveConfig(old, next *config.Config) *config.Config {
	eff := *next
	eff.WebUI, eff.Logging, eff.Sampling, eff.Uploads, eff.User = old.WebUI, old.Logging, old.Sampling, old.Uploads, old.User
	return &eff
}

// register puts the new configuration in effect and the added programs in the
// registry, in file order, and starts their goroutines. It returns the removed
// programs, which stay listed (as they stop) until applyChanges drops them.
func (s *Supervisor) register(eff *config.Config, next []definition, res ReloadResult) ([]*program, error) {
	added := make([]*program, 0, len(res.Added))
	for _, d := range next {
		if slices.Contains(res.Added, d.spec.Name) {
			spec := d.spec
			added = append(added, s.newProgram(&spec, eff))
		}
	}
	s.mu.RLock()
	runCtx := s.runCtx
	s.mu.RUnlock()
	if runCtx == nil || runCtx.Err() != nil {
		return nil, fmt.Errorf("reload %s: %w", eff.Path, ErrShutdown)
	}
	var boots map[string]boot
	if len(added) > 0 {
		// No saved entries: the state file keeps only configured programs.
		boots = s.plan(statefile.State{}, added, false)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx == nil || s.runCtx.Err() != nil {
		return nil, fmt.Errorf("reload %s: %w", eff.Path, ErrShutdown)
	}
	if err := s.checkClashes(added); err != nil {
		return nil, fmt.Errorf("reload %s: %w", eff.Path, err)
	}
	for _, p := range added {
		p.persist = s.persist
		p.watcher = s.watcher
		s.byName[p.name] = p
	}
	inFile := map[string]bool{}
	order := make([]*program, 0, len(s.programs)+len(added))
	for _, d := range next {
		inFile[d.spec.Name] = true
		order = append(order, s.byName[d.spec.Name])
	}
	var dropped, uploads []*program
	for _, p := range s.programs {
		switch {
		case p.published.Load().Uploaded:
			uploads = append(uploads, p)
		case !inFile[p.name]:
			dropped = append(dropped, p)
		}
	}
	s.programs = append(append(order, dropped...), uploads...)
	s.cfg.Store(eff)
	for _, p := range added {
		s.events.emit(Event{Time: time.Now(), Program: p.name, Kind: EventAdded, Detail: "by a reload of the configuration"})
		b := boots[p.name]
		s.wg.Go(func() { p.run(runCtx, &b) })
	}
	s.notify()
	return dropped, nil
}

// checkClashes reports an added program whose name or log file is an upload's:
// the upload was made after the file was loaded. s.mu is held.
func (s *Supervisor) checkClashes(added []*program) error {
	logs := map[string]string{}
	for _, p := range s.programs {
		if p.published.Load().Uploaded {
			logs[config.LogKey(p.name)] = p.name
		}
	}
	for _, p := range added {
		if q, ok := s.byName[p.name]; ok {
			return fmt.Errorf("program %q: %w (uploaded)", q.name, ErrExists)
		}
		if other, ok := logs[config.LogKey(p.name)]; ok {
			return fmt.Errorf("program %q has the log file name of the uploaded %q: %w", p.name, other, ErrExists)
		}
	}
	return nil
}

// applyChanges has the goroutines of changed programs take their new
// definitions and those of removed ones stop and end, all at once (each may
// wait out a stop timeout), then drops the removed from the registry.
func (s *Supervisor) applyChanges(ctx context.Context, eff *config.Config, next []definition, res ReloadResult, dropped []*program) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for _, d := range next {
		o := opReload
		if !slices.Contains(res.Changed, d.spec.Name) {
			if slices.Contains(res.Added, d.spec.Name) || !regroup(s, d.spec) {
				continue
			}
			o = opRegroup
		}
		p, err := s.lookup(d.spec.Name)
		if err != nil {
			fail(err)
			continue
		}
		spec := d.spec
		wg.Go(func() {
			if _, err := p.request(ctx, request{op: o, spec: &spec, cfg: eff}); err != nil {
				fail(fmt.Errorf("apply the new definition of %q: %w", p.name, err))
			}
		})
	}
	var gone []*program
	for _, p := range dropped {
		wg.Go(func() {
			if _, err := p.request(ctx, request{op: opDrop}); err != nil {
				fail(fmt.Errorf("stop removed program %q: %w", p.name, err))
				return
			}
			<-p.done
			mu.Lock()
			gone = append(gone, p)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(gone) > 0 {
		s.mu.Lock()
		for _, p := range gone {
			delete(s.byName, p.name)
		}
		s.programs = slices.DeleteFunc(s.programs, func(p *program) bool { return slices.Contains(gone, p) })
		s.mu.Unlock()
		s.notify()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reload %s: %w", eff.Path, err)
	}
	return nil
}

// regroup reports whether spec, a definition the reload leaves unchanged,
// moves its program to another group of the dashboard.
func regroup(s *Supervisor, spec config.Program) bool {
	p, err := s.lookup(spec.Name)
	return err == nil && p.published.Load().Group != spec.Group
}

func (s *Supervisor) logReload(res ReloadResult, err error) {
	var attrs []any
	if len(res.Added)+len(res.Removed)+len(res.Changed) > 0 {
		attrs = append(attrs, "added", res.Added, "removed", res.Removed, "changed", res.Changed)
	}
	if len(res.NeedsRestart) > 0 {
		attrs = append(attrs, "needs_restart", res.NeedsRestart)
	}
	switch {
	case err != nil:
		s.log.Error("configuration reloaded in part", append(attrs, "err", err)...)
	case len(res.Added)+len(res.Removed)+len(res.Changed) == 0:
		s.log.Info("configuration reloaded: no program changed", attrs...)
	default:
		s.log.Info("configuration reloaded", attrs...)
	}
}

// reloadAction is what a program whose definition changed does after a reload.
type reloadAction int

const (
	reloadKeep    reloadAction = iota // take the new definition; run or not as before
	reloadStart                       // start with it
	reloadRestart                     // stop the process if one runs, start with it; clears broken
)

func (a reloadAction) String() string { return [...]string{"keep", "start", "restart"}[a] }

// decideReload says what a program in state st, which the user last asked to
// be desired, does once its definition changed (enabled is the new setting):
// what a manager starting afresh would do, except that what runs is restarted.
// It is pure.
func decideReload(st State, desired statefile.Desired, enabled bool) reloadAction {
	switch {
	case desired == statefile.DesiredStopped, st == Installing:
		return reloadKeep
	case st == Stopped && enabled:
		return reloadStart
	case st == Stopped:
		return reloadKeep
	default: // running, restarting, broken, error (stopping never gets here: requests wait for the stop)
		return reloadRestart
	}
}

// reload takes a changed definition from a reloaded configuration (opReload).
// A program that fails to start is in state error, as at the manager's start;
// that is not the reload's failure.
func (r *runner) reload(req request) {
	apply := func() { r.setSpec(*req.spec, req.cfg) }
	act := decideReload(r.st.State, r.desired, req.spec.Enabled)
	if req.spec.Schedule != "" {
		act = r.jobReload(req.spec)
	}
	r.log.Info("definition changed by a reload", "then", act.String())
	r.emitEvent(EventChanged, "by a reload of the configuration")
	switch act {
	case reloadKeep:
		apply()
		r.respond(req, nil)
	case reloadStart:
		apply()
		r.desired = statefile.DesiredRunning
		r.cancelScheduledStart()
		r.st.ConsecutiveFailures = 0
		r.startWhenReady()
		r.respond(req, nil)
	case reloadRestart:
		// restart begins the stop with the definition in force, so the old
		// process gets the stop_signal and timeout it was started under.
		running := r.proc != nil
		if !running {
			apply()
		}
		r.restart(func(err error) {
			if _, ok := errors.AsType[*StartError](err); ok {
				err = nil
			}
			r.respond(req, err)
		})
		if running {
			apply()
		}
	}
}

// drop stops the program's process group, if one runs, and ends the program
// (opDrop): it is no longer in the configuration. The run loop removes its
// state file entry last; its log file stays.
func (r *runner) drop(req request) {
	r.emitEvent(EventRemoved, "by a reload of the configuration")
	r.cancelScheduledStart()
	end := func() {
		r.removed = true
		r.respond(req, nil)
	}
	if r.proc == nil {
		end()
		return
	}
	r.stopFor(req, end)
}
