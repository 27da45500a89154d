package supervisor

import (
	"context"
	"fmt"
	"io"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/logfile"
	"github.com/pyvisor/pyvisor/internal/statefile"
)

// InstallFunc prepares an uploaded program's files (virtual environment,
// requirements), writing its progress to out, which is the program's log. It must
// return when ctx ends. The supervisor shows the program as installing meanwhile.
type InstallFunc func(ctx context.Context, out io.Writer) error

// beginInstall runs install in the background; finishInstall gets its result.
func (r *runner) beginInstall(install InstallFunc) {
	out, err := logfile.OpenAppend(r.logPath)
	if err != nil {
		r.setError(fmt.Sprintf("install: open log: %v", err))
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan error, 1)
	r.installDone, r.cancelInstall = done, cancel
	r.st.State = Installing
	r.st.Error = ""
	r.installFailed = ""
	r.st.LastExit = nil
	r.log.Info("installing")
	r.emitEvent(EventInstalling, "")
	r.save(false)
	go func() {
		defer out.Close()
		done <- install(ctx, out)
	}()
}

func (r *runner) finishInstall(err error) {
	r.cancelInstall()
	r.installDone, r.cancelInstall = nil, nil
	if err == nil {
		r.emitEvent(EventInstalled, "")
	}
	switch {
	case err != nil && r.ctx.Err() != nil:
		// The manager is going down; the next one reports the interrupted install.
		return
	case err != nil:
		r.failInstall(fmt.Sprintf("installation failed: %v", err))
	case r.spec.Enabled:
		r.log.Info("installed; starting")
		r.desired = statefile.DesiredRunning
		r.start()
	default:
		r.log.Info("installed")
		r.setState(Stopped)
	}
}

// failInstall puts the program in error with msg and refuses to start it
// until an update installs it again: without its requirements it would only
// fail, and its start would hide why. The state file keeps the refusal for
// the next manager (statefile.Entry.InstallFailed).
func (r *runner) failInstall(msg string) {
	r.installFailed = msg + "; update or upload the program again to install it"
	r.setError(r.installFailed)
}

// refuseStart says whether a start must be refused because the program's
// install failed; it then keeps the install's error shown.
func (r *runner) refuseStart() bool {
	if r.installFailed == "" {
		return false
	}
	r.setError(r.installFailed)
	return true
}

// setSpec replaces the program's definition (an update of an upload, a
// reload) and, unless cfg is nil, the configuration that resolves it.
func (r *runner) setSpec(spec config.Program, cfg *config.Config) {
	if cfg != nil {
		r.cfg = cfg
	}
	r.spec = &spec
	cmd := r.cfg.Command(r.spec, r.environ)
	r.st.Enabled, r.st.Script, r.st.Cwd, r.st.Args, r.st.Group = spec.Enabled, cmd.Script, cmd.Dir, spec.Args, spec.Group
	r.published.Store(r.spec)
}
