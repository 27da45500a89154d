package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/probe"
	"github.com/pyvisor/pyvisor/internal/testkit"
)

func TestDecideHealth(t *testing.T) {
	hc := &config.HealthCheck{Failures: 3, StartPeriod: 30 * time.Second}
	pass, fail := probe.Result{OK: true}, probe.Result{Detail: "HTTP 503"}
	starting := healthVerdict{Health: HealthStarting}
	tests := []struct {
		name        string
		v           healthVerdict
		since       time.Duration
		res         probe.Result
		want        healthVerdict
		wantRestart bool
	}{
		{"first pass", starting, time.Second, pass, healthVerdict{Health: HealthHealthy}, false},
		{"fail in the start period does not count", starting, 29 * time.Second, fail, healthVerdict{Health: HealthStarting, Detail: "HTTP 503"}, false},
		{"fail after the start period counts", starting, 30 * time.Second, fail, healthVerdict{Health: HealthStarting, Failures: 1, Detail: "HTTP 503"}, false},
		{"healthy fails in the start period: counts", healthVerdict{Health: HealthHealthy}, time.Second, fail,
			healthVerdict{Health: HealthHealthy, Failures: 1, Detail: "HTTP 503"}, false},
		{"second failure stays healthy", healthVerdict{Health: HealthHealthy, Failures: 1, Detail: "x"}, time.Minute, fail,
			healthVerdict{Health: HealthHealthy, Failures: 2, Detail: "HTTP 503"}, false},
		{"third failure: unhealthy", healthVerdict{Health: HealthHealthy, Failures: 2, Detail: "x"}, time.Minute, fail,
			healthVerdict{Health: HealthUnhealthy, Failures: 3, Detail: "HTTP 503"}, true},
		{"never healthy: unhealthy after the start period", healthVerdict{Health: HealthStarting, Failures: 2}, time.Minute, fail,
			healthVerdict{Health: HealthUnhealthy, Failures: 3, Detail: "HTTP 503"}, true},
		{"a pass clears the count and the detail", healthVerdict{Health: HealthHealthy, Failures: 2, Detail: "x"}, time.Minute, pass,
			healthVerdict{Health: HealthHealthy}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, restart := decideHealth(hc, tt.v, tt.since, tt.res)
			if got != tt.want || restart != tt.wantRestart {
				t.Errorf("decideHealth(%+v, %s, %+v) = %+v, %t; want %+v, %t", tt.v, tt.since, tt.res, got, restart, tt.want, tt.wantRestart)
			}
		})
	}
	if _, restart := decideHealth(&config.HealthCheck{Failures: 1}, starting, 0, fail); !restart {
		t.Errorf("decideHealth with failures 1 and no start period: no restart after one failure")
	}
}

func TestNextCheck(t *testing.T) {
	T := time.Unix(1_700_000_000, 0) // on a whole second
	ms := time.Millisecond
	http10 := &config.HealthCheck{HTTP: "http://127.0.0.1/", Interval: 10 * time.Second}
	tcp2 := &config.HealthCheck{TCP: "127.0.0.1:1", Interval: 2 * time.Second}
	odd := &config.HealthCheck{TCP: "127.0.0.1:1", Interval: 15500 * ms}
	command := &config.HealthCheck{Command: []string{"true"}, Interval: 10 * time.Second}
	tests := []struct {
		name        string
		hc          *config.HealthCheck
		sampleEvery time.Duration // 0: no sampling
		due, now    time.Time
		want        time.Time
	}{
		{"one interval after the start of the last", http10, 0, T, T.Add(3 * ms), T.Add(10 * time.Second)},
		{"a due time off the grain (the clock was set) is aligned again", http10, 0, T.Add(40 * ms), T.Add(90 * ms), T.Add(11 * time.Second)},
		{"aligned on the grain", http10, 0, T.Add(1300 * ms), T.Add(1400 * ms), T.Add(12 * time.Second)},
		{"ran over the interval: one interval after its end", http10, 0, T, T.Add(10500 * ms), T.Add(21 * time.Second)},
		{"the grain is a tenth of a short interval", tcp2, 0, T.Add(150 * ms), T.Add(170 * ms), T.Add(2200 * ms)},
		{"an interval that is not a whole number of grains", odd, 0, T, T.Add(ms), T.Add(16 * time.Second)},
		{"the grain is the sampling interval", http10, 2 * time.Second, T.Add(1300 * ms), T.Add(1400 * ms), T.Add(12 * time.Second)},
		{"on the sampling grid, not the grain of a tenth", http10, 2 * time.Second, T.Add(40 * ms), T.Add(90 * ms), T.Add(12 * time.Second)},
		{"sampling too slow for the interval: a tenth of it", tcp2, 2 * time.Second, T.Add(150 * ms), T.Add(170 * ms), T.Add(2200 * ms)},
		{"commands are not aligned", command, 0, T.Add(123 * ms), T.Add(500 * ms), T.Add(10123 * ms)},
		{"commands are not aligned to the sampling either", command, 2 * time.Second, T.Add(123 * ms), T.Add(500 * ms), T.Add(10123 * ms)},
		{"a command that ran over", command, 0, T, T.Add(10200 * ms), T.Add(20200 * ms)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			grain := checkGrain(tt.hc, tt.sampleEvery)
			if got := nextCheck(tt.hc, grain, tt.due, tt.now); !got.Equal(tt.want) {
				t.Errorf("nextCheck(every %s, sampling every %s, due T%+v, now T%+v) = T%+v, want T%+v", tt.hc.Interval,
					tt.sampleEvery, tt.due.Sub(T), tt.now.Sub(T), got.Sub(T), tt.want.Sub(T))
			}
		})
	}
	if got, want := alignUp(time.Unix(-2, 0).Add(300*ms), time.Second), time.Unix(-1, 0); !got.Equal(want) {
		t.Errorf("alignUp(1969-12-31T23:59:58.3Z, 1s) = %s, want %s", got.UTC(), want.UTC())
	}
}

