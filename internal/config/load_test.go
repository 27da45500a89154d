package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatalf("Load(testdata/full.yaml) failed: %v", err)
	}
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != filepath.Join(dir, "full.yaml") || c.Dir != dir {
		t.Errorf("Load(testdata/full.yaml) Path, Dir = %q, %q; want %q, %q", c.Path, c.Dir, filepath.Join(dir, "full.yaml"), dir)
	}
	globalRestart := RestartPolicy{
		Delay: 1500 * time.Millisecond, MaxConsecutiveFailures: 5, FailureReset: 120 * time.Second,
		BackoffFactor: 2, MaxDelay: 60 * time.Second, BrokenCooldown: 600 * time.Second,
	}
	appRestart := globalRestart
	appRestart.Delay = 5 * time.Second
	want := &Config{
		Path: c.Path, Dir: dir, Home: c.Home,
		WebUI: WebUI{Host: "0.0.0.0", Port: 10001, Title: "My Services", AllowedHosts: []string{"myhost.lan", "myhost"},
			Auth: Auth{Mode: AuthConfigured, Username: "admin",
				PasswordHash:    "$2a$04$s3EVOilD1u3Oqzn.4XAs/exAh7rB0BNcQV3tPdr1WGDEQYTzUneiu",
				Tokens:          []Token{{Name: "ci", SHA256: "7fcc2be6c6c755c9433aa10df145f4cd324ab5266e0a98b648326ed46c811781"}},
				SessionLifetime: 8 * time.Hour}},
		Venv:        ".venv",
		Cwd:         "scripts",
		EnvFile:     "common.env",
		EnvFileVars: []EnvVar{{"LOG_LEVEL", "info"}, {"REGION", "eu-west"}},
		Restart:     globalRestart,
		Logging:     Logging{MaxSizeBytes: 512 << 10, Backups: 3},
		Sampling:    Sampling{Interval: 5 * time.Second, History: 120},
		Uploads: Uploads{MaxZipBytes: 20 << 20, MaxFiles: 500, MaxUnpackedBytes: 100 << 20, Python: "/usr/bin/python3.11",
			PipArgs: []string{"--no-index", "--find-links", "/srv/wheels"}, InstallTimeout: 2 * time.Minute},
		ProgramsListed: true,
		Programs: []Program{
			{
				Name: "My Application", Script: "my_app.py", Enabled: false, Autorestart: false,
				Venv: "app-venv", Cwd: "/srv/app", Args: []string{"--port", "8080"},
				Environment: []EnvVar{{"PYTHONUNBUFFERED", "TRUE"}, {"DSN", "postgres://u@h/db?sslmode=disable"}},
				EnvFile:     "app.env", EnvFileVars: []EnvVar{{"API_TOKEN", "not-a-real-token"}},
				Restart: appRestart, StopSignal: syscall.SIGINT, StopTimeout: 20 * time.Second,
				ExitCodes: []int{0, 3}, Line: 37,
			},
			{
				Name: "worker", Script: "worker.py", Enabled: true, Autorestart: true,
				Args:        []string{"--queue", "high priority", "--verbose"},
				Environment: []EnvVar{{"WORKERS", "4"}, {"MODE", "batch"}},
				Restart:     globalRestart, StopSignal: syscall.SIGTERM, StopTimeout: 10 * time.Second, Line: 52,
			},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load(testdata/full.yaml) =\n%+v\nwant\n%+v", c, want)
	}
}

func TestLoadDefaults(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		{"empty file", ""},
		{"only comments", "# nothing here\n\n"},
		{"explicit null document", "---\n~\n"},
		{"null values mean absent", "web_ui:\nvenv:\nrestart:\nprograms:\nlogging: ~\n"},
		{"empty blocks", "web_ui: {}\nrestart: {}\nlogging: {}\nsampling: {}\nprograms: []\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, path, err := loadYAML(t, tt.yaml)
			if err != nil {
				t.Fatalf("load(%q) failed: %v", tt.yaml, err)
			}
			want := Default(filepath.Dir(path))
			want.Path, want.Home = path, testHome
			want.ProgramsListed = c.ProgramsListed // TestProgramsListed's business
			if !reflect.DeepEqual(c, want) {
				t.Errorf("load(%q) =\n%+v\nwant\n%+v", tt.yaml, c, want)
			}
		})
	}
}

// TestDefault pins the documented defaults, since Load starts from them.
func TestDefault(t *testing.T) {
	c := Default("/srv/pm")
	want := &Config{
		Dir:   "/srv/pm",
		WebUI: WebUI{Host: "127.0.0.1", Port: 10000, Title: "Process Manager", Auth: Auth{SessionLifetime: 12 * time.Hour}},
		Restart: RestartPolicy{
			Delay: time.Second, MaxConsecutiveFailures: 10, FailureReset: time.Minute,
			BackoffFactor: 1, MaxDelay: 5 * time.Minute,
		},
		Logging:  Logging{MaxSizeBytes: 10 << 20, Backups: 1},
		Sampling: Sampling{Interval: 2 * time.Second, History: 60},
		Uploads:  Uploads{MaxZipBytes: 50 << 20, MaxFiles: 10000, MaxUnpackedBytes: 500 << 20, Python: "python3", InstallTimeout: 5 * time.Minute},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default(/srv/pm) =\n%+v\nwant\n%+v", c, want)
	}
}

