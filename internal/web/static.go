package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

// staticFiles is the dashboard: an HTML shell, a style sheet and a few native
// ES modules, served as they are (no build step).
//
//go:embed static
var staticFiles embed.FS

// asset is one dashboard file: where to read it as it is and, once a client
// has taken it compressed, its gzip-compressed form in memory. The plain bytes
// are read from the binary's embedded files for each response that needs them:
// a copy of its own would keep the whole dashboard in the heap of every
// manager, where few clients take it uncompressed. The compressed form is made
// on first use: many managers never serve a dashboard, and compressing all of
// it at start-up made most of what starting allocated.
type asset struct {
	contentType string
	path        string // in staticFiles
	size        int    // of the plain form
	// etag and gzETag are strong validators; the two encodings are different
	// representations, so they differ.
	etag, gzETag string

	compress sync.Once
	gz       []byte // nil until compress has run, and after it if compression does not pay off
}

// compressed returns the gzip-compressed form, or nil when compression does not
// pay off.
func (a *asset) compressed() []byte {
	a.compress.Do(func() {
		// Reading a path loadAssets found in the embedded files cannot fail.
		if data, err := staticFiles.ReadFile(a.path); err == nil {
			a.gz = gzipBytes(data)
		}
	})
	return a.gz
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// loadAssets reads the embedded files once, at start-up, for their sizes and
// validators.
func loadAssets() map[string]*asset {
	out := map[string]*asset{}
	// Reading an embedded file system cannot fail; a failure would show as a
	// missing asset (404) and in the static files test.
	_ = fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		tag := hex.EncodeToString(sum[:12])
		a := &asset{
			contentType: contentTypes[path.Ext(p)],
			path:        p,
			size:        len(data),
			etag:        `"` + tag + `"`,
			gzETag:      `"` + tag + `-gz"`,
		}
		if a.contentType == "" {
			a.contentType = "application/octet-stream"
		}
		out[strings.TrimPrefix(p, "static/")] = a
		return nil
	})
	return out
}

// gzipBytes compresses data, or returns nil when that does not pay off.
func gzipBytes(data []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // a valid level: no error
	// Writes to a bytes.Buffer cannot fail.
	zw.Write(data)
	zw.Close()
	if buf.Len() >= len(data) {
		return nil
	}
	return buf.Bytes()
}

// static serves the dashboard's files: gzip-compressed when the client takes
// it, revalidated on every load (no-cache + ETag) so that a new binary's
// dashboard is picked up at once.
func (h *handler) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	switch {
	case r.Pattern == "GET /app.css":
		name = "app.css"
	case name == "":
		name = "index.html"
	}
	a, ok := h.assets[name]
	if !ok {
		h.writeError(w, r, &requestError{http.StatusNotFound, "no such file: " + name})
		return
	}
	size, etag, gz := a.size, a.etag, false
	hd := w.Header()
	hd.Set("Vary", "Accept-Encoding")
	var compressed []byte
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		compressed = a.compressed()
	}
	if compressed != nil {
		size, etag, gz = len(compressed), a.gzETag, true
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		hd.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Length", strconv.Itoa(size))
	w.WriteHeader(http.StatusOK)
	switch {
	case r.Method == http.MethodHead:
	case gz:
		w.Write(compressed)
	default:
		// Opening an embedded file cannot fail for a path loadAssets found.
		if f, err := staticFiles.Open(a.path); err == nil {
			io.Copy(w, f)
			f.Close()
		}
	}
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip: listed
// (or "*") without q=0. It is pure.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		if q == "q=0" || strings.HasPrefix(q, "q=0.") && strings.Trim(q[4:], "0") == "" {
			return false
		}
		return true
	}
	return false
}

// etagMatches reports whether an If-None-Match header lists etag (or "*").
func etagMatches(header, etag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		t := strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
