package export

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/cronexpr"
	"github.com/pyvisor/pyvisor/internal/config"
)

// calendarCases are cron schedules with their systemd and Nomad forms.
var calendarCases = []struct {
	name, spec string
	systemd    []string
	nomad      string
}{
	{"daily at a time", "30 3 * * *", []string{"*-*-* 03:30:00"}, "30 3 * * *"},
	{"step", "*/15 * * * *", []string{"*-*-* *:00/15:00"}, "0/15 * * * *"},
	{"range with step", "10-30/5 * * * *", []string{"*-*-* *:10..30/5:00"}, "10-30/5 * * * *"},
	{"lists and ranges", "5,10,20 1-3,7 * * *", []string{"*-*-* 01..03,07:05,10,20:00"}, "5,10,20 1-3,7 * * *"},
	{"weekday names", "0 9-17 * * MON-FRI", []string{"Mon..Fri *-*-* 09..17:00:00"}, "0 9-17 * * 1-5"},
	{"month names", "0 12 * JAN,MAR-MAY SUN", []string{"Sun *-01,03..05-* 12:00:00"}, "0 12 * 1,3-5 0"},
	{"weekend", "0 0 * * 0,6", []string{"Sun,Sat *-*-* 00:00:00"}, "0 0 * * 0,6"},
	{"both day fields: either", "0 0 1,15 * 1", []string{"*-*-01,15 00:00:00", "Mon *-*-* 00:00:00"}, "0 0 1,15 * 1"},
	{"both day fields, one every day", "0 0 1-31 * 1", []string{"*-*-* 00:00:00"}, "0 0 * * *"},
	{"a step is a list: either", "0 0 */2 * 1", []string{"*-*-01/2 00:00:00", "Mon *-*-* 00:00:00"}, "0 0 1/2 * 1"},
	{"hourly", "@hourly", []string{"*-*-* *:00:00"}, "0 * * * *"},
	{"daily", "@daily", []string{"*-*-* 00:00:00"}, "0 0 * * *"},
	{"weekly", "@weekly", []string{"Sun *-*-* 00:00:00"}, "0 0 * * 0"},
	{"monthly", "@monthly", []string{"*-*-01 00:00:00"}, "0 0 1 * *"},
	{"yearly", "@yearly", []string{"*-01-01 00:00:00"}, "0 0 1 1 *"},
}

// TestCalendar checks the translation of cron schedules to OnCalendar= values and Nomad crons, and, where
// the engines' own parsers are at hand, that both come due at the times pyvisor's scheduler does.
func TestCalendar(t *testing.T) {
	base := time.Date(2026, 1, 5, 0, 0, 30, 0, time.UTC)
	analyze := ""
	if p, err := exec.LookPath("systemd-analyze"); err == nil {
		analyze = p
	} else if os.Getenv("CI") != "" {
		t.Fatalf("systemd-analyze is missing under CI (install the systemd package): %v", err)
	}
	for _, tt := range calendarCases {
		t.Run(tt.name, func(t *testing.T) {
			c, every, err := parseSchedule(tt.spec)
			if err != nil || every != 0 {
				t.Fatalf("parseSchedule(%q) = %v, %v; want a calendar", tt.spec, every, err)
			}
			if got := onCalendar(c, ""); !slices.Equal(got, tt.systemd) {
				t.Errorf("onCalendar(%q) = %q; want %q", tt.spec, got, tt.systemd)
			}
			got := nomadCron(c)
			if got != tt.nomad {
				t.Errorf("nomadCron(%q) = %q; want %q", tt.spec, got, tt.nomad)
			}
			want := pyvisorTimes(t, tt.spec, base, 40)
			e, err := cronexpr.Parse(got)
			if err != nil {
				t.Fatalf("Nomad's parser refuses %q: %v", got, err)
			}
			if n := e.NextN(base, 40); !slices.EqualFunc(n, want, time.Time.Equal) {
				t.Errorf("Nomad's %q comes due at %v; pyvisor's %q at %v", got, n, tt.spec, want)
			}
			if analyze != "" {
				if s := systemdTimes(t, analyze, onCalendar(c, "UTC"), base, 40); !slices.EqualFunc(s, want, time.Time.Equal) {
					t.Errorf("systemd's %q comes due at %v; pyvisor's %q at %v", tt.systemd, s, tt.spec, want)
				}
			}
		})
	}
	if got := onCalendar(mustCalendar(t, "30 3 * * *"), "Europe/Berlin"); !slices.Equal(got, []string{"*-*-* 03:30:00 Europe/Berlin"}) {
		t.Errorf("with a time zone: %q; want the zone after the time", got)
	}
}

func mustCalendar(t *testing.T, spec string) calendar {
	t.Helper()
	c, _, err := parseSchedule(spec)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pyvisorTimes are the first n due times of spec after base as pyvisor's scheduler computes them, in UTC.
func pyvisorTimes(t *testing.T, spec string, base time.Time, n int) []time.Time {
	t.Helper()
	s, err := config.ParseSchedule(spec, "UTC")
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for at := base; len(out) < n; {
		at = s.Next(at)
		out = append(out, at)
	}
	return out
}

var elapseLine = regexp.MustCompile(`(?m)^\s*(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$`)

// systemdTimes are the first n times after base at which systemd's timer with the OnCalendar= values
// exprs elapses, as systemd-analyze calendar computes them (it ORs the values as a timer does).
func systemdTimes(t *testing.T, analyze string, exprs []string, base time.Time, n int) []time.Time {
	t.Helper()
	args := []string{"calendar", "--iterations=" + strconv.Itoa(n), "--base-time=" + base.Format("2006-01-02 15:04:05 UTC")}
	cmd := exec.Command(analyze, append(args, exprs...)...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze %q: %v\n%s", append(args, exprs...), err, out)
	}
	var times []time.Time
	for _, m := range elapseLine.FindAllStringSubmatch(string(out), -1) {
		at, err := time.Parse("2006-01-02 15:04:05", m[1])
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, at)
	}
	slices.SortFunc(times, time.Time.Compare)
	times = slices.Compact(times)
	return times[:min(n, len(times))]
}

// TestEveryCron checks the Nomad form of "@every D": only intervals that divide a minute, an hour or a day.
func TestEveryCron(t *testing.T) {
	for _, tt := range []struct {
		every time.Duration
		want  string
	}{
		{30 * time.Second, "*/30 * * * * * *"},
		{time.Minute, "*/1 * * * *"},
		{15 * time.Minute, "*/15 * * * *"},
		{time.Hour, "0 */1 * * *"},
		{6 * time.Hour, "0 */6 * * *"},
		{24 * time.Hour, "0 0 * * *"},
		{90 * time.Second, ""},
		{7 * time.Minute, ""},
		{48 * time.Hour, ""},
	} {
		got, ok := everyCron(tt.every)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("everyCron(%v) = %q, %v; want %q", tt.every, got, ok, tt.want)
			continue
		}
		if ok {
			if _, err := cronexpr.Parse(got); err != nil {
				t.Errorf("Nomad's parser refuses everyCron(%v) = %q: %v", tt.every, got, err)
			}
		}
	}
}
