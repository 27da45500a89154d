package supervisor

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// TestScheduledRuns runs jobs every second on real processes: a run that exits 0 is a successful last
// run and the job is stopped until its next due time; one that exits 1 is a failed run, and failed runs
// in a row make the job broken without stopping its schedule.
func TestScheduledRuns(t *testing.T) {
	f := newFixture(t, `
restart: {max_consecutive_failures: 2}
programs:
  - {name: ok, script: crash.py, args: ["0"], schedule: "@every 1s"}
  - {name: bad, script: crash.py, args: ["1"], schedule: "@every 1s"}
  - {name: off, script: crash.py, args: ["0"], schedule: "@every 1s", enabled: false}
`)
	m := f.start()
	st := m.waitFor(t, "ok", "a successful run", func(s Status) bool { return s.LastRun != nil && s.State == Stopped })
	if st.State != Stopped || st.LastRun.Outcome != RunSucceeded || !st.LastRun.Exit.Known || st.LastRun.Exit.Code != 0 {
		t.Errorf("ok after a run: state %s, last run %+v; want stopped, succeeded with exit 0", st.State, st.LastRun)
	}
	if !st.LastRun.Ended.After(st.LastRun.Started) {
		t.Errorf("ok: last run started %s, ended %s", st.LastRun.Started, st.LastRun.Ended)
	}
	if st.NextRun.IsZero() || !st.NextRun.After(st.LastRun.Started) {
		t.Errorf("ok: next run %s, want one after the last run's start %s", st.NextRun, st.LastRun.Started)
	}
	if st.Schedule != "@every 1s" || st.ConsecutiveFailures != 0 {
		t.Errorf("ok: schedule %q, failures %d; want @every 1s, 0", st.Schedule, st.ConsecutiveFailures)
	}
	first := *st.LastRun
	m.waitFor(t, "ok", "a second run", func(s Status) bool { return s.LastRun != nil && s.LastRun.Started.After(first.Started) })

	st = m.waitFor(t, "bad", "a failed run", func(s Status) bool { return s.LastRun != nil })
	// (The next run may have begun already: the state is not checked.)
	if st.LastRun.Outcome != RunFailed || st.LastRun.Exit.Code != 1 || st.ConsecutiveFailures < 1 {
		t.Errorf("bad after a run: last run %+v, failures %d; want failed with exit 1, counted", st.LastRun, st.ConsecutiveFailures)
	}
	st = m.waitFor(t, "bad", "broken", inState(Broken))
	if st.NextRun.IsZero() {
		t.Errorf("bad is broken with no next run: a broken job keeps its schedule")
	}
	m.waitFor(t, "bad", "a third failed run", func(s Status) bool { return s.ConsecutiveFailures >= 3 })

	if st, _ := m.sup.Status("off"); st.LastRun != nil || !st.NextRun.IsZero() || st.State != Stopped {
		t.Errorf("disabled job: state %s, last run %+v, next run %s; want stopped, none, none", st.State, st.LastRun, st.NextRun)
	}
}

// TestScheduleStartStop checks that Start runs a job now and arms its schedule, and Stop disarms it.
func TestScheduleStartStop(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: daily, script: crash.py, args: ["0"], schedule: "0 3 * * *", enabled: false}
`)
	m := f.start()
	st, err := m.sup.Start(t.Context(), "daily")
	if err != nil {
		t.Fatalf("Start(daily): %v", err)
	}
	if st.NextRun.IsZero() || time.Until(st.NextRun) > 24*time.Hour {
		t.Errorf("after Start: next run %s, want within a day", st.NextRun)
	}
	st = m.waitFor(t, "daily", "the run Start began", func(s Status) bool { return s.LastRun != nil })
	if st.LastRun.Outcome != RunSucceeded {
		t.Errorf("run started by hand: %+v, want succeeded", st.LastRun)
	}
	st, err = m.sup.Stop(t.Context(), "daily")
	if err != nil || !st.NextRun.IsZero() {
		t.Errorf("Stop(daily) = next run %s, err %v; want no next run", st.NextRun, err)
	}
}

// TestScheduleOverlapSkipped checks that a due time that comes while the run before is still going
// starts nothing and is recorded.
func TestScheduleOverlapSkipped(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: slow, script: sleeper.py, schedule: "@every 1s"}
`)
	m := f.start()
	run := m.waitFor(t, "slow", "running", inState(Running))
	// On a loaded machine the interpreter may take longer to start than a due time.
	testkit.Eventually(t, "the run to print", func() bool { return strings.Contains(f.readLog("slow"), "sleeper up") })
	st := m.waitFor(t, "slow", "a skipped due time", func(s Status) bool { return s.SkippedRuns >= 2 })
	if st.PID != run.PID || st.State != Running {
		t.Errorf("after skipped due times: pid %d state %s, want the first run %d still running alone", st.PID, st.State, run.PID)
	}
	if n := strings.Count(f.readLog("slow"), "sleeper up"); n != 1 {
		t.Errorf("the log shows %d runs started, want 1", n)
	}
	evs, _ := m.sup.History("slow", 0, 1000)
	if !slices.ContainsFunc(evs, func(e Event) bool { return e.Kind == EventSkipped }) {
		t.Errorf("history of slow: %+v; want a skipped due time recorded", evs)
	}
	// Killed, the run is a failed one; the next due time starts a new run.
	syscall.Kill(run.PID, syscall.SIGKILL)
	st = m.waitFor(t, "slow", "a new run", func(s Status) bool { return s.State == Running && s.PID != run.PID })
	if st.LastRun == nil || st.LastRun.Outcome != RunFailed || st.LastRun.Exit.SignalName() != "SIGKILL" {
		t.Errorf("last run after a kill: %+v, want failed by SIGKILL", st.LastRun)
	}
}

// TestScheduledJobAdoptedAcrossRestart checks that a run going when the manager stops is adopted by the
// next one, which does not start it twice and records its end as unknown.
func TestScheduledJobAdoptedAcrossRestart(t *testing.T) {
	f := newFixture(t, `
programs:
  - {name: job, script: waiter.py, schedule: "@every 1s"}
`)
	writeScript(t, f, "waiter.py", `import os, time
print("run", flush=True)
while not os.path.exists("release"):
    time.sleep(0.05)
`)
	m := f.start()
	run := m.waitFor(t, "job", "running", inState(Running))
	m.stop()
	m2 := f.start()
	st := m2.waitFor(t, "job", "adopted", inState(Running))
	if st.PID != run.PID || !st.Adopted {
		t.Fatalf("after the manager's restart: pid %d adopted %t, want pid %d adopted", st.PID, st.Adopted, run.PID)
	}
	m2.waitFor(t, "job", "a due time skipped", func(s Status) bool { return s.SkippedRuns >= 1 })
	if err := os.WriteFile(filepath.Join(f.dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st = m2.waitFor(t, "job", "the adopted run's end", func(s Status) bool { return s.LastRun != nil })
	if st.LastRun.Outcome != RunUnknown || st.LastRun.Exit.Known || st.ConsecutiveFailures != 0 {
		t.Errorf("adopted run ended: %+v, failures %d; want unknown, 0", st.LastRun, st.ConsecutiveFailures)
	}
	if !st.LastRun.Started.Equal(run.StartedAt) {
		t.Errorf("adopted run started %s, want %s", st.LastRun.Started, run.StartedAt)
	}
}