func TestProgramDefaults(t *testing.T) {
	c := mustLoad(t, "restart:\n  delay_seconds: 3\nprograms:\n  - {name: a, script: a.py}\n")
	want := Program{
		Name: "a", Script: "a.py", Enabled: true, Autorestart: true, Restart: c.Restart,
		StopSignal: syscall.SIGTERM, StopTimeout: 10 * time.Second, Line: 4,
	}
	if len(c.Programs) != 1 || !reflect.DeepEqual(c.Programs[0], want) {
		t.Errorf("load(minimal program) programs = %+v, want [%+v]", c.Programs, want)
	}
}

func TestRestartOverride(t *testing.T) {
	const global = "restart:\n  delay_seconds: 2\n  max_consecutive_failures: 4\n  failure_reset_seconds: 30\n" +
		"  backoff_factor: 1.5\n  max_delay_seconds: 100\n  broken_cooldown_seconds: 50\n"
	base := RestartPolicy{
		Delay: 2 * time.Second, MaxConsecutiveFailures: 4, FailureReset: 30 * time.Second,
		BackoffFactor: 1.5, MaxDelay: 100 * time.Second, BrokenCooldown: 50 * time.Second,
	}
	tests := []struct {
		name     string
		override string
		want     func(r *RestartPolicy)
	}{
		{"no override", "", func(*RestartPolicy) {}},
		{"empty override", "    restart: {}\n", func(*RestartPolicy) {}},
		{"delay only", "    restart: {delay_seconds: 0.25}\n", func(r *RestartPolicy) { r.Delay = 250 * time.Millisecond }},
		{"failures to zero", "    restart:\n      max_consecutive_failures: 0\n", func(r *RestartPolicy) { r.MaxConsecutiveFailures = 0 }},
		{"every key", "    restart: {delay_seconds: 1, max_consecutive_failures: 9, failure_reset_seconds: 7, backoff_factor: 3, max_delay_seconds: 0, broken_cooldown_seconds: 1}\n",
			func(r *RestartPolicy) {
				*r = RestartPolicy{Delay: time.Second, MaxConsecutiveFailures: 9, FailureReset: 7 * time.Second, BackoffFactor: 3, BrokenCooldown: time.Second}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := global + "programs:\n  - name: a\n    script: a.py\n" + tt.override
			c := mustLoad(t, yaml)
			want := base
			tt.want(&want)
			if c.Restart != base {
				t.Errorf("load(%q) global restart = %+v, want %+v", yaml, c.Restart, base)
			}
			if got := c.Programs[0].Restart; got != want {
				t.Errorf("load(%q) program restart = %+v, want %+v", yaml, got, want)
			}
		})
	}
}

func TestStopSignal(t *testing.T) {
	tests := []struct {
		in   string
		want syscall.Signal
	}{
		{"TERM", syscall.SIGTERM}, {"sigterm", syscall.SIGTERM}, {"Int", syscall.SIGINT}, {"SIGQUIT", syscall.SIGQUIT},
		{"hup", syscall.SIGHUP}, {"KILL", syscall.SIGKILL}, {"SIGUSR1", syscall.SIGUSR1}, {"usr2", syscall.SIGUSR2},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			yaml := "programs:\n  - {name: a, script: a.py, stop_signal: " + tt.in + "}\n"
			if got := mustLoad(t, yaml).Programs[0].StopSignal; got != tt.want {
				t.Errorf("load(%q) StopSignal = %v, want %v", yaml, got, tt.want)
			}
		})
	}
}

