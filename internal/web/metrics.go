package web

import (
	"bytes"
	"compress/gzip"
	"math"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"time"

	"github.com/pyvisor/pyvisor/internal/proc"
	"github.com/pyvisor/pyvisor/internal/supervisor"
)

// The Prometheus text exposition format (version 0.0.4) is written here
// rather than with client_golang: that library brings the protocol buffer
// runtime, which made the binary 3.4 MB larger and the manager's resident
// memory 2 MiB (16%) larger, for a format of a few lines. The tests parse
// every scrape with Prometheus's own text parser.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// serveMetrics answers GET /metrics: the programs' figures as the supervisor
// has them now, then the manager's own process and Go runtime figures. Nothing
// is kept between scrapes.
func (h *handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	var e exposition
	writeProgramMetrics(&e, h.sup.Statuses())
	writeProcessMetrics(&e)
	writeGoMetrics(&e)

	hdr := w.Header()
	hdr.Set("Content-Type", metricsContentType)
	hdr.Set("Cache-Control", "no-store")
	hdr.Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Write(e.buf.Bytes())
		return
	}
	hdr.Set("Content-Encoding", "gzip")
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed) // a valid level: no error
	zw.Write(e.buf.Bytes())
	zw.Close()
}

// writeProgramMetrics writes one family at a time (the format wants a
// family's samples together), each with a sample per program.
func writeProgramMetrics(e *exposition, statuses []supervisor.Status) {
	type family struct {
		name, typ, help string
		// value returns the program's sample; ok false leaves it out.
		value func(st *supervisor.Status) (v float64, ok bool)
	}
	always := func(f func(st *supervisor.Status) float64) func(*supervisor.Status) (float64, bool) {
		return func(st *supervisor.Status) (float64, bool) { return f(st), true }
	}
	families := []family{
		{"pyvisor_program_up", "gauge", "1 if the program is running, else 0.",
			always(func(st *supervisor.Status) float64 { return boolValue(st.State == supervisor.Running) })},
		{"pyvisor_program_restarts_total", "counter", "Automatic and manual restarts since the manager started.",
			always(func(st *supervisor.Status) float64 { return float64(st.RestartCount) })},
		{"pyvisor_program_consecutive_failures", "gauge",
			"Failed runs in a row; at restart.max_consecutive_failures the program is broken.",
			always(func(st *supervisor.Status) float64 { return float64(st.ConsecutiveFailures) })},
		{"pyvisor_program_cpu_seconds_total", "counter",
			"CPU time (user and system) used by the program's process groups since the manager started, summed from the samples.",
			always(func(st *supervisor.Status) float64 { return st.CPUTime.Seconds() })},
		{"pyvisor_program_memory_rss_bytes", "gauge",
			"Resident memory of the program's process group at the last sample; 0 when none runs.",
			always(func(st *supervisor.Status) float64 { return float64(st.MemoryRSS) })},
		{"pyvisor_program_last_exit_code", "gauge",
			"Exit code of the program's last process; 128+signal if a signal killed it; absent if none ended yet or its status is unknown (adopted).",
			func(st *supervisor.Status) (float64, bool) {
				code, ok := lastExitCode(st)
				return float64(code), ok
			}},
		{"pyvisor_program_start_time_seconds", "gauge",
			"Start of the program's current process, in seconds since the Unix epoch; absent when none runs.",
			func(st *supervisor.Status) (float64, bool) {
				return unixSeconds(st.StartedAt), st.PID != 0 && !st.StartedAt.IsZero()
			}},
	}
	for _, f := range families {
		e.family(f.name, f.typ, f.help)
		for i := range statuses {
			if v, ok := f.value(&statuses[i]); ok {
				e.sample(f.name, v, "program", statuses[i].Name)
			}
		}
	}
	// The enum pattern: one series per state, 1 for the current one.
	const state = "pyvisor_program_state"
	e.family(state, "gauge", "1 for the state the program is in, 0 for the others.")
	states := supervisor.States()
	for i := range statuses {
		for _, s := range states {
			e.sample(state, boolValue(statuses[i].State == s), "program", statuses[i].Name, "state", string(s))
		}
	}
}

