package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, decodes and validates the config file at path. On any problem it returns a nil *Config and
// an error joining every problem found (errors.Join of *Error), each formatted "FILE:LINE: FIELD: MESSAGE".
// When the file itself cannot be read, errors.Is(err, fs.ErrNotExist) and friends see the cause. Env files
// named by the config are read here; whether venvs, scripts and directories exist is left to
// Command.Check, because a missing script must not stop the other programs.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, errors.Join(&Error{File: path, Msg: "resolve path: " + err.Error(), Err: err})
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, errors.Join(&Error{File: abs, Msg: pathErrorMsg(err), Err: err})
	}
	// Without a home directory the config may still be fine; load reports any "~" path it cannot expand.
	home, err := os.UserHomeDir()
	if err != nil {
		home = ""
	}
	return load(abs, data, home)
}

// load decodes and validates data read from the absolute path, expanding "~" to home.
func load(path string, data []byte, home string) (*Config, error) {
	c := Default(filepath.Dir(path))
	c.Path = path
	c.Home = home
	d := &decoder{file: path}
	if root := d.parse(data); root != nil {
		d.config(c, root)
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	if err := loadUploaded(c); err != nil {
		return nil, err
	}
	return c, nil
}

// parse returns the top-level mapping of data, or nil when the file is empty or unusable (reporting why).
func (d *decoder) parse(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.syntax(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntax(err)
		return nil
	default:
		d.errorf(&extra, "", "a second YAML document starts here; the file must hold one")
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "", "the top level must be a mapping of settings, got %s", describe(root))
		return nil
	}
	return root
}

// syntax records a YAML syntax error, moving the line yaml puts in its message ("yaml: line 3: ...")
// into the Error's Line.
func (d *decoder) syntax(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, text
			}
		}
	}
	d.add(&Error{File: d.file, Line: line, Msg: "invalid YAML: " + msg}, line)
}

// config applies the top-level mapping to c, which holds the defaults.
func (d *decoder) config(c *Config, root *yaml.Node) {
	var envFile, programs *yaml.Node
	for _, p := range d.fields(root, "", topKeys()) {
		switch p.key {
		case "web_ui":
			d.webUI(c, p.value)
		case "venv":
			c.Venv = d.path(c, p.value, "venv")
		case "cwd":
			c.Cwd = d.path(c, p.value, "cwd")
		case "env_file":
			c.EnvFile, envFile = d.path(c, p.value, "env_file"), p.value
		case "restart":
			c.Restart = d.restart(p.value, "restart", c.Restart, false)
		case "logging":
			d.logging(&c.Logging, p.value)
		case "sampling":
			d.sampling(&c.Sampling, p.value)
		case "uploads":
			d.uploads(&c.Uploads, p.value)
		case "pip_args":
			c.Uploads.PipArgs = d.pipArgs(p.value)
		case "user":
			c.User = d.user(p.value, "user")
		case "memory_max_mb", "cpu_max_percent":
			d.limit(&c.Limits, p.key, p.value, p.key)
		case "notify":
			c.Notify = d.notifyList(p.value)
		case "programs":
			programs = p.value // after the loop: programs inherit the global restart block
		}
	}
	if c.EnvFile != "" {
		c.EnvFileVars = d.envFile(c, c.EnvFile, envFile, "env_file", "")
	}
	if programs != nil {
		c.ProgramsListed = true
		c.Programs = d.programs(c, programs)
	}
}

// path returns a path setting as written, reporting what Command could not resolve: NUL bytes and a
// leading "~" that cannot be expanded.
func (d *decoder) path(c *Config, n *yaml.Node, field string) string {
	s, ok := d.str(n, field)
	switch {
	case !ok:
		return ""
	case hasNUL(s):
		d.errorf(n, field, "path contains a NUL byte")
		return ""
	case s == "~" || strings.HasPrefix(s, "~/"):
		if c.Home == "" {
			d.errorf(n, field, "cannot expand ~ in %q: the home directory is unknown", s)
			return ""
		}
	case strings.HasPrefix(s, "~"):
		d.errorf(n, field, "~user paths are not supported in %q; write the full path (or ./%s for a file named so)", s, s)
		return ""
	}
	return s
}

func (d *decoder) webUI(c *Config, n *yaml.Node) {
	w := &c.WebUI
	var cert, key *yaml.Node
	for _, p := range d.fields(n, "web_ui", webUIKeys()) {
		field := join("web_ui", p.key)
		switch p.key {
		case "auth":
			d.auth(&w.Auth, p.value)
		case "secure_cookies":
			w.SecureCookies = d.secureCookies(p.value, field)
		case "tls_cert":
			cert = p.value
		case "tls_key":
			key = p.value
		case "host":
			if s, ok := d.str(p.value, field); ok {
				if s == "" {
					d.errorf(p.value, field, "must not be empty")
				}
				w.Host = s
			}
		case "port":
			if v, ok := d.integer(p.value, field); ok {
				if v < 1 || v > 65535 {
					d.errorf(p.value, field, "%d is out of range 1-65535", v)
				}
				w.Port = v
			}
		case "title":
			if s, ok := d.str(p.value, field); ok {
				w.Title = s
			}
		case "allowed_hosts":
			w.AllowedHosts = nil
			for i, item := range d.items(p.value, field) {
				if s, ok := d.str(item, index(field, i)); ok {
					if s == "" {
						d.errorf(item, index(field, i), "must not be empty")
					}
					w.AllowedHosts = append(w.AllowedHosts, s)
				}
			}
		}
	}
	d.tls(c, w, cert, key)
}

