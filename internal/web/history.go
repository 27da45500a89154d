package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// setTimesAndActions fills the times of PROGRAM and the actions that apply
// to st. It is pure.
func setTimesAndActions(p *api.Program, st *supervisor.Status) {
	if st.PID != 0 && !st.StartedAt.IsZero() {
		t := apiTime(st.StartedAt)
		p.StartedAt = &t
	}
	if !st.LastExitTime.IsZero() {
		t := apiTime(st.LastExitTime)
		p.LastExitTime = &t
	}
	p.StateSince = apiTime(st.StateSince)
	p.Actions = supervisor.Actions(st)
}

// apiTime is t as the API shows it: UTC, to the millisecond, which is all
// anyone reads and keeps the events small.
func apiTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// newEventJSON converts an event of the history to the API's. It is pure.
func newEventJSON(e *supervisor.Event) api.Event {
	out := api.Event{ID: e.ID, Time: apiTime(e.Time), Program: e.Program, Event: string(e.Kind),
		Detail: e.Detail, ExitCode: e.ExitCode}
	if e.Signal != "" {
		out.ExitSignal = &e.Signal
	}
	if e.RunTime > 0 {
		s := e.RunTime.Seconds()
		out.RunSeconds = &s
	}
	if e.Actor != "" {
		out.Actor = &e.Actor
	}
	return out
}

// historyParams reads limit (1 to api.MaxEvents) and before (an event ID) of a history request.
func historyParams(q url.Values) (limit int, before uint64, err error) {
	limit, err = intParam(q, "limit", api.DefaultEvents, 1, api.MaxEvents)
	if err != nil {
		return 0, 0, err
	}
	if s := q.Get("before"); s != "" {
		before, err = strconv.ParseUint(s, 10, 64)
		if err != nil || before == 0 {
			return 0, 0, badRequest(fmt.Sprintf("parameter before=%q is not an event ID", s))
		}
	}
	return limit, before, nil
}

// writeHistory answers with a page of the history of program ("" for all).
func (h *handler) writeHistory(w http.ResponseWriter, r *http.Request, program string) {
	limit, before, err := historyParams(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	events, next := h.sup.History(program, before, limit)
	if program != "" && len(events) == 0 {
		// The history of a program removed since is still served; a name
		// never seen is not.
		if _, err := h.sup.Status(program); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	page := api.EventPage{Events: make([]api.Event, len(events))}
	for i := range events {
		page.Events[i] = newEventJSON(&events[i])
	}
	if next != 0 {
		page.Next = &next
	}
	writeJSON(w, http.StatusOK, page)
}

// programEvents serves GET /api/programs/{name}/events.
func (h *handler) programEvents(w http.ResponseWriter, r *http.Request) {
	h.writeHistory(w, r, r.PathValue("name"))
}

// allEvents serves GET /api/events/history.
func (h *handler) allEvents(w http.ResponseWriter, r *http.Request) {
	h.writeHistory(w, r, "")
}

// withActor is the request's context carrying who asks, for the history of
// the actions it makes.
func withActor(r *http.Request) context.Context {
	user := infoOf(r).user
	if user == "-" {
		return r.Context()
	}
	return supervisor.WithActor(r.Context(), user)
}
