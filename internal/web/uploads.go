package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/pyvisor/pyvisor/internal/install"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// Uploads: POST /api/programs adds a program from a ZIP, PUT replaces the files
// of an uploaded one, DELETE removes one. The handlers read the form, have
// package install stage the ZIP, and hand the supervisor the program with its
// install, which it runs in the background while it shows the program as
// installing. No path leaves a temporary file or staging directory behind.

func (h *handler) addProgram(w http.ResponseWriter, r *http.Request) {
	st, err := h.add(w, r)
	h.writeUpload(w, r, http.StatusCreated, st, err)
}

func (h *handler) add(w http.ResponseWriter, r *http.Request) (supervisor.Status, error) {
	form, err := h.receive(w, r)
	if err != nil {
		return supervisor.Status{}, err
	}
	defer form.close()
	name := form.fields["name"]
	infoOf(r).program = name // for the audit log
	if err := install.ValidateName(name); err != nil {
		return supervisor.Status{}, badRequest(err.Error())
	}
	if st, err := h.sup.Status(name); err == nil {
		return supervisor.Status{}, existsError(fmt.Errorf("add %q: %w", name, supervisor.ErrExists), st.Uploaded)
	}
	u := supervisor.Upload{Name: name, Script: form.fields["script"], Dir: filepath.Join(form.dir, install.DirName(name))}
	if err := form.applyTo(&u); err != nil {
		return supervisor.Status{}, err
	}
	st, err := h.stage(form, u, false, h.sup.AddUpload)
	if errors.Is(err, supervisor.ErrExists) {
		// Another upload of this name (or of one with the same directory) won.
		err = existsError(err, true)
	}
	return st, err
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
	h.writeUpload(w, r, http.StatusOK, st, err)
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
	form, err := h.receive(w, r)
	if err != nil {
		return supervisor.Status{}, err
	}
	defer form.close()
	if v, ok := form.field("name"); ok && v != name {
		return supervisor.Status{}, badRequest(fmt.Sprintf("the form names %q, the URL %q: a program cannot be renamed", v, name))
	}
	// Omitted fields keep their current values. Status.Cwd is the program's
	// directory resolved to an absolute path.
	u := supervisor.Upload{Name: name, Script: spec.Script, Args: spec.Args, Autostart: spec.Enabled, Dir: cur.Cwd, Group: spec.Group}
	if err := form.applyTo(&u); err != nil {
		return supervisor.Status{}, err
	}
	// Once the upload is in, a client that goes away does not cancel it halfway.
	ctx := context.WithoutCancel(r.Context())
	return h.stage(form, u, true, func(u supervisor.Upload, job supervisor.InstallFunc) (supervisor.Status, error) {
		return h.sup.UpdateUpload(ctx, u, job)
	})
}

// writeUpload answers an add or an update with the program, or the error.
func (h *handler) writeUpload(w http.ResponseWriter, r *http.Request, code int, st supervisor.Status, err error) {
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, code, newProgramJSON(&st, time.Now()))
}

// stage has the form's ZIP unpacked beside it and checked to hold u's
// script, then hands u and its install to submit (the supervisor's AddUpload or
// UpdateUpload). The staged files go if submit refuses them.
func (h *handler) stage(form *uploadForm, u supervisor.Upload, replace bool,
	submit func(supervisor.Upload, supervisor.InstallFunc) (supervisor.Status, error)) (supervisor.Status, error) {
	if form.zip == nil {
		return supervisor.Status{}, badRequest(`no ZIP file: the form lacks the field "file"`)
	}
	s, err := install.Stage(form.zip, form.zipSize, form.dir, u.Script, h.uploads.Limits)
	if err != nil {
		return supervisor.Status{}, err
	}
	u.Script = s.Script()
	job := &install.Job{Name: u.Name, Staged: s, Dir: u.Dir, Replace: replace, Installer: h.uploads.Installer, Log: h.log}
	st, err := submit(u, job.Install)
	if err != nil {
		s.Discard()
	}
	return st, err
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
