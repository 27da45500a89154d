package web

import (
	"net/http"
	"testing"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// TestInstanceNamesInURLs checks that the names of copies, NAME:1, work in the program routes, written as
// they are and escaped as encodeURIComponent escapes them, and that PROGRAM says whose copy each is.
func TestInstanceNamesInURLs(t *testing.T) {
	f := newFixture(t, "programs:\n  - {name: w, script: sleeper.py, instances: 2, enabled: false}\n")
	for _, path := range []string{"/api/programs/w:2", "/api/programs/w%3A2", programPath("w:2")} {
		r := f.do(t, "GET", path, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s = %d %s, want 200", path, r.status, r.body)
		}
		p := decode[api.Program](t, "GET "+path, r)
		if p.Name != "w:2" || p.InstanceOf == nil || *p.InstanceOf != "w" || p.Instance == nil || *p.Instance != 2 {
			t.Errorf("GET %s = %s, want w:2, instance 2 of w", path, r.body)
		}
	}
	r := f.do(t, "POST", "/api/programs/w%3A1/start", nil)
	if p := decode[api.Program](t, "POST start w:1", r); r.status != http.StatusOK || p.Name != "w:1" || p.State != "running" {
		t.Errorf("POST /api/programs/w%%3A1/start = %d %s, want 200 and w:1 running", r.status, r.body)
	}
}

// TestScheduleInProgram checks schedule and next_run of a job in PROGRAM.
func TestScheduleInProgram(t *testing.T) {
	f := newFixture(t, "programs:\n  - {name: nightly, script: sleeper.py, schedule: '30 3 * * *', timezone: Europe/Berlin}\n")
	// The program's goroutine publishes its next run once it runs, a moment after the manager starts.
	f.waitFor(t, "nightly", "a next run", func(st supervisor.Status) bool { return !st.NextRun.IsZero() })
	r := f.do(t, "GET", "/api/programs/nightly", nil)
	p := decode[api.Program](t, "GET nightly", r)
	if p.Schedule == nil || *p.Schedule != "30 3 * * *" || p.NextRun == nil || p.LastRun != nil || p.State != "stopped" {
		t.Errorf("GET /api/programs/nightly = %s, want the schedule, a next_run, no last_run, stopped", r.body)
	}
}
