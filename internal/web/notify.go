package web

import (
	"net/http"

	"github.com/pyvisor/pyvisor/internal/api"
)

// notifyTest is POST /api/notify/test: it sends a test notification through
// every configured target and answers, once each is done, with how each went.
// A failed delivery is still a 200: the request itself did its work.
func (h *handler) notifyTest(w http.ResponseWriter, r *http.Request) {
	if h.notify == nil {
		h.writeError(w, r, &requestError{http.StatusNotImplemented, "notifications are not available"})
		return
	}
	if err := discardBody(w, r); err != nil {
		h.writeError(w, r, err)
		return
	}
	res := h.notify(r.Context())
	if res == nil {
		res = []api.NotifyResult{}
	}
	writeJSON(w, http.StatusOK, api.NotifyTest{Results: res})
}
