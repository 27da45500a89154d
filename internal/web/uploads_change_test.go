package web

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/install"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// addUpload uploads main.py (version v1) as name, started automatically, and
// waits until it runs.
func (f *fixture) addUpload(t *testing.T, name string) {
	t.Helper()
	r := f.send(t, "POST", "/api/programs", []field{{"name", name}, {"script", "main.py"}, {"args", "--v1"}, {"autostart", "true"}},
		appZip(t, "", "v1"))
	if r.status != 201 {
		t.Fatalf("POST /api/programs (name %q) = %d %s, want 201", name, r.status, r.body)
	}
	if st := f.settled(t, name); st.State != supervisor.Running {
		t.Fatalf("upload %q: %s (error %q) after the install, want running\nlog:\n%s", name, st.State, st.Error, f.logText(t, name))
	}
}

// stop stops a program through the API.
func (f *fixture) stop(t *testing.T, name string) {
	t.Helper()
	if r := f.do(t, "POST", programPath(name, "/stop"), nil); r.status != 200 {
		t.Fatalf("POST %s = %d %s, want 200", programPath(name, "/stop"), r.status, r.body)
	}
}

// checkStatus checks the status and error message of a response.
func checkStatus(t *testing.T, call string, r response, status int, msg string) {
	t.Helper()
	got := ""
	if r.status >= 400 {
		got = decode[api.Error](t, call, r).Error
	}
	if r.status != status || !strings.Contains(got, msg) {
		t.Errorf("%s = %d %s, want %d with %q", call, r.status, r.body, status, msg)
	}
}

