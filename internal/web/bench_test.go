package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// BenchmarkListPrograms measures GET /api/programs with 1000 programs (target:
// under 5 ms). They are disabled and the supervisor is not run: the handler's
// cost does not depend on the programs running.
func BenchmarkListPrograms(b *testing.B) {
	h := benchHandler(b, 1000)
	req := httptest.NewRequest("GET", "/api/programs", nil)
	req.Host = "localhost:10000"
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET /api/programs = %d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkMetrics measures a scrape of GET /metrics with 1000 programs, as
// BenchmarkListPrograms; the registry is built before the timing starts.
func BenchmarkMetrics(b *testing.B) {
	h := benchHandler(b, 1000)
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Host = "localhost:10000"
	h.ServeHTTP(httptest.NewRecorder(), req)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET /metrics = %d %s", rec.Code, rec.Body)
		}
	}
}

// benchHandler is the handler of n disabled programs; the supervisor is not
// run, as the handlers' cost does not depend on the programs running.
func benchHandler(b *testing.B, n int) http.Handler {
	b.Helper()
	dir := b.TempDir()
	var y strings.Builder
	y.WriteString("web_ui: {title: bench}\nprograms:\n")
	for i := range n {
		fmt.Fprintf(&y, "  - {name: \"program %04d\", script: worker.py, enabled: false, args: [\"--id\", \"%d\"]}\n", i, i)
	}
	path := filepath.Join(dir, "process_manager.yaml")
	if err := os.WriteFile(path, []byte(y.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	sup := supervisor.New(cfg, supervisor.Options{Logger: slog.New(slog.DiscardHandler)})
	return NewHandler(Options{Supervisor: sup, Title: cfg.WebUI.Title, Logger: slog.New(slog.DiscardHandler)})
}

// BenchmarkEncodeBusyPrograms measures what BenchmarkListPrograms cannot set
// up: 1000 running programs each with a full CPU history of 60 samples.
func BenchmarkEncodeBusyPrograms(b *testing.B) {
	sts := make([]supervisor.Status, 1000)
	now := time.Now()
	for i := range sts {
		hist := make([]float64, 60)
		for j := range hist {
			hist[j] = float64((i*j)%1000) / 7
		}
		sts[i] = supervisor.Status{Name: fmt.Sprintf("program %04d", i), State: supervisor.Running, PID: 1000 + i,
			StartedAt: now.Add(-time.Hour), CPUPercent: hist[59], CPUHistory: hist, MemoryRSS: 50 << 20,
			Enabled: true, Script: "/srv/app/worker.py", Cwd: "/srv/app", Args: []string{"--id", fmt.Sprint(i)}}
	}
	b.ReportAllocs()
	for b.Loop() {
		out := programsJSON{Title: "bench", Programs: make([]programJSON, len(sts))}
		for i := range sts {
			out.Programs[i] = newProgramJSON(&sts[i], now)
		}
		rec := httptest.NewRecorder()
		writeJSON(rec, http.StatusOK, out)
	}
}
