package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/statefile"
	"github.com/pyvisor/pyvisor/internal/testkit"
)

// callManager sends a request to the manager in dir on port with the token it
// left for local clients, read afresh each time (a new manager writes a new
// one), retrying while it does not answer, is not running yet (503) or does
// not know the token yet (401), and returns the status and body.
func callManager(t *testing.T, dir string, port int, method, path string) (int, string) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if data, err := os.ReadFile(filepath.Join(dir, "process_manager.token")); err == nil {
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(data)))
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusUnauthorized {
				return resp.StatusCode, string(body)
			}
			err = fmt.Errorf("%s %s", resp.Status, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

// TestFailedInstallRefusedAfterSIGKILL uploads a program whose requirements
// cannot be installed, kills the manager with SIGKILL once the outcome is
// saved, and starts another: the program is still in error with the install's
// reason, and a start is refused with 409 and that reason, by the API and by
// `pyvisor start`.
func TestFailedInstallRefusedAfterSIGKILL(t *testing.T) {
	port := testkit.FreePort(t)
	dir := writeProject(t, fmt.Sprintf("web_ui: {host: 127.0.0.1, port: %d}\npip_args: [--no-index]\nprograms: []\n", port))
	m := startManager(t, dir)
	uploadZip(t, dir, port, "bad", "main.py", map[string]string{
		"main.py": sleeperPy, "requirements.txt": "nosuchpkg-pyvisor-test==1.0\n",
	})
	state := filepath.Join(dir, "process_manager.pids.json")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st, _ := statefile.Load(state)
		if strings.Contains(st.Programs["bad"].InstallFailed, "installation failed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the state file has %+v for the upload; want the install's failure saved\nstderr:\n%s", st.Programs["bad"], m.stderr)
		}
	}
	m.cmd.Process.Kill()
	m.cmd.Wait()

	m = startManager(t, dir)
	// Until the supervisor has begun the program, the server shows it as it was configured.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, body := callManager(t, dir, port, "GET", "/api/programs/bad")
		var p api.Program
		err := json.Unmarshal([]byte(body), &p)
		if err == nil && code == http.StatusOK && p.State == "error" && p.Error != nil && strings.Contains(*p.Error, "installation failed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /api/programs/bad after a SIGKILL and a restart = %d %s; want it in error with the install's failure\nstderr:\n%s", code, body, m.stderr)
		}
	}
	if code, body := callManager(t, dir, port, "POST", "/api/programs/bad/start"); code != http.StatusConflict || !strings.Contains(body, "installation failed") {
		t.Errorf("POST /api/programs/bad/start after a SIGKILL and a restart = %d %s; want 409 with the install's failure", code, body)
	}
	useLocalToken(t, dir)
	var stdout, stderr bytes.Buffer
	if rc := runIn(t, dir, &stdout, &stderr, "start", "bad"); rc == 0 || !strings.Contains(stderr.String(), "installation failed") {
		t.Errorf("pyvisor start bad = exit %d, stdout %q, stderr %q; want a failure that gives the install's", rc, stdout.String(), stderr.String())
	}
	if pids := ourPrograms(t, dir)["bad"]; len(pids) != 0 {
		t.Errorf("the program whose install failed runs as %v", pids)
	}
}
