package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/supervisor"
	"github.com/pyvisor/pyvisor/internal/testkit"
	"github.com/pyvisor/pyvisor/internal/web"
)

// programPIDs returns the names and PIDs the manager's API lists, in order.
func programPIDs(t *testing.T, port int) (names []string, pids map[string]int) {
	t.Helper()
	pids = map[string]int{}
	for _, p := range apiPrograms(t, fmt.Sprintf("http://127.0.0.1:%d", port)) {
		name, _ := p["name"].(string)
		pid, _ := p["pid"].(float64)
		names = append(names, name)
		pids[name] = int(pid)
	}
	return names, pids
}

// postReload sends POST /api/reload and returns the status and body.
func postReload(t *testing.T, port int) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", fmt.Sprintf("http://127.0.0.1:%d/api/reload", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(bearerFromEnv(req))
	if err != nil {
		t.Fatalf("POST /api/reload: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitStderr waits until the manager's stderr holds text, after byte from.
func (m *managerProcess) waitStderr(t *testing.T, from int, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(m.stderr.String()[from:], text) {
		if time.Now().After(deadline) {
			t.Fatalf("manager's stderr lacks %q after 20 s:\n%s", text, m.stderr)
		}
		time.Sleep(20 * time.Millisecond) // a pipe into a buffer gives no notice
	}
}

// TestReloadE2E edits the configuration of a manager running as its own
// process and reloads it by SIGHUP and through the API.
func TestReloadE2E(t *testing.T) {
	port := testkit.FreePort(t)
	head := fmt.Sprintf("web_ui: {host: 127.0.0.1, port: %d}\nprograms:\n", port)
	dir := writeProject(t, head+"  - {name: one, script: sleeper.py}\n")
	write := func(yaml string) {
		if err := os.WriteFile(filepath.Join(dir, "process_manager.yaml"), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := startManager(t, dir)
	first := waitPrograms(t, dir, "one")
	waitAPI(t, port)
	useLocalToken(t, dir)

	t.Run("SIGHUP adds a program", func(t *testing.T) {
		write(head + "  - {name: one, script: sleeper.py}\n  - {name: two, script: sleeper.py}\n")
		m.cmd.Process.Signal(syscall.SIGHUP)
		got := waitPrograms(t, dir, "one", "two")
		if got["one"] != first["one"] {
			t.Errorf("one after the reload: pid %d, want %d undisturbed", got["one"], first["one"])
		}
		if names, pids := programPIDs(t, port); !slices.Equal(names, []string{"one", "two"}) || pids["two"] != got["two"] {
			t.Errorf("the API after SIGHUP lists %q %v; want one and two (pid %d)", names, pids, got["two"])
		}
	})

	t.Run("SIGHUP with an invalid file changes nothing", func(t *testing.T) {
		before := waitPrograms(t, dir, "one", "two")
		from := len(m.stderr.String())
		write(head + "  - {name: one, script: sleeper.py, scirpt: x}\n")
		m.cmd.Process.Signal(syscall.SIGHUP)
		m.waitStderr(t, from, `did you mean \"script\"`)
		if err := m.cmd.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("manager after SIGHUP with an invalid file: %v; want it running", err)
		}
		if names, pids := programPIDs(t, port); !slices.Equal(names, []string{"one", "two"}) ||
			pids["one"] != before["one"] || pids["two"] != before["two"] {
			t.Errorf("the API after a refused reload lists %q %v; want %v unchanged", names, pids, before)
		}
	})

	t.Run("POST /api/reload", func(t *testing.T) {
		status, body := postReload(t, port)
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, "programs[0].scirpt: unknown key") {
			t.Errorf("POST /api/reload with an invalid file = %d %s; want 422 with the loader's report", status, body)
		}
		write(head + "  - {name: one, script: sleeper.py}\n")
		status, body = postReload(t, port)
		if status != http.StatusOK || !strings.Contains(body, `"removed":["two"]`) {
			t.Errorf("POST /api/reload removing two = %d %s; want 200 naming two removed", status, body)
		}
		if got := waitPrograms(t, dir, "one"); got["one"] != first["one"] {
			t.Errorf("one after the reloads: pid %d, want %d undisturbed", got["one"], first["one"])
		}
	})

	t.Run("an emptied file removes nothing", func(t *testing.T) {
		write("")
		status, body := postReload(t, port)
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, "process_manager.yaml") ||
			!strings.Contains(body, "programs: []") {
			t.Errorf("POST /api/reload with an empty file = %d %s; want 422 naming the file and programs: []", status, body)
		}
		if names, pids := programPIDs(t, port); !slices.Equal(names, []string{"one"}) || pids["one"] != first["one"] {
			t.Errorf("the API after reloading an empty file lists %q %v; want one (pid %d) undisturbed", names, pids, first["one"])
		}
	})
}

// waitAPI waits until the manager's API answers.
func waitAPI(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the manager's API does not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // nothing tells when the port opens
	}
}

// TestReloadFromDefaults starts a supervisor on the built-in defaults, as the
// manager does without a file, and reloads: first without a file (refused),
// then with one (applied), then with it gone again (refused, not the
// defaults).
func TestReloadFromDefaults(t *testing.T) {
	dir := writeProject(t, "")
	if err := os.Remove(filepath.Join(dir, defaultConfigName)); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	sup := supervisor.New(config.Default(dir), supervisor.Options{Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	r := &reloader{sup: sup, log: slog.New(slog.DiscardHandler)}

	if res, err := r.reload(t.Context()); !errors.Is(err, web.ErrInvalidConfig) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reload without a file = %+v, %v; want an invalid configuration saying the file does not exist", res, err)
	}
	if err := os.WriteFile(defaultConfigName, []byte("programs:\n  - {name: a, script: sleeper.py}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := r.reload(t.Context())
	if err != nil || !slices.Equal(res.Added, []string{"a"}) {
		t.Fatalf("reload once the file exists = %+v, %v; want a added", res, err)
	}
	pid := waitPrograms(t, dir, "a")["a"]
	if err := os.Remove(defaultConfigName); err != nil {
		t.Fatal(err)
	}
	if res, err := r.reload(t.Context()); !errors.Is(err, web.ErrInvalidConfig) {
		t.Errorf("reload after the file was deleted = %+v, %v; want an invalid configuration", res, err)
	}
	if st, err := sup.Status("a"); err != nil || st.PID != pid {
		t.Errorf("Status(a) after a refused reload = %+v, %v; want pid %d running", st, err, pid)
	}
}
