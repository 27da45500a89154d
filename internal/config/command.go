package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Command is a program resolved against its configuration: everything needed to start it.
type Command struct {
	// Python is the interpreter: the absolute "<venv>/bin/python" when a venv is set (the program's, else
	// the global one), else "python3" to be found on PATH.
	Python string
	// Venv is the absolute venv directory, or "".
	Venv string
	// Script is the absolute path of the script.
	Script string
	// Dir is the absolute working directory: the program's cwd, else the global cwd, else the config
	// file's directory.
	Dir string
	// Args follow the script on the command line.
	Args []string
	// Env is the child's full environment as KEY=VALUE, sorted by key, each key once.
	Env []string
	// EnvKeys are the sorted keys the configuration itself set (env files, environment and the Python
	// defaults), for display; their values may be secrets and are never displayed.
	EnvKeys []string
	// User is the account to run as: the program's user, else the global one; nil means pyvisor's own.
	// Start the program with User.Credential().
	User *User
}

// Command resolves p against c. It reads nothing: env files were read by Load. environ is the manager's
// environment, the base that env files, then the program's environment, override, in that order. Then,
// as a venv's activate script would: PYTHONUNBUFFERED=1 unless already set (so logs arrive as they are
// written), and with a venv VIRTUAL_ENV, its bin directory first on PATH, and no PYTHONHOME. With a user,
// HOME, USER and LOGNAME are that user's unless an env file or the environment sets them, as systemd's
// User= does: the manager's own values (root's) would send the program to a home it cannot use.
func (c *Config) Command(p *Program, environ []string) Command {
	cmd := Command{Python: "python3", Args: slices.Clone(p.Args), User: p.User}
	if cmd.User == nil {
		cmd.User = c.User
	}
	if venv := firstSet(p.Venv, c.Venv); venv != "" {
		cmd.Venv = c.resolve(c.Dir, venv)
		cmd.Python = filepath.Join(cmd.Venv, "bin", "python")
	}
	cmd.Dir = filepath.Clean(c.Dir)
	if cwd := firstSet(p.Cwd, c.Cwd); cwd != "" {
		cmd.Dir = c.resolve(c.Dir, cwd)
	}
	// Without "~": Load refuses a script that starts with it, and one given
	// otherwise (an upload's) is a path inside its directory.
	cmd.Script = resolvePath("", cmd.Dir, p.Script)
	cmd.Env, cmd.EnvKeys = c.environment(p, environ, cmd.Venv, cmd.User)
	return cmd
}

// environment merges the layers of a program's environment; see Command.
//
// The manager's own entries are passed on as the strings they are, and only
// what the configuration sets is built: a program's environment is resolved
// on each start, and a hundred programs starting at once each building anew
// every variable of the manager's (through a map of them all) made most of
// what a start-up allocated, leaving its long-lived objects scattered over
// more of the heap than they fill.
func (c *Config) environment(p *Program, environ []string, venv string, u *User) (env, keys []string) {
	b := envBuilder{env: make([]string, 0, len(environ)+len(c.EnvFileVars)+len(p.EnvFileVars)+len(p.Environment)+3)}
	for _, kv := range environ {
		// Entries without a name cannot be passed on reliably.
		if i := strings.IndexByte(kv, '='); i > 0 {
			b.env = append(b.env, kv)
		}
	}
	// Of equal keys the later wins, as in os/exec: sorted stably, it is the
	// last of its run.
	slices.SortStableFunc(b.env, func(x, y string) int { return strings.Compare(envKey(x), envKey(y)) })
	kept := b.env[:0]
	for i, kv := range b.env {
		if i+1 < len(b.env) && envKey(b.env[i+1]) == envKey(kv) {
			continue
		}
		kept = append(kept, kv)
	}
	clear(b.env[len(kept):])
	b.env = kept
	for _, layer := range [][]EnvVar{c.EnvFileVars, p.EnvFileVars, p.Environment} {
		for _, e := range layer {
			b.set(e.Key, e.Value)
		}
	}
	if _, ok := b.lookup("PYTHONUNBUFFERED"); !ok {
		b.set("PYTHONUNBUFFERED", "1")
	}
	if u != nil {
		for _, kv := range [...]struct{ k, v string }{{"HOME", u.Home}, {"LOGNAME", u.Name}, {"USER", u.Name}} {
			if !slices.Contains(b.keys, kv.k) {
				b.set(kv.k, kv.v)
			}
		}
	}
	if venv != "" {
		bin := filepath.Join(venv, "bin")
		// An empty PATH element means the current directory, so an empty PATH is not extended.
		if path, _ := b.lookup("PATH"); path != "" {
			bin += string(os.PathListSeparator) + path
		}
		b.set("PATH", bin)
		b.set("VIRTUAL_ENV", venv)
		b.unset("PYTHONHOME")
	}
	slices.Sort(b.keys)
	return b.env, slices.Compact(b.keys)
}

