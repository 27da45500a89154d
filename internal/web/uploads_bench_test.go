package web

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// BenchmarkUploadToRunning measures the time from the start of an upload of a
// small program without requirements until it runs, split into:
//   - request-ms: the POST until its 201 (receive, unpack, check, register)
//   - unpack-ms: the unpacking alone (part of request-ms)
//   - venv-ms: creating the venv (Installer Timings)
//   - install-ms: the whole install function (move into place and venv)
//   - start-ms: the rest, from the end of the install until the program runs
//     (the install starts as the 201 is sent, so this is total-request-install)
//
// Run: go test -run '^$' -bench UploadToRunning -benchtime 20x ./internal/web/
func BenchmarkUploadToRunning(b *testing.B) {
	f := newUploadFixture(b, uploadConfig, UploadOptions{})
	rec := &recorder{msg: "upload installed"}
	f.h = NewHandler(Options{Supervisor: f.sup, Logger: slog.New(rec)})
	zip := appZip(b, "", "v1")
	var request, unpack, venv, install, total time.Duration
	i := 0
	for b.Loop() {
		name := fmt.Sprintf("bench %d", i)
		i++
		start := time.Now()
		r := f.send(b, "POST", "/api/programs", []field{{"name", name}, {"script", "main.py"}, {"autostart", "true"}}, zip)
		if r.status != 201 {
			b.Fatalf("POST /api/programs (name %q) = %d %s, want 201", name, r.status, r.body)
		}
		request += time.Since(start)
		f.waitFor(b, name, "running", inState(supervisor.Running))
		total += time.Since(start)

		b.StopTimer()
		recs := rec.records()
		if len(recs) != i {
			b.Fatalf("%d install records after %d uploads", len(recs), i)
		}
		recs[i-1].Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "unpack":
				unpack += a.Value.Duration()
			case "venv":
				venv += a.Value.Duration()
			case "install":
				install += a.Value.Duration()
			}
			return true
		})
		if _, err := f.sup.Stop(b.Context(), name); err != nil {
			b.Fatal(err)
		}
		if err := f.sup.RemoveUpload(b.Context(), name); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(i) }
	b.ReportMetric(ms(request), "request-ms")
	b.ReportMetric(ms(unpack), "unpack-ms")
	b.ReportMetric(ms(venv), "venv-ms")
	b.ReportMetric(ms(install), "install-ms")
	b.ReportMetric(ms(total-request-install), "start-ms")
	b.ReportMetric(ms(total), "total-ms")
}
