package api

import "time"

// Program is PROGRAM of the API: one program's state as the manager reports
// it, the body of GET /api/programs/{name}, of the actions (POST
// /api/programs/{name}/start, stop, restart) and of an upload's answer.
// Pointer fields are null when they do not apply.
type Program struct {
	// Name is the program's name, unique in the manager.
	Name string `json:"name"`
	// State is one of "running", "stopped", "installing", "restarting",
	// "stopping", "error", "broken", "waiting" (for the programs it depends on).
	State string `json:"state"`
	// PID is null when no process runs.
	PID *int `json:"pid"`
	// Adopted marks a process started by an earlier manager: its exit code will be unknown.
	Adopted bool `json:"adopted"`
	// UptimeSeconds is how long the current process has run, in whole seconds; 0 when none runs.
	UptimeSeconds int64 `json:"uptime_seconds"`
	// RestartCount counts automatic and manual restarts since the manager started.
	RestartCount int `json:"restart_count"`
	// ConsecutiveFailures counts failed runs in a row.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// ExitCode is null if no process ended yet, or the last one was killed by a
	// signal or its status is unknown (adopted).
	ExitCode *int `json:"exit_code"`
	// ExitSignal is the name ("SIGKILL") of the signal that killed the last process, or null.
	ExitSignal *string `json:"exit_signal"`
	// ExitDescription says how the last process ended in words, or is null.
	ExitDescription *string `json:"exit_description"`
	// NextStartSeconds is the time until a restarting or cooling-down program
	// starts, with one decimal, or null.
	NextStartSeconds *float64 `json:"next_start_seconds"`
	// CPUPercent is the whole process group's CPU use with one decimal; 100 is one core. It is null
	// when no process runs and before the process's second sample (CPU use is measured between two).
	CPUPercent *float64 `json:"cpu_percent"`
	// CPUHistory holds the recent CPUPercent samples, oldest first, with one decimal.
	CPUHistory []float64 `json:"cpu_history"`
	// MemoryRSSBytes is the whole process group's resident memory; 0 when no process runs and before its first sample.
	MemoryRSSBytes uint64 `json:"memory_rss_bytes"`
	// Enabled says whether the program starts with the manager.
	Enabled bool `json:"enabled"`
	// Uploaded marks a program installed from the dashboard rather than the configuration file.
	Uploaded bool `json:"uploaded"`
	// Group is the heading the dashboard lists the program under; "" for none.
	Group string `json:"group"`
	// Script is the path of the Python script the program runs.
	Script string `json:"script"`
	// Cwd is the program's working directory.
	Cwd string `json:"cwd"`
	// Args are the script's arguments; [] when there are none, never null.
	Args []string `json:"args"`
	// Error is the last error message, or null; while waiting, what for.
	Error *string `json:"error"`
	// StartedAt is when the current process started (RFC 3339), or null when none runs.
	StartedAt *time.Time `json:"started_at"`
	// LastExitTime is when the last process ended, or null if none has ended
	// since the manager started.
	LastExitTime *time.Time `json:"last_exit_time"`
	// StateSince is when the program entered its state (or the manager started).
	StateSince time.Time `json:"state_since"`
	// Actions are the actions that apply now, of "start", "stop", "restart",
	// "update", "remove" (the last two for uploaded programs); [] for none.
	Actions []string `json:"actions"`
	// Health is null without a health check or a running process, else "starting" (no check of this
	// run has passed yet), "healthy" or "unhealthy".
	Health *string `json:"health"`
	// HealthDetail describes the last failed health check (the HTTP status, the error, or the last line
	// a command printed), or is null; a passing check clears it.
	HealthDetail *string `json:"health_detail"`
	// Schedule is a job's schedule as configured ("30 3 * * *", "@every 90s"), or null for a program
	// that runs all the time.
	Schedule *string `json:"schedule"`
	// NextRun is a job's next due time (RFC 3339), or null when its schedule is not armed.
	NextRun *string `json:"next_run"`
	// LastRun is how a job's last run ended, or null before one has ended since the manager started.
	LastRun *Run `json:"last_run"`
	// SkippedRuns counts a job's due times skipped because the previous run was still going.
	SkippedRuns int `json:"skipped_runs"`
	// InstanceOf is, for a copy of a program with instances, the name of the entry it was made from
	// (NAME of NAME:2), or null.
	InstanceOf *string `json:"instance_of"`
	// Instance is a copy's number, from 1, or null.
	Instance *int `json:"instance"`
}

// Run is one ended run of a job: the last_run of PROGRAM.
type Run struct {
	// Started and Ended are RFC 3339 times.
	Started string `json:"started"`
	Ended   string `json:"ended"`
	// ExitCode is null when the run was killed by a signal or its status is unknown (adopted).
	ExitCode *int `json:"exit_code"`
	// ExitDescription says how the run ended in words ("exit status 1", "killed by SIGKILL").
	ExitDescription string `json:"exit_description"`
	// Outcome is "succeeded" (exit 0 or a code of exit_codes), "failed", "unknown" (adopted) or
	// "stopped" (ended by a stop or restart).
	Outcome string `json:"outcome"`
}

// ProgramList is the body of GET /api/programs and the data of each
// "programs" event of GET /api/events.
type ProgramList struct {
	// Title is the title shown in the dashboard's header.
	Title string `json:"title"`
	// Programs are every program, in the configuration file's order, then the
	// uploaded ones in the order they were added.
	Programs []Program `json:"programs"`
	// Reload says whether POST /api/reload is available.
	Reload bool `json:"reload"`
	// MaxZipBytes is the largest ZIP an upload may send, in bytes
	// (uploads.max_zip_mb): the dashboard refuses a larger one before sending it.
	MaxZipBytes int64 `json:"max_zip_bytes"`
}

// ReloadResult is the body of POST /api/reload's answer: what the reload
// changed. Program names are in the order of the new file (removed ones: in
// the order they were shown). Empty lists are [], never null.
type ReloadResult struct {
	// Added are programs new in the file: registered, and started if enabled.
	Added []string `json:"added"`
	// Removed are programs no longer in the file: stopped and dropped.
	Removed []string `json:"removed"`
	// Changed are programs whose definition changed, directly or through a
	// global setting: restarted with it unless the user had stopped them.
	Changed []string `json:"changed"`
	// NeedsRestart names the settings that changed but take effect only when
	// the manager is restarted, such as "web_ui.port".
	NeedsRestart []string `json:"needs_restart"`
}
