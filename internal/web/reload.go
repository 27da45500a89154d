package web

import (
	"net/http"
)

// reloadConfig is POST /api/reload: it re-reads the configuration file and
// answers with what changed, once the changes are made (a changed or removed
// program may take its stop timeout to stop).
func (h *handler) reloadConfig(w http.ResponseWriter, r *http.Request) {
	if h.reload == nil {
		h.writeError(w, r, &requestError{http.StatusNotImplemented, "reloading the configuration is not available"})
		return
	}
	if err := discardBody(w, r); err != nil {
		h.writeError(w, r, err)
		return
	}
	res, err := h.reload(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
