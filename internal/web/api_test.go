package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

func TestHealthz(t *testing.T) {
	f := newFixture(t, baseConfig)
	r := f.do(t, "GET", "/healthz", nil)
	if r.status != http.StatusOK {
		t.Errorf("GET /healthz = %d %s, want 200", r.status, r.body)
	}
}

func TestListPrograms(t *testing.T) {
	f := newFixture(t, baseConfig)
	f.waitFor(t, "sleeper", "running", inState(supervisor.Running))
	r := f.do(t, "GET", "/api/programs", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /api/programs = %d %s, want 200", r.status, r.body)
	}
	list := decode[programList](t, "GET /api/programs", r)
	if list.Title != "Test <b>board</b>" {
		t.Errorf("GET /api/programs: title = %q, want the configured one", list.Title)
	}
	var names []string
	for _, p := range list.Programs {
		names = append(names, p.Name)
	}
	want := []string{"sleeper", "My App", "Ünïcødé✓", markupName, "missing"}
	if !slices.Equal(names, want) {
		t.Errorf("GET /api/programs: names %q, want config order %q", names, want)
	}
	if p := list.Programs[0]; p.State != "running" || p.PID == nil || *p.PID <= 0 {
		t.Errorf("GET /api/programs: sleeper = %+v, want running with a pid", p)
	}
	if p := list.Programs[0]; !slices.Equal(p.Args, []string{"--flag", "two words"}) {
		t.Errorf("GET /api/programs: sleeper args = %q, want the configured ones", p.Args)
	}
	if p := list.Programs[1]; p.State != "stopped" || p.PID != nil || p.ExitCode != nil || p.Error != nil {
		t.Errorf("GET /api/programs: disabled program = %+v, want stopped with pid, exit_code and error null", p)
	}

	// The exact field set of PROGRAM is the contract; nulls are present, not omitted.
	var raw struct {
		Programs []map[string]json.RawMessage `json:"programs"`
	}
	json.Unmarshal([]byte(r.body), &raw)
	var keys []string
	for k := range raw.Programs[1] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	wantKeys := []string{"actions", "adopted", "args", "consecutive_failures", "cpu_history", "cpu_percent", "cwd", "enabled",
		"error", "exit_code", "exit_description", "exit_signal", "group", "health", "health_detail", "instance", "instance_of",
		"last_exit_time", "last_run", "memory_rss_bytes", "name", "next_run", "next_start_seconds", "pid", "restart_count",
		"schedule", "script", "skipped_runs", "started_at", "state", "state_since", "uploaded", "uptime_seconds"}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("GET /api/programs: PROGRAM keys\n%q\nwant\n%q", keys, wantKeys)
	}
	for _, k := range []string{"pid", "exit_code", "exit_signal", "error", "health", "health_detail"} {
		if string(raw.Programs[1][k]) != "null" {
			t.Errorf("GET /api/programs: stopped program's %s = %s, want null", k, raw.Programs[1][k])
		}
	}
	for _, k := range []string{"cpu_history", "args"} {
		if string(raw.Programs[1][k]) == "null" {
			t.Errorf("GET /api/programs: %s = null, want an array", k)
		}
	}
}

func TestGetProgram(t *testing.T) {
	f := newFixture(t, baseConfig)
	for _, name := range []string{"sleeper", "My App", "Ünïcødé✓", markupName} {
		t.Run(name, func(t *testing.T) {
			path := programPath(name)
			r := f.do(t, "GET", path, nil)
			if r.status != http.StatusOK {
				t.Fatalf("GET %s = %d %s, want 200", path, r.status, r.body)
			}
			if p := decode[program](t, "GET "+path, r); p.Name != name {
				t.Errorf("GET %s: name = %q, want %q", path, p.Name, name)
			}
			// Markup in a name travels as JSON-escaped data.
			if strings.ContainsAny(r.body, "<>") {
				t.Errorf("GET %s: body has a raw '<' or '>': %s", path, r.body)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		r := f.do(t, "GET", "/api/programs/nope", nil)
		if r.status != http.StatusNotFound || !strings.Contains(decode[api.Error](t, "GET nope", r).Error, "nope") {
			t.Errorf("GET /api/programs/nope = %d %s, want 404 with an error naming it", r.status, r.body)
		}
	})
}

// groupGone reports whether no live process of the process group pgid is left.
// Zombies do not count: they run nothing, and init may collect orphans lazily.
func groupGone(pgid int) bool {
	if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
		return true
	}
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		return false // no /proc (macOS): kill(2) is all there is
	}
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // exited meanwhile
		}
		// After "pid (comm) ": state, ppid, pgrp. comm may contain spaces and ')'.
		f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			return false
		}
	}
	return true
}

