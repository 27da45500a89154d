package export

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
)

// The job below is a small copy of the shape of Nomad's API (github.com/hashicorp/nomad/api), field names
// included, holding only what the export sets: the API module would bring a dozen of its own
// dependencies into pyvisor's binary for a handful of structs. The tests decode the JSON into the API's
// own Job, refusing unknown fields, so the two cannot drift apart unnoticed.

// NomadOptions says where the job runs.
type NomadOptions struct {
	// JobID names the job; "" means "pyvisor".
	JobID string
	// Datacenter is the job's only datacenter; "" means "dc1".
	Datacenter string
	// Python is the interpreter of programs without a venv, which pyvisor finds on its PATH and Nomad
	// needs as an absolute path; "" means /usr/bin/python3.
	Python string
}

// Job is a Nomad job: one group per program, each with one raw_exec task. Its JSON is that of Nomad's API.
type Job struct {
	ID, Name, Type string
	Datacenters    []string
	// Periodic makes a batch job run on a schedule; nil for the service job.
	Periodic   *Periodic `json:",omitempty"`
	TaskGroups []*TaskGroup
	// warnings are those that concern the job: for the service job, all but those of the periodic jobs'
	// programs.
	warnings []Warning
}

// Warnings returns the warnings that concern the job, for its comments.
func (j *Job) Warnings() []Warning { return j.warnings }

// Periodic is a job's periodic block: when Nomad launches it.
type Periodic struct {
	Enabled bool
	// Specs are cron expressions (hashicorp/cronexpr): the job runs at each time any matches.
	Specs    []string
	SpecType string
	// TimeZone is the IANA zone of Specs; "" means UTC.
	TimeZone string `json:",omitempty"`
	// ProhibitOverlap skips a launch while the previous one still runs, as pyvisor skips a due time.
	ProhibitOverlap bool
}

// TaskGroup is a program's group: how many copies run, and its restart and reschedule policies.
type TaskGroup struct {
	Name             string
	Count            int
	Networks         []*Network `json:",omitempty"`
	RestartPolicy    *RestartPolicy
	ReschedulePolicy *ReschedulePolicy
	Tasks            []*Task
}

// Network is a group's network block: here the static port of a health check.
type Network struct {
	ReservedPorts []Port
}

// Port is a port of a network block, which a service and its check name by Label.
type Port struct {
	Label string
	Value int
}

// Service registers a task with Nomad's own service catalogue, for its health check.
type Service struct {
	Name, Provider, PortLabel string
	Checks                    []ServiceCheck
	CheckRestart              *CheckRestart
}

// ServiceCheck is a service's check: an HTTP request or a TCP connection to the port PortLabel.
type ServiceCheck struct {
	Name, Type        string
	Path              string `json:",omitempty"`
	Protocol          string `json:",omitempty"`
	PortLabel         string
	Interval, Timeout time.Duration
}

// CheckRestart restarts the task after Limit failed checks in a row, not counting those within Grace of
// a start.
type CheckRestart struct {
	Limit int
	Grace time.Duration
}

// RestartPolicy is a group's restart block: restarts on the same client.
type RestartPolicy struct {
	Attempts        int
	Interval, Delay time.Duration
	Mode            string
}

// ReschedulePolicy is a group's reschedule block: what happens once the restarts are used up.
type ReschedulePolicy struct {
	Attempts        int
	Interval, Delay time.Duration
	DelayFunction   string
	MaxDelay        time.Duration
	Unlimited       bool
}

// Task is a program's task.
type Task struct {
	Name, Driver string
	User         string `json:",omitempty"`
	Config       TaskConfig
	Env          map[string]string `json:",omitempty"`
	KillSignal   string
	KillTimeout  time.Duration
	LogConfig    *LogConfig
	Templates    []*Template `json:",omitempty"`
	Services     []*Service  `json:",omitempty"`
}

// TaskConfig is the raw_exec driver's configuration.
type TaskConfig struct {
	Command string   `json:"command"`
	Args    []string `json:"args"`
	WorkDir string   `json:"work_dir"`
}

// LogConfig is a task's logs block: Nomad keeps and rotates the task's stdout and stderr itself.
type LogConfig struct {
	MaxFiles      int
	MaxFileSizeMB int
}

// Template renders an env file, or the text EmbeddedTmpl, into the task's environment.
type Template struct {
	SourcePath   string `json:",omitempty"`
	EmbeddedTmpl string `json:",omitempty"`
	DestPath     string
	Envvars      bool
	ChangeMode   string
}

