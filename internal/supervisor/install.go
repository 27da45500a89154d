package supervisor

import (
	"context"
	"fmt"
	"io"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/logfile"
	"github.com/pyvisor/pyvisor/internal/statefile"
)

// InstallFunc prepares an uploaded program's files (virtual environment,
// requirements), writing its progress to out, which is the program's log. It must
// return when ctx ends. The supervisor shows the program as installing meanwhile.
type InstallFunc func(ctx context.Context, out io.Writer) error

// beginInstall runs install in the background; finishInstall gets its result.
func (r *runner) beginInstall(install InstallFunc) {
	out, err := logfile.OpenAppend(r.logPath)
	if err != nil {
		r.setError(fmt.Sprintf("install: open log: %v", err))
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan error, 1)
	r.installDone, r.cancelInstall = done, cancel
	r.st.State = Installing
	r.st.Error = ""
	r.st.LastExit = nil
	r.log.Info("installing")
	r.save(false)
	go func() {
		defer out.Close()
		done <- install(ctx, out)
	}()
}

func (r *runner) finishInstall(err error) {
	r.cancelInstall()
	r.installDone, r.cancelInstall = nil, nil
	switch {
	case err != nil && r.ctx.Err() != nil:
		// The manager is going down; the next one reports the interrupted install.
		return
	case err != nil:
		r.setError(fmt.Sprintf("installation failed: %v", err))
	case r.spec.Enabled:
		r.log.Info("installed; starting")
		r.desired = statefile.DesiredRunning
		r.start()
	default:
		r.log.Info("installed")
		r.setState(Stopped)
	}
}

// setSpec replaces the program's definition (an update of an upload).
func (r *runner) setSpec(spec config.Program) {
	r.spec = spec
	r.cmd = r.cfg.Command(&spec, r.environ)
	r.st.Enabled, r.st.Script, r.st.Cwd, r.st.Args = spec.Enabled, r.cmd.Script, r.cmd.Dir, spec.Args
	r.published.Store(&spec)
}

// Add adds an uploaded program while the supervisor runs and installs it with
// install; it is then stopped, or started when spec.Enabled. It fails with
// ErrExists when the name is taken, so of two concurrent uploads exactly one wins.
func (s *Supervisor) Add(spec config.Program, install InstallFunc) (Status, error) {
	s.mu.Lock()
	if s.runCtx == nil {
		s.mu.Unlock()
		return Status{}, fmt.Errorf("add %q: %w", spec.Name, ErrShutdown)
	}
	if _, ok := s.byName[spec.Name]; ok {
		s.mu.Unlock()
		return Status{}, fmt.Errorf("add %q: %w", spec.Name, ErrExists)
	}
	p := s.newProgram(spec)
	p.persist = s.persist
	p.snapshot.Load().State = Installing
	st := p.status()
	s.programs = append(s.programs, p)
	s.byName[spec.Name] = p
	ctx := s.runCtx
	s.wg.Go(func() { p.run(ctx, boot{desired: statefile.DesiredRunning, install: install}) })
	s.mu.Unlock()
	s.notify()
	return st, nil
}

// Update replaces a stopped program's definition and installs it again. It
// fails with ErrBusy unless the program is stopped (or in error, or broken).
func (s *Supervisor) Update(ctx context.Context, spec config.Program, install InstallFunc) (Status, error) {
	p, err := s.lookup(spec.Name)
	if err != nil {
		return Status{}, err
	}
	st, err := p.send(ctx, request{op: opUpdate, spec: &spec, install: install})
	if err != nil {
		return st, fmt.Errorf("update %q: %w", spec.Name, err)
	}
	return st, nil
}

// Remove drops a program that is not running from the supervisor and the state
// file. It fails with ErrBusy unless the program is stopped (or in error, or broken).
func (s *Supervisor) Remove(ctx context.Context, name string) error {
	p, err := s.lookup(name)
	if err != nil {
		return err
	}
	if _, err := p.do(ctx, opRemove); err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	delete(s.byName, name)
	s.programs = deleteProgram(s.programs, p)
	s.mu.Unlock()
	s.notify()
	return nil
}

func deleteProgram(ps []*program, p *program) []*program {
	out := ps[:0]
	for _, q := range ps {
		if q != p {
			out = append(out, q)
		}
	}
	clear(ps[len(out):])
	return out
}

// Spec returns a copy of a program's current definition.
func (s *Supervisor) Spec(name string) (config.Program, error) {
	p, err := s.lookup(name)
	if err != nil {
		return config.Program{}, err
	}
	return *p.published.Load(), nil
}
