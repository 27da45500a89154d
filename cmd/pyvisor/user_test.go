package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// uploadZip posts a ZIP holding files as a new program to the dashboard at port, retrying while the server
// is not yet listening or its supervisor not yet running, and fails the test unless it answers 201.
func uploadZip(t *testing.T, port int, name, script string, files map[string]string) {
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
		resp, err := http.Post(url, mw.FormDataContentType(), bytes.NewReader(body.Bytes()))
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
	if os.Geteuid() != 0 {
		t.Skip("running programs as another user needs root; run the tests as root to cover it")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("user nobody is needed: %v", err)
	}
	const python = "/usr/bin/python3.11" // root's pyenv interpreter is behind /root, mode 0700
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s is needed (an interpreter nobody may run): %v", python, err)
	}
	port := freePort(t)
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
	uploadZip(t, port, "up", "main.py", map[string]string{
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
