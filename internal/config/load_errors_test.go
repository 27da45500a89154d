package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestLoadErrors covers every validation rule: each case must report exactly the listed problems.
func TestLoadErrors(t *testing.T) {
	long := strings.Repeat("x", 65)
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		// The line is yaml's: for parser errors it is sometimes the line before the mistake (go-yaml#205).
		{"yaml syntax", "web_ui:\n  port: 1\n  title: [a, b\n", []wantErr{{2, "", "invalid YAML: did not find expected ',' or ']'"}}},
		{"yaml syntax unterminated quote", "a: 1\nb: 2\nc: 'x\n", []wantErr{{3, "", "invalid YAML: found unexpected end of stream"}}},
		{"yaml unknown anchor", "venv: *x\n", []wantErr{{0, "", "unknown anchor 'x'"}}},
		{"tab indentation", "web_ui:\n\tport: 1\n", []wantErr{{2, "", "invalid YAML"}}},
		{"second document", "venv: a\n---\nvenv: b\n", []wantErr{{2, "", "second YAML document"}}},
		{"top level is a list", "- a\n- b\n", []wantErr{{1, "", "top level must be a mapping"}}},
		{"top level is a scalar", "hello\n", []wantErr{{1, "", `got "hello"`}}},
		{"port is a string", "web_ui:\n  port: abc\n", []wantErr{{2, "web_ui.port", `expected an integer, got "abc"`}}},
		{"port is a float", "web_ui:\n  port: 80.5\n", []wantErr{{2, "web_ui.port", "expected an integer"}}},
		{"port out of range high", "web_ui: {port: 70000}\n", []wantErr{{1, "web_ui.port", "70000 is out of range 1-65535"}}},
		{"port zero", "web_ui:\n  port: 0\n", []wantErr{{2, "web_ui.port", "0 is out of range 1-65535"}}},
		{"port overflows int", "web_ui:\n  port: 99999999999999999999999\n", []wantErr{{2, "web_ui.port", "expected an integer"}}},
		{"empty host", "web_ui:\n  host: ''\n", []wantErr{{2, "web_ui.host", "must not be empty"}}},
		{"allowed_hosts not a list", "web_ui:\n  allowed_hosts: a.lan\n", []wantErr{{2, "web_ui.allowed_hosts", "expected a list"}}},
		{"web_ui not a mapping", "web_ui: 5\n", []wantErr{{1, "web_ui", "expected a mapping"}}},
		{"programs is a mapping", "programs: {}\n", []wantErr{{1, "programs", "expected a list, got a mapping"}}},
		{"program is a string", "programs:\n  - worker.py\n", []wantErr{{2, "programs[0]", `expected a mapping, got "worker.py"`}}},
		{"program is empty", "programs:\n  -\n", []wantErr{{2, "programs[0]", "expected a mapping, got nothing"}}},
		{"args is a number", "programs:\n  - name: a\n    script: a.py\n    args: 5\n", []wantErr{{4, "programs[0].args", `expected a list or a string, got "5"`}}},
		{"args is a mapping", "programs:\n  - name: a\n    script: a.py\n    args: {a: 1}\n", []wantErr{{4, "programs[0].args", "got a mapping"}}},
		{"args item is a list", "programs:\n  - name: a\n    script: a.py\n    args: [x, [y]]\n", []wantErr{{4, "programs[0].args[1]", "expected a string, got a list"}}},
		{"args unterminated quote", "programs:\n  - name: a\n    script: a.py\n\n    args: \"--name 'my app\"\n", []wantErr{{5, "programs[0].args", "unterminated single quote"}}},
		{"args trailing backslash", "programs:\n  - name: a\n    script: a.py\n    args: 'a \\'\n", []wantErr{{4, "programs[0].args", "unescaped backslash"}}},
		{"unknown top-level key", "webui:\n  port: 1\n", []wantErr{{1, "webui", `unknown key "webui" (did you mean "web_ui"?)`}}},
		{"unknown program key", "programs:\n  - name: a\n    script: a.py\n  - name: b\n    scirpt: b.py\n", []wantErr{
			{5, "programs[1].scirpt", `unknown key "scirpt" (did you mean "script"?)`},
			{4, "programs[1]", `missing required field "script"`},
		}},
		{"unknown key in wrong case", "web_ui:\n  Port: 1\n", []wantErr{{2, "web_ui.Port", `(did you mean "port"?)`}}},
		{"unknown nested key", "restart:\n  delay: 1\n", []wantErr{{2, "restart.delay", `unknown key "delay"`}}},
		{"unknown key in program restart", "programs:\n  - name: a\n    script: a.py\n    restart: {dealy_seconds: 1}\n", []wantErr{{4, "programs[0].restart.dealy_seconds", `did you mean "delay_seconds"`}}},
		{"duplicate key", "venv: a\ncwd: b\nvenv: c\n", []wantErr{{3, "venv", "duplicate key \"venv\" (first on line 1)"}}},
		{"non-scalar key", "? [a]\n: 1\n", []wantErr{{1, "", "expected a key name, got a list"}}},
		{"group too long", "programs:\n  - name: a\n    script: a.py\n    group: " + long + "\n", []wantErr{{4, "programs[0].group", "group is 65 characters long"}}},
		{"group with a control character", "programs:\n  - name: a\n    script: a.py\n    group: \"a\\tb\"\n", []wantErr{{4, "programs[0].group", "contains a control character"}}},
		{"group is a list", "programs:\n  - name: a\n    script: a.py\n    group: [a]\n", []wantErr{{4, "programs[0].group", "expected a string, got a list"}}},
		{"missing name", "programs:\n  - script: a.py\n", []wantErr{{2, "programs[0]", `missing required field "name"`}}},
		{"missing script", "programs:\n\n  - name: a\n", []wantErr{{3, "programs[0]", `missing required field "script"`}}},
		{"null name is missing", "programs:\n  - name:\n    script: a.py\n", []wantErr{{2, "programs[0]", `missing required field "name"`}}},
		{"empty name", "programs:\n  - name: ''\n    script: a.py\n", []wantErr{{2, "programs[0].name", "must not be empty"}}},
		{"empty script", "programs:\n  - name: a\n    script: \"\"\n", []wantErr{{3, "programs[0].script", "must not be empty"}}},
		{"name is a list", "programs:\n  - name: [a]\n    script: a.py\n", []wantErr{{2, "programs[0].name", "expected a string, got a list"}}},
		{"duplicate names", "programs:\n  - name: worker\n    script: a.py\n  - name: other\n    script: b.py\n  - script: c.py\n    name: worker\n",
			[]wantErr{{7, "programs[2].name", `duplicate name "worker" (first defined on line 2)`}}},
		{"same log file name", "programs:\n  - name: my app\n    script: a.py\n  - name: my_app\n    script: b.py\n",
			[]wantErr{{4, "programs[1].name", `same log file name "my_app.log" as "my app" (line 2)`}}},
		{"log file names differing in case", "programs:\n  - name: Worker\n    script: a.py\n  - name: worker\n    script: b.py\n",
			[]wantErr{{4, "programs[1].name", `same log file name "worker.log" as "Worker"`}}},
		{"name too long", "programs:\n  - name: " + long + "\n    script: a.py\n", []wantErr{{2, "programs[0].name", "65 characters long; at most 64"}}},
		{"name with control character", "programs:\n  - name: \"a\\tb\"\n    script: a.py\n", []wantErr{{2, "programs[0].name", "control character"}}},
		{"name with slash", "programs:\n  - name: a/b\n    script: a.py\n", []wantErr{{2, "programs[0].name", "contains '/'"}}},
		{"negative delay", "restart:\n  delay_seconds: -1\n", []wantErr{{2, "restart.delay_seconds", "must not be negative, got -1"}}},
		{"negative failure reset", "restart:\n  failure_reset_seconds: -0.5\n", []wantErr{{2, "restart.failure_reset_seconds", "must not be negative"}}},
		{"negative cooldown", "restart:\n  broken_cooldown_seconds: -3\n", []wantErr{{2, "restart.broken_cooldown_seconds", "must not be negative"}}},
		{"negative max failures", "restart:\n  max_consecutive_failures: -1\n", []wantErr{{2, "restart.max_consecutive_failures", "must not be negative"}}},
		{"delay not finite", "restart:\n  delay_seconds: .nan\n", []wantErr{{2, "restart.delay_seconds", "finite number"}}},
		{"delay too large", "restart:\n  delay_seconds: 1e300\n", []wantErr{{2, "restart.delay_seconds", "too large"}}},
		{"delay is a string", "restart:\n  delay_seconds: soon\n", []wantErr{{2, "restart.delay_seconds", `expected a number, got "soon"`}}},
		{"backoff below one", "restart:\n  backoff_factor: 0.5\n", []wantErr{{2, "restart.backoff_factor", "at least 1"}}},
		{"max delay below delay", "restart:\n  delay_seconds: 10\n  max_delay_seconds: 5\n", []wantErr{{3, "restart.max_delay_seconds", "5 is less than delay_seconds 10"}}},
		{"program delay above global max delay", "restart: {max_delay_seconds: 30}\nprograms:\n  - name: a\n    script: a.py\n    restart:\n      delay_seconds: 60\n",
			[]wantErr{{6, "programs[0].restart.max_delay_seconds", "after applying the global restart block"}}},
		{"stop timeout zero", "programs:\n  - name: a\n    script: a.py\n    stop_timeout_seconds: 0\n", []wantErr{{4, "programs[0].stop_timeout_seconds", "greater than 0"}}},
		{"stop timeout negative", "programs:\n  - name: a\n    script: a.py\n    stop_timeout_seconds: -2\n", []wantErr{{4, "programs[0].stop_timeout_seconds", "greater than 0"}}},
		{"sampling interval zero", "sampling:\n  interval_seconds: 0\n", []wantErr{{2, "sampling.interval_seconds", "greater than 0"}}},
		{"sampling interval rounds to zero", "sampling:\n  interval_seconds: 1e-12\n", []wantErr{{2, "sampling.interval_seconds", "rounds to zero"}}},
		{"history zero", "sampling:\n  history: 0\n", []wantErr{{2, "sampling.history", "out of range 1-10000"}}},
		{"history too large", "sampling:\n  history: 10001\n", []wantErr{{2, "sampling.history", "out of range 1-10000"}}},
		{"backups zero", "logging:\n  backups: 0\n", []wantErr{{2, "logging.backups", "at least 1, got 0"}}},
		{"max size zero", "logging:\n  max_size_mb: 0\n", []wantErr{{2, "logging.max_size_mb", "greater than 0"}}},
		{"max size negative", "logging:\n  max_size_mb: -1.5\n", []wantErr{{2, "logging.max_size_mb", "greater than 0"}}},
		{"max size too large", "logging:\n  max_size_mb: 1e30\n", []wantErr{{2, "logging.max_size_mb", "too large"}}},
		{"upload limit zero", "uploads:\n  max_zip_mb: 0\n", []wantErr{{2, "uploads.max_zip_mb", "greater than 0"}}},
		{"unpacked limit too large", "uploads:\n  max_unpacked_mb: 1e30\n", []wantErr{{2, "uploads.max_unpacked_mb", "too large"}}},
		{"upload files zero", "uploads:\n  max_files: 0\n", []wantErr{{2, "uploads.max_files", "at least 1"}}},
		{"upload python empty", "uploads:\n  python: \"\"\n", []wantErr{{2, "uploads.python", "must not be empty"}}},
		{"upload timeout zero", "uploads:\n  install_timeout_seconds: 0\n", []wantErr{{2, "uploads.install_timeout_seconds", ""}}},
		{"upload unknown key", "uploads:\n  max_zp_mb: 5\n", []wantErr{{2, "uploads.max_zp_mb", "did you mean \"max_zip_mb\""}}},
		{"pip_args not a list or string", "pip_args: {a: b}\n", []wantErr{{1, "pip_args", ""}}},
		{"unknown stop signal", "programs:\n  - name: a\n    script: a.py\n    stop_signal: TERMINATE\n", []wantErr{{4, "programs[0].stop_signal", `unknown signal "TERMINATE"`}}},
		{"numeric stop signal", "programs:\n  - name: a\n    script: a.py\n    stop_signal: 15\n", []wantErr{{4, "programs[0].stop_signal", `unknown signal "15"`}}},
		{"environment entry without equals", "programs:\n  - name: a\n    script: a.py\n    environment:\n      - A=1\n      - SECRETVALUE\n",
			[]wantErr{{6, "programs[0].environment[1]", "no '='"}}},
		{"environment empty key in list", "programs:\n  - name: a\n    script: a.py\n    environment: [\"=x\"]\n", []wantErr{{4, "programs[0].environment[0]", "empty variable name"}}},
		{"environment empty key in mapping", "programs:\n  - name: a\n    script: a.py\n    environment:\n      \"\": x\n", []wantErr{{5, "programs[0].environment", "empty variable name"}}},
		{"environment key with equals in mapping", "programs:\n  - name: a\n    script: a.py\n    environment:\n      A=B: x\n", []wantErr{{5, "programs[0].environment.A=B", "contains '='"}}},
		{"environment is a string", "programs:\n  - name: a\n    script: a.py\n    environment: A=1\n", []wantErr{{4, "programs[0].environment", "expected a list of KEY=VALUE or a mapping"}}},
		{"environment value is a list", "programs:\n  - name: a\n    script: a.py\n    environment:\n      A: [1]\n", []wantErr{{5, "programs[0].environment.A", "expected a string"}}},
		{"exit code too large", "programs:\n  - name: a\n    script: a.py\n    exit_codes: [0, 256]\n", []wantErr{{4, "programs[0].exit_codes[1]", "256 is out of range 0-255"}}},
		{"exit code negative", "programs:\n  - name: a\n    script: a.py\n    exit_codes:\n      - -1\n", []wantErr{{5, "programs[0].exit_codes[0]", "-1 is out of range 0-255"}}},
		{"exit codes not a list", "programs:\n  - name: a\n    script: a.py\n    exit_codes: 0\n", []wantErr{{4, "programs[0].exit_codes", "expected a list"}}},
		{"enabled not a bool", "programs:\n  - name: a\n    script: a.py\n    enabled: maybe\n", []wantErr{{4, "programs[0].enabled", `expected true or false, got "maybe"`}}},
		{"quoted yes is not a bool", "programs:\n  - name: a\n    script: a.py\n    autorestart: \"yes\"\n", []wantErr{{4, "programs[0].autorestart", "expected true or false"}}},
		{"tilde user path", "venv: ~bob/venv\n", []wantErr{{1, "venv", "~user paths are not supported"}}},
		{"script in home", "programs:\n  - name: a\n    script: ~/a.py\n", []wantErr{{3, "programs[0].script", `"~/a.py" starts with "~": write the full path`}}},
		{"script of another user's home", "programs:\n  - {name: a, script: ~bob/a.py}\n", []wantErr{{2, "programs[0].script", `starts with "~"`}}},
		{"path with NUL", "cwd: \"a\\0b\"\n", []wantErr{{1, "cwd", "NUL"}}},
		{"merge of a scalar", "restart:\n  <<: 5\n", []wantErr{{2, "restart", "merge (<<) needs a mapping"}}},
		{"error inside merged anchor", "base: &b\n  delay_seconds: -1\n", []wantErr{{1, "base", `unknown key "base"`}}},
		{"several problems at once", "web_ui:\n  port: 0\nprograms:\n  - name: a\n  - name: a\n    script: b.py\n    stop_signal: NOPE\n", []wantErr{
			{2, "web_ui.port", "out of range"},
			{4, "programs[0]", `missing required field "script"`},
			{5, "programs[1].name", "duplicate name"},
			{7, "programs[1].stop_signal", "unknown signal"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, path, err := loadYAML(t, tt.yaml)
			call := fmt.Sprintf("load(%q)", tt.yaml)
			if c != nil {
				t.Errorf("%s returned a config with errors %v; want nil", call, err)
			}
			if err == nil {
				t.Fatalf("%s succeeded; want %d problems", call, len(tt.want))
			}
			checkProblems(t, call, err, path, tt.want)
			for _, e := range problems(t, err) {
				if !strings.HasPrefix(e.Error(), path+":") {
					t.Errorf("%s: problem %q does not start with %q", call, e.Error(), path+":")
				}
			}
		})
	}
}

