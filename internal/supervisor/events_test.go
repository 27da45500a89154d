package supervisor

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// kinds lists the kinds of the events of program, oldest first.
func kinds(sup *Supervisor, program string) []string {
	evs, _ := sup.History(program, 0, 1000)
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, string(evs[i].Kind))
	}
	return out
}

// waitEvents waits until the program's history, oldest first, ends with want.
func waitEvents(t *testing.T, sup *Supervisor, program string, want ...string) []Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := kinds(sup, program)
		if len(got) >= len(want) && strings.Join(got[len(got)-len(want):], " ") == strings.Join(want, " ") {
			evs, _ := sup.History(program, 0, len(want))
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("events of %q: %q, want them to end with %q", program, got, want)
		}
		time.Sleep(20 * time.Millisecond) // History has no notice of its own; SubscribeEvents is tested below
	}
}

func TestEventsOfACrashLoop(t *testing.T) {
	f := newFixture(t, `
restart: {delay_seconds: 0, max_consecutive_failures: 2}
programs:
  - {name: crasher, script: crash.py, args: "7"}
`)
	m := f.start()
	m.waitFor(t, "crasher", "broken", inState(Broken))
	evs := waitEvents(t, m.sup, "crasher", "started", "exited", "restarting", "started", "exited", "broken")
	exit := evs[1] // newest first: broken, exited, ...
	if exit.ExitCode == nil || *exit.ExitCode != 7 || exit.Signal != "" || exit.RunTime <= 0 ||
		!strings.HasPrefix(exit.Detail, "exit status 7 after ") || !strings.HasSuffix(exit.Detail, " s") {
		t.Errorf("exited event = %+v, want exit code 7, a run time and %q", exit, "exit status 7 after N.N s")
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].ID != evs[i-1].ID-1 || evs[i].Time.After(evs[i-1].Time) {
			t.Errorf("events out of order: %+v before %+v", evs[i], evs[i-1])
		}
	}
	st, _ := m.sup.Status("crasher")
	if st.LastExitTime.IsZero() || st.LastExitTime.Before(st.StartedAt) || st.StateSince.Before(st.LastExitTime) {
		t.Errorf("status: last exit %v, started %v, state since %v; want started <= last exit <= state since",
			st.LastExitTime, st.StartedAt, st.StateSince)
	}
}

// TestStateSinceBeforeTheFirstStart checks that a program the manager has not
// yet started reads as stopped since the manager began, not since year 1.
func TestStateSinceBeforeTheFirstStart(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: web, script: sleeper.py}
`)
	before := time.Now()
	sup := New(f.cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), UploadFiles: testUploadFiles{}})
	st, err := sup.Status("web")
	if err != nil || st.State != Stopped || st.StateSince.Before(before) || st.StateSince.After(time.Now()) {
		t.Errorf("Status before Run = %s since %v, %v; want stopped since %v or later", st.State, st.StateSince, err, before)
	}
}

func TestEventsOfUserActions(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: web, script: sleeper.py}
`)
	m := f.start()
	m.waitFor(t, "web", "running", inState(Running))
	events, cancel := m.sup.SubscribeEvents()
	defer cancel()
	if _, err := m.sup.Stop(WithActor(t.Context(), "alice"), "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.sup.Restart(t.Context(), "web"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 4 {
		select {
		case e := <-events:
			got = append(got, fmt.Sprintf("%s %s %s %q", e.Program, e.Kind, e.Actor, e.Detail))
		case <-time.After(10 * time.Second):
			t.Fatalf("subscription: %q, want 4 events", got)
		}
	}
	want := []string{`web stop alice "requested by alice"`, `web stopped  "killed by SIGTERM after `, `web restart  "requested"`, `web started  "pid `}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("event %d = %s, want it to start with %s", i, got[i], w)
		}
	}
}

func TestEventsKeptAcrossManagerRestart(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: a, script: sleeper.py}
`)
	m := f.start()
	m.waitFor(t, "a", "running", inState(Running))
	before := waitEvents(t, m.sup, "a", "started")
	m.stop()
	m2 := f.start()
	evs := waitEvents(t, m2.sup, "a", "started", "adopted")
	if evs[1].ID != before[0].ID || evs[0].ID != before[0].ID+1 {
		t.Errorf("after a restart: IDs %d, %d; want %d read back and %d next", evs[1].ID, evs[0].ID, before[0].ID, before[0].ID+1)
	}
	m2.sup.RecordConfigError(errors.New("process_manager.yaml:3: bad"))
	all, _ := m2.sup.History("", 0, 1)
	if len(all) != 1 || all[0].Kind != EventConfigError || all[0].Program != "" {
		t.Errorf("newest event of all = %+v, want the config error", all)
	}
}

func TestFormatRunTime(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{3100 * time.Millisecond, "3.1 s"},
		{0, "0.0 s"},
		{5*time.Minute + 2*time.Second, "5 min 2 s"},
		{3*time.Hour + 4*time.Minute + 59*time.Second, "3 h 4 min"},
		{50 * time.Hour, "2 d 2 h"},
	} {
		if got := formatRunTime(tc.d); got != tc.want {
			t.Errorf("formatRunTime(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
