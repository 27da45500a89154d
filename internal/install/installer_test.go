package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// needPython skips the test where python3 is missing and returns its path.
func needPython(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	return p
}

// newProgram makes a program directory with main.py and, unless reqs is "", a requirements.txt of reqs and
// the demo wheel. It returns the directory and the pip arguments that keep pip off any index.
func newProgram(t testing.TB, reqs string) (string, []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "My_Program")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.py"), []byte("print('hi')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if reqs == "" {
		return dir, []string{"--no-index"}
	}
	wheels := filepath.Join(dir, "wheels")
	testkit.WriteDemoWheel(t, wheels)
	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte(reqs), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, []string{"--no-index", "--find-links", wheels}
}

// baseWithoutPip returns the interpreter of a fresh venv without pip: a python3 whose pip is missing.
func baseWithoutPip(t testing.TB) string {
	t.Helper()
	base := filepath.Join(t.TempDir(), "nopip")
	if out, err := exec.Command(needPython(t), "-m", "venv", "--without-pip", base).CombinedOutput(); err != nil {
		t.Fatalf("python3 -m venv --without-pip: %v\n%s", err, out)
	}
	return filepath.Join(base, "bin", "python")
}

// pyOutput runs python with args and returns its trimmed combined output and error.
func pyOutput(python string, args ...string) (string, error) {
	out, err := exec.Command(python, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// containsInOrder reports the first of wants that is not found in s after the previous one, or "".
func containsInOrder(s string, wants ...string) string {
	for _, w := range wants {
		i := strings.Index(s, w)
		if i < 0 {
			return w
		}
		s = s[i+len(w):]
	}
	return ""
}

func TestInstall(t *testing.T) {
	t.Parallel()
	python3 := needPython(t)
	demoReq := "./wheels/demo-0.1-py3-none-any.whl\n"
	tests := []struct {
		name     string
		reqs     string                  // requirements.txt; "" for none
		python   func(testing.TB) string // Installer.Python; nil for the default
		prepare  func(t *testing.T, dir string)
		wantOut  []string // in this order
		wantDemo bool     // the venv can import demo
		wantPip  bool     // the venv has a pip of its own
		wantPipT bool     // Timings.Pip is set
	}{
		{
			name: "no requirements",
			wantOut: []string{`===== pyvisor: installing "`, "no requirements.txt: the venv is made without pip",
				"----- [1/2] creating virtual environment: python3 -I -u -m venv --without-pip /",
				"----- [SUCCESS] virtual environment created (", "----- [2/2] no requirements.txt: pip install skipped",
				"===== pyvisor: installation finished successfully in "},
		},
		{
			name: "upload brought a .venv",
			prepare: func(t *testing.T, dir string) {
				if err := os.MkdirAll(filepath.Join(dir, ".venv", "bin"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, ".venv", "bin", "python"), []byte("junk"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			wantOut: []string{"removing the .venv that came with the upload", "[SUCCESS] virtual environment created",
				"installation finished successfully"},
		},
		{
			name: "local wheel, pip from outside the venv",
			reqs: demoReq,
			wantOut: []string{"python3 has pip ", "from outside (--python)",
				"----- [1/2] creating virtual environment: python3 -I -u -m venv --without-pip /",
				"[SUCCESS] virtual environment created",
				"----- [2/2] installing requirements: python3 -I -u -m pip --python /",
				"install -r requirements.txt --no-index --find-links /", "Successfully installed demo-0.1",
				"----- [SUCCESS] requirements installed (", "installation finished successfully"},
			wantDemo: true, wantPipT: true,
		},
		{
			name:   "local wheel, base interpreter without pip",
			reqs:   demoReq,
			python: baseWithoutPip,
			wantOut: []string{"has no pip that can install into another environment (", "No module named",
				"the venv gets its own pip", "-I -u -m venv /", "[SUCCESS] virtual environment created",
				"/.venv/bin/python -I -u -m pip install -r requirements.txt --no-index", "Successfully installed demo-0.1",
				"[SUCCESS] requirements installed", "installation finished successfully"},
			wantDemo: true, wantPip: true, wantPipT: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, pipArgs := newProgram(t, tt.reqs)
			if tt.prepare != nil {
				tt.prepare(t, dir)
			}
			in := Installer{PipArgs: pipArgs}
			if tt.python != nil {
				in.Python = tt.python(t)
			}
			var out bytes.Buffer
			tm, err := in.Install(t.Context(), dir, &out)
			if err != nil {
				t.Fatalf("Install() = %v, want success; output:\n%s", err, out.String())
			}
			if missing := containsInOrder(out.String(), tt.wantOut...); missing != "" {
				t.Errorf("Install() output lacks %q (in order of %q); output:\n%s", missing, tt.wantOut, out.String())
			}
			if tm.Venv <= 0 || (tm.Pip > 0) != tt.wantPipT {
				t.Errorf("Install() timings = %+v, want Venv > 0 and Pip set = %v", tm, tt.wantPipT)
			}
			venvPy := filepath.Join(dir, ".venv", "bin", "python")
			prefix, err := pyOutput(venvPy, "-c", "import sys; print(sys.prefix)")
			if err != nil || prefix != filepath.Join(dir, ".venv") {
				t.Errorf("venv python prints sys.prefix %q (%v), want %q", prefix, err, filepath.Join(dir, ".venv"))
			}
			got, err := pyOutput(venvPy, "-c", "import demo; print(demo.VALUE)")
			if (err == nil && got == testkit.DemoValue) != tt.wantDemo {
				t.Errorf("venv python: import demo = %q, %v; want importable = %v", got, err, tt.wantDemo)
			}
			if _, err := pyOutput(python3, "-I", "-c", "import demo"); err == nil {
				t.Errorf("python3 outside the venv can import demo: the install leaked out of the venv")
			}
			_, err = pyOutput(venvPy, "-c", "import pip")
			if (err == nil) != tt.wantPip {
				t.Errorf("venv python: import pip = %v; want a pip of its own = %v", err, tt.wantPip)
			}
		})
	}
}

func TestInstallFails(t *testing.T) {
	t.Parallel()
	needPython(t)
	tests := []struct {
		name    string
		reqs    string
		python  string
		noDir   bool
		wantErr string
		wantOut []string
	}{
		{
			name: "requirement not found", reqs: "nonexistent-pkg-xyz\n",
			wantErr: "pip install: exit status 1",
			wantOut: []string{"[SUCCESS] virtual environment created", "[2/2] installing requirements",
				"nonexistent-pkg-xyz", "----- [ERROR] pip install failed: exit status 1",
				"===== pyvisor: installation FAILED after ", ": pip install: exit status 1 ====="},
		},
		{
			name: "interpreter missing", python: "/nonexistent/python3",
			wantErr: "create virtual environment: ",
			wantOut: []string{"[1/2] creating virtual environment: /nonexistent/python3",
				"----- [ERROR] creating the virtual environment failed: ", "installation FAILED"},
		},
		{
			name: "interpreter missing, with requirements", python: "/nonexistent/python3", reqs: "demo\n",
			wantErr: "create virtual environment: ",
			wantOut: []string{"/nonexistent/python3 has no pip", "[ERROR] creating the virtual environment failed: ",
				"installation FAILED"},
		},
		{
			name: "directory missing", noDir: true,
			wantErr: "no such file or directory",
			wantOut: []string{"installation FAILED"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, pipArgs := newProgram(t, tt.reqs)
			if tt.noDir {
				dir = filepath.Join(dir, "missing")
			}
			var out bytes.Buffer
			_, err := Installer{Python: tt.python, PipArgs: pipArgs}.Install(t.Context(), dir, &out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), strconv.Quote(dir)) {
				t.Errorf("Install() = %v, want an error naming %q and containing %q", err, dir, tt.wantErr)
			}
			if missing := containsInOrder(out.String(), tt.wantOut...); missing != "" {
				t.Errorf("Install() output lacks %q (in order of %q); output:\n%s", missing, tt.wantOut, out.String())
			}
		})
	}
}

// hangScript is a stand-in for python3 that starts a grandchild in its process group, reports both pids, and
// waits forever. %s is an optional trap that makes both ignore SIGTERM.
const hangScript = `#!/bin/sh
%s
sleep 300 &
echo "pids $$ $!"
wait
`

// cancelOn is an output writer that calls cancel once the output holds "pids ".
type cancelOn struct {
	bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if w.cancel != nil && strings.Contains(w.String(), "pids ") {
		w.cancel()
	}
	return n, err
}

func TestInstallInterrupted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		ignoreTerm bool
		timeout    time.Duration // 0: cancel the context as soon as the script runs
		wantErr    string
		wantIs     error
	}{
		{"timeout, group obeys SIGTERM", false, 3 * time.Second, "create virtual environment: timed out after 3s", context.DeadlineExceeded},
		{"timeout, group ignores SIGTERM", true, 3 * time.Second, "create virtual environment: timed out after 3s", context.DeadlineExceeded},
		{"cancel, group obeys SIGTERM", false, 0, "create virtual environment: canceled", context.Canceled},
		{"cancel, group ignores SIGTERM", true, 0, "create virtual environment: canceled", context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, _ := newProgram(t, "")
			trap := ""
			if tt.ignoreTerm {
				trap = "trap '' TERM"
			}
			fake := filepath.Join(t.TempDir(), "python3")
			if err := os.WriteFile(fake, fmt.Appendf(nil, hangScript, trap), 0o755); err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			out := &cancelOn{}
			if tt.timeout == 0 {
				ctx, out.cancel = context.WithCancel(ctx)
				defer out.cancel()
			}
			in := Installer{Python: fake, Timeout: tt.timeout, KillDelay: 500 * time.Millisecond}
			_, err := in.Install(ctx, dir, out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, tt.wantIs) {
				t.Errorf("Install() = %v, want an error containing %q that wraps %v", err, tt.wantErr, tt.wantIs)
			}
			if missing := containsInOrder(out.String(), "----- [ERROR] creating the virtual environment failed: ",
				"===== pyvisor: installation FAILED after "); missing != "" {
				t.Errorf("Install() output lacks %q; output:\n%s", missing, out.String())
			}
			m := regexp.MustCompile(`pids (\d+) (\d+)`).FindStringSubmatch(out.String())
			if m == nil {
				t.Fatalf("the fake python never reported its pids; output:\n%s", out.String())
			}
			pgid, _ := strconv.Atoi(m[1])
			t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }) // should the test fail
			// Processes that are not our children cannot be waited for: poll. SIGKILL was sent before Install
			// returned, so this only waits for the kernel to finish them off.
			deadline := time.Now().Add(10 * time.Second)
			for live := liveGroupMembers(pgid); len(live) > 0; live = liveGroupMembers(pgid) {
				if time.Now().After(deadline) {
					t.Fatalf("after Install() returned, processes %v of the step's group %d (script %s, grandchild %s) still run",
						live, pgid, m[1], m[2])
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
