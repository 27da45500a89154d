package config

// The keys each mapping of the configuration accepts. The decoders and Keys use these same lists, so a key
// the loader accepts is always listed by Keys.

func topKeys() []string {
	return []string{
		"web_ui", "venv", "cwd", "env_file", "restart", "logging", "sampling", "uploads", "pip_args", "user",
		"memory_max_mb", "cpu_max_percent", "notify", "programs",
	}
}

func webUIKeys() []string {
	return []string{"host", "port", "title", "allowed_hosts", "auth", "tls_cert", "tls_key", "secure_cookies"}
}

func authKeys() []string { return []string{"username", "password_hash", "tokens", "session_hours"} }

func tokenKeys() []string { return []string{"name", "sha256"} }

func restartKeys() []string {
	return []string{
		"delay_seconds", "max_consecutive_failures", "failure_reset_seconds",
		"backoff_factor", "max_delay_seconds", "broken_cooldown_seconds",
	}
}

func loggingKeys() []string { return []string{"max_size_mb", "backups"} }

func samplingKeys() []string { return []string{"interval_seconds", "history"} }

func uploadsKeys() []string {
	return []string{"max_zip_mb", "max_files", "max_unpacked_mb", "python", "install_timeout_seconds"}
}

// programKeys returns the keys of a program entry in process_manager.yaml.
func programKeys() []string {
	return []string{
		"name", "script", "enabled", "autorestart", "venv", "cwd", "args", "environment",
		"env_file", "restart", "stop_signal", "stop_timeout_seconds", "exit_codes", "user", "group",
		"memory_max_mb", "cpu_max_percent", "health_check", "depends_on", "schedule", "timezone", "instances",
	}
}

func healthCheckKeys() []string {
	return []string{"http", "tcp", "command", "interval_seconds", "timeout_seconds", "failures", "start_period_seconds"}
}

// uploadedProgramKeys are the keys of an entry of uploaded_programs.yaml: only those pyvisor writes there,
// since it rewrites the file at every upload and any other setting would be lost without a word.
func uploadedProgramKeys() []string {
	return []string{"name", "script", "args", "enabled", "cwd", "venv", "group"}
}

// Keys lists every key process_manager.yaml accepts, as dotted paths: "restart.delay_seconds",
// "web_ui.auth.tokens[].name", "programs[].restart.max_delay_seconds". A key whose value is a mapping
// is listed along with its own keys. It lets other packages check that they handle every setting.
func Keys() []string {
	var out []string
	add := func(prefix string, keys []string) {
		for _, k := range keys {
			out = append(out, prefix+k)
		}
	}
	add("", topKeys())
	add("web_ui.", webUIKeys())
	add("web_ui.auth.", authKeys())
	add("web_ui.auth.tokens[].", tokenKeys())
	add("restart.", restartKeys())
	add("logging.", loggingKeys())
	add("sampling.", samplingKeys())
	add("uploads.", uploadsKeys())
	add("notify[].", notifyKeys())
	add("programs[].", programKeys())
	add("programs[].restart.", restartKeys())
	add("programs[].health_check.", healthCheckKeys())
	return out
}
