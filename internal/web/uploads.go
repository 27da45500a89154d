package web

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pyvisor/pyvisor/internal/install"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// Uploads: POST /api/programs adds a program from a ZIP, PUT replaces the files
// of an uploaded one, DELETE removes one. A ZIP is received into a temporary
// file and unpacked into a staging directory beside the programs' directories
// (same filesystem, so moving it into place is a rename); the supervisor then
// shows the program as installing while the install function, run in the
// background, moves the files into place and builds the venv, writing to the
// program's log. No path leaves a temporary file or staging directory behind.

// uploadFields returns the text fields of an upload form, besides its file.
func uploadFields() []string { return []string{"name", "script", "args", "autostart"} }

// waitReady waits until the supervisor has started, which is quick: as it
// starts it sweeps the uploads directory of what interrupted uploads left
// there, so an upload that wrote its files there earlier could lose them.
func (h *handler) waitReady(r *http.Request) error {
	select {
	case <-h.sup.Ready():
		return nil
	case <-r.Context().Done():
		return r.Context().Err()
	}
}

func (h *handler) addProgram(w http.ResponseWriter, r *http.Request) {
	st, err := h.add(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, newProgramJSON(&st, time.Now()))
}

func (h *handler) add(w http.ResponseWriter, r *http.Request) (supervisor.Status, error) {
	if err := h.waitReady(r); err != nil {
		return supervisor.Status{}, err
	}
	dir := h.sup.UploadsDir()
	form, err := readUploadForm(w, r, dir, h.uploads.MaxZipBytes, uploadFields())
	if err != nil {
		return supervisor.Status{}, err
	}
	defer form.close()
	name, _ := form.field("name")
	infoOf(r).program = name // for the audit log
	if err := install.ValidateName(name); err != nil {
		return supervisor.Status{}, badRequest(err.Error())
	}
	if st, err := h.sup.Status(name); err == nil {
		return supervisor.Status{}, existsError(fmt.Errorf("add %q: %w", name, supervisor.ErrExists), st.Uploaded)
	}
	script, _ := form.field("script")
	args, _ := form.field("args")
	autostartText, _ := form.field("autostart")
	autostart, err := parseAutostart(autostartText)
	if err != nil {
		return supervisor.Status{}, err
	}
	s, err := h.stage(form, dir, script)
	if err != nil {
		return supervisor.Status{}, err
	}
	final := filepath.Join(dir, install.DirName(name))
	u := supervisor.Upload{Name: name, Script: s.script, Args: splitArgs(args), Autostart: autostart, Dir: final}
	st, err := h.sup.AddUpload(u, h.installFunc(name, s, final, moveIntoPlace))
	if err != nil {
		s.discard()
		if errors.Is(err, supervisor.ErrExists) {
			// Another upload of this name (or of one with the same directory) won.
			return supervisor.Status{}, existsError(err, true)
		}
		return supervisor.Status{}, err
	}
	return st, nil
}

// existsError adds to err, the 409 for an upload whose name is taken, what to do.
func existsError(err error, uploaded bool) error {
	if !uploaded {
		return fmt.Errorf("%w (in the configuration file); choose another name", err)
	}
	return fmt.Errorf("%w; use Update to replace an uploaded program's files", err)
}

func (h *handler) updateProgram(w http.ResponseWriter, r *http.Request) {
	st, err := h.update(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newProgramJSON(&st, time.Now()))
}

func (h *handler) update(w http.ResponseWriter, r *http.Request) (supervisor.Status, error) {
	name := r.PathValue("name")
	// Checked before the body is read, for a fast answer; the supervisor checks
	// again, since the program may start meanwhile.
	cur, err := h.changeable(name, "update")
	if err != nil {
		return supervisor.Status{}, err
	}
	spec, err := h.sup.Spec(name)
	if err != nil {
		return supervisor.Status{}, err
	}
	if err := h.waitReady(r); err != nil {
		return supervisor.Status{}, err
	}
	dir := h.sup.UploadsDir()
	form, err := readUploadForm(w, r, dir, h.uploads.MaxZipBytes, uploadFields())
	if err != nil {
		return supervisor.Status{}, err
	}
	defer form.close()
	if v, ok := form.field("name"); ok && v != name {
		return supervisor.Status{}, badRequest(fmt.Sprintf("the form names %q, the URL %q: a program cannot be renamed", v, name))
	}
	// Omitted fields keep their current values.
	script := spec.Script
	if v, _ := form.field("script"); strings.TrimSpace(v) != "" {
		script = v
	}
	args := spec.Args
	if v, ok := form.field("args"); ok {
		args = splitArgs(v)
	}
	autostart := spec.Enabled
	if v, ok := form.field("autostart"); ok {
		if autostart, err = parseAutostart(v); err != nil {
			return supervisor.Status{}, err
		}
	}
	s, err := h.stage(form, dir, script)
	if err != nil {
		return supervisor.Status{}, err
	}
	// Status.Cwd is the program's directory resolved to an absolute path.
	u := supervisor.Upload{Name: name, Script: s.script, Args: args, Autostart: autostart, Dir: cur.Cwd}
	// Once the upload is in, a client that goes away does not cancel it halfway.
	st, err := h.sup.UpdateUpload(context.WithoutCancel(r.Context()), u, h.installFunc(name, s, cur.Cwd, swapDirs))
	if err != nil {
		s.discard()
		return supervisor.Status{}, err
	}
	return st, nil
}