// fileText is the content of a file, or "" if it cannot be read.
func fileText(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// TestUpdateUpload replaces an uploaded program's files: refused while it runs
// and for programs of the config file; a bad ZIP changes nothing; a good one
// replaces the files, reinstalls and starts the new version; omitted fields
// keep their values.
func TestUpdateUpload(t *testing.T) {
	f := newUploadFixture(t, uploadConfig, UploadOptions{})
	f.addUpload(t, "app")
	dir := filepath.Join(f.sup.UploadsDir(), "app")
	v2 := zipOf(t, zipEntry{name: "main2.py", body: mainPy("v2")})

	refused := []struct {
		name, target string
		fields       []field
		zip          []byte
		stopFirst    bool
		status       int
		msg          string
	}{
		{name: "while running", target: "/api/programs/app", zip: v2, fields: []field{{"script", "main2.py"}},
			status: 409, msg: "it is running; stop it first"},
		{name: "program of the config file", target: "/api/programs/sleeper", zip: v2, status: 403, msg: "configuration file"},
		{name: "unknown program", target: "/api/programs/nope", zip: v2, status: 404, msg: "no such program"},
		{name: "not a ZIP", target: "/api/programs/app", zip: []byte("text"), stopFirst: true, status: 400, msg: "not a ZIP"},
		{name: "script missing from the new ZIP", target: "/api/programs/app", zip: v2, status: 400,
			msg: `"main.py": the script is not in the ZIP`},
		{name: "rename", target: "/api/programs/app", zip: v2, fields: []field{{"name", "other"}, {"script", "main2.py"}},
			status: 400, msg: "cannot be renamed"},
		{name: "no file", target: "/api/programs/app", fields: []field{{"script", "main2.py"}}, status: 400, msg: `lacks the field "file"`},
	}
	for _, c := range refused {
		t.Run("refused: "+c.name, func(t *testing.T) {
			if c.stopFirst {
				f.stop(t, "app")
			}
			call := "PUT " + c.target + " (" + c.name + ")"
			checkStatus(t, call, f.send(t, "PUT", c.target, c.fields, c.zip), c.status, c.msg)
			if got := fileText(filepath.Join(dir, "main.py")); got != mainPy("v1") {
				t.Errorf("%s: main.py now holds %q, want the old files untouched", call, got)
			}
			if left := f.leftovers(t, "app"); len(left) > 0 {
				t.Errorf("%s left in %s: %q", call, f.sup.UploadsDir(), left)
			}
		})
	}

	updates := []struct {
		name      string
		fields    []field
		zip       []byte
		wantLog   string
		wantState supervisor.State
		wantEntry config.Program // Script, Args, Enabled
	}{
		{name: "new files, script and args", fields: []field{{"script", "main2.py"}, {"args", "--v2, x"}},
			zip: v2, wantLog: "upload v2 up, args ['--v2', 'x']", wantState: supervisor.Running,
			wantEntry: config.Program{Script: "main2.py", Args: []string{"--v2", "x"}, Enabled: true}},
		{name: "omitted fields keep their values", zip: zipOf(t, zipEntry{name: "main2.py", body: mainPy("v3")}),
			wantLog: "upload v3 up, args ['--v2', 'x']", wantState: supervisor.Running,
			wantEntry: config.Program{Script: "main2.py", Args: []string{"--v2", "x"}, Enabled: true}},
		{name: "autostart off", fields: []field{{"autostart", "false"}, {"args", ""}}, zip: zipOf(t, zipEntry{name: "main2.py", body: mainPy("v4")}),
			wantState: supervisor.Stopped, wantEntry: config.Program{Script: "main2.py", Enabled: false}},
	}
	for _, c := range updates {
		t.Run(c.name, func(t *testing.T) {
			if st, _ := f.sup.Status("app"); st.State == supervisor.Running {
				f.stop(t, "app")
			}
			call := "PUT /api/programs/app (" + c.name + ")"
			r := f.send(t, "PUT", "/api/programs/app", c.fields, c.zip)
			if r.status != 200 {
				t.Fatalf("%s = %d %s, want 200", call, r.status, r.body)
			}
			if p := decode[api.Program](t, call, r); p.State != "installing" || p.Script != filepath.Join(dir, c.wantEntry.Script) {
				t.Errorf("%s: %+v, want installing with script %s", call, p, c.wantEntry.Script)
			}
			st := f.settled(t, "app")
			if st.State != c.wantState {
				t.Fatalf("%s: %s (error %q) after the install, want %s\nlog:\n%s", call, st.State, st.Error, c.wantState, f.logText(t, "app"))
			}
			if c.wantLog != "" {
				f.waitLog(t, "app", c.wantLog)
			}
			if _, err := os.Stat(filepath.Join(dir, "main.py")); !os.IsNotExist(err) {
				t.Errorf("%s: the old main.py is still there (%v)", call, err)
			}
			if _, err := os.Stat(filepath.Join(dir, ".venv", "bin", "python")); err != nil {
				t.Errorf("%s: no venv: %v", call, err)
			}
			e := f.uploadedEntries(t)["app"]
			if e.Script != c.wantEntry.Script || !slices.Equal(e.Args, c.wantEntry.Args) || e.Enabled != c.wantEntry.Enabled || e.Cwd != dir {
				t.Errorf("%s: uploaded_programs.yaml has %+v, want script %s, args %q, enabled %v in %s",
					call, e, c.wantEntry.Script, c.wantEntry.Args, c.wantEntry.Enabled, dir)
			}
			if left := f.leftovers(t, "app"); len(left) > 0 {
				t.Errorf("%s left in %s: %q", call, f.sup.UploadsDir(), left)
			}
		})
	}
}

// TestRemoveUpload removes an uploaded program: refused while it runs and for
// programs of the config file; once stopped, its directory and entry go.
func TestRemoveUpload(t *testing.T) {
	f := newUploadFixture(t, uploadConfig, UploadOptions{})
	f.addUpload(t, "gone app")
	f.addUpload(t, "kept")
	dir := filepath.Join(f.sup.UploadsDir(), "gone_app")
	target := programPath("gone app")
	checkStatus(t, "DELETE "+target+" (running)", f.do(t, "DELETE", target, nil), 409, "it is running; stop it first")
	checkStatus(t, "DELETE /api/programs/sleeper", f.do(t, "DELETE", "/api/programs/sleeper", nil), 403, "configuration file")
	checkStatus(t, "DELETE /api/programs/nope", f.do(t, "DELETE", "/api/programs/nope", nil), 404, "no such program")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("after refused removes: %v", err)
	}

	f.stop(t, "gone app")
	if r := f.do(t, "DELETE", target, nil); r.status != 204 || r.body != "" {
		t.Fatalf("DELETE %s (stopped) = %d %q, want 204 and no body", target, r.status, r.body)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after DELETE %s: its directory: %v, want it gone", target, err)
	}
	if r := f.do(t, "GET", target, nil); r.status != 404 {
		t.Errorf("GET %s after its removal = %d, want 404", target, r.status)
	}
	entries := f.uploadedEntries(t)
	if _, ok := entries["gone app"]; ok || len(entries) != 1 {
		t.Errorf("after DELETE %s: uploaded_programs.yaml lists %v, want only kept", target, slices.Collect(maps.Keys(entries)))
	}
	if left := f.leftovers(t, "kept"); len(left) > 0 {
		t.Errorf("after DELETE %s: left in %s: %q", target, f.sup.UploadsDir(), left)
	}
	if st, err := f.sup.Status("kept"); err != nil || st.State != supervisor.Running {
		t.Errorf("after DELETE %s: kept is %+v, %v; want it running on", target, st, err)
	}
}

