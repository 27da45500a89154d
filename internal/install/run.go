package install

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// interruptedError is how a step ends when the install's context ends first: its message says why ("timed
// out after 5m0s", "canceled"), and it unwraps to context.DeadlineExceeded or the cancellation's cause.
type interruptedError struct {
	msg   string
	cause error
}

func (e *interruptedError) Error() string { return e.msg }
func (e *interruptedError) Unwrap() error { return e.cause }

// outputWriter hides the concrete type of the caller's writer from os/exec. Even for an *os.File, the child
// then writes into a pipe, which matters when a step is stopped: Wait waits (up to KillDelay) until every
// process holding the pipe has exited or closed it, so the group gets its grace period before SIGKILL. Being a
// pointer, the same value as Stdout and Stderr is comparable, so exec uses one pipe and one copying goroutine,
// and the caller's writer is never called concurrently.
type outputWriter struct{ w io.Writer }

func (o *outputWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

// run runs argv in dir as the leader of a new process group and waits for it. When ctx ends first, the whole
// group gets SIGTERM, and SIGKILL once the leader has not exited within the kill delay; the error is then an
// *interruptedError. Whatever the outcome, no process of the group outlives run: what an install step leaves
// behind would run unsupervised.
func (in Installer) run(ctx context.Context, dir string, argv []string, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	// Later entries win in os/exec, so these override the manager's own values.
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1", "PIP_NO_INPUT=1", "PIP_DISABLE_PIP_VERSION_CHECK=1")
	cmd.Env = append(cmd.Env, in.userEnv()...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Setpgid, not Setsid: the step stays in the manager's session (no controlling terminal matters here)
	// and never Pdeathsig, which fires when the forking thread ends rather than the manager. The
	// manager, as root, may still signal the group of a step that runs as another user.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: in.credential()}
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = in.killDelay()
	err := cmd.Run()
	if cmd.Process != nil {
		// While any member of the group lives, the kernel keeps its number from being reused. Once the group
		// is empty this fails with ESRCH, unless the number went, in the instant since Run returned, to a new
		// process that made itself a group leader: pids are handed out cyclically, so that takes a full
		// wrap-around of the pid space.
		_ = signalGroup(cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil && ctx.Err() != nil {
		return interruption(ctx)
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		// The leader succeeded but something it started kept the output open; that something is killed above.
		return nil
	}
	return in.explainDenied(err, dir, argv)
}

// signalGroup sends sig to the process group pgid; a group that no longer exists is not an error.
func signalGroup(pgid int, sig syscall.Signal) error {
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// interruption returns the error for a step stopped because ctx, which has ended, ended: the cause that
// Install gave its timeout, or "canceled".
func interruption(ctx context.Context) error {
	cause := context.Cause(ctx)
	var ie *interruptedError
	if errors.As(cause, &ie) {
		return ie
	}
	msg := "canceled"
	if !errors.Is(cause, context.Canceled) {
		msg += ": " + cause.Error()
	}
	return &interruptedError{msg: msg, cause: cause}
}
