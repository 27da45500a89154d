package export

import (
	"slices"
	"strings"
	"testing"

	"github.com/pyvisor/pyvisor/internal/config"
)

// target is what one key of process_manager.yaml (as config.Keys writes it) becomes in each engine: the
// text of the directive or attribute that carries it, or "" where the key is not carried over and the
// export warns instead (a warning whose Key is the key, or a section above it). A key the loader learns
// is one more line here; the tests fail until it is.
type target struct {
	key, systemd, nomad string
}

func targets() []target {
	return []target{
		{"programs", "[Service]", "group "},
		{"programs[].name", "Description=", "task "},
		{"programs[].script", "ExecStart=", "args = "},
		{"programs[].args", "ExecStart=", "args = "},
		{"programs[].enabled", "enabled: false", "count = 0"},
		{"programs[].autorestart", "Restart=", "restart {"},
		{"programs[].venv", "VIRTUAL_ENV=", "VIRTUAL_ENV"},
		{"programs[].cwd", "WorkingDirectory=", "work_dir = "},
		{"programs[].environment", "Environment=", "env = "},
		{"programs[].env_file", "EnvironmentFile=", "template {"},
		{"programs[].restart", "RestartSec=", "restart {"},
		{"programs[].restart.delay_seconds", "RestartSec=", "delay = "},
		{"programs[].restart.max_consecutive_failures", "StartLimitBurst=", "attempts = "},
		{"programs[].restart.failure_reset_seconds", "StartLimitIntervalSec=", "interval = "},
		{"programs[].restart.backoff_factor", "RestartSteps=", ""},
		{"programs[].restart.max_delay_seconds", "RestartMaxDelaySec=", ""},
		{"programs[].restart.broken_cooldown_seconds", "", "unlimited = true"},
		{"programs[].stop_signal", "KillSignal=", "kill_signal = "},
		{"programs[].stop_timeout_seconds", "TimeoutStopSec=", "kill_timeout = "},
		{"programs[].exit_codes", "RestartPreventExitStatus=", ""},
		{"programs[].user", "User=", "user = "},
		{"programs[].memory_max_mb", "MemoryMax=", ""},
		{"programs[].cpu_max_percent", "CPUQuota=", ""},
		{"programs[].depends_on", "After=", ""},
		{"programs[].health_check.http", "", "type = \"http\""},
		{"programs[].health_check.tcp", "", "type = \"tcp\""},
		{"programs[].health_check.command", "", ""},
		{"programs[].health_check.interval_seconds", "", "interval = "},
		{"programs[].health_check.timeout_seconds", "", "timeout = "},
		{"programs[].health_check.failures", "", "limit = "},
		{"programs[].health_check.start_period_seconds", "", "grace = "},
		{"programs[].health_check", "", "check {"}, // after its keys: the first line that matches a key counts
		{"programs[].schedule", "OnCalendar=", "crons = "},
		{"programs[].timezone", " Europe/Berlin\n", "time_zone = "},
		{"programs[].instances", "PYVISOR_INSTANCE=%i", "count = 3"},
		{"programs[].group", "", ""},
		// The global settings are inherited by every program, which carries them over.
		{"venv", "VIRTUAL_ENV=", "VIRTUAL_ENV"},
		{"cwd", "WorkingDirectory=", "work_dir = "},
		{"env_file", "EnvironmentFile=", "template {"},
		{"user", "User=", "user = "},
		{"memory_max_mb", "MemoryMax=", ""},
		{"cpu_max_percent", "CPUQuota=", ""},
		{"restart", "RestartSec=", "restart {"},
		{"restart.delay_seconds", "RestartSec=", "delay = "},
		{"restart.max_consecutive_failures", "StartLimitBurst=", "attempts = "},
		{"restart.failure_reset_seconds", "StartLimitIntervalSec=", "interval = "},
		{"restart.backoff_factor", "RestartSteps=", ""},
		{"restart.max_delay_seconds", "RestartMaxDelaySec=", ""},
		{"restart.broken_cooldown_seconds", "", "unlimited = true"},
		{"logging", "StandardOutput=append:", "logs {"},
		{"logging.max_size_mb", "", "max_file_size = "},
		{"logging.backups", "", "max_files = "},
		// pyvisor's own settings: warned about when set.
		{"web_ui", "", ""},
		{"sampling", "", ""},
		{"uploads", "", ""},
		{"pip_args", "", ""},
		{"notify", "", ""},
	}
}

// targetOf returns the target of key: its own, or that of a section above it.
func targetOf(key string) (target, bool) {
	for _, t := range targets() {
		if key == t.key || strings.HasPrefix(key, t.key+".") || strings.HasPrefix(key, t.key+"[].") {
			return t, true
		}
	}
	return target{}, false
}

// covers reports whether w is about key: the key itself (a program's own keys without "programs[]."), a
// section above it, or a message that names it.
func covers(w Warning, key string) bool {
	k := strings.TrimPrefix(key, "programs[].")
	last := k[strings.LastIndexByte(k, '.')+1:]
	return w.Key == k || strings.HasPrefix(k, w.Key+".") || strings.HasPrefix(k, w.Key+"[].") || strings.Contains(w.Message, last)
}

// TestEveryKeyMappedOrWarned checks, for every key the configuration loader accepts (config.Keys, the
// loader's own lists), that the export of the every-key configuration carries it over (the output holds
// its target) or warns about it.
func TestEveryKeyMappedOrWarned(t *testing.T) {
	cfg := everyKey(t)
	units, sdWarnings := Systemd(cfg, SystemdOptions{Prefix: "pyvisor-"})
	var unitText strings.Builder
	for _, u := range units {
		unitText.Write(u.Content)
	}
	jobs, nomadWarnings := Nomad(cfg, NomadOptions{})
	var hcl string
	for _, job := range jobs {
		hcl += string(job.HCL("", nil)) // without the warnings, which name keys too
	}
	engines := []struct {
		name     string
		output   string
		warnings []Warning
		target   func(target) string
	}{
		{"systemd", unitText.String(), sdWarnings, func(t target) string { return t.systemd }},
		{"nomad", hcl, nomadWarnings, func(t target) string { return t.nomad }},
	}
	for _, key := range config.Keys() {
		tg, ok := targetOf(key)
		if !ok {
			t.Errorf("key %q has no line in targets(): say what it becomes in each engine", key)
			continue
		}
		for _, e := range engines {
			if want := e.target(tg); want != "" {
				if !strings.Contains(e.output, want) {
					t.Errorf("%s: key %q should become %q, which the output lacks", e.name, key, want)
				}
				continue
			}
			if !slices.ContainsFunc(e.warnings, func(w Warning) bool { return covers(w, key) }) {
				t.Errorf("%s: key %q is not carried over, but no warning names it; warnings:\n%s", e.name, key, warningText(e.warnings))
			}
		}
	}
}
