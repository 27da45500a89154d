package web

import (
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// exitOncePy exits with status 3 the first time (it removes its marker file
// "crash-once" as it goes), and runs on from the second start.
const exitOncePy = `import os, sys, time
if os.path.exists("crash-once"):
    os.remove("crash-once")
    print("crashing once", flush=True)
    sys.exit(3)
print("up for good", flush=True)
while True:
    time.sleep(3600)
`

const metricsConfig = `
sampling:
  interval_seconds: 0.1
restart:
  delay_seconds: 0.1
programs:
  - {name: flaky, script: exit_once.py, enabled: false}
  - {name: "Ünïcødé \"quoted\" \\ name", script: sleeper.py, enabled: false}
`

// metricFamilies is a scrape parsed by the Prometheus text parser.
type metricFamilies map[string]*dto.MetricFamily

// scrape asks the handler for GET /metrics as Prometheus does and parses the
// answer with Prometheus's own text parser.
func (f *fixture) scrape(t *testing.T) metricFamilies {
	t.Helper()
	r := f.do(t, "GET", "/metrics", nil)
	if r.status != 200 {
		t.Fatalf("GET /metrics: status %d, want 200; body %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("GET /metrics: Content-Type %q, want the Prometheus text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(r.body))
	if err != nil {
		t.Fatalf("GET /metrics: the text parser says %v; body:\n%s", err, r.body)
	}
	return fams
}

// value returns the value of the metric name whose labels are exactly labels
// (name-value pairs); ok is false if there is none.
func (m metricFamilies) value(name string, labels ...string) (v float64, ok bool) {
	fam := m[name]
	if fam == nil {
		return 0, false
	}
	for _, metric := range fam.GetMetric() {
		if !hasLabels(metric, labels) {
			continue
		}
		switch fam.GetType() {
		case dto.MetricType_COUNTER:
			return metric.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return metric.GetGauge().GetValue(), true
		default:
			return metric.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, labels []string) bool {
	if len(m.GetLabel())*2 != len(labels) {
		return false
	}
	for _, l := range m.GetLabel() {
		found := false
		for i := 0; i+1 < len(labels); i += 2 {
			if labels[i] == l.GetName() && labels[i+1] == l.GetValue() {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// check is one expectation on a scrape: the metric is present with a value
// that satisfies ok (which says what was wanted), or absent when ok is nil.
type check struct {
	metric string
	labels []string
	want   string
	ok     func(float64) bool
}

func (m metricFamilies) verify(t *testing.T, when string, checks []check) {
	t.Helper()
	for _, c := range checks {
		t.Run(when+"/"+c.metric+"/"+strings.Join(c.labels, "="), func(t *testing.T) {
			v, present := m.value(c.metric, c.labels...)
			switch {
			case c.ok == nil && present:
				t.Errorf("%s: GET /metrics has %s%v = %v, want it absent", when, c.metric, c.labels, v)
			case c.ok != nil && !present:
				t.Errorf("%s: GET /metrics lacks %s%v, want %s", when, c.metric, c.labels, c.want)
			case c.ok != nil && !c.ok(v):
				t.Errorf("%s: GET /metrics has %s%v = %v, want %s", when, c.metric, c.labels, v, c.want)
			}
		})
	}
}

func newCheck(metric string, labels []string, want string, ok func(float64) bool) check {
	return check{metric: metric, labels: labels, want: want, ok: ok}
}

// stateChecks expects state 1 for the state named and 0 for every other one.
func stateChecks(program string, current supervisor.State) []check {
	var cs []check
	for _, s := range supervisor.States() {
		want := boolValue(s == current)
		cs = append(cs, newCheck("pyvisor_program_state", []string{"program", program, "state", string(s)},
			fmt.Sprintf("= %v", want), func(v float64) bool { return v == want }))
	}
	return cs
}

// TestMetricsAfterCrashRestartAndStop runs a program that crashes once, is
// restarted, is killed by a signal, is restarted again and is stopped, and
// checks what GET /metrics says at each step, parsed by Prometheus's parser.
func TestMetricsAfterCrashRestartAndStop(t *testing.T) {
	f := newFixture(t, metricsConfig)
	for name, data := range map[string]string{"exit_once.py": exitOncePy, "crash-once": ""} {
		if err := os.WriteFile(filepath.Join(f.dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	<-f.sup.Ready()
	if _, err := f.sup.Start(t.Context(), "flaky"); err != nil {
		t.Fatalf("Start(flaky): %v", err)
	}
	f.waitLog(t, "flaky", "up for good")
	// Wait for a sampling round of the second process.
	st := f.waitFor(t, "flaky", "running, restarted once and sampled", func(st supervisor.Status) bool {
		return st.State == supervisor.Running && st.RestartCount >= 1 && st.CPUTime > 0 && st.MemoryRSS > 0
	})
	p := []string{"program", "flaky"}
	other := []string{"program", `Ünïcødé "quoted" \ name`}
	m := f.scrape(t)
	checks := []check{
		newCheck("pyvisor_program_up", p, "= 1", func(v float64) bool { return v == 1 }),
		newCheck("pyvisor_program_restarts_total", p, "≥ 1", func(v float64) bool { return v >= 1 }),
		newCheck("pyvisor_program_last_exit_code", p, "= 3 (the crash)", func(v float64) bool { return v == 3 }),
		newCheck("pyvisor_program_consecutive_failures", p, "= 1", func(v float64) bool { return v == 1 }),
		newCheck("pyvisor_program_cpu_seconds_total", p, "> 0", func(v float64) bool { return v > 0 }),
		newCheck("pyvisor_program_memory_rss_bytes", p, "> 0", func(v float64) bool { return v > 0 }),
		newCheck("pyvisor_program_start_time_seconds", p, "the start of the running process",
			func(v float64) bool { return v == unixSeconds(st.StartedAt) }),
		// A program that never ran: present with zeros, no exit code, no start time.
		newCheck("pyvisor_program_up", other, "= 0", func(v float64) bool { return v == 0 }),
		newCheck("pyvisor_program_restarts_total", other, "= 0", func(v float64) bool { return v == 0 }),
		{metric: "pyvisor_program_last_exit_code", labels: other},
		{metric: "pyvisor_program_start_time_seconds", labels: other},
	}
	checks = append(checks, stateChecks("flaky", supervisor.Running)...)
	checks = append(checks, stateChecks(other[1], supervisor.Stopped)...)
	m.verify(t, "after a crash and a restart", checks)
	for _, name := range []string{"process_resident_memory_bytes", "process_cpu_seconds_total", "go_goroutines", "go_build_info"} {
		if m[name] == nil {
			t.Errorf("GET /metrics lacks the manager's own %s", name)
		}
	}
	cpuBefore, _ := m.value("pyvisor_program_cpu_seconds_total", p...)
	restartsBefore, _ := m.value("pyvisor_program_restarts_total", p...)

	// Killed by a signal: the shell's 128+signal, and one more restart.
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -KILL %d: %v", st.PID, err)
	}
	f.waitFor(t, "flaky", "restarted after SIGKILL", func(s supervisor.Status) bool {
		return s.State == supervisor.Running && s.PID != 0 && s.PID != st.PID
	})
	m = f.scrape(t)
	m.verify(t, "after SIGKILL", []check{
		newCheck("pyvisor_program_last_exit_code", p, "= 137 (128+SIGKILL)", func(v float64) bool { return v == 137 }),
		newCheck("pyvisor_program_restarts_total", p, "one more", func(v float64) bool { return v == restartsBefore+1 }),
		newCheck("pyvisor_program_cpu_seconds_total", p, "not less than before", func(v float64) bool { return v >= cpuBefore }),
	})

	if _, err := f.sup.Stop(t.Context(), "flaky"); err != nil {
		t.Fatalf("Stop(flaky): %v", err)
	}
	m = f.scrape(t)
	checks = []check{
		newCheck("pyvisor_program_up", p, "= 0", func(v float64) bool { return v == 0 }),
		newCheck("pyvisor_program_memory_rss_bytes", p, "= 0", func(v float64) bool { return v == 0 }),
		newCheck("pyvisor_program_cpu_seconds_total", p, "kept after the stop", func(v float64) bool { return v >= cpuBefore }),
		newCheck("pyvisor_program_last_exit_code", p, "= 143 (128+SIGTERM)", func(v float64) bool { return v == 143 }),
		{metric: "pyvisor_program_start_time_seconds", labels: p},
	}
	m.verify(t, "after a stop", append(checks, stateChecks("flaky", supervisor.Stopped)...))
}

// TestMetricsTypes checks the type and help of the metrics every program has,
// and that each program has a state series for every state.
func TestMetricsTypes(t *testing.T) {
	f := newFixture(t, metricsConfig)
	m := f.scrape(t)
	tests := []struct {
		metric string
		want   dto.MetricType
	}{
		{"pyvisor_program_up", dto.MetricType_GAUGE},
		{"pyvisor_program_state", dto.MetricType_GAUGE},
		{"pyvisor_program_restarts_total", dto.MetricType_COUNTER},
		{"pyvisor_program_consecutive_failures", dto.MetricType_GAUGE},
		{"pyvisor_program_cpu_seconds_total", dto.MetricType_COUNTER},
		{"pyvisor_program_memory_rss_bytes", dto.MetricType_GAUGE},
	}
	for _, tt := range tests {
		t.Run(tt.metric, func(t *testing.T) {
			fam := m[tt.metric]
			switch {
			case fam == nil:
				t.Errorf("GET /metrics lacks %s", tt.metric)
			case fam.GetType() != tt.want:
				t.Errorf("GET /metrics: %s has type %v, want %v", tt.metric, fam.GetType(), tt.want)
			case fam.GetHelp() == "":
				t.Errorf("GET /metrics: %s has no help text", tt.metric)
			}
		})
	}
	if n := len(m["pyvisor_program_state"].GetMetric()); n != 2*len(supervisor.States()) {
		t.Errorf("GET /metrics: %d pyvisor_program_state series for 2 programs, want %d (every state of each)", n, 2*len(supervisor.States()))
	}
}

// TestMetricsManager checks the manager's own figures against what the test
// process (which is the manager here) knows of itself, and that a gzip scrape,
// as Prometheus asks for, parses the same.
func TestMetricsManager(t *testing.T) {
	f := newFixture(t, metricsConfig)
	m := f.scrape(t)
	now := float64(time.Now().Unix())
	checks := []check{
		newCheck("process_resident_memory_bytes", nil, "> 1 MiB", func(v float64) bool { return v > 1<<20 }),
		newCheck("process_virtual_memory_bytes", nil, "> resident", func(v float64) bool {
			rss, _ := m.value("process_resident_memory_bytes")
			return v > rss
		}),
		newCheck("process_cpu_seconds_total", nil, "> 0", func(v float64) bool { return v > 0 }),
		newCheck("process_start_time_seconds", nil, "within the last 10 minutes", func(v float64) bool {
			return v <= now+1 && v > now-600
		}),
		newCheck("process_open_fds", nil, "> 2", func(v float64) bool { return v > 2 }),
		newCheck("process_max_fds", nil, "> 0", func(v float64) bool { return v > 0 }),
		newCheck("go_goroutines", nil, "> 1", func(v float64) bool { return v > 1 }),
		newCheck("go_memstats_heap_alloc_bytes", nil, "> 0", func(v float64) bool { return v > 0 }),
		newCheck("go_info", []string{"version", runtime.Version()}, "= 1", func(v float64) bool { return v == 1 }),
	}
	m.verify(t, "the manager's own", checks)

	r := f.do(t, "GET", "/metrics", nil, "Accept-Encoding", "gzip")
	if enc := r.header.Get("Content-Encoding"); r.status != 200 || enc != "gzip" {
		t.Fatalf("GET /metrics with Accept-Encoding gzip = %d, Content-Encoding %q; want 200 gzip", r.status, enc)
	}
	zr, err := gzip.NewReader(strings.NewReader(r.body))
	if err != nil {
		t.Fatalf("GET /metrics, gzip: %v", err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(zr)
	if err != nil {
		t.Fatalf("GET /metrics, gzip: the text parser says %v", err)
	}
	if len(fams) != len(m) {
		t.Errorf("GET /metrics gzip-compressed has %d families, uncompressed %d", len(fams), len(m))
	}
}
