package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/install"
	"github.com/pyvisor/pyvisor/internal/logfile"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// requestError is an error the handlers detect themselves (a bad parameter, a
// rejected Host); it carries its status.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

// ErrInvalidConfig marks a reload refused because the configuration file is
// invalid. The Reload function of Options wraps it together with the loader's
// report, e.g. fmt.Errorf("%w:\n%w", web.ErrInvalidConfig, err); the answer is
// 422 with the whole message.
var ErrInvalidConfig = errors.New("invalid configuration")

func badRequest(msg string) error { return &requestError{http.StatusBadRequest, msg} }
func forbidden(msg string) error  { return &requestError{http.StatusForbidden, msg} }
func tooLarge(msg string) error   { return &requestError{http.StatusRequestEntityTooLarge, msg} }

// errorStatus maps an error to its HTTP status. It is the only place that does.
func errorStatus(err error) int {
	var re *requestError
	var mbe *http.MaxBytesError
	var se *supervisor.StartError
	var bad *install.BadArchiveError
	switch {
	case errors.As(err, &re):
		return re.status
	case errors.Is(err, supervisor.ErrStateNotSaved):
		// Done, but not durable: a manager restarted now would undo it. Before
		// StartError, which may come with it.
		return http.StatusServiceUnavailable
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &bad):
		// The uploaded ZIP itself is at fault (or lacks the script).
		return http.StatusBadRequest
	case errors.Is(err, logfile.ErrBadQuery), errors.Is(err, logfile.ErrBadCursor):
		return http.StatusBadRequest
	case errors.Is(err, logfile.ErrUnknownFile):
		return http.StatusNotFound
	case errors.Is(err, logfile.ErrRotated):
		// Nothing is wrong with the request: the same one again will do.
		return http.StatusConflict
	case errors.Is(err, ErrInvalidConfig), errors.Is(err, supervisor.ErrNoProgramsListed):
		return http.StatusUnprocessableEntity
	case errors.Is(err, supervisor.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, supervisor.ErrNotUploaded):
		// The dashboard never changes programs of the configuration file.
		return http.StatusForbidden
	case errors.Is(err, supervisor.ErrExists), errors.Is(err, supervisor.ErrBusy):
		return http.StatusConflict
	case errors.As(err, &se):
		// The program could not start and is now in state error.
		return http.StatusConflict
	case errors.Is(err, supervisor.ErrShutdown), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// writeError answers with err's status and message; server-side failures are
// logged too, since nobody else will see them.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := errorStatus(err)
	if status >= 500 && r.Context().Err() == nil {
		h.log.Error("http request", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	writeJSON(w, status, api.Error{Error: err.Error()})
}

// writeJSON answers with v as JSON. API responses are never cached: they show
// the state of the moment.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a programming error (an unsupported type) gets here.
		status = http.StatusInternalServerError
		body, _ = json.Marshal(api.Error{Error: "encode response: " + err.Error()})
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(body)
	w.Write([]byte{'\n'})
}

// jsonFallback turns the mux's own plain-text 404 and 405 answers into the JSON
// error shape, keeping their status and headers (Allow).
type jsonFallback struct {
	http.ResponseWriter
	replaced bool
}

func (f *jsonFallback) WriteHeader(status int) {
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		f.ResponseWriter.WriteHeader(status)
		return
	}
	f.replaced = true
	msg := "no such route"
	if status == http.StatusMethodNotAllowed {
		msg = "method not allowed; allowed: " + f.Header().Get("Allow")
	}
	writeJSON(f.ResponseWriter, status, api.Error{Error: msg})
}

func (f *jsonFallback) Write(b []byte) (int, error) {
	if f.replaced {
		return len(b), nil // the mux's plain-text body, already replaced
	}
	return f.ResponseWriter.Write(b)
}
