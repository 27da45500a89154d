package web

import "net/http"

// routes registers every route of the server. Paths under /api/ are the JSON
// API documented in the README; scripts depend on them, so they stay stable.
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
	m.HandleFunc("GET /api/programs/{name}/logs", h.logPage)
	m.HandleFunc("GET /api/programs/{name}/logs/stream", h.logStream)
	m.HandleFunc("GET /api/events", h.events)
	m.HandleFunc("POST /api/reload", h.reloadConfig)

	// The dashboard: index.html at the root, its assets beside it.
	m.HandleFunc("GET /{$}", h.static)
	m.HandleFunc("GET /{file}", h.static)
}

// ServeHTTP applies the checks and headers every response gets, then routes.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if err := h.hosts.check(r); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := checkOrigin(r); err != nil {
		h.writeError(w, r, err)
		return
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		// No route: the mux answers 404, or 405 with an Allow header, in plain
		// text. Keep its status and headers but give the JSON error shape.
		h.mux.ServeHTTP(&jsonFallback{ResponseWriter: w}, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}
