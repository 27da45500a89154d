package api

// ProgramSettings is the body of GET /api/programs/{name}/settings: a
// program's definition as the manager resolves it. Environment values may be
// secrets: only the names of the variables are given.
type ProgramSettings struct {
	// Name is the program's name.
	Name string `json:"name"`
	// Group is the dashboard's heading for the program; "" for none.
	Group string `json:"group"`
	// Uploaded marks a program installed from the dashboard.
	Uploaded bool `json:"uploaded"`
	// Enabled says whether the program starts with the manager.
	Enabled bool `json:"enabled"`
	// Interpreter is the Python that runs the script: "<venv>/bin/python", or
	// "python3" looked up on PATH.
	Interpreter string `json:"interpreter"`
	// Venv is the absolute venv directory, or null.
	Venv *string `json:"venv"`
	// Script is the absolute path of the script.
	Script string `json:"script"`
	// Cwd is the absolute working directory.
	Cwd string `json:"cwd"`
	// Args are the script's arguments; [] when there are none.
	Args []string `json:"args"`
	// Environment are the names of the variables the configuration sets (env
	// files, environment, pyvisor's own), sorted; [] when none. Never values.
	Environment []string `json:"environment"`
	// User is the account the program runs as, or null for pyvisor's own.
	User *string `json:"user"`
	// Autorestart says whether an exit nobody asked for is followed by a restart.
	Autorestart bool `json:"autorestart"`
	// Restart is the restart policy in force.
	Restart RestartPolicy `json:"restart"`
	// StopSignal is the name of the signal that stops the program ("SIGTERM").
	StopSignal string `json:"stop_signal"`
	// StopTimeoutSeconds is the wait after StopSignal before SIGKILL.
	StopTimeoutSeconds float64 `json:"stop_timeout_seconds"`
	// ExitCodes are the exit codes that mean "done"; [] when none.
	ExitCodes []int `json:"exit_codes"`
}

// RestartPolicy is a program's restart policy, with the keys and units of
// the configuration file's restart block.
type RestartPolicy struct {
	DelaySeconds           float64 `json:"delay_seconds"`
	MaxConsecutiveFailures int     `json:"max_consecutive_failures"`
	FailureResetSeconds    float64 `json:"failure_reset_seconds"`
	BackoffFactor          float64 `json:"backoff_factor"`
	MaxDelaySeconds        float64 `json:"max_delay_seconds"`
	BrokenCooldownSeconds  float64 `json:"broken_cooldown_seconds"`
}

// Usage is the body of GET /api/programs/{name}/usage: the sampled history of
// a program's CPU and memory, oldest first, one value of each per sample.
type Usage struct {
	// IntervalSeconds is the time between two samples; the last was taken at
	// most this long ago. Samples are taken only while the program runs.
	IntervalSeconds float64 `json:"interval_seconds"`
	// CPUPercent are the CPU samples with one decimal; 100 is one core.
	CPUPercent []float64 `json:"cpu_percent"`
	// MemoryRSSBytes are the resident memory samples.
	MemoryRSSBytes []uint64 `json:"memory_rss_bytes"`
}
