package export

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
		// The global settings are inherited by every program, which carries them over.
		{"venv", "VIRTUAL_ENV=", "VIRTUAL_ENV"},
		{"cwd", "WorkingDirectory=", "work_dir = "},
		{"env_file", "EnvironmentFile=", "template {"},
		{"user", "User=", "user = "},
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
	}
}