// restart applies a restart block to base. For a program's block (inherited set), base is the global
// policy and only the keys given override it.
func (d *decoder) restart(n *yaml.Node, field string, base RestartPolicy, inherited bool) RestartPolicy {
	r := base
	var delayNode, maxDelayNode *yaml.Node
	for _, p := range d.fields(n, field, restartKeys()) {
		f := join(field, p.key)
		switch p.key {
		case "delay_seconds":
			if v, ok := d.seconds(p.value, f, false); ok {
				r.Delay, delayNode = v, p.value
			}
		case "max_consecutive_failures":
			if v, ok := d.integer(p.value, f); ok {
				if v < 0 {
					d.errorf(p.value, f, "must not be negative, got %d", v)
				}
				r.MaxConsecutiveFailures = v
			}
		case "failure_reset_seconds":
			if v, ok := d.seconds(p.value, f, false); ok {
				r.FailureReset = v
			}
		case "backoff_factor":
			if v, ok := d.number(p.value, f); ok {
				if v < 1 {
					d.errorf(p.value, f, "must be at least 1, got %s", p.value.Value)
				}
				r.BackoffFactor = v
			}
		case "max_delay_seconds":
			if v, ok := d.seconds(p.value, f, false); ok {
				r.MaxDelay, maxDelayNode = v, p.value
			}
		case "broken_cooldown_seconds":
			if v, ok := d.seconds(p.value, f, false); ok {
				r.BrokenCooldown = v
			}
		}
	}
	// Compare only when this block set one of the two, so a bad global pair is reported once.
	if (delayNode != nil || maxDelayNode != nil) && r.MaxDelay != 0 && r.MaxDelay < r.Delay {
		at, note := maxDelayNode, ""
		if at == nil {
			at = delayNode
		}
		if inherited {
			note = " (after applying the global restart block)"
		}
		d.errorf(at, join(field, "max_delay_seconds"), "max_delay_seconds %v is less than delay_seconds %v%s; use 0 for no cap",
			r.MaxDelay.Seconds(), r.Delay.Seconds(), note)
	}
	return r
}

// megabytes reads a size in MB (1 MB = 2^20 bytes; fractions allowed) as bytes,
// reporting a size that is not positive, under a byte, or absurdly large.
func (d *decoder) megabytes(n *yaml.Node, field string) (int64, bool) {
	v, ok := d.number(n, field)
	if !ok {
		return 0, false
	}
	size := v * (1 << 20)
	switch {
	case v <= 0:
		d.errorf(n, field, "must be greater than 0, got %s", n.Value)
	case size < 1:
		d.errorf(n, field, "%s MB is less than one byte", n.Value)
	case size > math.MaxInt64/2:
		d.errorf(n, field, "%s MB is too large", n.Value)
	default:
		return int64(size), true
	}
	return 0, false
}

func (d *decoder) logging(l *Logging, n *yaml.Node) {
	for _, p := range d.fields(n, "logging", loggingKeys()) {
		field := join("logging", p.key)
		switch p.key {
		case "max_size_mb":
			if v, ok := d.megabytes(p.value, field); ok {
				l.MaxSizeBytes = v
			}
		case "backups":
			if v, ok := d.integer(p.value, field); ok {
				if v < 1 {
					d.errorf(p.value, field, "must be at least 1, got %d", v)
				}
				l.Backups = v
			}
		}
	}
}

func (d *decoder) sampling(s *Sampling, n *yaml.Node) {
	for _, p := range d.fields(n, "sampling", samplingKeys()) {
		field := join("sampling", p.key)
		switch p.key {
		case "interval_seconds":
			if v, ok := d.seconds(p.value, field, true); ok {
				s.Interval = v
			}
		case "history":
			if v, ok := d.integer(p.value, field); ok {
				if v < 1 || v > 10000 {
					d.errorf(p.value, field, "%d is out of range 1-10000", v)
				}
				s.History = v
			}
		}
	}
}

// envFile reads the env file named raw, reporting a missing file at the config's node n and bad lines at
// their own line in the env file. program is "" for the global env file.
func (d *decoder) envFile(c *Config, raw string, n *yaml.Node, field, program string) []EnvVar {
	path := c.resolve(c.Dir, raw)
	data, err := readSmallFile(path)
	if err != nil {
		d.errorf(n, field, "read env file %s: %s", path, pathErrorMsg(err))
		return nil
	}
	owner := "the global env_file"
	if program != "" {
		owner = fmt.Sprintf("env_file of program %q", program)
	}
	vars, bad := parseEnvFile(data)
	for _, b := range bad {
		// Listed where the config names the env file; the Error's own line is the env file's.
		d.add(&Error{File: path, Line: b.line, Field: field, Msg: b.msg + " (" + owner + ")"}, n.Line)
	}
	return vars
}

// pathErrorMsg is the message of err without the path a *fs.PathError repeats, for messages that already
// name the path.
func pathErrorMsg(err error) string {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}
