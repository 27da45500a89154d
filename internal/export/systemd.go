package export

import (
	"fmt"
	"hash/fnv"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/pyvisor/pyvisor/internal/config"
)

// SystemdOptions says how to name the units and what the hosts run.
type SystemdOptions struct {
	// Prefix starts every unit name, so the units are easy to list; "" means none.
	Prefix string
	// LogDir is where StandardOutput= and StandardError= append; "" means log/ beside the config, where
	// pyvisor keeps them.
	LogDir string
	// Version is the systemd version of the hosts; 0 means a current one. Below 254, RestartSteps= and
	// RestartMaxDelaySec= (pyvisor's back-off) are left out with a warning.
	Version int
}

// Unit is one generated unit file.
type Unit struct {
	// Name is the file name: prefix, escaped program name, ".service".
	Name string
	// Program is the program it runs.
	Program string
	// Enabled is the program's enabled setting: whether to `systemctl enable` the unit.
	Enabled bool
	// Content is the unit file.
	Content []byte
}

// Systemd returns one service unit per program, in the configuration's order, and every warning (also
// written as comments in the units they concern).
func Systemd(cfg *config.Config, opts SystemdOptions) ([]Unit, []Warning) {
	if opts.LogDir == "" {
		opts.LogDir = filepath.Join(cfg.Dir, logDirName)
	}
	all := pyvisorOwn(cfg)
	if len(cfg.Programs) > 0 {
		all = append(all, Warning{Key: "logging", Message: fmt.Sprintf(
			"logs are appended to %s/NAME.log and systemd does not rotate them: "+
				"create that directory on every host and rotate the files with logrotate (copytruncate)", opts.LogDir)})
	}
	var units []Unit
	for i := range cfg.Programs {
		u, warnings := systemdUnit(cfg, &cfg.Programs[i], opts)
		units = append(units, u)
		all = append(all, warnings...)
	}
	return units, all
}

