package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pyvisor/pyvisor/internal/install"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// Limits of an upload request besides the ZIP itself.
const (
	// maxFieldBytes bounds each text field of an upload form.
	maxFieldBytes = 64 << 10
	// formOverhead is what a body may hold beyond the ZIP: the text fields and
	// the multipart framing.
	formOverhead = 1 << 20
	// uploadBodyTimeout is how long a client gets to send an upload: 50 MiB over
	// a slow link takes minutes, a client that stalls longer has gone.
	uploadBodyTimeout = 10 * time.Minute
)

// uploadForm is a parsed upload request: its text fields, and the ZIP saved in
// a temporary file, which close removes.
type uploadForm struct {
	dir     string // where the ZIP is, and its staging directory goes
	fields  map[string]string
	zip     *os.File // nil when the request had no file part
	zipSize int64
}

// field returns a text field and whether the request had it.
func (f *uploadForm) field(name string) (string, bool) {
	v, ok := f.fields[name]
	return v, ok
}

// close removes the temporary file. Its errors are of no use to anyone: the
// file is in a directory of ours and named as temporary.
func (f *uploadForm) close() {
	if f.zip != nil {
		f.zip.Close()
		os.Remove(f.zip.Name())
		f.zip = nil
	}
}

// receive reads an upload form into the uploads directory once the supervisor
// has started, which is quick: as it starts it sweeps that directory of what
// interrupted uploads left there, which could take this one's files.
func (h *handler) receive(w http.ResponseWriter, r *http.Request) (*uploadForm, error) {
	select {
	case <-h.sup.Ready():
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	fields := []string{"name", "script", "args", "autostart", "group"}
	return readUploadForm(w, r, h.sup.UploadsDir(), h.uploads.MaxZipBytes, fields)
}

// readUploadForm reads a multipart upload: the part "file" is streamed into a
// temporary file in dir (created if missing), the text fields named in fields
// are kept; any other part is refused. The body is bounded: a ZIP over maxZip
// bytes is a 413 that names the limit. On error nothing is left in dir.
func readUploadForm(w http.ResponseWriter, r *http.Request, dir string, maxZip int64, fields []string) (_ *uploadForm, err error) {
	limit := maxZip + formOverhead
	overLimit := fmt.Sprintf("the ZIP file is larger than the limit of %s", sizeText(maxZip))
	if r.ContentLength > limit {
		return nil, tooLarge(overLimit)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, badRequest(fmt.Sprintf("the request must be multipart/form-data with the fields file, %s (%v)",
			strings.Join(fields, ", "), err))
	}
	// An upload gets longer than serve's deadline. Lifted once read, as in
	// discardBody; after a failure it stays, as net/http may read what is left
	// of the body before it answers.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(uploadBodyTimeout))
	defer func() {
		if err == nil {
			_ = rc.SetReadDeadline(time.Time{})
		}
	}()

	form := &uploadForm{dir: dir, fields: map[string]string{}}
	defer func() {
		if err != nil {
			form.close()
		}
	}()
	readErr := func(err error) error {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%s: %w", overLimit, err)
		}
		return badRequest(fmt.Sprintf("read the upload: %v (was it cut off?)", err))
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return form, nil
		}
		if err != nil {
			return nil, readErr(err)
		}
		name := part.FormName()
		_, dup := form.fields[name]
		switch {
		case name == "file" && form.zip != nil, dup:
			return nil, badRequest(fmt.Sprintf("the field %q is given twice", name))
		case name == "file":
			if err := form.saveZip(part, dir, maxZip, readErr); err != nil {
				return nil, err
			}
			if form.zipSize > maxZip {
				return nil, tooLarge(overLimit)
			}
		case slices.Contains(fields, name):
			v, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				return nil, readErr(err)
			}
			if len(v) > maxFieldBytes {
				return nil, badRequest(fmt.Sprintf("the field %q is longer than %s", name, sizeText(maxFieldBytes)))
			}
			form.fields[name] = string(v)
		default:
			return nil, badRequest(fmt.Sprintf("unknown field %q; the fields are file, %s", name, strings.Join(fields, ", ")))
		}
	}
}

// saveZip copies part into a new temporary file in dir, reading at most one
// byte more than maxZip so that a larger one is noticed. Failures to read are
// the client's (readErr says how to report them), failures to write the
// server's.
func (f *uploadForm) saveZip(part io.Reader, dir string, maxZip int64, readErr func(error) error) error {
	tmp, err := install.ZipFile(dir)
	if err != nil {
		return fmt.Errorf("save the upload: %w", err)
	}
	f.zip = tmp
	dst := &errWriter{w: tmp}
	f.zipSize, err = io.Copy(dst, io.LimitReader(part, maxZip+1))
	switch {
	case dst.err != nil:
		return fmt.Errorf("save the upload in %s: %w", dir, dst.err)
	case err != nil:
		return readErr(err)
	}
	return nil
}

// errWriter remembers the error of its writer, which io.Copy does not tell
// apart from an error of its reader.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// applyTo sets the fields of u that the form gives: script (unless blank),
// args, autostart and group (trimmed; blank for none). Those it omits keep
// their values.
func (f *uploadForm) applyTo(u *supervisor.Upload) error {
	if v, ok := f.fields["group"]; ok {
		u.Group = strings.TrimSpace(v)
		if err := install.ValidateGroup(u.Group); err != nil {
			return badRequest(err.Error())
		}
	}
	if v := f.fields["script"]; strings.TrimSpace(v) != "" {
		u.Script = v
	}
	if v, ok := f.fields["args"]; ok {
		u.Args = splitArgs(v)
	}
	if v, ok := f.fields["autostart"]; ok {
		var err error
		if u.Autostart, err = parseAutostart(v); err != nil {
			return err
		}
	}
	return nil
}

// splitArgs splits the args field: on commas, each item trimmed of surrounding
// spaces, empty items dropped.
func splitArgs(s string) []string {
	var args []string
	for a := range strings.SplitSeq(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			args = append(args, a)
		}
	}
	return args
}

// parseAutostart reads the autostart field: "true", "on" (an HTML checkbox)
// and "1" mean yes; "false", "off", "0" and "" mean no. Anything else is
// refused rather than read as no.
func parseAutostart(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "on", "1":
		return true, nil
	case "false", "off", "0", "":
		return false, nil
	}
	return false, badRequest(fmt.Sprintf("autostart is %q; use true or false", s))
}

// sizeText writes a byte count the way a person would state the limit.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
