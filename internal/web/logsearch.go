package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/logfile"
)

// downloadWriteTimeout drops a download whose client stops reading: each
// write must be taken within it.
const downloadWriteTimeout = 30 * time.Second

// fileParam reads file (default 0, the live log) from a query.
func fileParam(q url.Values) (int, error) {
	return intParam(q, "file", 0, 0, 0)
}

// boolParam reads a flag such as regex=1: absent, "" and "0" are false, "1"
// is true; anything else is a bad request.
func boolParam(q url.Values, name string) (bool, error) {
	switch s := q.Get(name); s {
	case "", "0":
		return false, nil
	case "1":
		return true, nil
	default:
		return false, badRequest(fmt.Sprintf("parameter %s=%q must be 0 or 1", name, s))
	}
}

// searchQuery reads the parameters of a log search. It is pure.
func searchQuery(q url.Values) (logfile.Query, string, error) {
	var sq logfile.Query
	var err error
	sq.Text = q.Get("q")
	if sq.Text == "" {
		return sq, "", badRequest("parameter q is missing: give the text to search for")
	}
	if sq.Regex, err = boolParam(q, "regex"); err != nil {
		return sq, "", err
	}
	if sq.CaseSensitive, err = boolParam(q, "case"); err != nil {
		return sq, "", err
	}
	if sq.Limit, err = intParam(q, "limit", logfile.DefaultSearchLimit, 1, api.MaxSearchLimit); err != nil {
		return sq, "", err
	}
	if sq.LinesPerPage, err = intParam(q, "lines", defaultLogLines, 1, api.MaxLogLines); err != nil {
		return sq, "", err
	}
	return sq, q.Get("cursor"), nil
}

// logFiles lists the files of the log at path as the API shows them.
func logFiles(path string) ([]api.LogFile, error) {
	infos, err := logfile.Files(path)
	if err != nil {
		return nil, err
	}
	files := make([]api.LogFile, 0, len(infos))
	for _, fi := range infos {
		files = append(files, api.LogFile{File: fi.File, SizeBytes: fi.SizeBytes, Modified: fi.Modified})
	}
	return files, nil
}

// filePage reads page page of file number file of name's log at path, with
// the list of the log's files.
func (h *handler) filePage(name, path string, file, page, lines int) (api.LogPage, error) {
	p, err := h.logs.FilePage(path, file, page, lines)
	files, lerr := logFiles(path)
	if errors.Is(err, logfile.ErrUnknownFile) {
		return api.LogPage{}, noSuchFile(name, file, files)
	}
	if err = errors.Join(err, lerr); err != nil {
		return api.LogPage{}, fmt.Errorf("logs of %q: %w", name, err)
	}
	body := pageBody(p)
	body.File, body.Files = file, files
	return body, nil
}

// noSuchFile is the error of a request for a log file that does not exist;
// it says which files do.
func noSuchFile(name string, file int, files []api.LogFile) error {
	have := "none"
	if n := len(files); n > 0 {
		have = fmt.Sprintf("%d to %d", files[0].File, files[n-1].File)
	}
	return fmt.Errorf("logs of %q: no log file %d (0 is the live log, 1 and up its backups; files now: %s): %w",
		name, file, have, logfile.ErrUnknownFile)
}

// logDownload streams GET /api/programs/{name}/logs/download?file=K: the file
// as it was when opened, without reading it into memory.
func (h *handler) logDownload(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	file, err := fileParam(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	path, err := h.sup.LogPath(name)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	f, err := logfile.OpenFile(path, file)
	if errors.Is(err, logfile.ErrUnknownFile) {
		files, _ := logFiles(path)
		err = noSuchFile(name, file, files)
	}
	if err != nil {
		h.writeError(w, r, fmt.Errorf("download the log of %q: %w", name, err))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		h.writeError(w, r, fmt.Errorf("download the log of %q: %w", name, err))
		return
	}
	// The live log grows meanwhile: the answer is the size it had when opened.
	size := fi.Size()
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Content-Disposition", downloadDisposition(name, file))
	hd.Set("Content-Length", strconv.FormatInt(size, 10))
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	dw := &deadlineWriter{w: w, rc: http.NewResponseController(w)}
	defer dw.rc.SetWriteDeadline(time.Time{})
	if _, err := io.Copy(dw, io.LimitReader(f, size)); err != nil && r.Context().Err() == nil {
		// The status is sent: all that is left is to say why the body ends short.
		h.log.Info("log download ended early", "program", name, "file", file, "err", err)
	}
}

// downloadDisposition names the downloaded file as pyvisor names it on disk:
// NAME.log, or NAME.log.K for backup K.
func downloadDisposition(name string, file int) string {
	fn := name + ".log"
	if file > 0 {
		fn += "." + strconv.Itoa(file)
	}
	if !strings.ContainsFunc(fn, func(r rune) bool { return r < ' ' || r > '~' || r == '"' || r == '\\' }) {
		return `attachment; filename="` + fn + `"`
	}
	// FormatMediaType escapes the name, or encodes one beyond ASCII as
	// RFC 2231 filename*.
	return mime.FormatMediaType("attachment", map[string]string{"filename": fn})
}

// deadlineWriter gives each write of a long response its own deadline, as
// the server has no WriteTimeout.
type deadlineWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(downloadWriteTimeout))
	return d.w.Write(p)
}

// logSearch answers GET /api/programs/{name}/logs/search: the matches of a
// query over the live log and its backups, newest first, within a time budget.
func (h *handler) logSearch(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q, after, err := searchQuery(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	path, err := h.sup.LogPath(name)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	res, err := h.logs.Search(r.Context(), path, q, after, logfile.DefaultSearchBudget)
	if errors.Is(err, logfile.ErrRotated) {
		err = logfile.ErrRotated // its own message says it all; the path says nothing to a client
	}
	if err != nil {
		h.writeError(w, r, fmt.Errorf("search the logs of %q: %w", name, err))
		return
	}
	body := api.LogSearch{Matches: make([]api.LogMatch, 0, len(res.Matches)), ScannedBytes: res.ScannedBytes}
	for _, m := range res.Matches {
		body.Matches = append(body.Matches, api.LogMatch{File: m.File, Line: m.Line, Page: m.Page, Text: m.Text})
	}
	if res.Cursor != "" {
		body.NextCursor = &res.Cursor
	}
	writeJSON(w, http.StatusOK, body)
}
