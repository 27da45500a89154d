package api

import "time"

// Limits of a page of the event history.
const (
	// DefaultEvents is how many events a page holds when limit is not given.
	DefaultEvents = 50
	// MaxEvents is the most events one page may hold.
	MaxEvents = 1000
)

// Event is one thing that happened to a program (or to the manager), as the
// history keeps it: an element of EventPage and the data of an "history"
// event of GET /api/events.
type Event struct {
	// ID grows by one with each event, across restarts of the manager; a
	// page's Next and the before parameter refer to it.
	ID uint64 `json:"id"`
	// Time is when it happened (RFC 3339).
	Time time.Time `json:"time"`
	// Program is the program it happened to; "" for the manager's own events
	// (config_error).
	Program string `json:"program"`
	// Event names what happened: "started", "adopted", "exited", "stopped",
	// "restarting", "broken", "unhealthy", "retry", "error", "start", "stop", "restart"
	// (asked for by someone), "installing", "installed", "install_failed",
	// "added", "removed", "changed" (by a reload), "config_error",
	// "notify_failed" (a notification could not be delivered).
	Event string `json:"event"`
	// Detail says it in words: "exit status 1 after 3.1 s".
	Detail string `json:"detail"`
	// ExitCode is the exit code of a process that exited by itself
	// ("exited", "stopped"), or null.
	ExitCode *int `json:"exit_code"`
	// ExitSignal names the signal that ended the process ("SIGTERM"), or is null.
	ExitSignal *string `json:"exit_signal"`
	// RunSeconds is how long an ended process ran, or null.
	RunSeconds *float64 `json:"run_seconds"`
	// Actor is who asked for a start, stop or restart (a user, "token:NAME"),
	// or null for what the manager did itself and requests without credentials.
	Actor *string `json:"actor"`
}

// EventPage is the body of GET /api/programs/{name}/events and GET
// /api/events/history: events newest first.
type EventPage struct {
	// Events are [] when there are none, never null.
	Events []Event `json:"events"`
	// Next is the before parameter that gives the next (older) page, or null
	// when there is none.
	Next *uint64 `json:"next"`
}
