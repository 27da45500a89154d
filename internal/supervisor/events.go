package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/pyvisor/pyvisor/internal/eventlog"
	"github.com/pyvisor/pyvisor/internal/proc"
)

// EventsFileName is the history of events, beside the configuration file.
const EventsFileName = "process_manager.events.jsonl"

// EventKind says what happened. Its strings are part of the JSON API and of
// the history file.
type EventKind string

// The kinds of events.
const (
	EventStarted     EventKind = "started"        // a new process runs
	EventAdopted     EventKind = "adopted"        // a process an earlier manager started is supervised again
	EventExited      EventKind = "exited"         // the process ended without being asked to
	EventStopped     EventKind = "stopped"        // the process ended because it was stopped
	EventRestarting  EventKind = "restarting"     // an automatic restart is scheduled
	EventBroken      EventKind = "broken"         // too many failures in a row
	EventUnhealthy   EventKind = "unhealthy"      // the health check failed: the program is restarted
	EventRetry       EventKind = "retry"          // a broken program's cool-down is over: started again
	EventSkipped     EventKind = "skipped"        // a job's due time came while its last run was still going
	EventError       EventKind = "error"          // a start or a stop failed
	EventStart       EventKind = "start"          // someone asked for a start
	EventStop        EventKind = "stop"           // someone asked for a stop
	EventRestart     EventKind = "restart"        // someone asked for a restart
	EventInstalling  EventKind = "installing"     // an upload's install began
	EventInstalled   EventKind = "installed"      // it ended well
	EventInstallFail EventKind = "install_failed" // it failed
	EventAdded       EventKind = "added"          // a reload added the program
	EventRemoved     EventKind = "removed"        // a reload removed it
	EventChanged     EventKind = "changed"        // a reload changed its definition
	EventConfigError EventKind = "config_error"   // the configuration file could not be loaded (no program)
	EventNotifyFail  EventKind = "notify_failed"  // a notification could not be delivered
)

// Event is one thing that happened, as recorded in the history.
type Event struct {
	// ID grows by one with each event, across restarts of the manager.
	ID   uint64
	Time time.Time
	// Program is "" for events of the manager itself (EventConfigError).
	Program string
	Kind    EventKind
	// Detail says what happened in words: "exit status 1 after 3.1 s".
	Detail string
	// ExitCode is set for a process that exited by itself (EventExited, EventStopped).
	ExitCode *int
	// Signal names the signal that ended the process ("SIGTERM"), or is "".
	Signal string
	// RunTime is how long an ended process ran; 0 when it does not apply or is unknown.
	RunTime time.Duration
	// Actor is who asked (a user, "token:NAME"); "" for what the manager did itself
	// or a request without credentials.
	Actor string
}

// actorKey carries the actor of a request in its context.
type actorKey struct{}

// WithActor returns ctx carrying who makes the requests made with it, for
// the history: Start, Stop and Restart record it.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// actorOf returns the actor WithActor put in ctx, or "".
func actorOf(ctx context.Context) string {
	a, _ := ctx.Value(actorKey{}).(string)
	return a
}

// subscriberBuffer is how far a subscriber may fall behind before its channel
// is closed.
const subscriberBuffer = 256

// eventHub owns the history: every event goes through emit, which appends
// it to the file and hands it to each subscriber, in ID order. Appending is
// one write into the kernel's cache, so the runners that emit wait no longer
// than that (and, once every 2,000 events, for the file's compaction);
// nothing is dropped.
type eventHub struct {
	log *slog.Logger

	mu      sync.Mutex // guards everything below; held across append and hand-out, so order is kept
	store   *eventlog.Log
	subs    map[chan Event]struct{}
	failing bool // the last write failed: logged once until one succeeds
}

func newEventHub(log *slog.Logger) *eventHub {
	return &eventHub{log: log, subs: map[chan Event]struct{}{}}
}

// open reads the history at path and appends to it from now on. A history
// that cannot be opened is kept in memory only, and said so.
func (h *eventHub) open(path string) {
	store, err := eventlog.Open(path, eventlog.Options{Logger: h.log})
	if err != nil {
		h.log.Error("event history: keeping events in memory only", "err", err)
		store, _ = eventlog.Open("", eventlog.Options{Logger: h.log})
	}
	h.mu.Lock()
	h.store = store
	h.mu.Unlock()
}

// close closes the file; events of a manager shutting down after that are not kept.
func (h *eventHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.store == nil {
		return
	}
	if err := h.store.Close(); err != nil {
		h.log.Warn("close the event history", "err", err)
	}
	h.store = nil
}