func TestLoadValues(t *testing.T) {
	prog := func(extra string) string { return "programs:\n  - name: a\n    script: a.py\n" + extra }
	tests := []struct {
		name  string
		yaml  string
		check func(c *Config) (got, want any)
	}{
		{"args list keeps scalars as written", prog("    args: [--n, 8080, 1.50, true, '']\n"),
			func(c *Config) (any, any) { return c.Programs[0].Args, []string{"--n", "8080", "1.50", "true", ""} }},
		{"args string is split", prog("    args: \"--name 'my app' --x=\\\"a b\\\"\"\n"),
			func(c *Config) (any, any) { return c.Programs[0].Args, []string{"--name", "my app", "--x=a b"} }},
		{"args block string is split", prog("    args: >-\n      --a 1\n      --b 2\n"),
			func(c *Config) (any, any) { return c.Programs[0].Args, []string{"--a", "1", "--b", "2"} }},
		{"environment list keeps = in values", prog("    environment: [A=1, B=x=y, C=]\n"),
			func(c *Config) (any, any) {
				return c.Programs[0].Environment, []EnvVar{{"A", "1"}, {"B", "x=y"}, {"C", ""}}
			}},
		{"environment mapping", prog("    environment:\n      A: 1\n      B: x=y\n      C:\n      D: 'true'\n"),
			func(c *Config) (any, any) {
				return c.Programs[0].Environment, []EnvVar{{"A", "1"}, {"B", "x=y"}, {"C", ""}, {"D", "true"}}
			}},
		{"yes and on are true", prog("    enabled: yes\n    autorestart: On\n"),
			func(c *Config) (any, any) {
				return [2]bool{c.Programs[0].Enabled, c.Programs[0].Autorestart}, [2]bool{true, true}
			}},
		{"no and off are false", prog("    enabled: no\n    autorestart: OFF\n"),
			func(c *Config) (any, any) {
				return [2]bool{c.Programs[0].Enabled, c.Programs[0].Autorestart}, [2]bool{false, false}
			}},
		{"numeric name is text", "programs:\n  - {name: 123, script: a.py}\n",
			func(c *Config) (any, any) { return c.Programs[0].Name, "123" }},
		{"name of 64 characters", "programs:\n  - {name: " + strings.Repeat("é", 64) + ", script: a.py}\n",
			func(c *Config) (any, any) { return len([]rune(c.Programs[0].Name)), 64 }},
		{"merge keys share settings", "programs:\n  - &base\n    name: a\n    script: a.py\n    stop_signal: INT\n  - <<: *base\n    name: b\n",
			func(c *Config) (any, any) {
				return []any{c.Programs[1].Name, c.Programs[1].Script, c.Programs[1].StopSignal}, []any{"b", "a.py", syscall.SIGINT}
			}},
		{"group", prog("    group: Web servers · EU\n"),
			func(c *Config) (any, any) { return c.Programs[0].Group, "Web servers · EU" }},
		{"no group", prog(""),
			func(c *Config) (any, any) { return c.Programs[0].Group, "" }},
		{"max size in bytes", "logging: {max_size_mb: 1.5}\n",
			func(c *Config) (any, any) { return c.Logging.MaxSizeBytes, int64(1536 << 10) }},
		{"tilde expands in paths", "venv: ~/venvs/app\n",
			func(c *Config) (any, any) { return c.resolve(c.Dir, c.Venv), testHome + "/venvs/app" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := loadYAML(t, tt.yaml)
			if err != nil {
				t.Fatalf("load(%q) failed: %v", tt.yaml, err)
			}
			if got, want := tt.check(c); !reflect.DeepEqual(got, want) {
				t.Errorf("load(%q): got %#v, want %#v", tt.yaml, got, want)
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	t.Run("missing config file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.yaml")
		c, err := Load(path)
		if c != nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
			t.Errorf("Load(%q) = %v, %v; want nil and an fs.ErrNotExist error naming the path", path, c, err)
		}
	})
	t.Run("relative path becomes absolute", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "pm.yaml", "venv: v\n")
		t.Chdir(dir)
		c, err := Load("pm.yaml")
		if err != nil {
			t.Fatalf("Load(pm.yaml) in %s failed: %v", dir, err)
		}
		// The temp dir may be reached through a symlink (macOS /var -> /private/var); compare what
		// the process sees as its working directory.
		wd, _ := os.Getwd()
		if c.Path != filepath.Join(wd, "pm.yaml") || c.Dir != wd {
			t.Errorf("Load(pm.yaml) Path, Dir = %q, %q; want %q, %q", c.Path, c.Dir, filepath.Join(wd, "pm.yaml"), wd)
		}
	})
	t.Run("tilde without a home directory", func(t *testing.T) {
		path := writeFile(t, t.TempDir(), "pm.yaml", "cwd: ~/x\n")
		_, err := load(path, []byte("cwd: ~/x\n"), "")
		checkProblems(t, "load(cwd: ~/x) without home", err, path, []wantErr{{1, "cwd", "home directory is unknown"}})
	})
}

// TestProgramsListed checks that a file that lists its programs, even as
// `programs: []`, is told from one that is empty or has no list, which a
// reload must not take for "remove every program".
func TestProgramsListed(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		want       bool
	}{
		{"empty file", "", false},
		{"only comments", "# programs:\n#   - {name: a, script: a.py}\n", false},
		{"no programs key", "web_ui: {port: 10001}\n", false},
		{"key without a value", "programs:\n#  - {name: a, script: a.py}\n", false},
		{"explicit empty list", "programs: []\n", true},
		{"a program", "programs:\n  - {name: a, script: a.py}\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustLoad(t, tt.yaml).ProgramsListed; got != tt.want {
				t.Errorf("load(%q).ProgramsListed = %t, want %t", tt.yaml, got, tt.want)
			}
		})
	}
}
