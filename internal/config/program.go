package config

import (
	"fmt"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// maxNameLen is the longest program name, in characters; names become file names and table cells.
const maxNameLen = 64

// programs decodes the programs list, reporting duplicate names and names sharing a log file.
func (d *decoder) programs(c *Config, n *yaml.Node) []Program {
	type seen struct {
		name string
		line int
	}
	names := map[string]int{}
	// Keyed by LogKey: names whose log files would be one file clash.
	logs := map[string]seen{}
	items := d.items(n, "programs")
	var out []Program // nil for none
	if len(items) > 0 {
		// Room for one per entry, more only for instances: the array lives as long as the configuration.
		out = make([]Program, 0, len(items))
	}
	var deps []dependsEntry
	for i, item := range items {
		field := index("programs", i)
		entry, nameNode, n := d.program(c, item, field)
		if nameNode != nil {
			deps = append(deps, dependsEntry{program: entry.Name, field: field, names: entry.DependsOn, nodes: d.dependsNodes})
		}
		from := len(out)
		out = appendInstances(out, entry, n)
		if nameNode == nil {
			continue
		}
		for _, p := range out[from:] {
			nf := join(field, "name")
			log := LogFileName(p.Name)
			if l := utf8.RuneCountInString(p.Name); l > maxNameLen {
				d.errorf(nameNode, nf, "the name of instance %q is %d characters long; at most %d are allowed", p.Name, l, maxNameLen)
			} else if first, dup := names[p.Name]; dup {
				d.errorf(nameNode, nf, "duplicate name %q (first defined on line %d)", p.Name, first)
			} else if other, clash := logs[LogKey(p.Name)]; clash {
				d.errorf(nameNode, nf, "name %q has the same log file name %q as %q (line %d); rename one of them",
					p.Name, log, other.name, other.line)
			} else {
				names[p.Name] = nameNode.Line
				logs[LogKey(p.Name)] = seen{p.Name, nameNode.Line}
			}
		}
	}
	d.checkDependencies(deps)
	expandDependencies(out)
	return out
}

// expandDependencies makes a dependency on an entry with instances a
// dependency on each of its copies: depends_on names entries, while the
// supervisor waits for programs.
func expandDependencies(programs []Program) {
	copies := map[string][]string{}
	for _, p := range programs {
		if p.InstanceOf != "" {
			copies[p.InstanceOf] = append(copies[p.InstanceOf], p.Name)
		}
	}
	if len(copies) == 0 {
		return
	}
	for i := range programs {
		var deps []string
		for _, name := range programs[i].DependsOn {
			if c, ok := copies[name]; ok {
				deps = append(deps, c...)
			} else {
				deps = append(deps, name)
			}
		}
		programs[i].DependsOn = deps
	}
}

// program decodes one entry of the programs list. nameNode is the node of a valid name, nil otherwise;
// instances is the entry's instances, 0 when it has none.
func (d *decoder) program(c *Config, n *yaml.Node, field string) (p Program, nameNode *yaml.Node, instances int) {
	p = c.defaultProgram()
	p.Line = n.Line
	d.dependsNodes = nil
	var envFile, sched, tz, autorestart *yaml.Node
	given := map[string]bool{}
	known := d.programKeys
	if known == nil {
		known = programKeys()
	}
	for _, kv := range d.fields(n, field, known) {
		f := join(field, kv.key)
		given[kv.key] = true
		switch kv.key {
		case "name":
			if s, ok := d.str(kv.value, f); ok && d.checkName(kv.value, f, s) {
				p.Name, nameNode = s, kv.value
			}
		case "script":
			switch {
			case kv.value.Kind == yaml.ScalarNode && kv.value.Value == "":
				d.errorf(kv.value, f, "must not be empty")
			case kv.value.Kind == yaml.ScalarNode && strings.HasPrefix(kv.value.Value, "~"):
				// "~" would be the manager's home, whoever the program runs as, and in
				// an uploaded program's entry a way out of its directory.
				d.errorf(kv.value, f, "%q starts with \"~\": write the full path (or ./%s for a file named so)", kv.value.Value, kv.value.Value)
			default:
				p.Script = d.path(c, kv.value, f)
			}
		case "enabled":
			p.Enabled, _ = d.boolean(kv.value, f)
		case "autorestart":
			p.Autorestart, _ = d.boolean(kv.value, f)
			autorestart = kv.value
		case "schedule":
			sched = kv.value
		case "timezone":
			tz = kv.value
		case "instances":
			instances = d.instances(kv.value, f)
		case "venv":
			p.Venv = d.path(c, kv.value, f)
		case "cwd":
			p.Cwd = d.path(c, kv.value, f)
		case "args":
			p.Args = d.args(kv.value, f)
		case "environment":
			p.Environment = d.environment(kv.value, f)
		case "env_file":
			p.EnvFile, envFile = d.path(c, kv.value, f), kv.value
		case "restart":
			p.Restart = d.restart(kv.value, f, c.Restart, true)
		case "stop_signal":
			if s, ok := d.str(kv.value, f); ok {
				if sig, ok := parseSignal(s); ok {
					p.StopSignal = sig
				} else {
					d.errorf(kv.value, f, "unknown signal %q (want one of TERM, INT, QUIT, HUP, KILL, USR1, USR2)", s)
				}
			}
		case "stop_timeout_seconds":
			if v, ok := d.seconds(kv.value, f, true); ok {
				p.StopTimeout = v
			}
		case "exit_codes":
			p.ExitCodes = d.exitCodes(kv.value, f)
		case "user":
			p.User = d.user(kv.value, f)
		case "memory_max_mb", "cpu_max_percent":
			d.limit(&p.Limits, kv.key, kv.value, f)
		case "health_check":
			p.HealthCheck = d.healthCheck(kv.value, f)
		case "depends_on":
			e := d.dependsOn(kv.value, f)
			p.DependsOn, d.dependsNodes = e.names, e.nodes
		case "group":
			if s, ok := d.str(kv.value, f); ok && d.checkGroup(kv.value, f, s) {
				p.Group = s
			}
		}
	}
	if deref(n).Kind != yaml.MappingNode {
		return p, nil, 0 // fields reported it
	}
	d.schedule(&p, field, sched, tz, autorestart)
	for _, key := range []string{"name", "script"} {
		if !given[key] {
			d.errorf(n, field, "missing required field %q", key)
		}
	}
	if p.EnvFile != "" {
		label := p.Name
		if label == "" {
			label = field
		}
		p.EnvFileVars = d.envFile(c, p.EnvFile, envFile, join(field, "env_file"), label)
	}
	return p, nameNode, instances
}

// checkName reports what makes name unusable as a program name, which is also a file name and an URL
// path segment.
func (d *decoder) checkName(n *yaml.Node, field, name string) bool {
	ok := true
	if name == "" {
		d.errorf(n, field, "must not be empty")
		return false
	}
	if l := utf8.RuneCountInString(name); l > maxNameLen {
		d.errorf(n, field, "name is %d characters long; at most %d are allowed", l, maxNameLen)
		ok = false
	}
	if strings.ContainsFunc(name, unicode.IsControl) {
		d.errorf(n, field, "name %q contains a control character", name)
		ok = false
	}
	if strings.Contains(name, "/") {
		d.errorf(n, field, "name %q contains '/'", name)
		ok = false
	}
	return ok
}

// checkGroup reports what makes s unusable as a group heading: a group is shown on one line of the dashboard.
func (d *decoder) checkGroup(n *yaml.Node, field, s string) bool {
	if l := utf8.RuneCountInString(s); l > maxNameLen {
		d.errorf(n, field, "group is %d characters long; at most %d are allowed", l, maxNameLen)
		return false
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		d.errorf(n, field, "group %q contains a control character", s)
		return false
	}
	return true
}

// args decodes args: a list of scalars, or one string split into words the way a POSIX shell would.
func (d *decoder) args(n *yaml.Node, field string) []string {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		words, err := splitWords(n.Value)
		if err != nil {
			d.errorf(n, field, "%v", err)
			return nil
		}
		if hasNUL(n.Value) {
			d.errorf(n, field, "contains a NUL byte")
		}
		return words
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, field, "expected a list or a string, got %s", describe(n))
		return nil
	}
	var out []string
	for i, item := range d.items(n, field) {
		if s, ok := d.str(item, index(field, i)); ok {
			if hasNUL(s) {
				d.errorf(item, index(field, i), "contains a NUL byte")
			}
			out = append(out, s)
		}
	}
	return out
}