// Nomad returns the jobs for cfg and every warning. The first is the service job opts.JobID, with a
// group per program and one group of count N for the copies of an entry with instances; then, since a
// whole Nomad job is periodic or not, a periodic batch job "JOBID-NAME" for each job of the configuration.
// The service job is left out when every program is a job.
func Nomad(cfg *config.Config, opts NomadOptions) ([]*Job, []Warning) {
	if opts.JobID == "" {
		opts.JobID = "pyvisor"
	}
	if opts.Datacenter == "" {
		opts.Datacenter = "dc1"
	}
	if opts.Python == "" {
		opts.Python = "/usr/bin/python3"
	}
	main := &Job{ID: opts.JobID, Name: opts.JobID, Type: "service", Datacenters: []string{opts.Datacenter}}
	main.warnings = pyvisorOwn(cfg)
	if len(cfg.Programs) > 0 {
		main.warnings = append(main.warnings, Warning{Key: "resources", Message: "pyvisor sets no CPU or memory limits: " +
			"Nomad reserves its defaults (100 MHz, 300 MB) for every task; give each task a resources block that fits it"},
			Warning{Key: "logging", Message: "Nomad keeps each task's stdout and stderr in files of its own, " +
				"rotated at whole megabytes; read them with `nomad alloc logs`"})
	}
	copies := map[string][]*config.Program{}
	for i := range cfg.Programs {
		if p := &cfg.Programs[i]; p.InstanceOf != "" {
			copies[p.InstanceOf] = append(copies[p.InstanceOf], p)
		}
	}
	var periodic []*Job
	for i := range cfg.Programs {
		p := &cfg.Programs[i]
		var groups []*TaskGroup
		var warnings []Warning
		switch {
		case p.InstanceOf == "":
			g, w := nomadGroup(cfg, p, opts)
			groups, warnings = []*TaskGroup{g}, w
		case p.Instance == 1:
			groups, warnings = nomadCopies(cfg, copies[p.InstanceOf], opts)
		default:
			continue // with the first copy
		}
		if p.Schedule == "" {
			main.TaskGroups = append(main.TaskGroups, groups...)
			main.warnings = append(main.warnings, warnings...)
			continue
		}
		name := cmp.Or(p.InstanceOf, p.Name)
		pc, w := nomadPeriodic(p, name)
		warnings = append(warnings, w...)
		if pc == nil {
			main.warnings = append(main.warnings, warnings...)
			continue
		}
		id := jobID(opts.JobID + "-" + name)
		periodic = append(periodic, &Job{ID: id, Name: id, Type: "batch", Datacenters: main.Datacenters,
			Periodic: pc, TaskGroups: groups, warnings: warnings})
	}
	jobs := periodic
	if len(main.TaskGroups) > 0 || len(periodic) == 0 {
		jobs = append([]*Job{main}, periodic...)
	} else {
		periodic[0].warnings = append(main.warnings, periodic[0].warnings...)
	}
	var all []Warning
	for _, j := range jobs {
		all = append(all, j.warnings...)
	}
	return jobs, all
}

// Nomad's lower bounds: a restart interval and a reschedule delay shorter than these are refused.
const (
	minRestartInterval = 5 * time.Second
	minRescheduleDelay = 5 * time.Second
	// maxKillTimeout is a Nomad client's default max_kill_timeout, which caps kill_timeout.
	maxKillTimeout = 30 * time.Second
)

