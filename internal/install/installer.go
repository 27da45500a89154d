package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Defaults of Installer, used where a field is zero.
const (
	DefaultPython    = "python3"
	DefaultTimeout   = 5 * time.Minute
	DefaultKillDelay = 5 * time.Second
)

// Installer creates a program's virtual environment and installs the program's requirements into it. The zero
// value is ready to use; an Installer is a plain value, safe to use from several goroutines at once.
type Installer struct {
	// Python is the interpreter that creates each venv (and, when it has pip 22.3 or later, runs pip against
	// it); "" means DefaultPython ("python3", looked up in PATH).
	Python string
	// PipArgs are extra arguments for `pip install`, after `-r requirements.txt`, such as
	// {"--no-index", "--find-links", "/srv/wheels"} for machines without an index.
	PipArgs []string
	// Timeout bounds the whole install; 0 means DefaultTimeout (5 minutes).
	Timeout time.Duration
	// KillDelay is how long a step that is being stopped gets, after SIGTERM to its process group, before
	// SIGKILL; 0 means DefaultKillDelay (5 seconds).
	KillDelay time.Duration
	// User is the account the steps run as, which is given the program's directory first; nil means the
	// manager's own account and environment. Python must then be an interpreter that user may run.
	User *User
}

// Timings is how long each step of an install took.
type Timings struct {
	// Venv is the time spent creating the virtual environment.
	Venv time.Duration
	// Pip is the time spent installing requirements, including the check of the base interpreter's pip; 0
	// when there is no requirements.txt.
	Pip time.Duration
}

func (in Installer) python() string {
	if in.Python == "" {
		return DefaultPython
	}
	return in.Python
}

func (in Installer) timeout() time.Duration {
	if in.Timeout <= 0 {
		return DefaultTimeout
	}
	return in.Timeout
}

func (in Installer) killDelay() time.Duration {
	if in.KillDelay <= 0 {
		return DefaultKillDelay
	}
	return in.KillDelay
}

// Install creates dir/.venv (replacing one the upload may have brought) and, if dir/requirements.txt exists,
// installs it with pip in dir, adding PipArgs. Each program gets its own site-packages; to save the seconds
// that ensurepip costs, the venv is made without pip when it needs none (no requirements.txt) or when the
// base interpreter's pip can install into it from outside (`python3 -m pip --python <venv>/bin/python`, pip
// 22.3 and later); otherwise the venv gets its own pip, which then installs the requirements. So a venv holds
// pip only in that fallback: a program that runs pip itself at run time must list pip in its requirements.
// Interpreters run with -I (isolated mode) so that files of the upload cannot shadow venv or pip. With a
// User that has a Credential, dir and everything in it are given to that user first, and every step runs as
// that user (with its HOME, USER and LOGNAME), so the venv is the user's too.
//
// Every step's output (stdout and stderr of the child, unbuffered) streams to out as it is produced, between
// banners that say what runs, the command, [SUCCESS] or [ERROR] with the reason, and a final summary line.
// out is never written to concurrently; nil means io.Discard.
//
// Each step runs in its own process group. When the Timeout passes or ctx ends, the whole group gets SIGTERM,
// and SIGKILL after KillDelay; the error then says "timed out after 5m0s" (and wraps
// context.DeadlineExceeded) or "canceled" (and wraps the cause of ctx). Errors name dir and the step. The
// Timings are filled in for the steps that ran, also on error.
func (in Installer) Install(ctx context.Context, dir string, out io.Writer) (Timings, error) {
	start := time.Now()
	if out == nil {
		out = io.Discard
	}
	w := &outputWriter{out}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Timings{}, fmt.Errorf("install %q: %w", dir, err)
	}
	fmt.Fprintf(w, "===== pyvisor: installing %q =====\n", abs)
	limit := in.timeout()
	ctx, cancel := context.WithTimeoutCause(ctx, limit,
		&interruptedError{msg: "timed out after " + limit.String(), cause: context.DeadlineExceeded})
	defer cancel()

	t, err := in.install(ctx, abs, w)
	took := seconds(time.Since(start))
	if err != nil {
		fmt.Fprintf(w, "===== pyvisor: installation FAILED after %s: %v =====\n", took, err)
		return t, fmt.Errorf("install %q: %w", abs, err)
	}
	fmt.Fprintf(w, "===== pyvisor: installation finished successfully in %s =====\n", took)
	return t, nil
}

