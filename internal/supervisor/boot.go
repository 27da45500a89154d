package supervisor

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/proc"
	"github.com/pyvisor/pyvisor/internal/statefile"
)

// boot says how a program's goroutine begins: what the manager's start found
// (adopt, start, wait), or an install for a new upload.
type boot struct {
	adopted     *proc.Process     // a running process re-adopted from an earlier manager
	startedAt   time.Time         // when adopted started, as saved; zero if unknown
	run         string            // adopted's run value and command digest, as saved
	command     string            //
	restart     bool              // adopted runs an older definition: restart it
	desired     statefile.Desired // what the user last asked for
	start       bool              // start a new process now
	install     InstallFunc       // install first (a new upload)
	interrupted bool              // an install was under way when the last manager went down
	// installFailed is why the last install failed, as saved: starts are refused (see failInstall).
	installFailed string
}

// deployment is the identity of this configuration: a random id kept in the
// state file, with the absolute path of the file it was made for, and given to
// every program in its environment. A process is adopted only if it carries it.
type deployment struct {
	id   string
	path string
}

// randomID returns 128 random bits in hex.
func randomID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather)
	return hex.EncodeToString(b[:])
}

// identify returns the deployment of the state file at s.statePath and the
// saved state to boot from. A file without an identity (a first start, or one
// written by an older version) gets a new one; its entries are then legacy:
// checked against the older tags. A file found at another path than the one it
// was made for is a copy (or a moved configuration): it gets a new identity and
// its PIDs are forgotten, since they name the processes of the original. The
// identity is saved before any program starts, so that none carries one that
// was never saved.
func (s *Supervisor) identify(saved statefile.State) (dep deployment, st statefile.State, legacy bool) {
	abs, err := filepath.Abs(s.statePath)
	if err != nil {
		abs = s.statePath
	}
	if saved.Deployment != "" && saved.Path == abs {
		return deployment{id: saved.Deployment, path: abs}, saved, false
	}
	dep = deployment{id: randomID(), path: abs}
	st = statefile.State{Deployment: dep.id, Path: abs, Programs: map[string]statefile.Entry{}}
	for name, e := range saved.Programs {
		if saved.Deployment != "" {
			if e.PID != 0 {
				s.log.Warn("the state file was made for another path (a copy, or a moved configuration): the process it names is left alone, neither adopted nor stopped",
					"program", name, "pid", e.PID, "made_for", saved.Path, "path", abs)
			}
			// What the user asked for and how its install went stay: they are
			// about the files, which moved with the configuration.
			e = statefile.Entry{Desired: e.Desired, Installing: e.Installing, InstallFailed: e.InstallFailed}
		}
		st.Programs[name] = e
	}
	if err := statefile.Save(s.statePath, st); err != nil {
		s.log.Error("save the deployment identity", "err", err)
	}
	return dep, st, saved.Deployment == ""
}