// writeProcessMetrics writes the manager's own process figures under the
// names every Prometheus client library uses (process_*), so existing
// dashboards and alerts apply.
func writeProcessMetrics(e *exposition) {
	p := proc.Self()
	e.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.")
	e.sample("process_cpu_seconds_total", p.CPU.Seconds())
	if p.RSSBytes > 0 {
		e.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
		e.sample("process_resident_memory_bytes", float64(p.RSSBytes))
	}
	if p.VirtualBytes > 0 {
		e.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.")
		e.sample("process_virtual_memory_bytes", float64(p.VirtualBytes))
	}
	if !p.Start.IsZero() {
		e.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.")
		e.sample("process_start_time_seconds", unixSeconds(p.Start))
	}
	if p.OpenFDs >= 0 {
		e.family("process_open_fds", "gauge", "Number of open file descriptors.")
		e.sample("process_open_fds", float64(p.OpenFDs))
	}
	if p.MaxFDs > 0 {
		e.family("process_max_fds", "gauge", "Maximum number of open file descriptors.")
		e.sample("process_max_fds", float64(p.MaxFDs))
	}
}

// writeGoMetrics writes the manager's Go runtime figures, read through
// runtime/metrics, which (unlike runtime.ReadMemStats) does not stop the
// world.
func writeGoMetrics(e *exposition) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/heap/goal:bytes"},
	}
	metrics.Read(samples)
	value := func(i int) float64 {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			return float64(samples[i].Value.Uint64())
		}
		return math.NaN()
	}
	e.family("go_goroutines", "gauge", "Number of goroutines that currently exist.")
	e.sample("go_goroutines", float64(runtime.NumGoroutine()))
	e.family("go_memstats_heap_alloc_bytes", "gauge", "Number of heap bytes allocated and still in use.")
	e.sample("go_memstats_heap_alloc_bytes", value(0))
	e.family("go_memstats_sys_bytes", "gauge", "Number of bytes obtained from system.")
	e.sample("go_memstats_sys_bytes", value(1))
	e.family("go_gc_cycles_total", "counter", "Completed GC cycles.")
	e.sample("go_gc_cycles_total", value(2))
	e.family("go_gc_heap_goal_bytes", "gauge", "Heap size target for the end of the GC cycle.")
	e.sample("go_gc_heap_goal_bytes", value(3))
	e.family("go_info", "gauge", "Information about the Go environment.")
	e.sample("go_info", 1, "version", runtime.Version())
	if bi, ok := debug.ReadBuildInfo(); ok {
		e.family("go_build_info", "gauge", "Build information about the main Go module.")
		e.sample("go_build_info", 1, "path", bi.Main.Path, "version", bi.Main.Version, "checksum", bi.Main.Sum)
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

// exposition builds a response in the text format.
type exposition struct {
	buf bytes.Buffer
}

// family starts a metric family: its HELP and TYPE lines.
func (e *exposition) family(name, typ, help string) {
	e.buf.WriteString("# HELP ")
	e.buf.WriteString(name)
	e.buf.WriteByte(' ')
	escapeTo(&e.buf, help, false)
	e.buf.WriteString("\n# TYPE ")
	e.buf.WriteString(name)
	e.buf.WriteByte(' ')
	e.buf.WriteString(typ)
	e.buf.WriteByte('\n')
}

// sample writes one sample; labels are name-value pairs.
func (e *exposition) sample(name string, v float64, labels ...string) {
	e.buf.WriteString(name)
	if len(labels) > 0 {
		e.buf.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				e.buf.WriteByte(',')
			}
			e.buf.WriteString(labels[i])
			e.buf.WriteString(`="`)
			escapeTo(&e.buf, labels[i+1], true)
			e.buf.WriteByte('"')
		}
		e.buf.WriteByte('}')
	}
	e.buf.WriteByte(' ')
	e.buf.WriteString(formatValue(v))
	e.buf.WriteByte('\n')
}

// escapeTo writes s escaped as the format wants: backslash and newline in
// HELP text, and also the double quote in label values.
func escapeTo(b *bytes.Buffer, s string, quote bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '"' && quote:
			b.WriteString(`\"`)
		default:
			b.WriteByte(c)
		}
	}
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