func TestActions(t *testing.T) {
	f := newFixture(t, baseConfig)
	first := f.waitFor(t, "sleeper", "running", inState(supervisor.Running)).PID
	if groupGone(first) {
		t.Fatalf("groupGone(%d) = true for the running sleeper; the check below would prove nothing", first)
	}
	var pid int
	steps := []struct {
		name, action string
		status       int
		check        func(t *testing.T, call string, p program)
	}{
		{"stop running", "stop", 200, func(t *testing.T, call string, p program) {
			if p.State != "stopped" || p.PID != nil {
				t.Errorf("%s: state %s pid %v, want stopped with pid null", call, p.State, p.PID)
			}
			if !groupGone(first) {
				t.Errorf("%s: returned while process group %d still exists", call, first)
			}
		}},
		{"stop stopped is a no-op", "stop", 200, func(t *testing.T, call string, p program) {
			if p.State != "stopped" {
				t.Errorf("%s: state %s, want stopped", call, p.State)
			}
		}},
		{"start stopped", "start", 200, func(t *testing.T, call string, p program) {
			if p.State != "running" || p.PID == nil {
				t.Fatalf("%s: state %s pid %v, want running with a pid", call, p.State, p.PID)
			}
			pid = *p.PID
		}},
		{"start running is a no-op", "start", 200, func(t *testing.T, call string, p program) {
			if p.State != "running" || p.PID == nil || *p.PID != pid {
				t.Errorf("%s: state %s pid %v, want still running as pid %d", call, p.State, p.PID, pid)
			}
		}},
		{"restart running", "restart", 200, func(t *testing.T, call string, p program) {
			if p.State != "running" || p.PID == nil || *p.PID == pid {
				t.Errorf("%s: state %s pid %v, want running with a new pid (old %d)", call, p.State, p.PID, pid)
			}
			if p.RestartCount != 1 {
				t.Errorf("%s: restart_count %d, want 1", call, p.RestartCount)
			}
			if !groupGone(pid) {
				t.Errorf("%s: the old process group %d still exists", call, pid)
			}
		}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			call := "POST " + programPath("sleeper", "/", s.action)
			r := f.do(t, "POST", programPath("sleeper", "/", s.action), nil)
			if r.status != s.status {
				t.Fatalf("%s = %d %s, want %d", call, r.status, r.body, s.status)
			}
			s.check(t, call, decode[program](t, call, r))
		})
	}

	errs := []struct {
		name, path string
		status     int
		wantInErr  string
	}{
		{"start a program that cannot start", programPath("missing", "/start"), 409, "does_not_exist.py"},
		{"restart a program that cannot start", programPath("missing", "/restart"), 409, "does_not_exist.py"},
		{"start unknown", programPath("nope", "/start"), 404, "nope"},
		{"stop unknown", programPath("nope", "/stop"), 404, "nope"},
		{"restart unknown", programPath("nope", "/restart"), 404, "nope"},
	}
	for _, c := range errs {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(t, "POST", c.path, nil)
			if r.status != c.status || !strings.Contains(decode[api.Error](t, "POST "+c.path, r).Error, c.wantInErr) {
				t.Errorf("POST %s = %d %s, want %d with an error mentioning %q", c.path, r.status, r.body, c.status, c.wantInErr)
			}
		})
	}
	if st, _ := f.sup.Status("missing"); st.State != supervisor.Error {
		t.Errorf("after a failed start, missing is %s, want error", st.State)
	}
}

func TestRestartClearsBroken(t *testing.T) {
	f := newFixture(t, `
restart: {delay_seconds: 0, max_consecutive_failures: 2}
programs:
  - {name: crashy, script: crashy.py}
`)
	marker := filepath.Join(f.dir, "crash")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f.do(t, "POST", "/api/programs/crashy/restart", nil)
	f.waitFor(t, "crashy", "broken", inState(supervisor.Broken))
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	r := f.do(t, "POST", "/api/programs/crashy/restart", nil)
	p := decode[program](t, "POST /api/programs/crashy/restart", r)
	if r.status != 200 || p.State != "running" || p.ConsecutiveFailures != 0 || p.ExitCode == nil || *p.ExitCode != 3 {
		t.Errorf("POST /api/programs/crashy/restart on a broken program = %d %s, want 200, running, no failures, last exit_code 3", r.status, r.body)
	}
}

func TestActionBody(t *testing.T) {
	f := newFixture(t, baseConfig)
	path := programPath("My App", "/stop")
	big := bytes.Repeat([]byte("x"), 1<<20)
	cases := []struct {
		name   string
		body   io.Reader
		status int
	}{
		{"no body", nil, 200},
		{"small JSON body", strings.NewReader("{}"), 200},
		{"oversized body with length", bytes.NewReader(big), 413},
		// Without a Content-Length the limit is met while reading.
		{"oversized body without length", io.MultiReader(bytes.NewReader(big)), 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(t, "POST", path, c.body)
			if r.status != c.status {
				t.Errorf("POST %s with %s = %d %s, want %d", path, c.name, r.status, r.body, c.status)
			}
			decode[map[string]any](t, "POST "+path, r)
		})
	}
}

