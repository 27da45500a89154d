package web

import (
	"encoding/json"
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
	"github.com/pyvisor/pyvisor/internal/install"
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
	sup := supervisor.New(cfg, supervisor.Options{Logger: slog.New(slog.DiscardHandler), UploadFiles: install.Leftovers{}})
	return NewHandler(Options{Supervisor: sup, Title: cfg.WebUI.Title, Logger: slog.New(slog.DiscardHandler)})
}

// busyStatuses are n running programs each with a full CPU history of 60
// samples: what BenchmarkListPrograms cannot set up.
func busyStatuses(n int, now time.Time) []supervisor.Status {
	sts := make([]supervisor.Status, n)
	for i := range sts {
		hist := make([]supervisor.Sample, 60)
		for j := range hist {
			hist[j] = supervisor.NewSample(float64((i*j)%1000)/7, 50<<20)
		}
		sts[i] = supervisor.Status{Name: fmt.Sprintf("program %04d", i), State: supervisor.Running, PID: 1000 + i,
			StartedAt: now.Add(-time.Hour), CPUPercent: hist[59].CPUPercent(), CPUMeasured: true, History: hist, MemoryRSS: 50 << 20,
			Enabled: true, Script: "/srv/app/worker.py", Cwd: "/srv/app", Args: []string{"--id", fmt.Sprint(i)}}
	}
	return sts
}

// BenchmarkEncodeBusyPrograms measures one encoding of 1000 busy programs
// (busyStatuses) as GET /api/programs answers them; a "programs" event's data
// is the same encoding.
func BenchmarkEncodeBusyPrograms(b *testing.B) {
	sts := busyStatuses(1000, time.Now())
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		writeJSON(rec, http.StatusOK, newProgramsJSON("bench", false, sts, time.Now()))
	}
}

// BenchmarkProgramsEvent measures what one change costs the event streams of
// 10 open dashboards with 1000 busy programs: every stream encoding the list
// itself ("per-stream", as before the streams shared it) or one encoding
// shared by all ("shared"). The writing is to a client that discards it.
func BenchmarkProgramsEvent(b *testing.B) {
	const clients = 10
	sts := busyStatuses(1000, time.Now())
	streams := make([]*sseWriter, clients)
	for i := range streams {
		w := discardWriter{}
		streams[i] = &sseWriter{w: w, rc: http.NewResponseController(w)}
	}
	encode := func(now time.Time) ([]byte, error) { return json.Marshal(newProgramsJSON("bench", false, sts, now)) }
	b.Run(fmt.Sprintf("per-stream/clients=%d", clients), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			now := time.Now()
			for _, s := range streams {
				data, err := encode(now)
				if err == nil {
					err = s.eventData("programs", data)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run(fmt.Sprintf("shared/clients=%d", clients), func(b *testing.B) {
		var gen uint64
		c := &sharedPayload{generation: func() uint64 { return gen }, encode: encode, maxAge: payloadMaxAge}
		b.ReportAllocs()
		for b.Loop() {
			gen++ // a change
			now := time.Now()
			for _, s := range streams {
				data, err := c.get(now)
				if err == nil {
					err = s.eventData("programs", data)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// discardWriter is a client that reads and drops everything.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}
func (discardWriter) Flush()                      {}
