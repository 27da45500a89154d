package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/pyvisor/pyvisor/internal/atomicfile"
	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/statefile"
)

// UploadsDirName is the directory, beside the config, that holds the files of
// uploaded programs (one directory each).
const UploadsDirName = "uploaded_programs"

// Upload describes a program uploaded from the dashboard.
type Upload struct {
	Name   string
	Script string // relative to Dir
	Args   []string
	// Autostart starts the program once installed, and when the manager starts.
	Autostart bool
	// Dir is the program's directory: its working directory, with its venv in Dir/.venv.
	// It must be inside UploadsDir.
	Dir string
	// Group is the dashboard's heading for the program; "" for none.
	Group string
}

// UploadFiles names and makes what uploads and removals leave in UploadsDir
// while under way. Its owner is package install (install.Leftovers), which
// this package cannot import.
type UploadFiles interface {
	// IsLeftover reports whether name, an entry of UploadsDir, is what an
	// upload or a removal leaves while under way.
	IsLeftover(name string) bool
	// SetAside renames the directory dir to a new leftover name beside it and
	// returns that path; a missing dir is an error wrapping fs.ErrNotExist.
	SetAside(dir string) (string, error)
}

// sweepUploads deletes what an upload or a removal in progress leaves in the
// uploads directory when the manager dies in the middle: received ZIPs,
// staging directories, directories being replaced or removed. Run holds the
// lock, so no other manager is uploading.
func (s *Supervisor) sweepUploads() {
	if s.uploadFiles == nil {
		return
	}
	entries, err := os.ReadDir(s.UploadsDir())
	if err != nil {
		return // most setups have no uploads at all
	}
	for _, e := range entries {
		if name := e.Name(); s.uploadFiles.IsLeftover(name) {
			if err := os.RemoveAll(filepath.Join(s.UploadsDir(), name)); err != nil {
				s.log.Warn("remove an interrupted upload's leftovers", "path", name, "err", err)
			}
		}
	}
}

// UploadsDir is where uploaded programs' directories go.
func (s *Supervisor) UploadsDir() string { return filepath.Join(s.config().Dir, UploadsDirName) }

// spec is the program definition of an upload.
func (s *Supervisor) spec(u Upload) config.Program {
	p := s.config().NewProgram(u.Name, u.Script)
	p.Args = slices.Clone(u.Args)
	p.Enabled = u.Autostart
	p.Cwd = u.Dir
	p.Venv = filepath.Join(u.Dir, ".venv")
	p.Uploaded = true
	p.Group = u.Group
	return p
}

func (s *Supervisor) checkDir(u Upload) error {
	rel, err := filepath.Rel(s.UploadsDir(), u.Dir)
	if err != nil || rel == "." || !filepath.IsLocal(rel) {
		return fmt.Errorf("upload %q: directory %s is not inside %s", u.Name, u.Dir, s.UploadsDir())
	}
	return nil
}

// AddUpload adds an uploaded program while the supervisor runs, records it in
// uploaded_programs.yaml and installs it with install, showing it as installing
// meanwhile; then it is stopped, or started when u.Autostart. It fails with
// ErrExists when the name is taken, so of two concurrent uploads exactly one wins.
func (s *Supervisor) AddUpload(u Upload, install InstallFunc) (Status, error) {
	if err := s.checkDir(u); err != nil {
		return Status{}, err
	}
	spec := s.spec(u)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx == nil {
		return Status{}, fmt.Errorf("add %q: %w", spec.Name, ErrShutdown)
	}
	if _, ok := s.byName[spec.Name]; ok {
		return Status{}, fmt.Errorf("add %q: %w", spec.Name, ErrExists)
	}
	for _, q := range s.programs {
		if q.published.Load().Cwd == spec.Cwd {
			return Status{}, fmt.Errorf("add %q: directory %s is used by %q: %w", spec.Name, spec.Cwd, q.name, ErrExists)
		}
		// Load would refuse the two in one configuration, and so the next start.
		if config.LogKey(q.name) == config.LogKey(spec.Name) {
			return Status{}, fmt.Errorf("add %q: %q has the same log file name %s: %w",
				spec.Name, q.name, config.LogFileName(q.name), ErrExists)
		}
	}
	p := s.newProgram(&spec, s.config())
	p.persist = s.persist
	p.watcher = s.watcher
	p.snapshot.Load().State = Installing
	st := p.status()
	s.programs = append(s.programs, p)
	s.byName[spec.Name] = p
	if err := s.saveUploadsLocked(); err != nil {
		s.programs = s.programs[:len(s.programs)-1]
		delete(s.byName, spec.Name)
		return Status{}, fmt.Errorf("add %q: %w", spec.Name, err)
	}
	ctx := s.runCtx
	s.wg.Go(func() { p.run(ctx, &boot{desired: statefile.DesiredRunning, install: install}) })
	s.notify()
	return st, nil
}

