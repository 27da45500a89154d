package export

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// HCL renders the job as a Nomad job file (HCL2), with the warnings as comments at its top.
func (j *Job) HCL(header string, warnings []Warning) []byte {
	w := &hclWriter{}
	w.b.WriteString(comments("#", header, warnings))
	w.open("job", j.ID)
	w.attr("datacenters", hclList(j.Datacenters))
	w.attr("type", hclString(j.Type))
	if p := j.Periodic; p != nil {
		w.line("")
		w.open("periodic", "")
		w.attr("crons", hclList(p.Specs))
		if p.TimeZone != "" {
			w.attr("time_zone", hclString(p.TimeZone))
		}
		w.attr("prohibit_overlap", fmt.Sprint(p.ProhibitOverlap))
		w.attr("enabled", fmt.Sprint(p.Enabled))
		w.close()
	}
	for _, g := range j.TaskGroups {
		w.line("")
		w.open("group", g.Name)
		w.attr("count", fmt.Sprint(g.Count))
		for _, n := range g.Networks {
			w.line("")
			w.open("network", "")
			for _, p := range n.ReservedPorts {
				w.open("port", p.Label)
				w.attr("static", fmt.Sprint(p.Value))
				w.close()
			}
			w.close()
		}
		r := g.RestartPolicy
		w.line("")
		w.open("restart", "")
		w.attr("attempts", fmt.Sprint(r.Attempts))
		w.attr("interval", hclDuration(r.Interval))
		w.attr("delay", hclDuration(r.Delay))
		w.attr("mode", hclString(r.Mode))
		w.close()
		s := g.ReschedulePolicy
		w.line("")
		w.open("reschedule", "")
		w.attr("attempts", fmt.Sprint(s.Attempts))
		if s.Interval > 0 {
			w.attr("interval", hclDuration(s.Interval))
		}
		if s.Delay > 0 {
			w.attr("delay", hclDuration(s.Delay))
			w.attr("max_delay", hclDuration(s.MaxDelay))
		}
		w.attr("delay_function", hclString(s.DelayFunction))
		w.attr("unlimited", fmt.Sprint(s.Unlimited))
		w.close()
		for _, t := range g.Tasks {
			w.line("")
			w.task(t)
		}
		w.close()
	}
	w.close()
	return []byte(w.b.String())
}

func (w *hclWriter) task(t *Task) {
	w.open("task", t.Name)
	w.attr("driver", hclString(t.Driver))
	if t.User != "" {
		w.attr("user", hclString(t.User))
	}
	w.attr("kill_signal", hclString(t.KillSignal))
	w.attr("kill_timeout", hclDuration(t.KillTimeout))
	w.line("")
	w.open("config", "")
	w.attr("command", hclString(t.Config.Command))
	w.attr("args", hclList(t.Config.Args))
	w.attr("work_dir", hclString(t.Config.WorkDir))
	w.close()
	if len(t.Env) > 0 {
		// A map attribute rather than an env block, whose attribute names would have to be identifiers.
		w.line("")
		w.line("env = {")
		w.depth++
		for _, k := range slices.Sorted(maps.Keys(t.Env)) {
			w.line(hclString(k) + " = " + hclString(t.Env[k]))
		}
		w.depth--
		w.line("}")
	}
	for _, tp := range t.Templates {
		w.line("")
		w.open("template", "")
		if tp.SourcePath != "" {
			w.attr("source", hclString(tp.SourcePath))
		} else {
			w.attr("data", hclString(tp.EmbeddedTmpl))
		}
		w.attr("destination", hclString(tp.DestPath))
		w.attr("env", fmt.Sprint(tp.Envvars))
		w.attr("change_mode", hclString(tp.ChangeMode))
		w.close()
	}
	for _, sv := range t.Services {
		w.line("")
		w.service(sv)
	}
	w.line("")
	w.open("logs", "")
	w.attr("max_files", fmt.Sprint(t.LogConfig.MaxFiles))
	w.attr("max_file_size", fmt.Sprint(t.LogConfig.MaxFileSizeMB))
	w.close()
	w.close()
}

func (w *hclWriter) service(s *Service) {
	w.open("service", "")
	w.attr("name", hclString(s.Name))
	w.attr("provider", hclString(s.Provider))
	w.attr("port", hclString(s.PortLabel))
	for _, c := range s.Checks {
		w.line("")
		w.open("check", "")
		w.attr("name", hclString(c.Name))
		w.attr("type", hclString(c.Type))
		if c.Path != "" {
			w.attr("path", hclString(c.Path))
		}
		if c.Protocol != "" {
			w.attr("protocol", hclString(c.Protocol))
		}
		w.attr("port", hclString(c.PortLabel))
		w.attr("interval", hclDuration(c.Interval))
		w.attr("timeout", hclDuration(c.Timeout))
		w.close()
	}
	if r := s.CheckRestart; r != nil {
		w.line("")
		w.open("check_restart", "")
		w.attr("limit", fmt.Sprint(r.Limit))
		w.attr("grace", hclDuration(r.Grace))
		w.close()
	}
	w.close()
}

// hclWriter indents blocks as `nomad fmt` would.
type hclWriter struct {
	b     strings.Builder
	depth int
}

func (w *hclWriter) line(s string) {
	if s != "" {
		w.b.WriteString(strings.Repeat("  ", w.depth))
	}
	w.b.WriteString(s + "\n")
}

func (w *hclWriter) open(kind, label string) {
	if label != "" {
		kind += " " + hclString(label)
	}
	w.line(kind + " {")
	w.depth++
}

func (w *hclWriter) close() {
	w.depth--
	w.line("}")
}

func (w *hclWriter) attr(name, value string) { w.line(name + " = " + value) }

// hclString quotes s as an HCL2 string literal: escapes for backslash, quote and control characters, and
// "${" and "%{" doubled so that HCL does not read them as templates.
func hclString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\\', r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < ' ' || r == 0x7f || r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\u%04x`, r)
		case (r == '$' || r == '%') && strings.HasPrefix(s[i+1:], "{"):
			b.WriteRune(r)
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

func hclList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = hclString(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

func hclDuration(d time.Duration) string { return hclString(d.String()) }
