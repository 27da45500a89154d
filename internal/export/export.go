// Package export turns a loaded configuration into the files of engines built for many machines: systemd
// units (Systemd: a service per program, a template for the copies of an entry with instances, a timer
// beside a job's service) and Nomad jobs (Nomad: one service job with a group per program, and a periodic
// batch job per scheduled program). It owns the mapping from each key of process_manager.yaml to what
// each engine has for it (targets, in mapping_test.go), and reports as Warnings everything that cannot be
// carried over exactly, so nothing is dropped without a word. The functions are pure: a *config.Config
// in, bytes and values out; writing files is the caller's job.
package export

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
)

// defaultPath is the PATH systemd gives services, and the one the export gives a program whose venv puts
// its bin directory first: the unit or task cannot extend the host's PATH the way pyvisor extends its own.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"

// logDirName is the directory, beside the config, where pyvisor keeps the programs' logs (the
// supervisor's LogDirName; this package may not import the supervisor).
const logDirName = "log"

// Warning is something the export could not carry over exactly. It is printed on stderr and written as a
// comment in the output.
type Warning struct {
	// Program is the program it concerns; "" for the configuration as a whole.
	Program string
	// Key is the setting it concerns, as config.Keys writes it without the "programs[]." of a program's
	// own keys: "restart.broken_cooldown_seconds", "environment", "web_ui".
	Key string
	// Message says what happens instead, and what to do about it.
	Message string
}

// String is the warning as one line: `program "web": restart.broken_cooldown_seconds: ...`.
func (w Warning) String() string {
	if w.Program == "" {
		return w.Key + ": " + w.Message
	}
	return fmt.Sprintf("program %q: %s: %s", w.Program, w.Key, w.Message)
}

// program is a program resolved for export: its command and the environment either engine sets.
type program struct {
	p   *config.Program
	cmd config.Command
	// env are the variables the unit or task sets itself, in order: the program's environment, then
	// PYTHONUNBUFFERED and the venv's variables as pyvisor adds them.
	env []config.EnvVar
	// envFiles are the absolute paths of the global and the program's env files, in that order.
	envFiles []string
	// warnings are those both engines share.
	warnings []Warning
}

// resolve prepares p for export. The environment is built here rather than by Command, whose result
// mixes in pyvisor's own environment and the contents of env files, which stay in their files.
func resolve(cfg *config.Config, p *config.Program) program {
	r := program{p: p, cmd: cfg.Command(p, nil)}
	warn := func(key, format string, args ...any) {
		r.warnings = append(r.warnings, Warning{Program: p.Name, Key: key, Message: fmt.Sprintf(format, args...)})
	}
	inFiles := map[string]bool{}
	if cfg.EnvFile != "" {
		r.envFiles = append(r.envFiles, cfg.Abs(cfg.EnvFile))
	}
	if p.EnvFile != "" {
		r.envFiles = append(r.envFiles, cfg.Abs(p.EnvFile))
	}
	for _, e := range slices.Concat(cfg.EnvFileVars, p.EnvFileVars) {
		inFiles[e.Key] = true
	}
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, e := range p.Environment {
		set(e.Key, e.Value)
		if inFiles[e.Key] {
			warn("environment", "%s is set both here and in an env file; pyvisor lets environment win, "+
				"systemd and Nomad let the env file win: keep it in one place", e.Key)
		}
	}
	if len(p.Environment) > 0 {
		warn("environment", "the values are written into the output as they are: "+
			"if any is a secret, move it to an env file or the engine's secret store")
	}
	_, inEnv := vars["PYTHONUNBUFFERED"]
	if !inEnv && !inFiles["PYTHONUNBUFFERED"] {
		set("PYTHONUNBUFFERED", "1")
	}
	if r.cmd.Venv != "" {
		path := defaultPath
		if v, ok := vars["PATH"]; ok {
			path = v
		} else if inFiles["PATH"] {
			warn("env_file", "PATH is set in an env file: pyvisor puts the venv's bin directory first, "+
				"the engines cannot; set PATH in environment instead")
		}
		if path != "" {
			path = ":" + path
		}
		set("PATH", filepath.Join(r.cmd.Venv, "bin")+path)
		set("VIRTUAL_ENV", r.cmd.Venv)
		if _, ok := vars["PYTHONHOME"]; ok {
			delete(vars, "PYTHONHOME")
			order = slices.DeleteFunc(order, func(k string) bool { return k == "PYTHONHOME" })
		}
	}
	for _, k := range order {
		r.env = append(r.env, config.EnvVar{Key: k, Value: vars[k]})
	}
	if len(r.envFiles) > 0 {
		warn("env_file", "%s must exist at the same path on every host", strings.Join(r.envFiles, " and "))
	}
	if p.Uploaded {
		warn("uploaded", "uploaded from the dashboard: its directory %s (with its venv) must exist on every host; "+
			"copy it there, or package it, before starting it", r.cmd.Dir)
	}
	if p.Group != "" {
		warn("group", "%q is a heading in pyvisor's dashboard; the engines have no such thing: not carried over", p.Group)
	}
	if p.Restart.BackoffFactor > 1 && p.Restart.MaxDelay == 0 && p.Restart.Delay > 0 {
		warn("restart.max_delay_seconds", "back-off without a cap has no equivalent: the delay stays at %s", p.Restart.Delay)
	}
	return r
}