// emit records e and hands it to the subscribers.
func (h *eventHub) emit(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.store == nil {
		h.log.Debug("event outside the manager's run not recorded", "program", e.Program, "event", e.Kind)
		return
	}
	rec, err := h.store.Append(toRecord(&e))
	switch {
	case err != nil && !h.failing:
		h.failing = true
		h.log.Error("event history: write failed; events are kept in memory until it works again", "err", err)
	case err == nil && h.failing:
		h.failing = false
		h.log.Info("event history: writing again")
	}
	e.ID, e.Time = rec.ID, rec.Time
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
			// A reader this far behind would hold up every runner; it learns
			// it missed events by the close and can page them in by ID.
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// subscribe returns a channel of the events from now on.
func (h *eventHub) subscribe() (<-chan Event, func()) {
	ch := make(chan Event, subscriberBuffer)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// page returns a page of the history (see Supervisor.History).
func (h *eventHub) page(program string, before uint64, limit int) ([]Event, uint64) {
	h.mu.Lock()
	store := h.store
	h.mu.Unlock()
	if store == nil {
		return []Event{}, 0
	}
	recs, next := store.Page(program, before, limit)
	out := make([]Event, len(recs))
	for i := range recs {
		out[i] = fromRecord(&recs[i])
	}
	return out, next
}

func toRecord(e *Event) eventlog.Event {
	r := eventlog.Event{Time: e.Time, Program: e.Program, Kind: string(e.Kind), Detail: e.Detail,
		ExitCode: e.ExitCode, Signal: e.Signal, Actor: e.Actor}
	if e.RunTime > 0 {
		s := e.RunTime.Seconds()
		r.RunSeconds = &s
	}
	return r
}

func fromRecord(r *eventlog.Event) Event {
	e := Event{ID: r.ID, Time: r.Time, Program: r.Program, Kind: EventKind(r.Kind), Detail: r.Detail,
		ExitCode: r.ExitCode, Signal: r.Signal, Actor: r.Actor}
	if r.RunSeconds != nil {
		e.RunTime = time.Duration(*r.RunSeconds * float64(time.Second))
	}
	return e
}

// SubscribeEvents returns a channel that receives every event recorded from
// now on, in order. A reader that falls 256 events behind finds the channel
// closed; History has what it missed. cancel releases the subscription.
func (s *Supervisor) SubscribeEvents() (events <-chan Event, cancel func()) {
	return s.events.subscribe()
}

// History returns up to limit events of program ("" for every program and
// the manager's own) with IDs below before (0 for the newest), newest first,
// and the ID to pass as before for the next page: 0 when none is older. The
// history holds the newest 10,000 events or so, kept across restarts.
func (s *Supervisor) History(program string, before uint64, limit int) (events []Event, next uint64) {
	return s.events.page(program, before, limit)
}

// RecordConfigError records in the history that the configuration file could
// not be loaded again (a reload that changed nothing).
func (s *Supervisor) RecordConfigError(err error) {
	s.events.emit(Event{Kind: EventConfigError, Detail: err.Error()})
}

// RecordNotifyFailure records in the history that a notification about
// program ("" for a test notification) could not be delivered, and why.
func (s *Supervisor) RecordNotifyFailure(program, detail string) {
	s.events.emit(Event{Program: program, Kind: EventNotifyFail, Detail: detail})
}

// eventsPath is where the history is kept: opts.EventsPath, or beside the configuration.
func eventsPath(opts *Options, dir string) string {
	if opts.EventsPath != "" {
		return opts.EventsPath
	}
	return filepath.Join(dir, EventsFileName)
}

// emitEvent records an event of r's program, now.
func (r *runner) emitEvent(kind EventKind, detail string) {
	r.emit(Event{Time: time.Now(), Program: r.name, Kind: kind, Detail: detail})
}

// recordRequest records a user's start, stop or restart as it reaches the runner.
func (r *runner) recordRequest(req *request) {
	kind, ok := map[op]EventKind{opStart: EventStart, opStop: EventStop, opRestart: EventRestart}[req.op]
	if !ok {
		return
	}
	detail := "requested"
	if req.actor != "" {
		detail += " by " + req.actor
	}
	r.emit(Event{Time: time.Now(), Program: r.name, Kind: kind, Detail: detail, Actor: req.actor})
}

// recordExit notes when and how the process ended after it ran for ran:
// on its own, with d saying what follows (EventExited, then EventRestarting
// or EventBroken), or because it was stopped (d nil: EventStopped).
func (r *runner) recordExit(exit proc.ExitStatus, ran time.Duration, d *exitDecision) {
	now := time.Now()
	r.st.LastExitTime = now
	e := Event{Time: now, Program: r.name, Kind: EventStopped, RunTime: ran, Detail: exit.String()}
	if d != nil {
		e.Kind = EventExited
	}
	switch {
	case !exit.Known:
	case exit.Signal != 0:
		e.Signal = exit.SignalName()
	default:
		code := exit.Code
		e.ExitCode = &code
	}
	if ran > 0 {
		e.Detail += " after " + formatRunTime(ran)
	}
	r.emit(e)
	switch {
	case d == nil:
	case d.State == Restarting:
		r.emitEvent(EventRestarting, fmt.Sprintf("in %s (failure %d in a row)", d.Delay, d.Failures))
	case d.State == Broken:
		r.emitEvent(EventBroken, d.Reason)
	}
}

// recordRetry records the start of a broken program whose cool-down is over.
func (r *runner) recordRetry() {
	if r.st.State == Broken {
		r.emitEvent(EventRetry, "cool-down over; starting again")
	}
}

// recordError records a failure: an install's when one was under way, else
// a start's or a stop's.
func (r *runner) recordError(msg string) {
	kind := EventError
	if r.st.State == Installing {
		kind = EventInstallFail
	}
	r.emitEvent(kind, msg)
}

// stampState notes when the program entered its state, before a publish.
func (r *runner) stampState() {
	if old := r.snapshot.Load(); old == nil || old.State != r.st.State || r.st.StateSince.IsZero() {
		r.st.StateSince = time.Now()
	}
}

// formatRunTime gives a run time as a person reads it: 3.1 s, 5 min 2 s, 3 h 4 min, 2 d 1 h.
func formatRunTime(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%d d %d h", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}