// TestErrorFormat pins the "FILE:LINE: FIELD: MESSAGE" shape, with empty parts left out.
func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"all parts", Error{File: "/etc/pm.yaml", Line: 3, Field: "web_ui.port", Msg: "bad"}, "/etc/pm.yaml:3: web_ui.port: bad"},
		{"no field", Error{File: "/etc/pm.yaml", Line: 3, Msg: "bad"}, "/etc/pm.yaml:3: bad"},
		{"no line", Error{File: "/etc/pm.yaml", Msg: "open: no such file"}, "/etc/pm.yaml: open: no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("(%#v).Error() = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"name", "script", "enabled", "autorestart", "venv", "cwd", "env_file", "stop_signal"}
	tests := []struct{ key, want string }{
		{"scirpt", "script"},
		{"scrip", "script"},
		{"Name", "name"},
		{"enabeld", "enabled"},
		{"envfile", "env_file"},
		{"cdw", "cwd"},
		{"x", ""},
		{"frobnicate", ""},
		{"stopsignals", "stop_signal"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := suggest(tt.key, known); got != tt.want {
				t.Errorf("suggest(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

// TestLoadErrorOrder checks that problems come in file order even though unknown keys are found before
// the values around them, with env file problems placed where the config names the env file.
func TestLoadErrorOrder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "bad.env", "NOEQUALS\n")
	path := writeFile(t, dir, "pm.yaml", "web_ui:\n  port: 0\n  titel: x\nprograms:\n  - name: a\n    env_file: bad.env\n    scirpt: a.py\n    stop_signal: NOPE\n")
	_, err := Load(path)
	var lines []int
	for _, e := range problems(t, err) {
		line := e.Line
		if e.File != path {
			line = 6 // the env_file line in the config
		}
		lines = append(lines, line)
	}
	want := []int{2, 3, 5, 6, 7, 8}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("Load(%s) problems in config lines %v, want %v:\n%v", path, lines, want, err)
	}
}