// environment decodes a list of KEY=VALUE strings or a KEY: VALUE mapping. Values are secrets: messages
// never include them.
func (d *decoder) environment(n *yaml.Node, field string) []EnvVar {
	n = deref(n)
	var out []EnvVar
	switch n.Kind {
	case yaml.SequenceNode:
		for i, item := range d.items(n, field) {
			f := index(field, i)
			s, ok := d.str(item, f)
			if !ok {
				continue
			}
			key, value, ok := strings.Cut(s, "=")
			if !ok {
				d.errorf(item, f, "entry has no '=' (want KEY=VALUE)")
				continue
			}
			if msg := checkEnvVar(key, value); msg != "" {
				d.errorf(item, f, "%s", msg)
				continue
			}
			out = append(out, EnvVar{key, value})
		}
	case yaml.MappingNode:
		for _, p := range d.mapping(n, field) {
			f := join(field, p.key)
			value := "" // `KEY:` with nothing after it sets KEY to the empty string
			if !isNull(p.value) {
				s, ok := d.str(p.value, f)
				if !ok {
					continue
				}
				value = s
			}
			if msg := checkEnvVar(p.key, value); msg != "" {
				d.errorf(p.keyNode, f, "%s", msg)
				continue
			}
			out = append(out, EnvVar{p.key, value})
		}
	default:
		d.errorf(n, field, "expected a list of KEY=VALUE or a mapping, got %s", describe(n))
	}
	return out
}