func (h *handler) removeProgram(w http.ResponseWriter, r *http.Request) {
	if err := discardBody(w, r); err != nil {
		h.writeError(w, r, err)
		return
	}
	name := r.PathValue("name")
	if _, err := h.changeable(name, "remove"); err != nil {
		h.writeError(w, r, err)
		return
	}
	// Not canceled with the request: RemoveUpload given up halfway would leave
	// the program listed after its goroutine ended, its files still there.
	if err := h.sup.RemoveUpload(context.WithoutCancel(r.Context()), name); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// changeable returns the status of an uploaded program that is stopped, in
// error or broken: the states in which its files may change. Otherwise the
// error says why not (403 for a program of the config file, 409 for one that
// runs or installs).
func (h *handler) changeable(name, verb string) (supervisor.Status, error) {
	st, err := h.sup.Status(name)
	switch {
	case err != nil:
		return st, err
	case !st.Uploaded:
		return st, fmt.Errorf("%s %q: %w; the dashboard never changes those", verb, name, supervisor.ErrNotUploaded)
	case st.State != supervisor.Stopped && st.State != supervisor.Error && st.State != supervisor.Broken:
		return st, fmt.Errorf("%s %q: %w: it is %s; stop it first", verb, name, supervisor.ErrBusy, st.State)
	}
	return st, nil
}

// staged is an unpacked upload in its staging directory, waiting to be moved
// into place. Exactly one party gets it: the install function, which moves it,
// or the handler, which deletes it when the supervisor refused the upload. Both
// may try: a request can fail after the supervisor took it (its client went
// away while waiting for the answer).
type staged struct {
	dir     string
	script  string // as checked, cleaned
	files   int
	took    time.Duration // to unpack
	claimed atomic.Bool
}

// claim reports whether the caller is the one that gets the directory.
func (s *staged) claim() bool { return s.claimed.CompareAndSwap(false, true) }

// discard deletes the staging directory unless the install function has it.
func (s *staged) discard() {
	if s.claim() {
		os.RemoveAll(s.dir) // nothing to report to: the request failed already
	}
}

// stage unpacks the form's ZIP into a new staging directory in dir and checks
// that it holds script. On error nothing is left.
func (h *handler) stage(form *uploadForm, dir, script string) (*staged, error) {
	if form.zip == nil {
		return nil, badRequest(`no ZIP file: the form lacks the field "file"`)
	}
	s := &staged{dir: filepath.Join(dir, ".staging-"+rand.Text())}
	start := time.Now()
	files, err := install.Extract(form.zip, form.zipSize, s.dir, h.uploads.Limits)
	if err != nil {
		return nil, err // Extract leaves nothing behind
	}
	s.files, s.took = len(files), time.Since(start)
	if err := install.CheckScript(s.dir, script); err != nil {
		s.discard()
		return nil, err
	}
	s.script = path.Clean(script)
	return s, nil
}

// placeFunc moves a staging directory to a program's directory.
type placeFunc func(staging, dir string, out io.Writer) error

// installFunc returns the install of an upload, which the supervisor runs in
// the background: move the staged files to dir with place, then build the venv.
func (h *handler) installFunc(name string, s *staged, dir string, place placeFunc) supervisor.InstallFunc {
	return func(ctx context.Context, out io.Writer) error {
		if !s.claim() {
			return errors.New("the upload was withdrawn before its install began")
		}
		defer os.RemoveAll(s.dir) // gone already unless place failed; nothing more to report
		fmt.Fprintf(out, "===== pyvisor: upload of %q received: %d files unpacked in %.1fs =====\n", name, s.files, s.took.Seconds())
		start := time.Now()
		if err := place(s.dir, dir, out); err != nil {
			fmt.Fprintf(out, "===== pyvisor: installation FAILED: %v =====\n", err)
			return err
		}
		t, err := h.uploads.Installer.Install(ctx, dir, out)
		h.log.Info("upload installed", "program", name, "ok", err == nil, "files", s.files,
			"unpack", s.took, "venv", t.Venv, "pip", t.Pip, "install", time.Since(start))
		return err
	}
}

// moveIntoPlace moves a new upload's files to its directory dir. A dir that
// exists is a leftover (of a crash, or of files a remove could not delete): the
// supervisor gives no program a directory another one uses, so it goes.
func moveIntoPlace(staging, dir string, out io.Writer) error {
	if _, err := os.Lstat(dir); err == nil {
		fmt.Fprintf(out, "----- deleting the leftover directory %s\n", dir)
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("delete the leftover directory %s: %w", dir, err)
		}
	}
	if err := os.Rename(staging, dir); err != nil {
		return fmt.Errorf("move the files into %s: %w", dir, err)
	}
	return nil
}

// swapDirs replaces the files in dir by the staged ones: the old directory is
// renamed aside first, so that a failure can put it back, and deleted last.
func swapDirs(staging, dir string, out io.Writer) error {
	old := filepath.Join(filepath.Dir(dir), ".old-"+rand.Text())
	err := os.Rename(dir, old)
	aside := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("move the old files of %s aside: %w", dir, err)
	}
	if err := os.Rename(staging, dir); err != nil {
		if aside {
			if back := os.Rename(old, dir); back != nil {
				err = errors.Join(err, fmt.Errorf("and put the old files back from %s: %w", old, back))
			}
		}
		return fmt.Errorf("move the new files into %s: %w", dir, err)
	}
	if aside {
		if err := os.RemoveAll(old); err != nil {
			// The program has its new files; the old ones only take space.
			fmt.Fprintf(out, "----- warning: could not delete the old files in %s: %v\n", old, err)
		}
	}
	fmt.Fprintf(out, "----- the new files replaced the old ones in %s\n", dir)
	return nil
}
