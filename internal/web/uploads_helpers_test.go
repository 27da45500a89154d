package web

import (
	"bytes"
	"cmp"
	"context"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/supervisor"
	"github.com/pyvisor/pyvisor/internal/testkit"
)

// uploadConfig has one program of the config file, so that its name is taken
// and it can be tried as the target of an update or a remove.
const uploadConfig = `
restart:
  delay_seconds: 0.1
programs:
  - name: sleeper
    script: sleeper.py
    enabled: false
`

// mainPy is the script of most uploads: it prints a line naming its version
// and its arguments, then sleeps.
func mainPy(version string) string {
	return `import sys, time
print("upload ` + version + ` up, args", sys.argv[1:], flush=True)
while True:
    time.sleep(3600)
`
}

// zipEntry is one entry of a test ZIP; mode 0 means a regular file 0644.
type zipEntry struct {
	name, body string
	mode       fs.FileMode
}

// zipOf builds a ZIP of entries, in order.
func zipOf(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	kit := make([]testkit.ZipEntry, len(entries))
	for i, e := range entries {
		kit[i] = testkit.ZipEntry{Name: e.name, Body: e.body, Mode: cmp.Or(e.mode, 0o644)}
	}
	return testkit.Zip(t, kit...)
}

// appZip is a ZIP of a working program: main.py printing version, with prefix
// before every name ("" for a flat ZIP, "folder/" for one in a folder).
func appZip(t testing.TB, prefix, version string, more ...zipEntry) []byte {
	t.Helper()
	entries := []zipEntry{{name: prefix + "main.py", body: mainPy(version)}, {name: prefix + "lib/helper.txt", body: "data"}}
	for _, e := range more {
		e.name = prefix + e.name
		entries = append(entries, e)
	}
	return zipOf(t, entries...)
}

// field is one text field of an upload form.
type field struct{ name, value string }

// multipartBody encodes fields and, unless zipData is nil, the file part last.
func multipartBody(t testing.TB, fields []field, zipData []byte) (body []byte, contentType string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := mw.WriteField(f.name, f.value); err != nil {
			t.Fatal(err)
		}
	}
	if zipData != nil {
		w, err := mw.CreateFormFile("file", "app.zip")
		if err != nil {
			t.Fatal(err)
		}
		w.Write(zipData)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

// send posts (or puts) an upload form to the handler.
func (f *fixture) send(t testing.TB, method, target string, fields []field, zipData []byte) response {
	t.Helper()
	body, ct := multipartBody(t, fields, zipData)
	return f.do(t, method, target, bytes.NewReader(body), "Content-Type", ct)
}

// newUploadFixture runs yaml as newFixture does with a handler configured by
// opts, once the supervisor is ready to take uploads. Its installs never reach
// a package index: pip gets --no-index and a directory of wheels (wheelDir).
func newUploadFixture(t testing.TB, yaml string, opts UploadOptions) *fixture {
	t.Helper()
	f := newFixture(t, yaml)
	if opts.Installer.PipArgs == nil {
		opts.Installer.PipArgs = []string{"--no-index", "--find-links", wheelDir(f)}
	}
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	f.h = NewHandler(Options{Supervisor: f.sup, Logger: logger, Uploads: opts})
	<-f.sup.Ready()
	return f
}

// wheelDir is the directory of wheels pip may install from.
func wheelDir(f *fixture) string { return filepath.Join(f.dir, "wheels") }

// leftovers lists what UploadsDir holds besides the directories of programs
// (names given): temporary files and staging or old directories must never stay.
func (f *fixture) leftovers(t testing.TB, programs ...string) []string {
	t.Helper()
	entries, err := os.ReadDir(f.sup.UploadsDir())
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var extra []string
	for _, e := range entries {
		if !slices.Contains(programs, e.Name()) {
			extra = append(extra, e.Name())
		}
	}
	return extra
}

// logText is the whole log file of a program.
func (f *fixture) logText(t testing.TB, name string) string {
	t.Helper()
	path, err := f.sup.LogPath(name)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the log of %q: %v", name, err)
	}
	return string(data)
}

// uploadedEntries returns the programs uploaded_programs.yaml lists, as the
// next manager would load them.
func (f *fixture) uploadedEntries(t testing.TB) map[string]config.Program {
	t.Helper()
	cfg, err := config.Load(filepath.Join(f.dir, "process_manager.yaml"))
	if err != nil {
		t.Fatalf("config.Load after the change: %v", err)
	}
	out := map[string]config.Program{}
	for _, p := range cfg.Programs {
		if p.Uploaded {
			out[p.Name] = p
		}
	}
	return out
}

// settled waits until the program is no longer installing and returns its status.
func (f *fixture) settled(t testing.TB, name string) supervisor.Status {
	t.Helper()
	return f.waitFor(t, name, "the end of the install", func(st supervisor.Status) bool { return st.State != supervisor.Installing })
}

// recorder is a slog handler that keeps the records of one message.
type recorder struct {
	msg string
	mu  sync.Mutex
	got []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message == r.msg {
		r.mu.Lock()
		r.got = append(r.got, rec.Clone())
		r.mu.Unlock()
	}
	return nil
}

// records returns the records kept so far.
func (r *recorder) records() []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// doneHandler wraps a handler to tell when each request has been answered, so
// a test can look at what a request left behind after its client went away.
type doneHandler struct {
	h    http.Handler
	done chan int // the status of each request
}

func (d *doneHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	defer func() { d.done <- rec.status }()
	d.h.ServeHTTP(rec, r)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(status int) {
	s.status = status
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Compile-time checks that the helpers fit the types they stand in for.
var (
	_ slog.Handler = (*recorder)(nil)
	_ http.Handler = (*doneHandler)(nil)
)

// healthy checks that the manager still answers.
func (f *fixture) healthy(t testing.TB, after string) {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), "GET", "/healthz", nil)
	req.Host = "localhost"
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("after %s: GET /healthz = %d %s, want 200", after, rec.Code, rec.Body)
	}
}