// failureWindow is the span within which a program that pyvisor would mark broken has started
// MaxConsecutiveFailures times: every run shorter than failure_reset_seconds, plus the restart delays
// between them. An engine that counts starts within a window (systemd's start limit, Nomad's restart
// interval) trips for every such program with this window; it also trips for a program that runs longer
// than failure_reset_seconds but fails often, which pyvisor would forgive.
func failureWindow(r config.RestartPolicy) time.Duration {
	n := r.MaxConsecutiveFailures
	w := time.Duration(n) * r.FailureReset
	for k := 1; k < n; k++ {
		w += backoffDelay(r, k)
	}
	return w
}

// backoffDelay is pyvisor's delay before restart number failures (1-based), as the supervisor computes it.
func backoffDelay(r config.RestartPolicy, failures int) time.Duration {
	d := r.Delay
	for i := 1; i < failures; i++ {
		d = time.Duration(float64(d) * max(r.BackoffFactor, 1))
		if r.MaxDelay > 0 && d > r.MaxDelay {
			return r.MaxDelay
		}
	}
	return d
}

// pyvisorOwn are settings that configure pyvisor itself (its dashboard, its sampling, its uploads) and have
// no place in another engine's files; set ones are reported as not carried over.
func pyvisorOwn(cfg *config.Config) []Warning {
	def := config.Default(cfg.Dir)
	var out []Warning
	add := func(key string, differs bool, what string) {
		if differs {
			out = append(out, Warning{Key: key, Message: what + " is pyvisor's own: not carried over"})
		}
	}
	add("web_ui", !equalWebUI(cfg.WebUI, def.WebUI), "the dashboard")
	add("sampling", cfg.Sampling != def.Sampling, "CPU and memory sampling for the dashboard")
	add("uploads", !equalUploads(cfg.Uploads, def.Uploads), "uploading programs from the dashboard")
	add("pip_args", len(cfg.Uploads.PipArgs) > 0, "installing uploads with pip")
	add("notify", len(cfg.Notify) > 0, "notifications (webhooks and commands) when a program breaks")
	return out
}

func equalWebUI(a, b config.WebUI) bool {
	return a.Host == b.Host && a.Port == b.Port && a.Title == b.Title && len(a.AllowedHosts) == 0 &&
		a.Auth.Mode == b.Auth.Mode && a.Auth.SessionLifetime == b.Auth.SessionLifetime && len(a.Auth.Tokens) == 0 &&
		a.TLSCert == b.TLSCert
}

func equalUploads(a, b config.Uploads) bool {
	return a.MaxZipBytes == b.MaxZipBytes && a.MaxFiles == b.MaxFiles && a.MaxUnpackedBytes == b.MaxUnpackedBytes &&
		a.Python == b.Python && a.InstallTimeout == b.InstallTimeout
}

// comments renders a header and the warnings as lines of comments starting with mark.
func comments(mark, header string, warnings []Warning) string {
	var b strings.Builder
	for line := range strings.Lines(header) {
		fmt.Fprintf(&b, "%s %s", mark, line)
	}
	if len(warnings) > 0 {
		fmt.Fprintf(&b, "%s\n%s Not carried over exactly:\n", mark, mark)
		for _, w := range warnings {
			fmt.Fprintf(&b, "%s   - %s\n", mark, oneLine(w.String()))
		}
	}
	return b.String()
}

// oneLine keeps a comment on its line whatever a name or path contains.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
