package web

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/install"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// TestUploadWaitsForStart sends an upload, and then an update of it, each to
// a manager that has not started yet: as it starts it sweeps the uploads
// directory of leftovers, which would take the files of an upload already
// under way, so each waits for the start and then succeeds.
func TestUploadWaitsForStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "process_manager.yaml")
	if err := os.WriteFile(path, []byte("programs: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		method, target, version string
		want                    int
	}{
		{"POST", "/api/programs", "1", 201},
		{"PUT", "/api/programs/early", "2", 200},
	} {
		// A new manager for each step, as after a restart.
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		sup := supervisor.New(cfg, supervisor.Options{Logger: slog.New(slog.DiscardHandler), UploadFiles: install.Leftovers{}})
		h := NewHandler(Options{Supervisor: sup, Logger: slog.New(slog.DiscardHandler)})
		call := step.method + " " + step.target
		body, ct := multipartBody(t, []field{{"name", "early"}, {"script", "main.py"}, {"autostart", "off"}}, appZip(t, "", step.version))
		answered := make(chan *httptest.ResponseRecorder, 1)
		go func() {
			req := httptest.NewRequest(step.method, step.target, bytes.NewReader(body))
			req.Host = "localhost:10000"
			req.Header.Set("Content-Type", ct)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			answered <- rec
		}()
		select {
		case rec := <-answered:
			t.Fatalf("%s before the supervisor started = %d %s; want it to wait for the start", call, rec.Code, rec.Body)
		case <-time.After(300 * time.Millisecond): // still waiting, as it should
		}

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- sup.Run(ctx) }()
		select {
		case rec := <-answered:
			if rec.Code != step.want {
				cancel()
				<-done
				t.Fatalf("%s sent before the start = %d %s, want %d once started", call, rec.Code, rec.Body, step.want)
			}
		case <-time.After(60 * time.Second):
			cancel()
			<-done
			t.Fatalf("%s sent before the start got no answer within 60 s of the start", call)
		}
		f := &fixture{dir: dir, sup: sup, h: h}
		f.waitFor(t, "early", "installed (stopped)", inState(supervisor.Stopped))
		cancel()
		<-done
		got, err := os.ReadFile(filepath.Join(sup.UploadsDir(), "early", "main.py"))
		if err != nil || !strings.Contains(string(got), mainPy(step.version)) {
			t.Errorf("after %s, the upload's main.py = %q, %v; want version %s", call, got, err, step.version)
		}
	}
}