// systemdUnit renders one program's unit.
func systemdUnit(cfg *config.Config, p *config.Program, opts SystemdOptions) (Unit, []Warning) {
	r := resolve(cfg, p)
	warnings := r.warnings
	warn := func(key, format string, args ...any) {
		warnings = append(warnings, Warning{Program: p.Name, Key: key, Message: fmt.Sprintf(format, args...)})
	}
	name, ok := unitName(opts.Prefix, p.Name)
	if p.InstanceOf != "" {
		// A copy of instances is an instance of the template NAME@.service: NAME@2.service. (A ':' in a
		// unit's file name also trips systemd-analyze.)
		name, ok = unitName(opts.Prefix, p.InstanceOf)
		name = strings.TrimSuffix(name, ".service") + "@" + fmt.Sprint(p.Instance) + ".service"
	}
	if !ok {
		warn("name", "the escaped name is too long for a unit name; the unit is named %s", name)
	}
	var unit, service, install []string
	add := func(section *[]string, key, value string) { *section = append(*section, key+"="+value) }

	add(&unit, "Description", specifiers("pyvisor program "+p.Name))
	rp := p.Restart
	if p.Autorestart && rp.MaxConsecutiveFailures > 0 {
		add(&unit, "StartLimitIntervalSec", duration(failureWindow(rp)))
		add(&unit, "StartLimitBurst", fmt.Sprint(rp.MaxConsecutiveFailures))
	} else {
		add(&unit, "StartLimitIntervalSec", "0")
	}

	for _, dep := range p.DependsOn {
		// Wants= rather than Requires=: as in pyvisor, a dependency that stops does not stop this unit.
		depUnit, _ := unitName(opts.Prefix, dep)
		add(&unit, "Wants", depUnit)
		add(&unit, "After", depUnit)
	}
	if len(p.DependsOn) > 0 {
		warn("depends_on", "systemd starts this unit after its dependencies have started, not after they are healthy "+
			"(a dependency of Type=simple counts as started at once)")
	}
	if p.HealthCheck != nil {
		warn("health_check", "systemd has no health checks: an unhealthy program is not restarted "+
			"(a watchdog needs the program to call sd_notify WATCHDOG=1)")
	}

	add(&service, "Type", "simple")
	words := append([]string{r.cmd.Python, r.cmd.Script}, r.cmd.Args...)
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = execWord(w)
	}
	add(&service, "ExecStart", strings.Join(quoted, " "))
	add(&service, "WorkingDirectory", pathValue(r.cmd.Dir))
	if r.cmd.User != nil {
		add(&service, "User", specifiers(r.cmd.User.Name))
		if r.cmd.User.Name == "nobody" {
			warn("user", "systemd warns against running services as nobody, whose files any other such service may touch")
		}
	}
	for _, f := range r.envFiles {
		add(&service, "EnvironmentFile", pathValue(f))
	}
	for _, e := range slices.Concat(cfg.EnvFileVars, p.EnvFileVars) {
		if strings.Contains(e.Value, `\`) {
			warn("env_file", "%s has a backslash: pyvisor keeps it, systemd reads it as an escape; double it", e.Key)
		}
	}
	for _, e := range r.env {
		add(&service, "Environment", quote(e.Key+"="+e.Value, false))
	}
	if l := p.Limits; l.MemoryMax > 0 {
		add(&service, "MemoryMax", fmt.Sprint(l.MemoryMax))
	}
	if l := p.Limits; l.CPUMaxPercent > 0 {
		add(&service, "CPUQuota", strconv.FormatFloat(l.CPUMaxPercent, 'f', -1, 64)+"%")
	}
	add(&service, "KillMode", "control-group")
	add(&service, "KillSignal", signalName(p.StopSignal))
	add(&service, "TimeoutStopSec", duration(p.StopTimeout))
	if p.Autorestart {
		add(&service, "Restart", "always")
		add(&service, "RestartSec", duration(rp.Delay))
		warnings = append(warnings, systemdBackoff(p, opts.Version, &service)...)
		if rp.MaxConsecutiveFailures > 0 {
			warn("restart.failure_reset_seconds", "systemd counts starts, not failures in a row: the unit fails after %d starts within %s "+
				"(%d × failure_reset_seconds plus the delays), even if some runs lasted longer than failure_reset_seconds",
				rp.MaxConsecutiveFailures, duration(failureWindow(rp)), rp.MaxConsecutiveFailures)
		}
		if rp.MaxConsecutiveFailures > 0 && rp.BrokenCooldown > 0 {
			warn("restart.broken_cooldown_seconds", "systemd has no exact equivalent: a unit that hit its start limit "+
				"stays failed until `systemctl reset-failed` or a start by hand (or a timer that does so every %s)", rp.BrokenCooldown)
		}
	} else {
		add(&service, "Restart", "no")
	}
	if len(p.ExitCodes) > 0 {
		var codes []string
		for _, c := range p.ExitCodes {
			codes = append(codes, fmt.Sprint(c))
		}
		add(&service, "SuccessExitStatus", strings.Join(codes, " "))
		add(&service, "RestartPreventExitStatus", strings.Join(codes, " "))
	}
	logPath := pathValue(filepath.Join(opts.LogDir, config.LogFileName(p.Name)))
	add(&service, "StandardOutput", "append:"+logPath)
	add(&service, "StandardError", "append:"+logPath)
	add(&install, "WantedBy", "multi-user.target")

	var b strings.Builder
	header := fmt.Sprintf("Generated by `pyvisor export systemd` from %s, program %q.\n", cfg.Path, p.Name)
	if !p.Enabled {
		header += "enabled: false in pyvisor: install this unit, but do not enable it.\n"
	}
	b.WriteString(comments("#", oneLine(header[:len(header)-1])+"\n", warnings))
	for _, s := range []struct {
		name  string
		lines []string
	}{{"Unit", unit}, {"Service", service}, {"Install", install}} {
		fmt.Fprintf(&b, "\n[%s]\n%s\n", s.name, strings.Join(s.lines, "\n"))
	}
	return Unit{Name: name, Program: p.Name, Enabled: p.Enabled, Content: []byte(b.String())}, warnings
}

// systemdBackoff adds RestartSteps= and RestartMaxDelaySec= for a back-off, which systemd spreads
// evenly (geometrically) from RestartSec= to RestartMaxDelaySec= over RestartSteps= restarts.
func systemdBackoff(p *config.Program, version int, service *[]string) []Warning {
	r := p.Restart
	if r.BackoffFactor <= 1 || r.Delay <= 0 || r.MaxDelay <= r.Delay {
		return nil
	}
	warn := func(format string, args ...any) []Warning {
		return []Warning{{Program: p.Name, Key: "restart.backoff_factor", Message: fmt.Sprintf(format, args...)}}
	}
	if version != 0 && version < 254 {
		return warn("back-off needs systemd 254 (RestartSteps=, RestartMaxDelaySec=); on systemd %d the delay stays at %s", version, duration(r.Delay))
	}
	exact := math.Log(float64(r.MaxDelay)/float64(r.Delay)) / math.Log(r.BackoffFactor)
	steps := int(math.Ceil(exact - 1e-9))
	*service = append(*service, fmt.Sprintf("RestartSteps=%d", steps), "RestartMaxDelaySec="+duration(r.MaxDelay))
	if math.Abs(exact-float64(steps)) > 1e-9 {
		factor := math.Pow(float64(r.MaxDelay)/float64(r.Delay), 1/float64(steps))
		return warn("systemd grows the delay by the same factor at each of %d steps: %.3g instead of %g", steps, factor, r.BackoffFactor)
	}
	return nil
}

// maxUnitName is the longest unit file name systemd accepts.
const maxUnitName = 255

// unitName is prefix + name escaped as systemd-escape would, + ".service". A name whose escaped form is
// too long is cut and given a hash of the whole name, and ok is false.
func unitName(prefix, name string) (unit string, ok bool) {
	var b strings.Builder
	b.WriteString(prefix)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == ':', c == '_', c == '-', c == '.' && b.Len() > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	s := b.String()
	if len(s)+len(".service") <= maxUnitName {
		return s + ".service", true
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	suffix := fmt.Sprintf("-%08x.service", h.Sum32())
	s = s[:maxUnitName-len(suffix)]
	// Do not cut an escape in half.
	if i := strings.LastIndexByte(s, '\\'); i >= len(s)-3 {
		s = s[:i]
	}
	return s + suffix, false
}

// execWord quotes one word of ExecStart= as systemd.syntax(7) and systemd.service(5) require: in double
// quotes, with C escapes, "%" doubled (specifiers) and "$" doubled (variable expansion).
func execWord(s string) string { return quote(s, true) }

// quote puts s in double quotes with the escapes systemd's unquoting undoes: backslash, double quote,
// control characters and invalid UTF-8 as C escapes, and "%" as "%%" since specifiers are expanded in
// ExecStart= and Environment= alike. "$" is doubled only where systemd expands variables (dollar set):
// ExecStart=, not Environment=, which takes it literally.
func quote(s string, dollar bool) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\', r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r == '%':
			b.WriteString("%%")
		case r == '$' && dollar:
			b.WriteString("$$")
		default:
			b.WriteRune(r)
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

// specifiers escapes "%" in a value systemd takes literally but for specifiers.
func specifiers(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// pathValue is a path for WorkingDirectory=, EnvironmentFile= and append:, which take the rest of the
// line as it is but for specifiers. The paths come from Load, which refuses NUL; another control character
// would end the line or hide in it, so it becomes "?", and the path names nothing: the unit fails visibly.
func pathValue(p string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' {
			return '?'
		}
		return r
	}, specifiers(p))
}

// duration writes d as systemd reads it: whole seconds, else milliseconds.
func duration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d.Round(time.Millisecond)/time.Millisecond)
}

// signalName is the SIGTERM-style name both engines take.
func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGUSR1:
		return "SIGUSR1"
	case syscall.SIGUSR2:
		return "SIGUSR2"
	}
	return fmt.Sprintf("%d", int(s))
}
