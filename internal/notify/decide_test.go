package notify

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func code(c int) *int { return &c }

func TestCrashed(t *testing.T) {
	tests := []struct {
		name      string
		e         supervisor.Event
		exitCodes []int
		want      bool
	}{
		{"exit 1", supervisor.Event{ExitCode: code(1)}, nil, true},
		{"exit 0", supervisor.Event{ExitCode: code(0)}, nil, false},
		{"an exit code meaning done", supervisor.Event{ExitCode: code(3)}, []int{3}, false},
		{"another exit code", supervisor.Event{ExitCode: code(4)}, []int{3}, true},
		{"a signal", supervisor.Event{Signal: "SIGKILL"}, nil, true},
		{"unknown status", supervisor.Event{}, nil, true},
	}
	for _, tt := range tests {
		if got := crashed(&tt.e, tt.exitCodes); got != tt.want {
			t.Errorf("%s: crashed(%+v, %v) = %t, want %t", tt.name, tt.e, tt.exitCodes, got, tt.want)
		}
	}
}

// step is an event given to a watch, or (kind "") a call of due at the time.
type step struct {
	at      float64
	program string
	kind    supervisor.EventKind
	exit    *int
	want    []string // "program event" of the alerts
}

func TestWatch(t *testing.T) {
	rules := programRules{
		exitCodes:    map[string][]int{"job": {0, 3}},
		reset:        map[string]time.Duration{"web": 10 * time.Second},
		defaultReset: 60 * time.Second,
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a crash and a clean exit", []step{
			{0, "web", supervisor.EventExited, code(1), []string{"web crashed"}},
			{1, "job", supervisor.EventExited, code(3), nil},
			{2, "web", supervisor.EventStopped, code(1), nil},
		}},
		{"broken, then up long enough: recovered", []step{
			{0, "web", supervisor.EventBroken, nil, []string{"web broken"}},
			{5, "web", supervisor.EventStarted, nil, nil},
			{14.9, "web", "", nil, nil},
			{15, "web", "", nil, []string{"web recovered"}},
			{100, "web", "", nil, nil}, // once
		}},
		{"broken, started, crashed again: not recovered", []step{
			{0, "web", supervisor.EventBroken, nil, []string{"web broken"}},
			{5, "web", supervisor.EventStarted, nil, nil},
			{6, "web", supervisor.EventExited, code(1), []string{"web crashed"}},
			{30, "web", "", nil, nil},
			{31, "web", supervisor.EventStarted, nil, nil},
			{41, "web", "", nil, []string{"web recovered"}},
		}},
		{"the global reset for a program not in the file", []step{
			{0, "upload", supervisor.EventBroken, nil, []string{"upload broken"}},
			{1, "upload", supervisor.EventAdopted, nil, nil},
			{60, "upload", "", nil, nil},
			{61, "upload", "", nil, []string{"upload recovered"}},
		}},
		{"started without having been down", []step{
			{0, "web", supervisor.EventStarted, nil, nil},
			{100, "web", "", nil, nil},
		}},
		{"removed while down", []step{
			{0, "web", supervisor.EventBroken, nil, []string{"web broken"}},
			{1, "web", supervisor.EventRemoved, nil, nil},
			{2, "web", supervisor.EventStarted, nil, nil},
			{100, "web", "", nil, nil},
		}},
		{"unhealthy, restarted, up long enough: recovered", []step{
			{0, "web", supervisor.EventUnhealthy, nil, []string{"web unhealthy"}},
			{0.1, "web", supervisor.EventStopped, code(0), nil},
			{0.2, "web", supervisor.EventStarted, nil, nil},
			{10.2, "web", "", nil, []string{"web recovered"}},
		}},
		{"install failed", []step{
			{0, "up", supervisor.EventInstallFail, nil, []string{"up install_failed"}},
		}},
		{"events of no interest", []step{
			{0, "web", supervisor.EventRestarting, nil, nil},
			{0, "web", supervisor.EventStart, nil, nil},
			{0, "", supervisor.EventConfigError, nil, nil},
			{0, "web", supervisor.EventNotifyFail, nil, nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWatch()
			for _, s := range tt.steps {
				var got []alert
				call := fmt.Sprintf("due(%v)", s.at)
				if s.kind == "" {
					got = w.due(at(s.at))
				} else {
					e := supervisor.Event{Time: at(s.at), Program: s.program, Kind: s.kind, ExitCode: s.exit}
					got = w.observe(&e, &rules)
					call = fmt.Sprintf("observe(%s %s at %v)", s.program, s.kind, s.at)
				}
				var names []string
				for _, a := range got {
					names = append(names, a.Program+" "+a.Event)
				}
				if !slices.Equal(names, s.want) {
					t.Errorf("%s = %q, want %q", call, names, s.want)
				}
			}
		})
	}
}