// commandDigest is a digest of what a program is started with: interpreter,
// script, arguments, working directory, user, and the environment variables
// the configuration sets. The rest of the environment is the manager's own,
// which changes with each start under systemd (INVOCATION_ID) and is not part
// of the program's definition.
func commandDigest(cmd config.Command) string {
	set := map[string]bool{}
	for _, k := range cmd.EnvKeys {
		set[k] = true
	}
	var env []string
	for _, kv := range cmd.Env {
		if k, _, _ := strings.Cut(kv, "="); set[k] {
			env = append(env, kv)
		}
	}
	var user *config.User
	if cmd.User != nil {
		user = &config.User{UID: cmd.User.UID, GID: cmd.User.GID, Groups: cmd.User.Groups}
	}
	data, _ := json.Marshal(struct {
		Argv []string
		Dir  string
		Env  []string
		User *config.User
	}{commandArgv(cmd), cmd.Dir, env, user})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// commandArgv is the command line a process of cmd is started with.
func commandArgv(cmd config.Command) []string {
	return append([]string{cmd.Python, cmd.Script}, cmd.Args...)
}

// expectedUID is the user a program's processes run as.
func expectedUID(cmd config.Command) int {
	if cmd.User != nil {
		return int(cmd.User.UID)
	}
	return os.Getuid()
}

// refusal says why the process t cannot be the program name's process started
// with the run value run, or "" if it can. A legacy state file predates the
// deployment identity; its processes carry the older tags only.
func (s *Supervisor) refusal(t proc.Tagged, name, run string, uid int, legacy bool) string {
	switch {
	case !t.Leader:
		return "it does not lead its own session and process group"
	case uid >= 0 && t.UID != uid:
		return fmt.Sprintf("it runs as uid %d, not %d", t.UID, uid)
	case t.Env[envProgram] != name:
		return "it is not tagged as this program"
	case legacy:
		if t.Env[envStateFile] != s.statePath {
			return "it is not tagged with this state file"
		}
	case t.Env[envDeployment] != s.dep.id:
		return "it does not carry this configuration's identity"
	case t.Env[envRun] != run:
		return "it does not carry the run value saved for it"
	}
	return ""
}

// describe returns the process id if it passes refusal, logging why not.
func (s *Supervisor) describe(p string, id proc.Identity, run string, uid int, legacy bool) (proc.Tagged, bool) {
	t, err := proc.Describe(id, "PYVISOR_")
	if err != nil {
		if !errors.Is(err, proc.ErrNotRunning) {
			s.log.Warn("the saved process cannot be checked; not adopted", "program", p, "pid", id.PID, "err", err)
		}
		return t, false
	}
	if why := s.refusal(t, p, run, uid, legacy); why != "" {
		s.log.Warn("the process the state file names is not this program's; not adopted, not signalled", "program", p, "pid", id.PID, "why", why)
		return t, false
	}
	return t, true
}

// findStarted looks for the process of a start whose PID was never saved (the
// manager was killed right after it started it): the session leader that
// carries the run value saved before the start and the command line started.
// New-session children of the program inherit the run value too, but started
// after it: the earliest is the program.
func (s *Supervisor) findStarted(tagged []proc.Tagged, name string, e statefile.Entry, cmd config.Command) (proc.Identity, bool) {
	var found []proc.Tagged
	for _, t := range tagged {
		if s.refusal(t, name, e.Run, expectedUID(cmd), false) == "" && runsCommand(t.Argv, cmd) {
			found = append(found, t)
		}
	}
	if len(found) == 0 {
		return proc.Identity{}, false
	}
	first := slices.MinFunc(found, func(a, b proc.Tagged) int { return cmp.Compare(a.StartTime, b.StartTime) })
	return first.Identity, true
}

// runsCommand reports whether a process's command line argv is cmd's. The
// interpreter may be a wrapper (a pyenv shim) that execs another path, so the
// command line must end with the script and its arguments.
func runsCommand(argv []string, cmd config.Command) bool {
	tail := commandArgv(cmd)[1:]
	return len(argv) > len(tail) && slices.Equal(argv[len(argv)-len(tail):], tail)
}

// plan decides, for each of programs, whether to adopt a running process, start
// a new one or wait, from the saved state: the process it names, if it is
// alive, leads its session, runs as the program's user and carries the
// deployment's identity and its run value; else, if the manager went down
// between saving a run value and saving the PID, the process started with it.
func (s *Supervisor) plan(saved statefile.State, programs []*program, legacy bool) map[string]boot {
	var tagged []proc.Tagged // read once, when a program needs it
	scanned := false
	boots := map[string]boot{}
	for _, p := range programs {
		e, known := saved.Programs[p.name]
		b := boot{desired: statefile.DesiredRunning}
		if known {
			b.desired = e.Desired
		}
		if e.Installing {
			// The last manager went down during this program's install; whatever is
			// on disk may be half done, so it is not started.
			boots[p.name] = boot{desired: b.desired, interrupted: true}
			continue
		}
		if e.InstallFailed != "" {
			// Its install failed under an earlier manager, and it was neither
			// updated nor uploaded again since: it has no process to adopt.
			boots[p.name] = boot{desired: b.desired, installFailed: e.InstallFailed}
			continue
		}
		// Resolved only when a process is to be checked against it: on a
		// first start nothing is, and resolving means building the whole
		// environment of each program.
		var cmd config.Command
		resolved := false
		command := func() config.Command {
			if !resolved {
				cmd, resolved = p.cfg.Command(p.spec, p.environ), true
			}
			return cmd
		}
		var id proc.Identity
		ok := false
		switch {
		case e.PID != 0 && e.StartTime != 0:
			id = proc.Identity{PID: e.PID, StartTime: e.StartTime}
			_, ok = s.describe(p.name, id, e.Run, expectedUID(command()), legacy)
		case e.PID != 0:
			p.log.Warn("saved PID has no start time; not adopted on its PID alone", "pid", e.PID)
		case e.Run != "" && !legacy:
			if !scanned {
				var err error
				if tagged, err = proc.FindTagged(envRun, "PYVISOR_"); err != nil {
					s.log.Warn("look for programs started but not saved", "err", err)
				}
				scanned = true
			}
			id, ok = s.findStarted(tagged, p.name, e, command())
		}
		if !ok {
			// Nothing saved names a process (a lost state file): the program's
			// cgroup, which only pyvisor can put processes in, may hold it.
			id, ok = s.cgroupLeader(p.name, command)
		}
		if ok {
			pr, err := s.watcher.Adopt(id)
			switch {
			case err == nil:
				b.adopted, b.run, b.command = pr, e.Run, e.Command
				if id.PID == e.PID {
					b.startedAt = e.StartedAt
				}
				// A legacy entry has no digest: what it was started with is unknown.
				b.restart = e.Command != "" && e.Command != commandDigest(command())
			case !errors.Is(err, proc.ErrNotRunning):
				p.log.Warn("adopt", "pid", id.PID, "err", err)
			}
		}
		// A job waits for its due time (initJob): due times missed while down are not caught up.
		b.start = b.adopted == nil && p.spec.Enabled && b.desired == statefile.DesiredRunning && p.spec.Schedule == ""
		boots[p.name] = b
	}
	return boots
}

// stopRemoved stops the processes of programs that were removed from the
// configuration while no manager ran, after the identity checks of adoption
// (their user is no longer known), with SIGTERM and the default stop timeout.
// Run waits for the stops, as for the runners; a shutdown meanwhile does not cut
// them short, or the process would be left half stopped and unmanaged.
func (s *Supervisor) stopRemoved(ctx context.Context, saved statefile.State, legacy bool) {
	for name, e := range saved.Programs {
		if _, ok := s.byName[name]; ok || e.PID == 0 || e.StartTime == 0 {
			continue
		}
		id := proc.Identity{PID: e.PID, StartTime: e.StartTime}
		if _, ok := s.describe(name, id, e.Run, -1, legacy); !ok {
			continue
		}
		pr, err := s.watcher.Adopt(id)
		if err != nil {
			continue
		}
		s.log.Warn("program removed from the configuration while the manager was down: stopping its process", "program", name, "pid", e.PID)
		s.wg.Go(func() {
			if err := pr.Stop(context.WithoutCancel(ctx), syscall.SIGTERM, removedStopTimeout); err != nil {
				s.log.Warn("stop a removed program", "program", name, "pid", e.PID, "err", err)
			}
		})
	}
}

// removedStopTimeout is the stop timeout for a program no longer configured:
// the default of stop_timeout_seconds.
const removedStopTimeout = 10 * time.Second
