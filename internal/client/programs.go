package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Program is PROGRAM of the API: one program's state as the manager reports it.
// Pointer fields are null in the API when they do not apply.
type Program struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// PID is nil when no process runs.
	PID *int `json:"pid"`
	// Adopted marks a process started by an earlier manager.
	Adopted             bool  `json:"adopted"`
	UptimeSeconds       int64 `json:"uptime_seconds"`
	RestartCount        int   `json:"restart_count"`
	ConsecutiveFailures int   `json:"consecutive_failures"`
	// ExitCode is nil if no process ended yet, or it was killed by a signal or adopted.
	ExitCode *int `json:"exit_code"`
	// ExitSignal names the signal that killed the last process ("SIGKILL"), or is nil.
	ExitSignal      *string `json:"exit_signal"`
	ExitDescription *string `json:"exit_description"`
	// NextStartSeconds is the time to the next start of a restarting or cooling-down program, or nil.
	NextStartSeconds *float64 `json:"next_start_seconds"`
	// CPUPercent is the whole process group's CPU use; 100 is one core.
	CPUPercent     float64   `json:"cpu_percent"`
	CPUHistory     []float64 `json:"cpu_history"`
	MemoryRSSBytes uint64    `json:"memory_rss_bytes"`
	Enabled        bool      `json:"enabled"`
	Uploaded       bool      `json:"uploaded"`
	Script         string    `json:"script"`
	Cwd            string    `json:"cwd"`
	Args           []string  `json:"args"`
	// Error is the last error message, or nil.
	Error *string `json:"error"`
}

// ProgramList is the answer of GET /api/programs.
type ProgramList struct {
	Title    string    `json:"title"`
	Programs []Program `json:"programs"`
	// Raw is the answer as the manager sent it (without the final newline), for
	// callers that pass it on unchanged.
	Raw []byte `json:"-"`
}

// Names returns the programs' names in the manager's (config) order.
func (l *ProgramList) Names() []string {
	names := make([]string, len(l.Programs))
	for i := range l.Programs {
		names[i] = l.Programs[i].Name
	}
	return names
}

// Programs returns every program, in config order.
func (c *Client) Programs(ctx context.Context) (*ProgramList, error) {
	var l ProgramList
	raw, err := c.decode(ctx, http.MethodGet, "/api/programs", &l)
	if err != nil {
		return nil, err
	}
	l.Raw = raw
	return &l, nil
}

// Start starts the named program and returns it once it runs (a no-op on a
// running program). A start that fails is an *APIError with status 409
// carrying the reason.
func (c *Client) Start(ctx context.Context, name string) (*Program, error) {
	return c.act(ctx, name, "start")
}

// Stop stops the named program and returns it once its whole process group
// is gone (a no-op on a stopped program).
func (c *Client) Stop(ctx context.Context, name string) (*Program, error) {
	return c.act(ctx, name, "stop")
}

// Restart restarts the named program (clearing broken) and returns it once it runs again.
func (c *Client) Restart(ctx context.Context, name string) (*Program, error) {
	return c.act(ctx, name, "restart")
}

func (c *Client) act(ctx context.Context, name, action string) (*Program, error) {
	var p Program
	if _, err := c.decode(ctx, http.MethodPost, programPath(name)+"/"+action, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ErrReloadUnsupported is returned by Reload when the manager has no reload
// route (it answers 404 or 405): it is older than the client.
var ErrReloadUnsupported = errors.New("this manager does not support reload")

// ReloadResult is the answer of POST /api/reload: the names of the programs
// the new configuration added, removed and changed, and of those whose
// changes take effect only at their next restart.
type ReloadResult struct {
	Added        []string `json:"added"`
	Removed      []string `json:"removed"`
	Changed      []string `json:"changed"`
	NeedsRestart []string `json:"needs_restart"`
}

// Reload asks the manager to read its configuration file again. A rejected
// configuration is an *APIError with status 422 whose Message is the
// manager's report of every problem.
func (c *Client) Reload(ctx context.Context) (*ReloadResult, error) {
	var r ReloadResult
	_, err := c.decode(ctx, http.MethodPost, "/api/reload", &r)
	var ae *APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusMethodNotAllowed) {
		return nil, fmt.Errorf("%w (%s %s answered %d: %s)", ErrReloadUnsupported, ae.Method, ae.Path, ae.Status, ae.Message)
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}