// healthScripts are the servers of the health check tests.
var healthScripts = map[string]string{
	// Serves /healthz on the port in argv[1]: 200 while the file "ok" exists, 503 otherwise.
	"web.py": `import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if os.path.exists("ok") else 503)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
`,
	// Listens on the port in argv[1] once the file "go" exists.
	"late.py": `import os, socket, sys, time
while not os.path.exists("go"):
    time.sleep(0.05)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
print("listening", flush=True)
while True:
    s.accept()[0].close()
`,
}

func newHealthFixture(t *testing.T, yaml string) *fixture {
	f := newFixture(t, yaml)
	for name, src := range healthScripts {
		if err := os.WriteFile(filepath.Join(f.dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) touch(name string) {
	if err := os.WriteFile(filepath.Join(f.dir, name), nil, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func hasHealth(h Health) func(Status) bool { return func(st Status) bool { return st.Health == h } }

func TestHTTPHealthCheck(t *testing.T) {
	port := testkit.FreePort(t)
	f := newHealthFixture(t, fmt.Sprintf(`
restart: {delay_seconds: 0}
programs:
  - name: web
    script: web.py
    args: ["%d"]
    health_check: {http: "http://127.0.0.1:%d/healthz", interval_seconds: 0.2, timeout_seconds: 0.2, failures: 2, start_period_seconds: 30}
`, port, port))
	f.touch("ok")
	m := f.start()
	st := m.waitFor(t, "web", "healthy", hasHealth(HealthHealthy))
	if st.State != Running || st.HealthDetail != "" || st.RestartCount != 0 {
		t.Errorf("healthy status = %s, detail %q, %d restarts; want running, no detail, no restart", st.State, st.HealthDetail, st.RestartCount)
	}
	if err := os.Remove(filepath.Join(f.dir, "ok")); err != nil {
		t.Fatal(err)
	}
	st = m.waitFor(t, "web", "a restart for its health", func(st Status) bool { return st.RestartCount >= 1 })
	if !strings.Contains(st.HealthDetail, "HTTP 503") || st.ConsecutiveFailures < 1 {
		t.Errorf("after the health restart: detail %q, %d failures; want HTTP 503 and a failure counted", st.HealthDetail, st.ConsecutiveFailures)
	}
	events, _ := m.sup.History("web", 0, 100)
	if !slices.ContainsFunc(events, func(e Event) bool { return e.Kind == EventUnhealthy && strings.Contains(e.Detail, "HTTP 503") }) {
		t.Errorf("after the health restart the history of web holds no unhealthy event naming HTTP 503: %+v", events)
	}
	f.touch("ok")
	st = m.waitFor(t, "web", "healthy again", hasHealth(HealthHealthy))
	if st.HealthDetail != "" {
		t.Errorf("healthy again with detail %q, want none", st.HealthDetail)
	}
	if _, err := m.sup.Stop(t.Context(), "web"); err != nil {
		t.Fatal(err)
	}
	if st, _ := m.sup.Status("web"); st.Health != HealthNone {
		t.Errorf("stopped program's health = %q, want none", st.Health)
	}
}

func TestCommandHealthCheck(t *testing.T) {
	tests := []struct {
		name    string
		command string
		healthy bool
		detail  string
	}{
		{"passes in the program's directory and environment", `test "$CHECK_ME" = yes && test -f web.py`, true, ""},
		{"fails with its last line", "echo checking; echo not ready; exit 3", false, "exit status 3: not ready"},
		{"hangs and is killed with its group", "echo $$ > check.pid; sleep 30 & sleep 30", false, "still running after 300ms: killed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHealthFixture(t, fmt.Sprintf(`
restart: {delay_seconds: 0}
programs:
  - name: app
    script: sleeper.py
    environment: {CHECK_ME: "yes"}
    health_check: {command: ["sh", "-c", %q], interval_seconds: 0.4, timeout_seconds: 0.3, failures: 1}
`, tt.command))
			m := f.start()
			if tt.healthy {
				m.waitFor(t, "app", "healthy", hasHealth(HealthHealthy))
				return
			}
			st := m.waitFor(t, "app", "a restart for its health", func(st Status) bool { return st.RestartCount >= 1 })
			if !strings.Contains(st.HealthDetail, tt.detail) {
				t.Errorf("health detail = %q, want it to contain %q", st.HealthDetail, tt.detail)
			}
			if data, err := os.ReadFile(filepath.Join(f.dir, "check.pid")); err == nil {
				pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
				if alive(pid) {
					t.Errorf("the hung check (pid %d) still runs", pid)
				}
			}
		})
	}
}

func TestStartPeriod(t *testing.T) {
	port := testkit.FreePort(t) // nothing listens: every check fails
	f := newHealthFixture(t, fmt.Sprintf(`
restart: {delay_seconds: 0}
programs:
  - name: slow
    script: sleeper.py
    health_check: {tcp: "127.0.0.1:%d", interval_seconds: 0.1, timeout_seconds: 0.1, failures: 1, start_period_seconds: 4}
`, port))
	m := f.start()
	st := m.waitFor(t, "slow", "a failed check", func(st Status) bool { return st.HealthDetail != "" })
	if st.Health != HealthStarting || st.RestartCount != 0 || st.State != Running {
		t.Errorf("after a failed check in the start period: %s, health %q, %d restarts; want running, starting, none",
			st.State, st.Health, st.RestartCount)
	}
	st = m.waitFor(t, "slow", "a restart after the start period", func(st Status) bool { return st.RestartCount >= 1 })
	if ran := st.LastExit; ran == nil {
		t.Errorf("restarted without a last exit")
	}
}

func TestDependencyHealthyLate(t *testing.T) {
	port := testkit.FreePort(t)
	f := newHealthFixture(t, fmt.Sprintf(`
programs:
  - name: app
    script: sleeper.py
    depends_on: [db]
  - name: db
    script: late.py
    args: ["%d"]
    health_check: {tcp: "127.0.0.1:%d", interval_seconds: 0.1, timeout_seconds: 0.1, start_period_seconds: 60}
`, port, port))
	m := f.start()
	st := m.waitFor(t, "app", "waiting", inState(Waiting))
	if !strings.HasPrefix(st.Error, "waiting for db (") || st.PID != 0 {
		t.Errorf("waiting app: error %q, pid %d; want what it waits for and no process", st.Error, st.PID)
	}
	m.waitFor(t, "db", "running and starting", hasHealth(HealthStarting))
	m.waitFor(t, "app", "waiting for db's health", func(st Status) bool { return st.Error == "waiting for db (starting)" })
	f.touch("go")
	m.waitFor(t, "app", "running", inState(Running))
	if db, _ := m.sup.Status("db"); db.Health != HealthHealthy {
		t.Errorf("app started while db is %q", db.Health)
	}

	// Stopping the dependency leaves the app running; a start request then waits for db again.
	if _, err := m.sup.Stop(t.Context(), "db"); err != nil {
		t.Fatal(err)
	}
	if st, _ := m.sup.Status("app"); st.State != Running {
		t.Errorf("app after its dependency stopped: %s, want running", st.State)
	}
	st, err := m.sup.Restart(t.Context(), "app")
	if err != nil || st.State != Waiting || st.Error != "waiting for db (stopped)" {
		t.Errorf("Restart(app) with db stopped = %s %q, %v; want waiting for db (stopped)", st.State, st.Error, err)
	}
	if _, err := m.sup.Start(t.Context(), "db"); err != nil {
		t.Fatal(err)
	}
	m.waitFor(t, "app", "running after db is back", inState(Running))

	// A stop ends a wait.
	if _, err := m.sup.Stop(t.Context(), "db"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.sup.Restart(t.Context(), "app"); err != nil {
		t.Fatal(err)
	}
	if st, err := m.sup.Stop(t.Context(), "app"); err != nil || st.State != Stopped {
		t.Errorf("Stop(app) while waiting = %s, %v; want stopped", st.State, err)
	}
}
