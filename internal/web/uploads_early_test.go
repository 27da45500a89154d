package web

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// TestUploadWaitsForStart sends an upload while the supervisor has not yet
// started: as it starts it sweeps the uploads directory of leftovers, which
// would take the files of an upload already under way, so the upload waits
// for it and then succeeds.
func TestUploadWaitsForStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "process_manager.yaml")
	if err := os.WriteFile(path, []byte("programs: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sup := supervisor.New(cfg, supervisor.Options{Logger: slog.New(slog.DiscardHandler)})
	h := NewHandler(Options{Supervisor: sup, Logger: slog.New(slog.DiscardHandler)})

	body, ct := multipartBody(t, []field{{"name", "early"}, {"script", "main.py"}, {"autostart", "off"}}, appZip(t, "", "1"))
	answered := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		req := httptest.NewRequest("POST", "/api/programs", bytes.NewReader(body))
		req.Host = "localhost:10000"
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		answered <- rec
	}()
	select {
	case rec := <-answered:
		t.Fatalf("POST /api/programs before the supervisor started = %d %s; want it to wait for the start", rec.Code, rec.Body)
	case <-time.After(300 * time.Millisecond): // still waiting, as it should
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case rec := <-answered:
		if rec.Code != 201 {
			t.Fatalf("POST /api/programs sent before the start = %d %s, want 201 once started", rec.Code, rec.Body)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("POST /api/programs sent before the start got no answer within 60 s of the start")
	}
	f := &fixture{dir: dir, sup: sup, h: h}
	f.waitFor(t, "early", "installed (stopped)", inState(supervisor.Stopped))
	if _, err := os.Stat(filepath.Join(sup.UploadsDir(), "early", "main.py")); err != nil {
		t.Errorf("the upload's files: %v", err)
	}
}
