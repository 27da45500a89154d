package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/proc"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

func TestNewProgramJSON(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name string
		st   supervisor.Status
		want func(p api.Program) string // "" when p is right
	}{
		{"never ran", supervisor.Status{Name: "a", State: supervisor.Stopped}, func(p api.Program) string {
			if p.PID != nil || p.ExitCode != nil || p.ExitSignal != nil || p.ExitDescription != nil || p.Error != nil ||
				p.NextStartSeconds != nil || p.CPUPercent != nil || p.UptimeSeconds != 0 || p.Args == nil || p.CPUHistory == nil {
				return "want pid, exit, error and next start null, uptime 0, args and cpu_history empty arrays"
			}
			return ""
		}},
		{"running", supervisor.Status{Name: "a", State: supervisor.Running, PID: 42, StartedAt: now.Add(-90*time.Second - 500*time.Millisecond),
			CPUPercent: 12.345, CPUMeasured: true, History: []supervisor.Sample{supervisor.NewSample(1.04, 1<<20), supervisor.NewSample(12.345, 1<<20)}, MemoryRSS: 1 << 20, Args: []string{"x"}}, func(p api.Program) string {
			if p.PID == nil || *p.PID != 42 || p.UptimeSeconds != 90 || p.CPUPercent == nil || *p.CPUPercent != 12.3 ||
				fmt.Sprint(p.CPUHistory) != "[1 12.3]" || p.MemoryRSSBytes != 1<<20 {
				return "want pid 42, uptime 90, cpu 12.3 with history [1 12.3], 1 MiB"
			}
			return ""
		}},
		{"running, sampled once", supervisor.Status{Name: "a", State: supervisor.Running, PID: 42, StartedAt: now, MemoryRSS: 1 << 20},
			func(p api.Program) string {
				if p.CPUPercent != nil || p.MemoryRSSBytes != 1<<20 {
					return "want cpu_percent null (CPU use needs two samples), memory 1 MiB"
				}
				return ""
			}},
		{"exited with a code", supervisor.Status{State: supervisor.Restarting, LastExit: &proc.ExitStatus{Known: true, Code: 3},
			NextStart: now.Add(1500 * time.Millisecond)}, func(p api.Program) string {
			if p.ExitCode == nil || *p.ExitCode != 3 || p.ExitSignal != nil || p.ExitDescription == nil ||
				p.NextStartSeconds == nil || *p.NextStartSeconds != 1.5 {
				return "want exit_code 3, exit_signal null, a description, next start in 1.5 s"
			}
			return ""
		}},
		{"killed by a signal", supervisor.Status{State: supervisor.Stopped, LastExit: &proc.ExitStatus{Known: true, Code: -1, Signal: syscall.SIGKILL}},
			func(p api.Program) string {
				if p.ExitCode != nil || p.ExitSignal == nil || *p.ExitSignal != "SIGKILL" {
					return "want exit_code null and exit_signal SIGKILL"
				}
				return ""
			}},
		{"adopted, status unknown", supervisor.Status{State: supervisor.Restarting, LastExit: &proc.ExitStatus{}, NextStart: now.Add(-time.Second)},
			func(p api.Program) string {
				if p.ExitCode != nil || p.ExitSignal != nil || p.ExitDescription == nil || p.NextStartSeconds == nil || *p.NextStartSeconds != 0 {
					return "want exit_code and exit_signal null, a description, next start 0 (overdue)"
				}
				return ""
			}},
		{"no health check", supervisor.Status{State: supervisor.Running, PID: 1}, func(p api.Program) string {
			if p.Health != nil || p.HealthDetail != nil {
				return "want health and health_detail null"
			}
			return ""
		}},
		{"unhealthy", supervisor.Status{State: supervisor.Running, PID: 1, Health: supervisor.HealthUnhealthy, HealthDetail: "HTTP 503"},
			func(p api.Program) string {
				if p.Health == nil || *p.Health != "unhealthy" || p.HealthDetail == nil || *p.HealthDetail != "HTTP 503" {
					return `want health "unhealthy" and health_detail "HTTP 503"`
				}
				return ""
			}},
		{"waiting", supervisor.Status{State: supervisor.Waiting, Error: "waiting for db (starting)"}, func(p api.Program) string {
			if p.State != "waiting" || p.Error == nil || *p.Error != "waiting for db (starting)" {
				return "want state waiting and what for in error"
			}
			return ""
		}},
		{"not a job, not a copy", supervisor.Status{State: supervisor.Running}, func(p api.Program) string {
			if p.Schedule != nil || p.NextRun != nil || p.LastRun != nil || p.InstanceOf != nil || p.Instance != nil {
				return "want schedule, next_run, last_run, instance_of and instance null"
			}
			return ""
		}},
		{"a job after a failed run", supervisor.Status{State: supervisor.Stopped, Schedule: "30 3 * * *", SkippedRuns: 2,
			NextRun: time.Date(2026, 1, 3, 3, 30, 0, 0, time.UTC),
			LastRun: &supervisor.Run{Started: now.Add(-time.Minute), Ended: now, Exit: proc.ExitStatus{Known: true, Code: 1}, Outcome: supervisor.RunFailed}},
			func(p api.Program) string {
				if p.Schedule == nil || *p.Schedule != "30 3 * * *" || p.NextRun == nil || *p.NextRun != "2026-01-03T03:30:00Z" ||
					p.SkippedRuns != 2 || p.LastRun == nil || p.LastRun.Started != "2026-01-02T03:03:05Z" || p.LastRun.Ended != "2026-01-02T03:04:05Z" ||
					p.LastRun.ExitCode == nil || *p.LastRun.ExitCode != 1 || p.LastRun.Outcome != "failed" || p.LastRun.ExitDescription != "exit status 1" {
					return "want the schedule, next_run 2026-01-03T03:30:00Z, 2 skipped, last_run failed with exit 1 and its times"
				}
				return ""
			}},
		{"a job with an adopted run", supervisor.Status{Schedule: "@daily", LastRun: &supervisor.Run{Started: now, Ended: now, Outcome: supervisor.RunUnknown}},
			func(p api.Program) string {
				if p.NextRun != nil || p.LastRun == nil || p.LastRun.ExitCode != nil || p.LastRun.Outcome != "unknown" {
					return "want next_run null, last_run with exit_code null, outcome unknown"
				}
				return ""
			}},
		{"a copy", supervisor.Status{Name: "w:2", InstanceOf: "w", Instance: 2}, func(p api.Program) string {
			if p.InstanceOf == nil || *p.InstanceOf != "w" || p.Instance == nil || *p.Instance != 2 {
				return "want instance_of w, instance 2"
			}
			return ""
		}},
		{"error", supervisor.Status{State: supervisor.Error, Error: "script x.py: no such file"}, func(p api.Program) string {
			if p.Error == nil || *p.Error != "script x.py: no such file" {
				return "want the error message"
			}
			return ""
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newProgramJSON(&c.st, now)
			if msg := c.want(p); msg != "" {
				got, _ := json.Marshal(p)
				t.Errorf("newProgramJSON(%+v) = %s; %s", c.st, got, msg)
			}
		})
	}
}

