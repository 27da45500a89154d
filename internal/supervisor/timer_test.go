package supervisor

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pyvisor/pyvisor/internal/statefile"
)

// runAlone runs the goroutine of f's program name by itself, without Run: no
// exit watcher (each process is waited for by a goroutine of its own), no
// sampling, so that it can run in a synctest bubble. The goroutine ends when
// the test does.
func runAlone(t *testing.T, f *fixture, name string, b *boot) *program {
	t.Helper()
	s := New(f.cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	p := s.byName[name]
	if p == nil {
		t.Fatalf("no program %q in the configuration", name)
	}
	persist := newPersister(s.statePath, deployment{}, nil, s.log)
	p.persist = persist
	ctx, cancel := context.WithCancel(context.Background())
	go p.run(ctx, b)
	t.Cleanup(func() {
		cancel()
		<-p.done
		persist.close()
	})
	return p
}

// TestRestartTimers follows a crashing program through its restart delays,
// their back-off and cap, broken and the cool-down after it, on the fake
// clock of a synctest bubble. The processes are real: while one runs, the
// goroutine waiting on its pidfd is not durably blocked, so the bubble's clock
// stands still and every delay counts from the exit exactly.
func TestRestartTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, `
restart: {delay_seconds: 10, backoff_factor: 2, max_delay_seconds: 30, max_consecutive_failures: 4, broken_cooldown_seconds: 600}
programs:
  - {name: crasher, script: crash.py}
`)
		start := time.Now()
		p := runAlone(t, f, "crasher", &boot{desired: statefile.DesiredRunning, start: true})
		runs := func() int { return strings.Count(f.readLog("crasher"), "crashing") }
		check := func(step string, state State, failures, restarts, ran int, next time.Duration) {
			t.Helper()
			synctest.Wait() // the process has ended and its exit is handled
			st := p.status()
			wantNext := time.Time{}
			if next > 0 {
				wantNext = start.Add(next)
			}
			if st.State != state || st.ConsecutiveFailures != failures || st.RestartCount != restarts || !st.NextStart.Equal(wantNext) {
				t.Fatalf("%s: %s, %d failures, %d restarts, next start %v; want %s, %d, %d, %v",
					step, st.State, st.ConsecutiveFailures, st.RestartCount, st.NextStart.Sub(start),
					state, failures, restarts, next)
			}
			if n := runs(); n != ran {
				t.Fatalf("%s: the log shows %d runs, want %d", step, n, ran)
			}
		}
		// Each sleep ends at the instant a delay runs out, or just before.
		check("after the first crash", Restarting, 1, 0, 1, 10*time.Second)
		time.Sleep(10*time.Second - time.Millisecond)
		check("a moment before the delay ends", Restarting, 1, 0, 1, 10*time.Second)
		time.Sleep(time.Millisecond)
		check("after the second crash (delay doubled)", Restarting, 2, 1, 2, 30*time.Second)
		time.Sleep(20 * time.Second)
		check("after the third crash (delay capped at 30 s)", Restarting, 3, 2, 3, 60*time.Second)
		time.Sleep(30 * time.Second)
		check("after the fourth crash", Broken, 4, 3, 4, 660*time.Second)
		if st := p.status(); !strings.Contains(st.Error, "broken") {
			t.Errorf("broken program's error = %q, want it to say broken", st.Error)
		}
		time.Sleep(600*time.Second - time.Millisecond)
		check("a moment before the cool-down ends", Broken, 4, 3, 4, 660*time.Second)
		time.Sleep(time.Millisecond)
		check("after the try at the end of the cool-down", Broken, 5, 4, 5, 1260*time.Second)

		// A stop drops the start the cool-down was waiting for.
		if st, err := p.request(t.Context(), request{op: opStop}); err != nil || st.State != Stopped || !st.NextStart.IsZero() {
			t.Fatalf("stop while broken = %s (next start %v), %v; want stopped with no start pending", st.State, st.NextStart, err)
		}
		time.Sleep(time.Hour)
		check("an hour after the stop", Stopped, 5, 4, 5, 0)
	})
}

// TestStopCancelsRestartDelay checks that a program stopped while it waits
// out its restart delay is not started when the delay would have ended.
func TestStopCancelsRestartDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, `
restart: {delay_seconds: 60}
programs:
  - {name: crasher, script: crash.py}
`)
		p := runAlone(t, f, "crasher", &boot{desired: statefile.DesiredRunning, start: true})
		synctest.Wait()
		if st := p.status(); st.State != Restarting {
			t.Fatalf("after a crash: %s, want restarting", st.State)
		}
		time.Sleep(30 * time.Second)
		if st, err := p.request(t.Context(), request{op: opStop}); err != nil || st.State != Stopped || !st.NextStart.IsZero() {
			t.Fatalf("stop while restarting = %s (next start %v), %v; want stopped with no start pending", st.State, st.NextStart, err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if st := p.status(); st.State != Stopped || st.RestartCount != 0 {
			t.Errorf("an hour after the stop: %s with %d restarts, want stopped with none", st.State, st.RestartCount)
		}
		if n := strings.Count(f.readLog("crasher"), "crashing"); n != 1 {
			t.Errorf("the log shows %d runs, want 1", n)
		}
	})
}