// envBuilder is an environment being built: env sorted by key, each key once,
// and the keys the configuration set, in the order set (with repeats).
type envBuilder struct {
	env, keys []string
}

// envKey is the name of the KEY=VALUE entry kv.
func envKey(kv string) string {
	k, _, _ := strings.Cut(kv, "=")
	return k
}

func (b *envBuilder) find(k string) (int, bool) {
	return slices.BinarySearchFunc(b.env, k, func(kv, k string) int { return strings.Compare(envKey(kv), k) })
}

func (b *envBuilder) lookup(k string) (string, bool) {
	i, ok := b.find(k)
	if !ok {
		return "", false
	}
	return b.env[i][len(k)+1:], true
}

func (b *envBuilder) set(k, v string) {
	kv := k + "=" + v
	if i, ok := b.find(k); ok {
		b.env[i] = kv
	} else {
		b.env = slices.Insert(b.env, i, kv)
	}
	b.keys = append(b.keys, k)
}

func (b *envBuilder) unset(k string) {
	if i, ok := b.find(k); ok {
		b.env = slices.Delete(b.env, i, i+1)
	}
	b.keys = slices.DeleteFunc(b.keys, func(s string) bool { return s == k })
}

// Check reports what would keep the command from starting: a user that pyvisor may not switch to (it is
// not root), a missing or non-executable venv interpreter, a missing script, a missing working directory
// or one that is not a directory. Each problem names the absolute path looked for; errors.Is sees
// fs.ErrNotExist or syscall.ENOTDIR. The paths are checked as pyvisor's own user: whether the program's
// user may use them shows when it starts (an exec error, or Python's own message in the log).
func (c Command) Check() error { return c.check(os.Geteuid()) }

// check is Check for a manager running with effective uid euid.
func (c Command) check(euid int) error {
	var errs []error
	if err := c.User.check(euid); err != nil {
		errs = append(errs, err)
	}
	if c.Venv != "" {
		switch info, err := os.Stat(c.Python); {
		case err != nil:
			errs = append(errs, fmt.Errorf("venv interpreter %s: %w", c.Python, unwrapPath(err)))
		case info.IsDir() || info.Mode().Perm()&0o111 == 0:
			errs = append(errs, fmt.Errorf("venv interpreter %s: not an executable file (mode %v)", c.Python, info.Mode()))
		}
	}
	switch info, err := os.Stat(c.Dir); {
	case err != nil:
		errs = append(errs, fmt.Errorf("working directory %s: %w", c.Dir, unwrapPath(err)))
	case !info.IsDir():
		errs = append(errs, fmt.Errorf("working directory %s: %w", c.Dir, syscall.ENOTDIR))
	}
	// A directory is a valid script too: python runs its __main__.py.
	if _, err := os.Stat(c.Script); err != nil {
		errs = append(errs, fmt.Errorf("script %s: %w", c.Script, unwrapPath(err)))
	}
	return errors.Join(errs...)
}

// unwrapPath drops the *fs.PathError layer, whose message would repeat the path.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// resolve makes path absolute: a leading "~" becomes c.Home, and a relative path is joined to base.
func (c *Config) resolve(base, path string) string { return resolvePath(c.Home, base, path) }

// resolvePath makes path absolute: a leading "~" becomes home unless home is "", and a relative path is
// joined to base.
func resolvePath(home, base, path string) string {
	if home != "" && (path == "~" || strings.HasPrefix(path, "~/")) {
		path = home + path[1:]
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(base, path)
	}
	return filepath.Clean(path)
}

// firstSet returns the first non-empty string: a program's setting overrides the global one.
func firstSet(override, global string) string {
	if override != "" {
		return override
	}
	return global
}

// Abs resolves a path setting as written in the configuration (venv, cwd, env_file) the way Command does:
// a leading "~" becomes Home, and a relative path is taken from the config file's directory.
func (c *Config) Abs(path string) string { return c.resolve(c.Dir, path) }
