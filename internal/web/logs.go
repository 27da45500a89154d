package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/logfile"
)

// defaultLogLines is the page size of GET /api/programs/{name}/logs without
// a lines parameter.
const defaultLogLines = 200

// maxLogLine bounds the line numbers a log page can reach: 2^53, the largest
// integer a JavaScript number holds exactly (and 8 PiB of one-byte lines).
const maxLogLine = 1 << 53

// pageParams reads page (default 1, at most maxLogLine/lines) and lines
// (default 200, at most 5000) from a query. It is pure.
func pageParams(q url.Values) (page, lines int, err error) {
	lines, err = intParam(q, "lines", defaultLogLines, 1, api.MaxLogLines)
	if err != nil {
		return 0, 0, err
	}
	page, err = intParam(q, "page", 1, 1, maxLogLine/lines)
	if err != nil {
		return 0, 0, err
	}
	return page, lines, nil
}

// intParam reads the integer query parameter name, def when absent; it must
// be at least lo and, when hi > 0, at most hi.
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return 0, badRequest(fmt.Sprintf("parameter %s=%q is not a whole number", name, s))
	case v < lo:
		return 0, badRequest(fmt.Sprintf("parameter %s=%d must be at least %d", name, v, lo))
	case hi > 0 && v > hi:
		return 0, badRequest(fmt.Sprintf("parameter %s=%d must be at most %d", name, v, hi))
	}
	return v, nil
}

func (h *handler) logPage(w http.ResponseWriter, r *http.Request) {
	page, lines, err := pageParams(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	file, err := fileParam(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	// The supervisor names the file: a request can only ever read the log of
	// the program it names, whatever the name contains.
	path, err := h.sup.LogPath(r.PathValue("name"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	body, err := h.filePage(r.PathValue("name"), path, file, page, lines)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// pageBody is the JSON of a page, as GET /api/programs/{name}/logs answers it
// and the log stream's "page" event carries it.
func pageBody(p logfile.Page) api.LogPage {
	if p.Lines == nil {
		p.Lines = []string{}
	}
	return api.LogPage{
		Lines: p.Lines, Page: p.Page, Pages: p.Pages, FirstLine: p.FirstLine,
		LastLine: p.LastLine, TotalLines: p.TotalLines, SizeBytes: p.SizeBytes, Files: []api.LogFile{},
	}
}
