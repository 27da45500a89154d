package web

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// eventsOf is GET target decoded, with its status checked.
func eventsOf(t *testing.T, f *fixture, target string) api.EventPage {
	t.Helper()
	r := f.do(t, "GET", target, nil)
	if r.status != 200 {
		t.Fatalf("GET %s = %d %s, want 200", target, r.status, r.body)
	}
	return decode[api.EventPage](t, "GET "+target, r)
}

func eventKinds(p api.EventPage) string {
	var out []string
	for _, e := range p.Events {
		out = append(out, e.Event)
	}
	return strings.Join(out, " ")
}

func TestProgramEvents(t *testing.T) {
	f := newFixture(t, baseConfig)
	f.waitFor(t, "sleeper", "running", inState(supervisor.Running))
	for _, a := range []string{"stop", "start", "restart"} {
		if r := f.do(t, "POST", programPath("sleeper", "/"+a), nil); r.status != 200 {
			t.Fatalf("POST %s = %d %s", a, r.status, r.body)
		}
	}
	// Newest first; the restart's stop and start come after its request.
	page := eventsOf(t, f, programPath("sleeper", "/events"))
	if got, want := eventKinds(page), "started stopped restart started start stopped stop started"; got != want {
		t.Fatalf("events of sleeper: %q, want %q", got, want)
	}
	if page.Next != nil {
		t.Errorf("one page of all events has next %d, want null", *page.Next)
	}
	stopped := page.Events[1]
	if stopped.ExitSignal == nil || *stopped.ExitSignal != "SIGTERM" || stopped.RunSeconds == nil || stopped.ExitCode != nil ||
		!strings.HasPrefix(stopped.Detail, "killed by SIGTERM after ") || stopped.Actor != nil || stopped.Program != "sleeper" {
		t.Errorf("stopped event = %+v, want SIGTERM, a run time, no actor", stopped)
	}
	raw := f.do(t, "GET", programPath("sleeper", "/events?limit=1"), nil).body
	for _, field := range []string{`"id":`, `"time":"20`, `"program":"sleeper"`, `"event":"started"`, `"detail":"pid `, `"exit_code":null`, `"actor":null`, `"next":`} {
		if !strings.Contains(raw, field) {
			t.Errorf("GET events?limit=1 = %s, lacks %s", raw, field)
		}
	}

	// Paging: 3 at a time, following next, gives the same events.
	var paged []uint64
	target := programPath("sleeper", "/events?limit=3")
	for range 10 {
		p := eventsOf(t, f, target)
		for _, e := range p.Events {
			paged = append(paged, e.ID)
		}
		if p.Next == nil {
			break
		}
		target = programPath("sleeper", fmt.Sprintf("/events?limit=3&before=%d", *p.Next))
	}
	var all []uint64
	for _, e := range page.Events {
		all = append(all, e.ID)
	}
	if !slices.Equal(paged, all) {
		t.Errorf("paged IDs %v, want %v", paged, all)
	}

	// Every program's, and the manager's.
	f.sup.RecordConfigError(fmt.Errorf("bad file"))
	every := eventsOf(t, f, "/api/events/history?limit=2")
	if every.Events[0].Event != "config_error" || every.Events[0].Program != "" || every.Next == nil {
		t.Errorf("GET /api/events/history?limit=2 = %+v, want the config error first and a next page", every)
	}

	for _, target := range []string{"?limit=0", "?limit=1001", "?limit=x", "?before=0", "?before=-1", "?before=x"} {
		if r := f.do(t, "GET", programPath("sleeper", "/events"+target), nil); r.status != 400 {
			t.Errorf("GET events%s = %d, want 400", target, r.status)
		}
		if r := f.do(t, "GET", "/api/events/history"+target, nil); r.status != 400 {
			t.Errorf("GET /api/events/history%s = %d, want 400", target, r.status)
		}
	}
	if r := f.do(t, "GET", programPath("nobody", "/events"), nil); r.status != 404 {
		t.Errorf("GET events of an unknown program = %d, want 404", r.status)
	}
}

func TestProgramTimesAndActions(t *testing.T) {
	f := newFixture(t, baseConfig)
	f.waitFor(t, "sleeper", "running", inState(supervisor.Running))
	get := func() map[string]any {
		r := f.do(t, "GET", programPath("sleeper"), nil)
		return decode[map[string]any](t, "GET sleeper", r)
	}
	p := get()
	started, err := time.Parse(time.RFC3339, fmt.Sprint(p["started_at"]))
	if err != nil || p["last_exit_time"] != nil || fmt.Sprint(p["actions"]) != "[stop restart]" {
		t.Errorf("running: started_at %v (%v), last_exit_time %v, actions %v; want a time, null, [stop restart]",
			p["started_at"], err, p["last_exit_time"], p["actions"])
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(p["state_since"])); err != nil {
		t.Errorf("state_since %v: %v", p["state_since"], err)
	}
	f.do(t, "POST", programPath("sleeper", "/stop"), nil)
	p = get()
	exited, err := time.Parse(time.RFC3339, fmt.Sprint(p["last_exit_time"]))
	since, _ := time.Parse(time.RFC3339, fmt.Sprint(p["state_since"]))
	if err != nil || p["started_at"] != nil || exited.Before(started) || since.Before(exited) || fmt.Sprint(p["actions"]) != "[start restart]" {
		t.Errorf("stopped: started_at %v, last_exit_time %v, state_since %v, actions %v; want null, a time after the start, the stop's, [start restart]",
			p["started_at"], p["last_exit_time"], p["state_since"], p["actions"])
	}
}

func TestEventsStreamHistory(t *testing.T) {
	f := newFixture(t, baseConfig)
	f.waitFor(t, "sleeper", "running", inState(supervisor.Running))
	srv := serve(t, f.h)
	s := openStream(t, srv.URL+"/api/events")
	s.next(t, "programs")
	if r := f.do(t, "POST", programPath("sleeper", "/stop"), nil); r.status != 200 {
		t.Fatalf("stop = %d", r.status)
	}
	var got []string
	for len(got) < 2 {
		var e api.Event
		if err := json.Unmarshal([]byte(s.next(t, "history").data), &e); err != nil {
			t.Fatalf("history event: %v", err)
		}
		got = append(got, e.Program+" "+e.Event)
	}
	if strings.Join(got, ", ") != "sleeper stop, sleeper stopped" {
		t.Errorf("history events %q, want the stop request and the stop", got)
	}
}

func TestEventsRecordTheActor(t *testing.T) {
	af := newAuthFixture(t, baseConfig)
	af.waitFor(t, "sleeper", "running", inState(supervisor.Running))
	c := client(t, "")
	r := call(t, c, "POST", af.url+programPath("sleeper", "/stop"), nil, "Authorization", "Bearer "+af.token)
	if r.status != 200 {
		t.Fatalf("stop with a token = %d %s", r.status, r.body)
	}
	r = call(t, c, "GET", af.url+programPath("sleeper", "/events?limit=2"), nil, "Authorization", "Bearer "+af.token)
	page := decode[api.EventPage](t, "GET events", r)
	if len(page.Events) != 2 || page.Events[1].Actor == nil || *page.Events[1].Actor != "token:ci" || page.Events[1].Detail != "requested by token:ci" {
		t.Errorf("events after a stop with token ci: %+v, want the stop request by token:ci", page.Events)
	}
}