// TestChangeWhileInstalling: an installing program cannot be updated, removed
// or uploaded again; a stop abandons the install, after which it can go.
func TestChangeWhileInstalling(t *testing.T) {
	// An "interpreter" that never finishes creating the venv.
	slow := filepath.Join(t.TempDir(), "python")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := newUploadFixture(t, uploadConfig, UploadOptions{})
	f.h = NewHandler(Options{Supervisor: f.sup, Logger: slog.New(slog.DiscardHandler),
		Uploads: UploadOptions{Installer: install.Installer{Python: slow, KillDelay: time.Second}}})
	r := f.send(t, "POST", "/api/programs", []field{{"name", "slow"}, {"script", "main.py"}}, appZip(t, "", "v1"))
	if r.status != 201 {
		t.Fatalf("POST /api/programs (slow install) = %d %s, want 201", r.status, r.body)
	}
	f.waitLog(t, "slow", "creating virtual environment")
	checkStatus(t, "PUT /api/programs/slow (installing)", f.send(t, "PUT", "/api/programs/slow", nil, appZip(t, "", "v2")),
		409, "it is installing")
	checkStatus(t, "DELETE /api/programs/slow (installing)", f.do(t, "DELETE", "/api/programs/slow", nil), 409, "it is installing")
	checkStatus(t, "POST /api/programs (slow again)",
		f.send(t, "POST", "/api/programs", []field{{"name", "slow"}, {"script", "main.py"}}, appZip(t, "", "v1")), 409, "use Update")

	f.stop(t, "slow")
	st := f.settled(t, "slow")
	if st.State != supervisor.Error && st.State != supervisor.Stopped {
		t.Fatalf("after a stop during the install: %s, want error or stopped", st.State)
	}
	if r := f.do(t, "DELETE", "/api/programs/slow", nil); r.status != 204 {
		t.Fatalf("DELETE /api/programs/slow after the stop = %d %s, want 204", r.status, r.body)
	}
	if left := f.leftovers(t); len(left) > 0 {
		t.Errorf("after the remove: left in %s: %q", f.sup.UploadsDir(), left)
	}
}

// TestUploadSurvivesRestart stops the manager and starts a new one on the same
// directory: the uploaded program is listed again and its process adopted.
func TestUploadSurvivesRestart(t *testing.T) {
	f := newUploadFixture(t, uploadConfig, UploadOptions{})
	f.addUpload(t, "durable")
	before, _ := f.sup.Status("durable")
	f.stopRun()

	cfg, err := config.Load(filepath.Join(f.dir, "process_manager.yaml"))
	if err != nil {
		t.Fatalf("config.Load after the manager stopped: %v", err)
	}
	sup := supervisor.New(cfg, supervisor.Options{Logger: slog.New(slog.DiscardHandler), UploadFiles: install.Leftovers{}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		for _, st := range sup.Statuses() {
			if st.PID != 0 {
				syscall.Kill(-st.PID, syscall.SIGKILL)
			}
		}
	})
	<-sup.Ready()
	g := &fixture{dir: f.dir, sup: sup, h: NewHandler(Options{Supervisor: sup, Logger: slog.New(slog.DiscardHandler)})}
	g.waitFor(t, "durable", "running", inState(supervisor.Running))
	r := g.do(t, "GET", "/api/programs/durable", nil)
	p := decode[api.Program](t, "GET /api/programs/durable", r)
	if r.status != 200 || !p.Uploaded || p.State != "running" || p.PID == nil || *p.PID != before.PID {
		t.Errorf("GET /api/programs/durable after a restart = %d %+v, want uploaded and running with the adopted PID %d",
			r.status, p, before.PID)
	}
	// The new manager can change it like the old one.
	g.stop(t, "durable")
	if r := g.do(t, "DELETE", "/api/programs/durable", nil); r.status != 204 {
		t.Errorf("DELETE /api/programs/durable after a restart = %d %s, want 204", r.status, r.body)
	}
}
