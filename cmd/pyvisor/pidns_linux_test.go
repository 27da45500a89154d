package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/proc"
	"github.com/pyvisor/pyvisor/internal/testkit"
)

// TestPIDOneOfANamespaceIsNeverSignalled runs pyvisor inside a PID namespace
// whose state file names the namespace's PID 1, with its true start time, as a
// configured program and as one removed from the configuration. Adopting it and
// then stopping it would signal group 1, that is kill(-1): every process of the
// namespace. pyvisor must adopt neither, start the program afresh, and stop
// only that.
func TestPIDOneOfANamespaceIsNeverSignalled(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a PID namespace needs root here")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not found")
	}
	t.Setenv("PYVISOR_URL", "")
	t.Setenv("PYVISOR_TOKEN", "")
	port := testkit.FreePort(t)
	dir := writeProject(t, fmt.Sprintf("web_ui: {host: 127.0.0.1, port: %d}\nprograms:\n  - {name: a, script: sleeper.py}\n", port))
	gate := filepath.Join(dir, "go")
	// The shell is the namespace's PID 1; a sleep beside it stands for the rest
	// of the namespace; pyvisor starts once the test has written the state file.
	script := fmt.Sprintf(`sleep 300 & while [ ! -e %q ]; do sleep 0.05; done; %q; wait`, gate, binary(t))
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script)
	cmd.Dir = dir
	var out testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Skipf("unshare: %v", err)
	}
	var init, sleeper int
	t.Cleanup(func() {
		if init > 0 {
			syscall.Kill(init, syscall.SIGKILL) // the kernel then kills the whole namespace
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for init == 0 || sleeper == 0 {
		if time.Now().After(deadline) {
			t.Skipf("no PID namespace came up (not permitted here?): %s", out.String())
		}
		time.Sleep(20 * time.Millisecond) // /proc gives no notice of a new child
		if init == 0 {
			init = firstChild(cmd.Process.Pid, "")
			continue
		}
		sleeper = firstChild(init, "sleep\x00300\x00")
	}
	id, err := proc.Identify(init)
	if err != nil {
		t.Fatalf("the namespace's init %d: %v", init, err)
	}
	state := fmt.Sprintf(`{"version": 1, "saved_at": "2026-01-01T00:00:00Z", "programs": {
		"a": {"pid": 1, "start_time": %[1]d, "desired": "running"},
		"ghost": {"pid": 1, "start_time": %[1]d, "desired": "running"}}}`, id.StartTime)
	testkit.WriteFile(t, filepath.Join(dir, "process_manager.pids.json"), state)
	testkit.WriteFile(t, gate, "")

	waitAPI(t, port)
	// As root, pyvisor requires a login on loopback too; its token file is
	// written before the API answers.
	useLocalToken(t, dir)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	var p map[string]any
	for deadline = time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		p = apiProgram(t, url, "a")
		if p["state"] == "running" || time.Now().After(deadline) {
			break
		}
	}
	if p["state"] != "running" || p["adopted"] != false || p["pid"] == 1.0 {
		t.Fatalf("program a = %v; want it started afresh, not the namespace's PID 1 adopted; output:\n%s", p, out.String())
	}
	req, err := http.NewRequest("POST", url+"/api/programs/a/stop", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(bearerFromEnv(req))
	if err != nil {
		t.Fatalf("stop a: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("stop a = %d, want 200", resp.StatusCode)
	}
	for what, pid := range map[string]int{"the namespace's init": init, "a process beside it": sleeper} {
		if err := syscall.Kill(pid, 0); err != nil {
			t.Errorf("%s (pid %d) is gone after pyvisor started and stopped a: %v", what, pid, err)
		}
	}
	if resp, err := http.Get(url + "/healthz"); err != nil {
		t.Errorf("pyvisor itself is gone: %v; output:\n%s", err, out.String())
	} else {
		resp.Body.Close()
	}
}

// firstChild returns a child of pid whose command line is cmdline ("" for any),
// or 0 when it has none.
func firstChild(pid int, cmdline string) int {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, f := range strings.Fields(string(data)) {
		child, _ := strconv.Atoi(f)
		if cmdline == "" {
			return child
		}
		if got, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child)); bytes.Equal(got, []byte(cmdline)) {
			return child
		}
	}
	return 0
}
