package web

import (
	"net/http"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/supervisor"
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
	writeJSON(w, http.StatusOK, newReloadResult(res))
}

// newReloadResult converts what a reload changed to the API's shape, whose
// empty lists are [], never null. It is pure.
func newReloadResult(res supervisor.ReloadResult) api.ReloadResult {
	return api.ReloadResult{
		Added:        orEmpty(res.Added),
		Removed:      orEmpty(res.Removed),
		Changed:      orEmpty(res.Changed),
		NeedsRestart: orEmpty(res.NeedsRestart),
	}
}

// orEmpty returns l, or an empty list for nil, which JSON writes as [].
func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