func TestRouteErrors(t *testing.T) {
	f := newFixture(t, baseConfig)
	cases := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"DELETE", "/api/programs", 405, "GET, HEAD, POST"},
		{"PATCH", "/api/programs/sleeper", 405, "DELETE, GET, HEAD, PUT"},
		{"GET", "/api/programs/sleeper/start", 405, "POST"},
		{"PUT", "/api/programs/sleeper/stop", 405, "POST"},
		{"POST", "/api/programs/sleeper/logs", 405, "GET, HEAD"},
		{"POST", "/api/events", 405, "GET, HEAD"},
		{"GET", "/api/nothing/here", 404, ""},
		{"GET", "/api/programs/sleeper/bogus", 404, ""},
		{"GET", "/no-such-file.js", 404, ""},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := f.do(t, c.method, c.path, nil)
			if r.status != c.status {
				t.Fatalf("%s %s = %d %s, want %d", c.method, c.path, r.status, r.body, c.status)
			}
			if got := r.header.Get("Allow"); got != c.allow {
				t.Errorf("%s %s: Allow = %q, want %q", c.method, c.path, got, c.allow)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("%s %s: Content-Type = %q, want JSON", c.method, c.path, ct)
			}
			if e := decode[api.Error](t, c.method+" "+c.path, r); e.Error == "" {
				t.Errorf("%s %s: body %s, want {\"error\": ...}", c.method, c.path, r.body)
			}
		})
	}
}

func TestLogPage(t *testing.T) {
	f := newFixture(t, baseConfig)
	path, err := f.sup.LogPath("My App")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for i := 1; i <= 1050; i++ {
		fmt.Fprintf(&buf, "line %d\n", i)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	base := programPath("My App", "/logs")
	cases := []struct {
		query                       string
		page, pages, first, last, n int
	}{
		{"", 1, 6, 851, 1050, 200},
		{"?page=1&lines=100", 1, 11, 951, 1050, 100},
		{"?page=2&lines=100", 2, 11, 851, 950, 100},
		{"?page=11&lines=100", 11, 11, 1, 50, 50},
		{"?page=12&lines=100", 12, 11, 0, 0, 0},
		{"?page=1000000000000&lines=5000", 1000000000000, 1, 0, 0, 0}, // past the end, not absurd
		{"?page=9007199254740992&lines=1", 9007199254740992, 1050, 0, 0, 0},
		{"?lines=5000", 1, 1, 1, 1050, 1050},
	}
	for _, c := range cases {
		t.Run("query "+c.query, func(t *testing.T) {
			r := f.do(t, "GET", base+c.query, nil)
			if r.status != 200 {
				t.Fatalf("GET %s%s = %d %s, want 200", base, c.query, r.status, r.body)
			}
			var p api.LogPage
			json.Unmarshal([]byte(r.body), &p)
			if p.Page != c.page || p.Pages != c.pages || p.FirstLine != c.first || p.LastLine != c.last ||
				p.TotalLines != 1050 || p.SizeBytes != int64(buf.Len()) || len(p.Lines) != c.n || p.Lines == nil {
				t.Fatalf("GET %s%s: page %d/%d lines %d-%d of %d, %d bytes, %d lines; want page %d/%d lines %d-%d of 1050, %d bytes, %d lines",
					base, c.query, p.Page, p.Pages, p.FirstLine, p.LastLine, p.TotalLines, p.SizeBytes, len(p.Lines),
					c.page, c.pages, c.first, c.last, buf.Len(), c.n)
			}
			if c.n > 0 && (p.Lines[0] != fmt.Sprintf("line %d", c.first) || p.Lines[c.n-1] != fmt.Sprintf("line %d", c.last)) {
				t.Errorf("GET %s%s: lines run %q..%q, want line %d..line %d", base, c.query, p.Lines[0], p.Lines[c.n-1], c.first, c.last)
			}
		})
	}
	for _, q := range []string{"?page=0", "?page=-1", "?page=x", "?lines=0", "?lines=5001", "?lines=1.5", "?page=1&lines=abc",
		// Page numbers no log file reaches, some of which overflowed the page arithmetic.
		"?page=9223372036854775807&lines=5000", "?page=9223372036854775807", "?page=2000000000000000&lines=5000",
		"?page=1844674407370956&lines=5000", "?page=9007199254740993&lines=1", "?page=9223372036854775808"} {
		t.Run("bad "+q, func(t *testing.T) {
			r := f.do(t, "GET", base+q, nil)
			if r.status != 400 || decode[api.Error](t, "GET "+base+q, r).Error == "" {
				t.Errorf("GET %s%s = %d %s, want 400 with an error", base, q, r.status, r.body)
			}
		})
	}
	t.Run("unknown program", func(t *testing.T) {
		r := f.do(t, "GET", "/api/programs/nope/logs", nil)
		if r.status != 404 {
			t.Errorf("GET /api/programs/nope/logs = %d %s, want 404", r.status, r.body)
		}
	})
}
