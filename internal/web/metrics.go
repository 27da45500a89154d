package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// newMetricsHandler returns the handler of GET /metrics: the programs'
// figures, read from the supervisor at each scrape, and the manager's own Go
// runtime and process figures. The registry and its collectors are built at
// the first scrape, so that a manager nobody scrapes does not keep them (about
// 0.3 MiB of its resident memory, see README's Performance).
func newMetricsHandler(sup *supervisor.Supervisor, log *slog.Logger) http.Handler {
	build := sync.OnceValue(func() http.Handler { return buildMetricsHandler(sup, log) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { build().ServeHTTP(w, r) })
}

// buildMetricsHandler makes the registry of the metrics and its handler. The
// registry is its own, never the global default one, so that two handlers (as
// in tests) never share metrics.
func buildMetricsHandler(sup *supervisor.Supervisor, log *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newProgramCollector(sup),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: promLogger{log},
		// A collector that fails leaves the others' metrics to serve.
		ErrorHandling: promhttp.ContinueOnError,
		// zstd would need another module; gzip is what Prometheus asks for.
		OfferedCompressions: []promhttp.Compression{promhttp.Identity, promhttp.Gzip},
		// Scrapes are cheap but not free; a runaway client gets 503s.
		MaxRequestsInFlight: 4,
	})
}

// promLogger passes promhttp's error messages to the manager's log.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) {
	l.log.Error("serve metrics", "err", fmt.Sprint(v...))
}

// programCollector turns the supervisor's statuses into metrics at scrape
// time. It keeps nothing between scrapes: the state is the supervisor's.
type programCollector struct {
	sup *supervisor.Supervisor

	up, state, restarts, failures, cpu, rss, exitCode, startTime *prometheus.Desc
}

func newProgramCollector(sup *supervisor.Supervisor) *programCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("pyvisor_program_"+name, help, append([]string{"program"}, labels...), nil)
	}
	return &programCollector{
		sup:      sup,
		up:       desc("up", "1 if the program is running, else 0."),
		state:    desc("state", "1 for the state the program is in, 0 for the others.", "state"),
		restarts: desc("restarts_total", "Automatic and manual restarts since the manager started."),
		failures: desc("consecutive_failures", "Failed runs in a row; at restart.max_consecutive_failures the program is broken."),
		cpu: desc("cpu_seconds_total", "CPU time (user and system) used by the program's process groups "+
			"since the manager started, summed from the samples."),
		rss: desc("memory_rss_bytes", "Resident memory of the program's process group at the last sample; 0 when none runs."),
		exitCode: desc("last_exit_code", "Exit code of the program's last process; 128+signal if a signal killed it; "+
			"absent if none ended yet or its status is unknown (adopted)."),
		startTime: desc("start_time_seconds", "Start of the program's current process, in seconds since the Unix epoch; "+
			"absent when none runs."),
	}
}

// Describe sends the descriptors of every metric the collector can send.
func (c *programCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.state, c.restarts, c.failures, c.cpu, c.rss, c.exitCode, c.startTime} {
		ch <- d
	}
}

// Collect sends the metrics of every program as the supervisor has it now.
func (c *programCollector) Collect(ch chan<- prometheus.Metric) {
	states := supervisor.States()
	for _, st := range c.sup.Statuses() {
		name := st.Name
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{name}, labels...)...)
		}
		counter := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, name)
		}
		gauge(c.up, boolValue(st.State == supervisor.Running))
		for _, s := range states {
			gauge(c.state, boolValue(st.State == s), string(s))
		}
		counter(c.restarts, float64(st.RestartCount))
		gauge(c.failures, float64(st.ConsecutiveFailures))
		counter(c.cpu, st.CPUTime.Seconds())
		gauge(c.rss, float64(st.MemoryRSS))
		if code, ok := lastExitCode(&st); ok {
			gauge(c.exitCode, float64(code))
		}
		if st.PID != 0 && !st.StartedAt.IsZero() {
			gauge(c.startTime, unixSeconds(st.StartedAt))
		}
	}
}

// lastExitCode is the code of the program's last exit as a shell reports it:
// the exit code, or 128+N for a process killed by signal N. ok is false when
// no process ended yet or the status is unknown (an adopted process).
func lastExitCode(st *supervisor.Status) (code int, ok bool) {
	e := st.LastExit
	switch {
	case e == nil || !e.Known:
		return 0, false
	case e.Signal != 0:
		return 128 + int(e.Signal), true
	default:
		return e.Code, true
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}
