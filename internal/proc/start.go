package proc

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Spec says how to start a program.
type Spec struct {
	// Path is the executable. A path without a slash is looked up in the PATH of Env (not the manager's
	// PATH, unless Env is nil); a relative path with a slash is relative to Dir.
	Path string
	// Args are the arguments after argv[0], which is Path as given.
	Args []string
	// Dir is the working directory; empty means the manager's.
	Dir string
	// Env is the complete environment, passed as is; nil means the manager's environment.
	Env []string
	// Output becomes the child's stdout and stderr, typically a log file opened in append mode. The child
	// gets its own copy of the descriptor; the caller closes its copy after Start returns. Nil means
	// /dev/null.
	Output *os.File
	// Credential is the user, primary group and supplementary groups the program runs as; nil means the
	// manager's own. Switching needs root. The child changes to Dir and executes Path as that user, so
	// both must be reachable by it; Output is opened by the caller and handed over, so the user needs no
	// right to the log file.
	Credential *syscall.Credential
	// Cgroup is the cgroup the program starts in, so that a stop reaches every process it starts; nil means
	// none: a stop then finds the processes that left its group by their TagVar.
	Cgroup *Cgroup
	// Watcher notices the program's exit together with those of other programs; nil means a goroutine of
	// its own waits, as it does when the Watcher cannot take the program.
	Watcher *Watcher
}

// Start starts spec's program as the leader of a new session and process group, so that signals meant for
// the manager's terminal never reach it and the manager can stop it together with everything it started.
// Stdin is /dev/null. The program does not depend on the manager: it keeps running if the manager exits, and
// a later manager can Adopt it. The environment gets TagVar (see there) unless spec.Env sets it. Errors name
// the path.
func Start(spec Spec) (*Process, error) {
	path, err := resolvePath(spec.Path, spec.Env)
	if err != nil {
		return nil, fmt.Errorf("start %q: %w", spec.Path, err)
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("start %q: %w", spec.Path, err)
	}
	defer devNull.Close()
	out := spec.Output
	if out == nil {
		out = devNull
	}
	env, tag, err := withTag(spec.Env)
	if err != nil {
		return nil, fmt.Errorf("start %q: %w", spec.Path, err)
	}
	attr := &os.ProcAttr{
		Dir:   spec.Dir,
		Env:   env,
		Files: []*os.File{devNull, out, out},
		// Setsid and never Pdeathsig: the program must survive the manager (and the thread that forked it).
		// A Credential sets the groups too (NoSetGroups false): the user gets its own supplementary groups,
		// not root's.
		Sys: &syscall.SysProcAttr{Setsid: true, Credential: spec.Credential},
	}
	cgroupDir, err := intoCgroup(attr.Sys, spec.Cgroup)
	if err != nil {
		return nil, fmt.Errorf("start %q: %w", spec.Path, err)
	}
	argv := append([]string{spec.Path}, spec.Args...)
	osp, err := os.StartProcess(path, argv, attr)
	if cgroupDir != nil {
		cgroupDir.Close()
	}
	if err != nil {
		if spec.Credential != nil && errors.Is(err, syscall.EACCES) {
			// The child reports a refused chdir and a refused exec alike, as "fork/exec PATH: permission
			// denied": say which of the two it probably was.
			if why := deniedAs(spec.Credential, spec.Dir, path); why != "" {
				return nil, fmt.Errorf("start %q: %w (%s)", spec.Path, err, why)
			}
		}
		return nil, fmt.Errorf("start %q: %w", spec.Path, err)
	}
	// The child cannot vanish before we reap it, so this fails only if the OS cannot be asked (no /proc).
	id, err := Identify(osp.Pid)
	if err != nil {
		_ = osp.Kill()
		_, _ = osp.Wait()
		return nil, fmt.Errorf("start %q: %w", spec.Path, err)
	}
	p := newProcess(id, false)
	p.cgroup, p.tag = spec.Cgroup, tag
	watchChild(spec.Watcher, p, osp)
	return p, nil
}

// withTag returns env (the manager's environment if nil) with TagVar set to a new random value, unless env
// sets it already, and the tag in force.
func withTag(env []string) ([]string, string, error) {
	if env == nil {
		env = os.Environ()
	}
	if tag, ok := lookupEnv(env, TagVar); ok && tag != "" {
		return env, tag, nil
	}
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, "", fmt.Errorf("make a run tag: %w", err)
	}
	tag := hex.EncodeToString(b[:])
	return append(env[:len(env):len(env)], TagVar+"="+tag), tag, nil
}

// resolvePath finds the executable to run for file, looking names without a slash up in env's PATH.
func resolvePath(file string, env []string) (string, error) {
	if file == "" {
		return "", errors.New("empty executable path")
	}
	if strings.Contains(file, "/") {
		return file, nil // os.StartProcess reports a missing or non-executable file
	}
	pathList, ok := lookupEnv(env, "PATH")
	if !ok {
		return "", fmt.Errorf("look up in PATH: PATH is not set: %w", exec.ErrNotFound)
	}
	for _, dir := range filepath.SplitList(pathList) {
		// Relative entries (including "" meaning ".") would be resolved against a directory the user did not
		// name here; like os/exec's ErrDot, refuse them rather than run something unexpected.
		if !filepath.IsAbs(dir) {
			continue
		}
		candidate := filepath.Join(dir, file)
		if isExecutable(candidate) {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("look up in PATH %q: %w", pathList, exec.ErrNotFound)
}

// lookupEnv returns the value of key in env, or in the manager's environment if env is nil. As with execve,
// env may repeat a key; the last occurrence wins, as in os/exec.
func lookupEnv(env []string, key string) (string, bool) {
	if env == nil {
		return os.LookupEnv(key)
	}
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v, true
		}
	}
	return "", false
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// childExit converts the result of reaping a child into an ExitStatus.
func childExit(st *os.ProcessState, err error) ExitStatus {
	if err != nil || st == nil {
		return ExitStatus{}
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ExitStatus{Known: true, Code: -1, Signal: ws.Signal()}
	}
	return ExitStatus{Known: true, Code: st.ExitCode()}
}

// waitChild reaps the child osp, blocking an OS thread until it exits, and finishes p. It is the whole
// watcher where pidfds are unavailable, and the last step where they are.
func waitChild(p *Process, osp *os.Process) {
	p.finish(childExit(osp.Wait()))
}

// pollAdopted finishes p once the adopted leader is gone or a zombie. Without a pidfd nothing tells us that a
// process which is not our child exited: waitpid works only for children, and kqueue's EVFILT_PROC on macOS
// cannot be waited on through the Go netpoller, so it would cost a thread per program. A check per second is
// a single cheap lookup and bounds the delay.
func pollAdopted(p *Process) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if cur, zombie, err := probe(p.id.PID); err != nil || cur != p.id || zombie {
			p.finish(ExitStatus{})
			return
		}
		<-tick.C
	}
}