// install runs the steps of Install for the absolute dir, writing banners and output to w.
func (in Installer) install(ctx context.Context, dir string, w io.Writer) (Timings, error) {
	var t Timings
	if fi, err := os.Stat(dir); err != nil {
		return t, err
	} else if !fi.IsDir() {
		return t, errors.New("not a directory")
	}
	hasReqs, err := isRegularFile(filepath.Join(dir, "requirements.txt"))
	if err != nil {
		return t, err
	}
	venv := filepath.Join(dir, ".venv")
	if _, err := os.Lstat(venv); err == nil {
		fmt.Fprintf(w, "----- removing the .venv that came with the upload\n")
		if err := os.RemoveAll(venv); err != nil {
			return t, fmt.Errorf("remove the old venv: %w", err)
		}
	}
	if cred := in.credential(); cred != nil {
		fmt.Fprintf(w, "----- the install runs as user %q (uid %d, gid %d), who is given the program's files\n",
			in.User.Name, cred.Uid, cred.Gid)
		if err := chownTree(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return t, fmt.Errorf("give the files to user %q: %w", in.User.Name, err)
		}
	}

	python := in.python()
	var basePip, why string
	if hasReqs {
		start := time.Now()
		basePip, why, err = in.probePip(ctx, dir, python)
		t.Pip += time.Since(start)
		if err != nil {
			return t, fmt.Errorf("check the pip of %s: %w", python, err)
		}
	}
	s := planSteps(python, venv, hasReqs, basePip, in.PipArgs)
	switch s.method {
	case noPip:
		fmt.Fprintf(w, "----- no requirements.txt: the venv is made without pip, which it will not need\n")
	case outsidePip:
		fmt.Fprintf(w, "----- %s has pip %s, which installs into the venv from outside (--python): "+
			"the venv needs no pip of its own\n", python, basePip)
	case venvPip:
		fmt.Fprintf(w, "----- %s has no pip that can install into another environment (%s): "+
			"the venv gets its own pip, which takes a few seconds\n", python, why)
	}

	return in.runSteps(ctx, dir, s, t, w)
}

// runSteps runs the planned steps in dir, adding their times to t, with banners around their output.
func (in Installer) runSteps(ctx context.Context, dir string, s steps, t Timings, w io.Writer) (Timings, error) {
	fmt.Fprintf(w, "----- [1/2] creating virtual environment: %s\n", quoteArgs(s.venv))
	start := time.Now()
	err := in.run(ctx, dir, s.venv, w, w)
	t.Venv = time.Since(start)
	if err != nil {
		fmt.Fprintf(w, "----- [ERROR] creating the virtual environment failed: %v\n", err)
		return t, fmt.Errorf("create virtual environment: %w", err)
	}
	fmt.Fprintf(w, "----- [SUCCESS] virtual environment created (%s)\n", seconds(t.Venv))

	if s.pip == nil {
		fmt.Fprintf(w, "----- [2/2] no requirements.txt: pip install skipped\n")
		return t, nil
	}
	fmt.Fprintf(w, "----- [2/2] installing requirements: %s\n", quoteArgs(s.pip))
	start = time.Now()
	err = in.run(ctx, dir, s.pip, w, w)
	t.Pip += time.Since(start)
	if err != nil {
		fmt.Fprintf(w, "----- [ERROR] pip install failed: %v\n", err)
		return t, fmt.Errorf("pip install: %w", err)
	}
	fmt.Fprintf(w, "----- [SUCCESS] requirements installed (%s)\n", seconds(t.Pip))
	return t, nil
}

// probePip asks python for the version of its own pip. An interpreter without pip is no error: the version
// is then "" and why says what python reported. The error is only for an interruption by ctx.
func (in Installer) probePip(ctx context.Context, dir, python string) (version, why string, err error) {
	var stdout, stderr bytes.Buffer
	argv := pythonCmd(python, "-c", "import pip; print(pip.__version__)")
	err = in.run(ctx, dir, argv, &stdout, &stderr)
	var ie *interruptedError
	switch {
	case errors.As(err, &ie):
		return "", "", err
	case err != nil:
		return "", lastLine(stderr.String(), err.Error()), nil
	}
	version = strings.TrimSpace(stdout.String())
	if !pipHasPythonOption(version) {
		return "", fmt.Sprintf("pip %q is older than %d.%d", version, minOutsideMajor, minOutsideMinor), nil
	}
	return version, "", nil
}

// lastLine returns the last non-empty line of s (where Python puts the exception), or def if there is none.
func lastLine(s, def string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return def
}

// isRegularFile reports whether name is a regular file; a missing file is false without error.
func isRegularFile(name string) (bool, error) {
	fi, err := os.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	return fi.Mode().IsRegular(), nil
}

// seconds formats d for a banner, to a tenth of a second.
func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
