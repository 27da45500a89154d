package supervisor

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestPublishCountsEveryChange checks that a runner's publish records every
// change for Generation, and tells the subscribers of those that need an event.
func TestPublishCountsEveryChange(t *testing.T) {
	base := Status{Name: "p", State: Stopped, Script: "/srv/p.py", Args: []string{"a"}}
	tests := []struct {
		name   string
		change func(*Status)
		event  bool
	}{
		{"state", func(st *Status) { st.State, st.PID = Running, 42 }, true},
		{"error", func(st *Status) { st.State, st.Error = Error, "start: no such file" }, true},
		{"next start", func(st *Status) { st.NextStart = time.Unix(100, 0) }, true},
		{"args only (an update or a reload)", func(st *Status) { st.Args = []string{"b"} }, true},
		{"enabled only", func(st *Status) { st.Enabled = true }, true},
		{"script only", func(st *Status) { st.Script = "/srv/q.py" }, true},
		{"started at only", func(st *Status) { st.StartedAt = time.Unix(100, 0) }, false},
		{"nothing", func(*Status) {}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var notified, bumped int
			p := &program{name: "p", notify: func() { notified++ }, bumpGeneration: func() { bumped++ }}
			old := base
			p.snapshot.Store(&old)
			r := &runner{program: p, st: base}
			tt.change(&r.st)
			r.publish()
			if notified+bumped != 1 {
				t.Errorf("publish after a change of %s: %d notifications and %d silent changes, want 1 in all", tt.name, notified, bumped)
			}
			if (notified == 1) != tt.event {
				t.Errorf("publish after a change of %s: notified %d times, want event %v", tt.name, notified, tt.event)
			}
			if got := p.status(); got.State != r.st.State || !slices.Equal(got.Args, r.st.Args) || got.Enabled != r.st.Enabled {
				t.Errorf("publish after a change of %s: snapshot %+v, want %+v", tt.name, got, r.st)
			}
		})
	}
}

// TestGeneration checks that Generation grows with every change to what
// Statuses returns, and that Statuses read after it show the change.
func TestGeneration(t *testing.T) {
	const yaml = `
sampling: {interval_seconds: 3600}
programs:
  - {name: sleeper, script: sleeper.py, enabled: false}
  - {name: idle, script: sleeper.py, enabled: false%s}
`
	f := newFixture(t, fmt.Sprintf(yaml, ""))
	m := f.start()
	<-m.sup.Ready()
	if got := New(f.cfg, Options{}).Generation(); got != 0 {
		t.Errorf("Generation of a new supervisor = %d, want 0", got)
	}
	status := func(name string) Status {
		for _, st := range m.sup.Statuses() {
			if st.Name == name {
				return st
			}
		}
		t.Fatalf("Statuses has no %q", name)
		return Status{}
	}
	steps := []struct {
		name string
		do   func(t *testing.T)
		want func(Status) bool // of the program named by check
		prog string
	}{
		{"start", func(t *testing.T) {
			if _, err := m.sup.Start(t.Context(), "sleeper"); err != nil {
				t.Fatalf("Start(sleeper): %v", err)
			}
		}, func(st Status) bool { return st.State == Running && st.PID != 0 }, "sleeper"},
		{"stop", func(t *testing.T) {
			if _, err := m.sup.Stop(t.Context(), "sleeper"); err != nil {
				t.Fatalf("Stop(sleeper): %v", err)
			}
		}, func(st Status) bool { return st.State == Stopped && st.PID == 0 }, "sleeper"},
		{"reload changing a stopped program's args", func(t *testing.T) {
			m.reload(t, f, fmt.Sprintf(yaml, `, args: ["--new"]`))
		}, func(st Status) bool { return slices.Equal(st.Args, []string{"--new"}) }, "idle"},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			before := m.sup.Generation()
			step.do(t)
			if after := m.sup.Generation(); after <= before {
				t.Errorf("%s: Generation went from %d to %d, want it to grow", step.name, before, after)
			}
			if st := status(step.prog); !step.want(st) {
				t.Errorf("%s: Statuses gives %q as %+v, want it changed", step.name, step.prog, st)
			}
		})
	}
}

// TestGenerationSampling checks that each sampling round, which changes the
// measurements Statuses returns, grows Generation with no request made.
func TestGenerationSampling(t *testing.T) {
	f := newFixture(t, `
sampling: {interval_seconds: 0.05}
programs:
  - {name: sleeper, script: sleeper.py}
`)
	m := f.start()
	m.waitFor(t, "sleeper", "running", inState(Running))
	changed, cancel := m.sup.Subscribe()
	defer cancel()
	before := m.sup.Generation()
	deadline := time.After(20 * time.Second)
	for m.sup.Generation() == before {
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("Generation stayed %d for 20 s of sampling every 50 ms, want it to grow", before)
		}
	}
}
