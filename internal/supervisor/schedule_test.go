package supervisor

import (
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/proc"
)

// TestNextDue checks due times of cron expressions, descriptors, time zones (a DST change in
// Europe/Berlin included) and @every, which counts its intervals from the due time before.
func TestNextDue(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name      string
		spec, tz  string
		prev, now time.Time
		want      time.Time
	}{
		{"every minute", "* * * * *", "UTC", time.Time{}, utc("2025-01-10T10:00:30Z"), utc("2025-01-10T10:01:00Z")},
		{"exactly at a due time: the next one", "*/15 * * * *", "UTC", time.Time{}, utc("2025-01-10T10:15:00Z"), utc("2025-01-10T10:30:00Z")},
		{"daily at 03:30 UTC", "30 3 * * *", "UTC", time.Time{}, utc("2025-01-10T04:00:00Z"), utc("2025-01-11T03:30:00Z")},
		{"weekdays", "0 9 * * 1-5", "UTC", time.Time{}, utc("2025-01-10T10:00:00Z"), utc("2025-01-13T09:00:00Z")}, // Friday -> Monday
		{"@hourly", "@hourly", "UTC", time.Time{}, utc("2025-01-10T10:59:59Z"), utc("2025-01-10T11:00:00Z")},
		{"@daily", "@daily", "UTC", time.Time{}, utc("2025-01-10T10:00:00Z"), utc("2025-01-11T00:00:00Z")},
		{"@weekly is Sunday midnight", "@weekly", "UTC", time.Time{}, utc("2025-01-10T10:00:00Z"), utc("2025-01-12T00:00:00Z")},
		{"03:30 in Berlin in winter (UTC+1)", "30 3 * * *", "Europe/Berlin", time.Time{}, utc("2025-01-10T04:00:00Z"), utc("2025-01-11T02:30:00Z")},
		{"03:30 in Berlin in summer (UTC+2)", "30 3 * * *", "Europe/Berlin", time.Time{}, utc("2025-07-10T04:00:00Z"), utc("2025-07-11T01:30:00Z")},
		{"03:30 in New York", "30 3 * * *", "America/New_York", time.Time{}, utc("2025-01-10T04:00:00Z"), utc("2025-01-10T08:30:00Z")},
		// 2025-03-30: Berlin goes from 02:00 CET to 03:00 CEST. 02:30 does not exist that night: it runs
		// at 03:30 CEST, as the 03:30 of that night does too.
		{"DST forward: a time that does not exist", "30 2 * * *", "Europe/Berlin", time.Time{}, utc("2025-03-29T12:00:00Z"), utc("2025-03-30T01:30:00Z")},
		{"DST forward: 03:30 the same night", "30 3 * * *", "Europe/Berlin", time.Time{}, utc("2025-03-29T12:00:00Z"), utc("2025-03-30T01:30:00Z")},
		{"DST forward: the night after", "30 2 * * *", "Europe/Berlin", time.Time{}, utc("2025-03-30T02:00:00Z"), utc("2025-03-31T00:30:00Z")},
		// 2025-10-26: Berlin goes from 03:00 CEST back to 02:00 CET. 02:30 happens twice; it runs once, the
		// first time (CEST).
		{"DST back: the first 02:30", "30 2 * * *", "Europe/Berlin", time.Time{}, utc("2025-10-25T12:00:00Z"), utc("2025-10-26T00:30:00Z")},
		{"DST back: not the second 02:30", "30 2 * * *", "Europe/Berlin", time.Time{}, utc("2025-10-26T00:30:00Z"), utc("2025-10-27T01:30:00Z")},
		{"DST back: hourly stays hourly in real time", "0 * * * *", "Europe/Berlin", time.Time{}, utc("2025-10-26T00:00:00Z"), utc("2025-10-26T01:00:00Z")},
		{"@every from now, to the second", "@every 90s", "", time.Time{}, utc("2025-01-10T10:00:00Z").Add(300 * time.Millisecond), utc("2025-01-10T10:01:30Z")},
		{"@every keeps its rhythm from the due time before", "@every 90s", "", utc("2025-01-10T10:00:00Z"), utc("2025-01-10T10:00:00.2Z"), utc("2025-01-10T10:01:30Z")},
		{"@every after a late wake-up", "@every 10s", "", utc("2025-01-10T10:00:00Z"), utc("2025-01-10T10:00:25Z"), utc("2025-01-10T10:00:30Z")},
		{"@every ignores the time zone", "@every 1h", "Europe/Berlin", time.Time{}, utc("2025-03-30T00:30:00Z"), utc("2025-03-30T01:30:00Z")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := config.ParseSchedule(tt.spec, tt.tz)
			if err != nil {
				t.Fatalf("ParseSchedule(%q, %q): %v", tt.spec, tt.tz, err)
			}
			got := nextDue(s, tt.prev, tt.now)
			if !got.Equal(tt.want) {
				t.Errorf("nextDue(%q in %q, prev %s, now %s) = %s (%s), want %s (%s)", tt.spec, tt.tz,
					tt.prev.Format(time.RFC3339Nano), tt.now.Format(time.RFC3339Nano),
					got.UTC().Format(time.RFC3339), got.In(berlin).Format(time.RFC3339), tt.want.Format(time.RFC3339), tt.want.In(berlin).Format(time.RFC3339))
			}
			if got.Location() != tt.now.Location() {
				t.Errorf("nextDue(...) is in %s, want the location of now, %s", got.Location(), tt.now.Location())
			}
		})
	}
}

// TestDecideJobExit checks how the end of a run counts: success, failure, broken, unknown.
func TestDecideJobExit(t *testing.T) {
	pol := config.RestartPolicy{MaxConsecutiveFailures: 3, Delay: time.Second}
	code := func(c int) proc.ExitStatus { return proc.ExitStatus{Known: true, Code: c} }
	tests := []struct {
		name         string
		exitCodes    []int
		failures     int
		exit         proc.ExitStatus
		wantState    State
		wantFailures int
		wantOutcome  RunOutcome
	}{
		{"exit 0 succeeds and clears the count", nil, 2, code(0), Stopped, 0, RunSucceeded},
		{"a code of exit_codes succeeds", []int{3}, 1, code(3), Stopped, 0, RunSucceeded},
		{"exit 1 fails", nil, 0, code(1), Stopped, 1, RunFailed},
		{"a signal fails", nil, 0, proc.ExitStatus{Known: true, Signal: 9}, Stopped, 1, RunFailed},
		{"the third failure in a row is broken", nil, 2, code(1), Broken, 3, RunFailed},
		{"an adopted run's unknown exit changes no count", nil, 2, proc.ExitStatus{}, Stopped, 2, RunUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, outcome := decideJobExit(pol, tt.exitCodes, tt.failures, tt.exit)
			if d.State != tt.wantState || d.Failures != tt.wantFailures || outcome != tt.wantOutcome || d.Delay != 0 {
				t.Errorf("decideJobExit(failures %d, %s) = %s, %d failures, delay %s, %s; want %s, %d, 0, %s",
					tt.failures, tt.exit, d.State, d.Failures, d.Delay, outcome, tt.wantState, tt.wantFailures, tt.wantOutcome)
			}
		})
	}
}
