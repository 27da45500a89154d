package web

import (
	"context"
	"net/http"
	"time"
)

// routes registers every route of the server. Paths under /api/ are the JSON
// API documented in docs/api.md (TestRoutesDocumented); scripts depend on them, so they stay stable.
// With authentication on, every route needs credentials except those isPublic
// (access.go) lists; a new route here is guarded without further ado.
func (h *handler) routes() {
	m := h.mux
	m.HandleFunc("GET /healthz", h.healthz)
	m.HandleFunc("GET /metrics", h.serveMetrics)

	m.HandleFunc("GET /api/programs", h.listPrograms)
	m.HandleFunc("GET /api/programs/{name}", h.getProgram)
	m.HandleFunc("POST /api/programs", h.addProgram)
	m.HandleFunc("PUT /api/programs/{name}", h.updateProgram)
	m.HandleFunc("DELETE /api/programs/{name}", h.removeProgram)
	m.HandleFunc("POST /api/programs/{name}/start", h.action(h.sup.Start))
	m.HandleFunc("POST /api/programs/{name}/stop", h.action(h.sup.Stop))
	m.HandleFunc("POST /api/programs/{name}/restart", h.action(h.sup.Restart))
	m.HandleFunc("GET /api/programs/{name}/settings", h.programSettings)
	m.HandleFunc("GET /api/programs/{name}/usage", h.programUsage)
	m.HandleFunc("GET /api/programs/{name}/logs", h.logPage)
	m.HandleFunc("GET /api/programs/{name}/logs/stream", h.logStream)
	m.HandleFunc("GET /api/programs/{name}/logs/download", h.logDownload)
	m.HandleFunc("GET /api/programs/{name}/logs/search", h.logSearch)
	m.HandleFunc("GET /api/programs/{name}/events", h.programEvents)
	m.HandleFunc("GET /api/events", h.events)
	m.HandleFunc("GET /api/events/history", h.allEvents)
	m.HandleFunc("POST /api/reload", h.reloadConfig)
	m.HandleFunc("POST /api/notify/test", h.notifyTest)
	m.HandleFunc("GET /api/session", h.session)

	// Logging in and out (access.go, login.go).
	m.HandleFunc("GET /login", h.loginPageGet)
	m.HandleFunc("POST /login", h.loginPost)
	m.HandleFunc("POST /logout", h.logoutPost)

	// The dashboard: index.html at the root, its assets beside it. The style
	// sheet has a route of its own because the login page uses it too, and
	// so it is public.
	m.HandleFunc("GET /{$}", h.static)
	m.HandleFunc("GET /app.css", h.static)
	m.HandleFunc("GET /{file}", h.static)
}

// ServeHTTP applies the checks and headers every response gets, then routes.
// Requests that may change something are audited once answered.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	r, info := withInfo(r)
	if !audited(r.Method) {
		h.serve(w, r, info)
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	h.serve(rec, r, info)
	if rec.status == 0 {
		rec.status = http.StatusOK // a handler that wrote nothing: net/http sends 200
	}
	h.audit(r, rec.status, info)
}

// serve checks Host, Origin and credentials, then routes.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, info *requestInfo) {
	if r.ContentLength != 0 {
		// The server has no ReadTimeout (it would cut the event streams), so a
		// request with a body gets a deadline to send it here: a client that
		// stalls must not hold a connection, also when it is refused before any
		// handler (net/http reads the rest of an unread body before it
		// answers). Handlers that read a body lift it once read (discardBody,
		// the login); uploads extend it.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyTimeout))
	}
	_, info.pattern = h.mux.Handler(r)
	if err := h.hosts.check(r); err != nil {
		info.refused = true
		h.writeError(w, r, err)
		return
	}
	if err := checkOrigin(r); err != nil {
		info.refused = true
		h.writeError(w, r, err)
		return
	}
	if !h.authorize(w, r, info) {
		return
	}
	if !info.expires.IsZero() && r.Method == http.MethodGet {
		// An event stream opened with a session ends with it; the browser's
		// reconnection then meets the login. (Only GETs: an action or upload
		// under way is not cut off.)
		ctx, cancel := context.WithDeadline(r.Context(), info.expires)
		defer cancel()
		r = r.WithContext(ctx)
	}
	if info.pattern == "" {
		// No route: the mux answers 404, or 405 with an Allow header, in plain
		// text. Keep its status and headers but give the JSON error shape.
		h.mux.ServeHTTP(&jsonFallback{ResponseWriter: w}, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}
