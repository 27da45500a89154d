package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// TestExitOnFullDiskTellsTheTruth runs the manager with its configuration
// directory on a small tmpfs, fills it, stops a program (answered 503) and
// ends the manager: it must not claim to have saved the state, must name the
// file and the error, and exits 1.
func TestExitOnFullDiskTellsTheTruth(t *testing.T) {
	dir := testkit.MountTmpfs(t, "256k")
	port := testkit.FreePort(t)
	files := map[string]string{
		"quiet.py":             "import time\ntime.sleep(3600)\n",
		"process_manager.yaml": fmt.Sprintf("web_ui: {host: 127.0.0.1, port: %d}\nprograms:\n  - {name: one, script: quiet.py}\n", port),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { killPrograms(t, dir) })
	m := startManager(t, dir)
	waitPrograms(t, dir, "one")
	waitAPI(t, port)
	useLocalToken(t, dir)

	testkit.FillDisk(t, dir)
	req, err := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/api/programs/one/stop", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(bearerFromEnv(req))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "could not be saved") {
		t.Errorf("POST stop on a full disk = %d %s; want 503 saying the state could not be saved", resp.StatusCode, body)
	}

	m.cmd.Process.Signal(syscall.SIGTERM)
	err = m.cmd.Wait()
	stderr := m.stderr.String()
	statePath := filepath.Join(dir, "process_manager.pids.json")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("manager exit after SIGTERM with the last save failed: %v; want exit status 1", err)
	}
	if strings.Contains(stderr, "state saved;") || !strings.Contains(stderr, statePath) ||
		!strings.Contains(stderr, "no space left") {
		t.Errorf("manager's log at exit does not tell that saving %s failed, or claims it succeeded:\n%s", statePath, stderr)
	}
}