func TestPageParams(t *testing.T) {
	cases := []struct {
		query       string
		page, lines int
		bad         bool
	}{
		{"", 1, 200, false},
		{"page=3", 3, 200, false},
		{"lines=5000", 1, 5000, false},
		{"page=1000000&lines=1", 1000000, 1, false},
		{"page=0", 0, 0, true},
		{"page=-2", 0, 0, true},
		{"page=two", 0, 0, true},
		{"lines=0", 0, 0, true},
		{"lines=5001", 0, 0, true},
		{"lines=99999999999999999999", 0, 0, true},
		{"page=9223372036854775807&lines=5000", 0, 0, true},
		{"page=1801439850948&lines=5000", 1801439850948, 5000, false}, // 2^53/5000
		{"page=1801439850949&lines=5000", 0, 0, true},
		{"page=9007199254740992&lines=1", 9007199254740992, 1, false},
		{"page=9007199254740993&lines=1", 0, 0, true},
	}
	for _, c := range cases {
		q, _ := url.ParseQuery(c.query)
		page, lines, err := pageParams(q)
		if c.bad {
			if err == nil || errorStatus(err) != http.StatusBadRequest {
				t.Errorf("pageParams(%q) = %d, %d, %v; want a 400 error", c.query, page, lines, err)
			}
			continue
		}
		if err != nil || page != c.page || lines != c.lines {
			t.Errorf("pageParams(%q) = %d, %d, %v; want %d, %d", c.query, page, lines, err, c.page, c.lines)
		}
	}
}

