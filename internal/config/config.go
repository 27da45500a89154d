// Package config owns the schema of process_manager.yaml: the typed structs, every default (in Default and
// defaultProgram), loading with an error report that names file, line and field for every problem at once,
// and the pure resolution of a program into the interpreter, script, directory, arguments and environment
// to run it with. It imports no package of ours.
package config

import (
	"path/filepath"
	"syscall"
	"time"
)

// Config is a loaded process_manager.yaml. Paths are kept as written; Command resolves them.
type Config struct {
	// Path is the absolute path of the loaded file; "" for Default.
	Path string
	// Dir is the absolute directory that relative venv, cwd and env_file paths resolve against: the config
	// file's directory, or the directory given to Default.
	Dir string
	// Home is what a leading "~" in a path expands to. Load fills it from os.UserHomeDir; "" (as in Default)
	// means no expansion.
	Home string

	// WebUI configures the dashboard.
	WebUI WebUI
	// Venv, Cwd and EnvFile are the global settings as written; "" means unset.
	Venv, Cwd, EnvFile string
	// EnvFileVars is the content of EnvFile in file order, read by Load.
	EnvFileVars []EnvVar
	// Restart is the global restart policy; each Program carries its merged copy.
	Restart RestartPolicy
	// Logging configures every program's log files.
	Logging Logging
	// Sampling configures CPU and memory sampling.
	Sampling Sampling
	// Uploads configures programs uploaded from the dashboard (limits, venv, pip).
	Uploads Uploads
	// User is the account programs and the installs of uploads run as, unless a program names its own;
	// nil means pyvisor's own account.
	User *User
	// Limits are the memory and CPU limits of every program that sets none of its own.
	Limits Limits
	// Notify says whom to tell when a program breaks, in file order; nil means nobody.
	Notify []Notify
	// Programs are in file order, then the uploaded ones (Uploaded set); names are unique.
	Programs []Program
	// ProgramsListed tells whether the file lists its programs: it has a programs key with a list, even
	// `programs: []`. It is false for a file that is empty, all comments, without the key, or with the key
	// and no value (every entry commented out), which a reload must not take for "remove every program".
	ProgramsListed bool
}

// WebUI configures the dashboard's HTTP server.
type WebUI struct {
	// Host is the listen address; the default 127.0.0.1 keeps the dashboard, which can start programs,
	// off the network until the user opts in.
	Host string
	// Port is the listen port, 1-65535.
	Port int
	// Title is shown in the dashboard's header and the page title.
	Title string
	// AllowedHosts are extra Host header values the server accepts; nil means none beyond the defaults
	// the web package applies.
	AllowedHosts []string
	// Auth says who may use the dashboard and the API (web_ui.auth).
	Auth Auth
	// TLSCert and TLSKey are the absolute paths of the certificate (chain) and key to serve HTTPS with;
	// both "" means plain HTTP. Load checks that they are a readable, matching pair.
	TLSCert, TLSKey string
	// SecureCookies says when the session cookie is marked Secure (web_ui.secure_cookies); the zero
	// value is SecureCookiesAuto.
	SecureCookies SecureCookies
}

// RestartPolicy says when and how fast a program that exited unrequested is started again.
type RestartPolicy struct {
	// Delay is the wait before the first restart after a failure.
	Delay time.Duration
	// MaxConsecutiveFailures is how many failures in a row mark the program broken; 0 means never.
	MaxConsecutiveFailures int
	// FailureReset is how long a program must run before its failure count goes back to zero.
	FailureReset time.Duration
	// BackoffFactor multiplies the delay for every further consecutive failure:
	// delay = Delay * BackoffFactor^(failures-1). 1 keeps the delay constant.
	BackoffFactor float64
	// MaxDelay caps the backed-off delay; 0 means no cap.
	MaxDelay time.Duration
	// BrokenCooldown is how long a broken program waits before one more attempt; 0 means it stays broken
	// until started by hand.
	BrokenCooldown time.Duration
}

// Logging configures the per-program log files.
type Logging struct {
	// MaxSizeBytes is the size at which a log file is rotated.
	MaxSizeBytes int64
	// Backups is how many rotated files are kept; at least 1.
	Backups int
}

// Sampling configures CPU and memory sampling of running programs.
type Sampling struct {
	// Interval is the time between samples.
	Interval time.Duration
	// History is how many samples are kept per program.
	History int
}

