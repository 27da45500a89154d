package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// uploadZip posts a ZIP holding files as a new program to the dashboard at port of the manager in dir, with
// the token it left for local clients if any, retrying while the server is not yet listening or its
// supervisor not yet running, and fails the test unless it answers 201.
func uploadZip(t *testing.T, dir string, port int, name, script string, files map[string]string) {
	t.Helper()
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for path, body := range files {
		w, err := zw.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{"name": name, "script": script, "autostart": "on"} {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", "app.zip")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(zbuf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/api/programs", port)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		req, err := http.NewRequestWithContext(t.Context(), "POST", url, bytes.NewReader(body.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", mw.FormDataContentType())
		if data, err := os.ReadFile(filepath.Join(dir, "process_manager.token")); err == nil {
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(data)))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("POST %s: %v", url, err)
			}
			continue // not listening yet
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && time.Now().Before(deadline) {
			continue // the supervisor is not running yet
		}
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s (upload %q) = %s %s, want 201 Created", url, name, resp.Status, answer)
		}
		return
	}
}

// TestUploadRunsAsUser runs pyvisor as root with `user: nobody` and uploads a program: its venv is made by
// nobody and it runs as nobody, as /proc shows.
func TestUploadRunsAsUser(t *testing.T) {
	nobody, _ := testkit.Nobody(t, "running programs as another user")
	const python = "/usr/bin/python3.11" // root's pyenv interpreter is behind /root, mode 0700
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s is needed (an interpreter nobody may run): %v", python, err)
	}
	port := testkit.FreePort(t)
	dir := writeProject(t, fmt.Sprintf(`
web_ui: {host: 127.0.0.1, port: %d}
user: nobody
uploads: {python: %s}
`, port, python))
	// t.TempDir's own parent is root's and mode 0700: let nobody through to the project.
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	m := startManager(t, dir)
	uploadZip(t, dir, port, "up", "main.py", map[string]string{
		"main.py": "import os, time\nprint('ids', os.getuid(), os.geteuid(), flush=True)\ntime.sleep(3600)\n",
	})
	pid := waitPrograms(t, dir, "up")["up"]

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	wantUID := fmt.Sprintf("Uid:\t%[1]s\t%[1]s\t%[1]s\t%[1]s\n", nobody.Uid)
	if !strings.Contains(string(status), wantUID) {
		t.Errorf("/proc/%d/status of the uploaded program lacks %q:\n%s", pid, wantUID, status)
	}
	venvPython := filepath.Join(dir, "uploaded_programs", "up", ".venv", "bin", "python")
	fi, err := os.Lstat(venvPython)
	if err != nil {
		t.Fatalf("the upload's venv: %v\nstderr:\n%s", err, m.stderr)
	}
	if uid := fmt.Sprint(fi.Sys().(*syscall.Stat_t).Uid); uid != nobody.Uid {
		t.Errorf("%s belongs to uid %s, want nobody's %s (the venv step ran as root?)", venvPython, uid, nobody.Uid)
	}
	log := filepath.Join(dir, "log", "up.log")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		data, _ := os.ReadFile(log)
		if strings.Contains(string(data), fmt.Sprintf("ids %[1]s %[1]s", nobody.Uid)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %q, want the program's ids line showing nobody", log, data)
		}
	}
}

// TestRootManagerRefusesLocalUsers runs pyvisor as root with a program that runs as nobody, on loopback
// without any auth setting: a request from a process of nobody (the program's user, or whoever
// compromised it) to stop that program, or to upload one, is refused, while `pyvisor status` as root gets
// in with the token the manager left beside its config.
func TestRootManagerRefusesLocalUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a manager running as root needs root; run the tests as root to cover it")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("user nobody is needed: %v", err)
	}
	const python = "/usr/bin/python3" // root's pyenv interpreter is behind /root, mode 0700
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s is needed (an interpreter nobody may run): %v", python, err)
	}
	t.Setenv("PYVISOR_URL", "")
	t.Setenv("PYVISOR_TOKEN", "")
	port := testkit.FreePort(t)
	dir := writeProject(t, fmt.Sprintf(`
web_ui: {host: 127.0.0.1, port: %d}
programs:
  - {name: sleep, script: sleeper.py, user: nobody, environment: {PATH: /usr/bin:/bin}}
`, port))
	// t.TempDir's own parent is root's and mode 0700: let nobody through to the project.
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	startManager(t, dir)
	pid := waitPrograms(t, dir, "sleep")["sleep"]

	// A client run as nobody, as the program itself could.
	const clientPy = `import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], data=b"", method="POST")
try:
    print(urllib.request.urlopen(req, timeout=20).status)
except urllib.error.HTTPError as e:
    print(e.code)
`
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	asNobody := func(path string) string {
		cmd := exec.Command(python, "-c", clientPy, fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Dir = "/"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("POST %s as nobody: %v\n%s", path, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, path := range []string{"/api/programs/sleep/stop", "/api/programs"} {
		if got := asNobody(path); got != "401" {
			t.Errorf("POST %s from a process of nobody = %s, want 401", path, got)
		}
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Errorf("the program (PID %d) after nobody's stop: %v; want it still running", pid, err)
	}
	if r := cli("status", "-c", filepath.Join(dir, "process_manager.yaml")); r.code != 0 || !strings.Contains(r.stdout, "sleep") {
		t.Errorf("pyvisor status as root: %v; want exit 0 and the program listed", r)
	}
}