func TestErrorStatus(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{badRequest("x"), 400},
		{forbidden("x"), 403},
		{fmt.Errorf("get: %w", supervisor.ErrNotFound), 404},
		{fmt.Errorf("start %q: %w", "a", &supervisor.StartError{Program: "a", Msg: "boom"}), 409},
		{fmt.Errorf("read body: %w", &http.MaxBytesError{Limit: 1}), 413},
		{fmt.Errorf("stop: %w", supervisor.ErrShutdown), 503},
		{fmt.Errorf("stop: the program is in state stopped, but %w", supervisor.ErrStateNotSaved), 503},
		{errors.Join(&supervisor.StartError{Program: "a", Msg: "boom"}, supervisor.ErrStateNotSaved), 503},
		{fmt.Errorf("reload: %w", supervisor.ErrNoProgramsListed), 422},
		{context.Canceled, 503},
		{errors.New("disk on fire"), 500},
	}
	for _, c := range cases {
		if got := errorStatus(c.err); got != c.want {
			t.Errorf("errorStatus(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// TestNoEnvironmentValues sends every kind of request and checks that no
// answer contains the value of an environment variable a program runs with.
func TestNoEnvironmentValues(t *testing.T) {
	f := newFixture(t, baseConfig)
	st := f.waitFor(t, "sleeper", "running", inState(supervisor.Running))
	// The test means something only if the program really has the secret. Its
	// environment is read once Python runs: during the exec of an interpreter
	// (or of a pyenv shim) /proc shows none.
	f.waitLog(t, "sleeper", "sleeper up")
	if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", st.PID)); err == nil && !strings.Contains(string(env), secretValue) {
		t.Fatalf("sleeper's environment lacks the secret; the fixture is broken")
	}
	var bodies []string
	add := func(method, target string) {
		bodies = append(bodies, f.do(t, method, target, nil).body)
	}
	for _, target := range []string{"/", "/index.html", "/app.css", "/api.js", "/render.js", "/main.js", "/healthz", "/api/programs",
		"/api/programs/nope", programPath("missing", "/logs")} {
		add("GET", target)
	}
	for _, name := range []string{"sleeper", "missing"} {
		add("GET", programPath(name))
		add("GET", programPath(name, "/logs?lines=5000"))
		add("GET", programPath(name, "/settings"))
		add("GET", programPath(name, "/usage"))
		for _, action := range []string{"restart", "stop", "start"} {
			add("POST", programPath(name, "/", action))
		}
	}
	srv := serve(t, f.h)
	s := openStream(t, srv.URL+"/api/events")
	bodies = append(bodies, s.next(t, "programs").data)

	for i, b := range bodies {
		if strings.Contains(b, secretValue) {
			t.Errorf("response %d contains the secret environment value: %s", i, b)
		}
	}
}

// TestSettingsAndUsage reads a running program's resolved definition, with
// the names of its environment variables, and its sampled history.
func TestSettingsAndUsage(t *testing.T) {
	f := newFixture(t, baseConfig)
	f.waitFor(t, "sleeper", "two samples", func(st supervisor.Status) bool { return len(st.History) >= 2 })

	s := decode[api.ProgramSettings](t, "GET settings", f.do(t, "GET", programPath("sleeper", "/settings"), nil))
	// PYTHONUNBUFFERED too, unless the test's own environment sets it.
	wantEnv := []string{"FILE_SECRET", "SECRET_TOKEN"}
	if s.Name != "sleeper" || s.Interpreter != "python3" || s.Venv != nil || s.Script != filepath.Join(f.dir, "sleeper.py") ||
		s.Cwd != f.dir || !slices.Equal(s.Args, []string{"--flag", "two words"}) || !slices.Equal(slices.DeleteFunc(s.Environment, func(k string) bool { return k == "PYTHONUNBUFFERED" }), wantEnv) ||
		s.StopSignal != "SIGTERM" || s.StopTimeoutSeconds != 10 || s.Restart.DelaySeconds != 0.1 || !s.Autorestart || s.ExitCodes == nil {
		t.Errorf("GET settings = %+v; want sleeper's: python3, %s/sleeper.py, its args, environment names %q, SIGTERM after 10 s, delay 0.1 s",
			s, f.dir, wantEnv)
	}

	u := decode[api.Usage](t, "GET usage", f.do(t, "GET", programPath("sleeper", "/usage"), nil))
	if u.IntervalSeconds != 0.2 || len(u.CPUPercent) < 2 || len(u.CPUPercent) != len(u.MemoryRSSBytes) || u.MemoryRSSBytes[len(u.MemoryRSSBytes)-1] == 0 {
		t.Errorf("GET usage = %+v; want interval 0.2, as many CPU as memory samples (at least 2), the last memory sample not 0", u)
	}
	for _, path := range []string{"/settings", "/usage"} {
		if r := f.do(t, "GET", programPath("nope", path), nil); r.status != http.StatusNotFound {
			t.Errorf("GET %s of a missing program = %d %s, want 404", path, r.status, r.body)
		}
	}
}

// TestCPUNullUntilTwoSamples starts a program and reads every programs event
// until its CPU figure comes: CPU use is the growth of CPU time between two
// samples, so cpu_percent is null (not 0) until the second sample, while the
// memory figure comes with the first.
func TestCPUNullUntilTwoSamples(t *testing.T) {
	f := newFixture(t, "sampling: {interval_seconds: 1}\nprograms:\n  - {name: late, script: sleeper.py, enabled: false}\n")
	srv := serve(t, f.h)
	s := openStream(t, srv.URL+"/api/events")
	s.next(t, "programs")
	if r := f.do(t, "POST", programPath("late", "/start"), nil); r.status != http.StatusOK {
		t.Fatalf("POST start = %d %s, want 200", r.status, r.body)
	}
	var seen []string // pid, memory and CPU of each event while it runs
	memoryFirst := false
	for {
		var list struct{ Programs []api.Program }
		if err := json.Unmarshal([]byte(s.next(t, "programs").data), &list); err != nil {
			t.Fatal(err)
		}
		p := list.Programs[0]
		if p.PID == nil {
			continue
		}
		cpu := "null"
		if p.CPUPercent != nil {
			cpu = fmt.Sprint(*p.CPUPercent)
		}
		seen = append(seen, fmt.Sprintf("pid %d memory %d cpu %s", *p.PID, p.MemoryRSSBytes, cpu))
		if p.CPUPercent != nil {
			break
		}
		memoryFirst = memoryFirst || p.MemoryRSSBytes > 0
	}
	if !memoryFirst {
		t.Errorf("programs events of a program started: %q; want cpu_percent null until the memory figure of a first sample has come", seen)
	}
}