func nomadGroup(cfg *config.Config, p *config.Program, opts NomadOptions) (*TaskGroup, []Warning) {
	r := resolve(cfg, p)
	warnings := r.warnings
	warn := func(key, format string, args ...any) {
		warnings = append(warnings, Warning{Program: p.Name, Key: key, Message: fmt.Sprintf(format, args...)})
	}
	task := &Task{
		Name:        p.Name,
		Driver:      "raw_exec",
		Config:      TaskConfig{Command: r.cmd.Python, Args: append([]string{r.cmd.Script}, r.cmd.Args...), WorkDir: r.cmd.Dir},
		KillSignal:  signalName(p.StopSignal),
		KillTimeout: p.StopTimeout,
		LogConfig:   nomadLogs(cfg.Logging),
	}
	if r.cmd.Venv == "" {
		task.Config.Command = opts.Python
		warn("venv", "no venv: Nomad needs the interpreter's absolute path, %s is assumed", opts.Python)
	}
	for _, a := range task.Config.Args {
		if strings.Contains(a, "${") {
			warn("args", "Nomad replaces ${...} in arguments with its variables; check %q", a)
		}
	}
	if r.cmd.User != nil {
		task.User = r.cmd.User.Name
		warn("user", "raw_exec runs tasks as %s only when the Nomad client runs as root", r.cmd.User.Name)
	}
	if len(r.env) > 0 {
		task.Env = map[string]string{}
	}
	for _, e := range r.env {
		task.Env[e.Key] = e.Value
		if strings.Contains(e.Key, "-") {
			warn("environment", "Nomad turns the dashes in %s into underscores", e.Key)
		}
		if strings.Contains(e.Value, "${") {
			warn("environment", "Nomad replaces ${...} in %s with its variables", e.Key)
		}
	}
	for i, f := range r.envFiles {
		task.Templates = append(task.Templates, &Template{
			SourcePath: f, DestPath: fmt.Sprintf("secrets/env%d.env", i+1), Envvars: true, ChangeMode: "restart",
		})
	}
	if len(r.envFiles) > 0 {
		warn("env_file", "read through a template block: the Nomad clients need template.disable_file_sandbox = true "+
			"to read a file outside the allocation, and {{ in a value starts a template action")
	}
	if p.StopTimeout > maxKillTimeout {
		warn("stop_timeout_seconds", "Nomad clients cap kill_timeout at their max_kill_timeout, 30s by default; raise it on the clients")
	}
	if l := p.Limits; l.MemoryMax > 0 || l.CPUMaxPercent > 0 {
		warn("memory_max_mb", "memory_max_mb and cpu_max_percent are not carried over: give the task a resources block "+
			"(memory_max = %d MB; cpu is reserved in MHz, not a share of a core)", (l.MemoryMax+1<<20-1)>>20)
	}
	if len(p.DependsOn) > 0 {
		warn("depends_on", "Nomad starts the groups of a job together: it has no start order between them")
	}
	switch {
	case len(p.ExitCodes) > 0 && p.Schedule != "":
		warn("exit_codes", "Nomad counts a batch task that exits with any code but 0 as failed")
	case len(p.ExitCodes) > 0:
		warn("exit_codes", "a service job's task is restarted after every exit: Nomad has no exit codes that mean done")
	}
	count := 1
	if !p.Enabled {
		count = 0
	}
	g := &TaskGroup{Name: p.Name, Count: count, Tasks: []*Task{task}}
	if p.HealthCheck != nil {
		nomadCheck(p, g, opts, warn)
	}
	g.RestartPolicy, g.ReschedulePolicy = nomadRestart(p, warn)
	return g, warnings
}

// nomadRestart maps pyvisor's restart policy to Nomad's two blocks: restarts on the same client after a
// constant delay, and, once max_consecutive_failures is used up, the reschedule block that plays the part
// of broken_cooldown_seconds.
func nomadRestart(p *config.Program, warn func(key, format string, args ...any)) (*RestartPolicy, *ReschedulePolicy) {
	r := p.Restart
	never := &ReschedulePolicy{DelayFunction: "constant"}
	if !p.Autorestart && p.Schedule != "" {
		// A job: Nomad launches the batch task at each due time, as pyvisor starts it.
		return &RestartPolicy{Attempts: 0, Interval: minRestartInterval, Delay: r.Delay, Mode: "fail"}, never
	}
	if !p.Autorestart {
		warn("autorestart", "off: the task is neither restarted nor rescheduled after it exits, and Nomad counts its allocation failed")
		return &RestartPolicy{Attempts: 0, Interval: minRestartInterval, Delay: r.Delay, Mode: "fail"}, never
	}
	if r.BackoffFactor > 1 {
		warn("restart.backoff_factor", "Nomad restarts a task after a constant delay: %s at each restart "+
			"(backoff_factor and max_delay_seconds are not carried over)", r.Delay)
	}
	if r.MaxConsecutiveFailures == 0 {
		// Never broken: "delay" mode waits out the interval and goes on restarting.
		return &RestartPolicy{Attempts: 1, Interval: max(r.Delay, minRestartInterval), Delay: r.Delay, Mode: "delay"}, never
	}
	warn("restart.failure_reset_seconds", "Nomad counts restarts within an interval (%s), not failures in a row", failureWindow(r))
	restart := &RestartPolicy{
		Attempts: r.MaxConsecutiveFailures - 1,
		Interval: max(failureWindow(r), minRestartInterval),
		Delay:    r.Delay,
		Mode:     "fail",
	}
	if r.BrokenCooldown == 0 {
		return restart, never
	}
	delay := r.BrokenCooldown
	if delay < minRescheduleDelay {
		warn("restart.broken_cooldown_seconds", "Nomad reschedules after at least %s", minRescheduleDelay)
		delay = minRescheduleDelay
	}
	return restart, &ReschedulePolicy{Delay: delay, DelayFunction: "constant", MaxDelay: delay, Unlimited: true}
}

// nomadLogs keeps as much log per task as pyvisor keeps per program: the current file and its backups.
func nomadLogs(l config.Logging) *LogConfig {
	return &LogConfig{MaxFiles: l.Backups + 1, MaxFileSizeMB: max(1, int(math.Round(float64(l.MaxSizeBytes)/(1<<20))))}
}

// JSON renders the job as `nomad job run -json` and the HTTP API take it: {"Job": {...}}. JSON has no
// comments: the warnings are the caller's to print.
func (j *Job) JSON() ([]byte, error) {
	out, err := json.MarshalIndent(struct{ Job *Job }{j}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode job %q: %w", j.ID, err)
	}
	return append(out, '\n'), nil
}