// checkEnvVar returns what makes the variable impossible to pass to exec, or "".
func checkEnvVar(key, value string) string {
	switch {
	case key == "":
		return "empty variable name"
	case strings.Contains(key, "="):
		return fmt.Sprintf("variable name %q contains '='", key)
	case hasNUL(key) || hasNUL(value):
		return "variable contains a NUL byte"
	}
	return ""
}

func (d *decoder) exitCodes(n *yaml.Node, field string) []int {
	var out []int
	for i, item := range d.items(n, field) {
		if v, ok := d.integer(item, index(field, i)); ok {
			if v < 0 || v > 255 {
				d.errorf(item, index(field, i), "%d is out of range 0-255", v)
				continue
			}
			out = append(out, v)
		}
	}
	return out
}

// parseSignal maps a stop_signal name (any case, SIG prefix optional) to its signal.
func parseSignal(s string) (syscall.Signal, bool) {
	name := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "SIG")
	switch name {
	case "TERM":
		return syscall.SIGTERM, true
	case "INT":
		return syscall.SIGINT, true
	case "QUIT":
		return syscall.SIGQUIT, true
	case "HUP":
		return syscall.SIGHUP, true
	case "KILL":
		return syscall.SIGKILL, true
	case "USR1":
		return syscall.SIGUSR1, true
	case "USR2":
		return syscall.SIGUSR2, true
	}
	return 0, false
}

// LogKey is what two programs must not share: the name of their log file, in lower case, since on a
// case-insensitive file system (macOS by default) "Worker.log" and "worker.log" are the same file.
func LogKey(program string) string { return strings.ToLower(LogFileName(program)) }

// LogFileName is the file name of a program's log: the name with every character other than a letter, a
// digit, '.', '_' or '-' replaced by '_', plus ".log". Letters and digits of any script are kept, so
// "服务一" and "服务二" get logs of their own, except those outside Unicode's Basic Multilingual Plane
// (four bytes in UTF-8): with at most three bytes a character, a name of maxNameLen characters makes
// a file name of at most maxLogFileNameLen bytes, which leaves room under the 255-byte limit of
// Linux and macOS for the ".1", ".1.tmp" of rotation. Load rejects names whose log files collide (see
// LogKey).
func LogFileName(program string) string {
	var b strings.Builder
	b.Grow(len(program) + len(".log"))
	for _, r := range program {
		switch {
		case r == '.', r == '_', r == '-',
			(unicode.IsLetter(r) || unicode.IsDigit(r)) && utf8.RuneLen(r) <= 3:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	b.WriteString(".log")
	return b.String()
}

// maxLogFileNameLen is the longest file name LogFileName returns for a name of at most maxNameLen
// characters.
const maxLogFileNameLen = 3*maxNameLen + len(".log")