// Limits are a program's memory and CPU limits. The zero value means no limit.
type Limits struct {
	// MemoryMax is the most memory, in bytes, the program's processes may use together (memory_max_mb);
	// 0 means no limit.
	MemoryMax int64
	// CPUMaxPercent is the most CPU the program's processes may use together, in percent of one core
	// (cpu_max_percent: 100 is one core, 250 two and a half); 0 means no limit.
	CPUMaxPercent float64
}

// Program is one entry of the programs list, with defaults and the global restart policy applied.
type Program struct {
	// Name identifies the program in the dashboard, the API, the state file and its log file name.
	Name string
	// Script is the path as written, relative to the program's working directory unless absolute.
	Script string
	// Enabled means start the program when the manager starts.
	Enabled bool
	// Autorestart means restart the program after an exit nobody asked for.
	Autorestart bool
	// Venv and Cwd are overrides as written; "" inherits the global setting.
	Venv, Cwd string
	// Args follow the script on the command line.
	Args []string
	// Environment is the program's environment setting, in file order.
	Environment []EnvVar
	// EnvFile is the program's env_file as written; "" means none.
	EnvFile string
	// EnvFileVars is the content of EnvFile in file order, read by Load.
	EnvFileVars []EnvVar
	// Restart is the global policy with the program's overrides applied.
	Restart RestartPolicy
	// StopSignal is sent to the program's process group to stop it.
	StopSignal syscall.Signal
	// StopTimeout is how long to wait after StopSignal before SIGKILL.
	StopTimeout time.Duration
	// ExitCodes are exit codes meaning "done, don't restart"; nil means every unrequested exit is a failure.
	ExitCodes []int
	// User is the account the program runs as; nil inherits Config.User.
	User *User
	// Limits are the global limits with the program's own applied.
	Limits Limits
	// HealthCheck says how to check that the program works; nil means no check.
	HealthCheck *HealthCheck
	// DependsOn names programs of the same file that must run (and be healthy, if they have a health
	// check) before this one is started by the manager's start, a reload or a start request.
	DependsOn []string
	// Schedule makes the program a job: the expression as written (five cron fields, @hourly, @daily,
	// @weekly, "@every 90s"), which ParseSchedule reads; "" means a program that runs all the time. A
	// job is started at each due time and never restarted when it exits (Autorestart is false).
	Schedule string
	// Timezone is the IANA time zone of Schedule; "" means the machine's local time.
	Timezone string
	// InstanceOf is the name of the entry this program is a copy of, for an entry with instances: N, which
	// Load expands into N programs named NAME:1 to NAME:N; "" for a program that is not a copy.
	InstanceOf string
	// Instance is the copy's number, 1 to N; 0 for a program that is not a copy.
	Instance int
	// Template is, for a copy, the entry's args and environment before the copy's number was put in;
	// the zero value for a program that is not a copy.
	Template InstanceTemplate
	// Uploaded marks programs loaded from uploaded_programs.yaml rather than the main file.
	Uploaded bool
	// Group is the heading the dashboard lists the program under; "" means none. It changes nothing else.
	Group string
	// Line is the line of the program's entry in its file; 0 for programs not read from a file.
	Line int
}

// EnvVar is one environment variable setting. Values may be secrets and are never displayed.
type EnvVar struct {
	// Key is the variable's name: not empty, no '=' and no NUL.
	Key string
	// Value may be empty.
	Value string
}

// Default is the configuration used when there is no config file: no programs, the web UI on
// 127.0.0.1:10000 titled "Process Manager", and every other setting at its default. Relative paths
// resolve against dir. Load starts from it, so these are the defaults for absent keys too.
func Default(dir string) *Config {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return &Config{
		Dir: dir,
		WebUI: WebUI{
			Host:  "127.0.0.1",
			Port:  10000,
			Title: "Process Manager",
			Auth:  Auth{SessionLifetime: DefaultSessionLifetime},
		},
		Restart: RestartPolicy{
			Delay:                  1 * time.Second,
			MaxConsecutiveFailures: 10,
			FailureReset:           60 * time.Second,
			BackoffFactor:          1,
			MaxDelay:               300 * time.Second,
			BrokenCooldown:         0,
		},
		Logging:  Logging{MaxSizeBytes: 10 << 20, Backups: 1},
		Sampling: Sampling{Interval: 2 * time.Second, History: 60},
		Uploads:  defaultUploads(),
	}
}

// defaultProgram is a program entry before its keys are applied: the defaults for every absent key.
func (c *Config) defaultProgram() Program {
	return Program{
		Enabled:     true,
		Autorestart: true,
		Restart:     c.Restart,
		Limits:      c.Limits,
		StopSignal:  syscall.SIGTERM,
		StopTimeout: 10 * time.Second,
	}
}
