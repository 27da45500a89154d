package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/install"
	"github.com/pyvisor/pyvisor/internal/supervisor"
	"github.com/pyvisor/pyvisor/internal/testkit"
)

// secretValue is set in the environment of a program; no response may contain it.
const secretValue = "s3cr3t-VALUE-4f2a9c"

// markupName is a program name that would run script if shown as HTML.
const markupName = "<img src=x onerror=alert(1)>"

// scripts are the Python programs of the tests, written into each test's directory.
var scripts = map[string]string{
	"sleeper.py": `import time
print("sleeper up", flush=True)
while True:
    time.sleep(3600)
`,
	// Crashes while the file "crash" exists in its directory, else runs on.
	"crashy.py": `import os, sys, time
if os.path.exists("crash"):
    print("Traceback (most recent call last):\nRuntimeError: told to crash", flush=True)
    sys.exit(3)
print("crashy up", flush=True)
while True:
    time.sleep(3600)
`,
}

// baseConfig has a running program with a secret in its environment, names
// that need escaping, and programs that never run.
const baseConfig = `
web_ui:
  title: "Test <b>board</b>"
sampling:
  interval_seconds: 0.2
restart:
  delay_seconds: 0.1
programs:
  - name: sleeper
    script: sleeper.py
    args: ["--flag", "two words"]
    environment:
      - SECRET_TOKEN=` + secretValue + `
    env_file: secret.env
  - name: "My App"
    script: sleeper.py
    enabled: false
  - name: "Ünïcødé✓"
    script: sleeper.py
    enabled: false
  - name: "` + markupName + `"
    script: sleeper.py
    enabled: false
  - name: missing
    script: does_not_exist.py
    enabled: false
`

// fixture is a supervisor running a config in a temporary directory, and the
// handler under test.
type fixture struct {
	dir string
	sup *supervisor.Supervisor
	h   http.Handler
	// stopRun ends the supervisor's Run (as a manager that shuts down does),
	// leaving its programs running; cleanup calls it too.
	stopRun func()
}

// newFixture writes the scripts and yaml into a new directory, runs a
// supervisor on it and builds the handler. Cleanup ends the supervisor and
// kills the process groups of the programs it left running.
func newFixture(t testing.TB, yaml string) *fixture {
	t.Helper()
	return newFixtureIn(t, t.TempDir(), yaml)
}

// newFixtureIn is newFixture in the directory dir, which exists.
func newFixtureIn(t testing.TB, dir, yaml string) *fixture {
	t.Helper()
	files := map[string]string{
		"process_manager.yaml": yaml,
		"secret.env":           "FILE_SECRET=" + secretValue + "\n",
	}
	for name, src := range scripts {
		files[name] = src
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(filepath.Join(dir, "process_manager.yaml"))
	if err != nil {
		t.Fatalf("config.Load:\n%s\n%v", yaml, err)
	}
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	sup := supervisor.New(cfg, supervisor.Options{Logger: logger, UploadFiles: install.Leftovers{}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	stopRun := sync.OnceFunc(func() {
		cancel()
		<-done
	})
	t.Cleanup(func() {
		stopRun()
		// The supervisor leaves its programs running on purpose; the test must not.
		for _, st := range sup.Statuses() {
			if st.PID != 0 {
				syscall.Kill(-st.PID, syscall.SIGKILL)
			}
		}
	})
	h := NewHandler(Options{Supervisor: sup, Title: cfg.WebUI.Title,
		AllowedHosts: []string{"dash.example.com", "*.lan.example", "other.example:8080"}, Logger: logger})
	return &fixture{dir: dir, sup: sup, h: h, stopRun: stopRun}
}

// waitFor waits until the program's status satisfies cond.
func (f *fixture) waitFor(t testing.TB, name, what string, cond func(supervisor.Status) bool) supervisor.Status {
	t.Helper()
	return testkit.WaitStatus(t, f.sup, name, what, cond)
}

// waitLog waits until the program's log file contains text.
func (f *fixture) waitLog(t testing.TB, name, text string) {
	t.Helper()
	path, err := f.sup.LogPath(name)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log of %q lacks %q after 20 s:\n%s", name, text, data)
		}
		time.Sleep(20 * time.Millisecond) // a log file gives no notice of a write
	}
}

func inState(s supervisor.State) func(supervisor.Status) bool {
	return func(st supervisor.Status) bool { return st.State == s }
}

// response is what a request got back.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request to the handler directly, from an allowed host.
func (f *fixture) do(t testing.TB, method, target string, body io.Reader, hdr ...string) response {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, target, body)
	req.Host = "localhost:10000"
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Result().Header, body: rec.Body.String()}
}

// decode decodes a JSON body into v, failing the test on a body that is not.
func decode[T any](t testing.TB, call string, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("%s: body is not the JSON wanted (%v): %s", call, err, r.body)
	}
	return v
}

// program is PROGRAM as a client decodes it.
type program struct {
	Name                string    `json:"name"`
	State               string    `json:"state"`
	PID                 *int      `json:"pid"`
	RestartCount        int       `json:"restart_count"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	ExitCode            *int      `json:"exit_code"`
	ExitSignal          *string   `json:"exit_signal"`
	CPUHistory          []float64 `json:"cpu_history"`
	Args                []string  `json:"args"`
	Error               *string   `json:"error"`
}

type programList struct {
	Title    string    `json:"title"`
	Programs []program `json:"programs"`
}

// programPath is the API path of a program, its name escaped as a client must.
func programPath(name string, rest ...string) string {
	return "/api/programs/" + url.PathEscape(name) + strings.Join(rest, "")
}