func TestLimiter(t *testing.T) {
	type call struct {
		at      float64
		program string // "" calls flush
		want    string // "program more since" of what goes out, ";"-joined
	}
	tests := []struct {
		name  string
		calls []call
	}{
		{"one alone goes at once", []call{{0, "web", "web 0"}, {60, "", ""}}},
		{"a flapping program: the first, then the latest with the count", []call{
			{0, "web", "web 0"}, {10, "web", ""}, {20, "web", ""}, {30, "web", ""},
			{59.9, "", ""},
			{60, "", "web 2 since 0"},
			{61, "web", ""},
			{120, "", "web 0 since 60"},
			{200, "", ""},
			{201, "web", "web 0"},
		}},
		{"programs are apart", []call{{0, "web", "web 0"}, {1, "api", "api 0"}, {2, "web", ""}, {60, "", "web 0 since 0"}}},
		{"a late flush: the next one carries the count", []call{{0, "web", "web 0"}, {1, "web", ""}, {2, "web", ""}, {70, "web", "web 2 since 0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(time.Minute)
			for _, c := range tt.calls {
				var outs []outgoing
				name := fmt.Sprintf("flush(%v)", c.at)
				if c.program == "" {
					outs = l.flush(at(c.at))
				} else {
					name = fmt.Sprintf("admit(%s at %v)", c.program, c.at)
					if o := l.admit(alert{Program: c.program, Event: config.NotifyCrashed, Time: at(c.at)}, at(c.at)); o != nil {
						outs = []outgoing{*o}
					}
				}
				var got []string
				for _, o := range outs {
					s := fmt.Sprintf("%s %d", o.Program, o.more)
					if !o.since.IsZero() {
						s += fmt.Sprintf(" since %v", o.since.Sub(t0).Seconds())
					}
					got = append(got, s)
				}
				if g := strings.Join(got, ";"); g != c.want {
					t.Errorf("%s sent %q, want %q", name, g, c.want)
				}
			}
		})
	}
}

func TestLimiterNext(t *testing.T) {
	l := newLimiter(time.Minute)
	if got := l.next(); !got.IsZero() {
		t.Errorf("next() of an empty limiter = %v, want zero", got)
	}
	l.admit(alert{Program: "web", Event: "crashed"}, at(0))
	if got := l.next(); !got.IsZero() {
		t.Errorf("next() with nothing folded = %v, want zero", got)
	}
	l.admit(alert{Program: "web", Event: "crashed"}, at(5))
	if got := l.next(); !got.Equal(at(60)) {
		t.Errorf("next() with one folded = %v, want %v", got, at(60))
	}
}

func TestRetryAfter(t *testing.T) {
	const first, budget = time.Second, 5 * time.Minute
	tests := []struct {
		attempt int
		now     float64 // seconds since the first attempt began
		want    time.Duration
		ok      bool
	}{
		{1, 0.1, 1 * time.Second, true},
		{2, 1.2, 2 * time.Second, true},
		{3, 3.3, 4 * time.Second, true},
		{8, 200, 0, false}, // would end past 5 minutes
		{7, 100, 64 * time.Second, true},
		{1, 299.5, 0, false},
		{60, 10, 0, false}, // no overflow, however many
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.attempt, first, budget, t0, at(tt.now))
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%d, 1s, 5m, start, start+%vs) = %v, %t; want %v, %t", tt.attempt, tt.now, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRetryable(t *testing.T) {
	for status, want := range map[int]bool{500: true, 502: true, 503: true, 429: true, 408: true, 400: false, 403: false, 404: false, 410: false} {
		if got := retryable(status); got != want {
			t.Errorf("retryable(%d) = %t, want %t", status, got, want)
		}
	}
}

func TestUntilNext(t *testing.T) {
	now := at(0)
	tests := []struct {
		a, b time.Time
		want time.Duration
	}{
		{time.Time{}, time.Time{}, time.Hour},
		{at(5), time.Time{}, 5 * time.Second},
		{time.Time{}, at(3), 3 * time.Second},
		{at(5), at(3), 3 * time.Second},
		{at(-1), at(3), 0},
	}
	for _, tt := range tests {
		if got := untilNext(now, tt.a, tt.b); got != tt.want {
			t.Errorf("untilNext(now, %v, %v) = %v, want %v", tt.a.Sub(now), tt.b.Sub(now), got, tt.want)
		}
	}
}

func TestMatchesInstances(t *testing.T) {
	cfg := config.Default("/")
	cfg.Programs = []config.Program{{Name: "worker:1", InstanceOf: "worker"}, {Name: "web"}}
	rules := rulesOf(cfg)
	target := config.Notify{On: []string{config.NotifyCrashed}, Programs: []string{"worker"}}
	for program, want := range map[string]bool{"worker:1": true, "worker": true, "web": false, "worker:2": false} {
		if got := rules.matches(&target, program, config.NotifyCrashed); got != want {
			t.Errorf("matches(programs [worker], %q) = %t, want %t", program, got, want)
		}
	}
}