// UpdateUpload replaces a stopped uploaded program's definition and installs it
// again (install is where its new files are put in place). It fails with ErrBusy
// unless the program is stopped, in error or broken, and with ErrNotUploaded for
// a program of the config file.
func (s *Supervisor) UpdateUpload(ctx context.Context, u Upload, install InstallFunc) (Status, error) {
	p, err := s.uploaded(u.Name)
	if err != nil {
		return Status{}, err
	}
	if err := s.checkDir(u); err != nil {
		return Status{}, err
	}
	spec := s.spec(u)
	st, err := p.request(ctx, request{op: opUpdate, spec: &spec, cfg: s.config(), install: install})
	if err != nil {
		return st, fmt.Errorf("update %q: %w", u.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.saveUploadsLocked(); err != nil {
		return st, fmt.Errorf("update %q: %w", u.Name, err)
	}
	return st, nil
}

// RemoveUpload drops an uploaded program that is not running: from the
// supervisor, the state file and uploaded_programs.yaml, and deletes its
// directory. It fails with ErrBusy unless the program is stopped, in error or
// broken, and with ErrNotUploaded for a program of the config file.
func (s *Supervisor) RemoveUpload(ctx context.Context, name string) error {
	p, err := s.uploaded(name)
	if err != nil {
		return err
	}
	if _, err := p.request(ctx, request{op: opRemove}); err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	// The goroutine has answered and is ending; the rest must happen even if
	// ctx ends now, or the registry would list a program nobody runs.
	<-p.done
	dir := p.published.Load().Cwd
	s.mu.Lock()
	// Move the files out of the way while the name is still taken, so a new
	// upload of the same name cannot put files there that the deletion below
	// would then remove.
	trash := ""
	if s.uploadFiles != nil && s.checkDir(Upload{Name: name, Dir: dir}) == nil {
		if trash, err = s.uploadFiles.SetAside(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Error("remove upload: move its files aside", "program", name, "err", err)
		}
	}
	delete(s.byName, name)
	s.programs = slices.DeleteFunc(s.programs, func(q *program) bool { return q == p })
	err = s.saveUploadsLocked()
	s.mu.Unlock()
	s.notify()
	if err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	if trash != "" {
		if err := os.RemoveAll(trash); err != nil {
			return fmt.Errorf("remove %q: delete its files: %w", name, err)
		}
	}
	return nil
}

func (s *Supervisor) uploaded(name string) (*program, error) {
	p, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	if !p.published.Load().Uploaded {
		return nil, fmt.Errorf("%q is defined in %s: %w", name, filepath.Base(s.config().Path), ErrNotUploaded)
	}
	return p, nil
}

// saveUploadsLocked writes uploaded_programs.yaml from the registry; s.mu is held.
func (s *Supervisor) saveUploadsLocked() error {
	var specs []config.Program
	for _, p := range s.programs {
		if spec := p.published.Load(); spec.Uploaded {
			specs = append(specs, *spec)
		}
	}
	data, err := config.MarshalUploaded(specs)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(s.config().UploadedPath(), data, 0o600); err != nil {
		return fmt.Errorf("save uploaded programs: %w", err)
	}
	return nil
}

// Spec returns a copy of a program's current definition.
func (s *Supervisor) Spec(name string) (config.Program, error) {
	p, err := s.lookup(name)
	if err != nil {
		return config.Program{}, err
	}
	return *p.published.Load(), nil
}
