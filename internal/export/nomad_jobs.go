package export

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/pyvisor/pyvisor/internal/config"
)

// jobID makes a name a job ID, which Nomad refuses with white space.
func jobID(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == 0 {
			return '-'
		}
		return r
	}, s)
}

// nomadPeriodic is the periodic block of the job p (a copy for an entry with instances, named name), or
// nil when Nomad cannot run it on its schedule.
func nomadPeriodic(p *config.Program, name string) (*Periodic, []Warning) {
	var warnings []Warning
	warn := func(format string, args ...any) {
		warnings = append(warnings, Warning{Program: name, Key: "schedule", Message: fmt.Sprintf(format, args...)})
	}
	c, every, err := parseSchedule(p.Schedule)
	if err != nil {
		warn("not carried over: %v", err)
		return nil, warnings
	}
	pc := &Periodic{Enabled: p.Enabled, SpecType: "cron", TimeZone: p.Timezone, ProhibitOverlap: true}
	switch {
	case every > 0:
		expr, ok := everyCron(every)
		if !ok {
			warn("not carried over, and no job is written for it: Nomad's cron cannot run every %s; "+
				"choose an interval that divides a minute, an hour or a day, or five cron fields", every)
			return nil, warnings
		}
		pc.Specs = []string{expr}
		warn("Nomad runs it at the clock's multiples of %s, not %s after it was registered", every, every)
	default:
		pc.Specs = []string{nomadCron(c)}
		if p.Timezone == "" {
			warn("no timezone: Nomad reads the schedule in UTC, pyvisor in the machine's local time; set timezone")
		}
	}
	return pc, warnings
}

// nomadCopies returns the groups of the copies of an entry with instances: one group of count N whose
// task learns its number from NOMAD_ALLOC_INDEX, or, when {instance} appears in the args or environment
// (Nomad cannot add 1 to NOMAD_ALLOC_INDEX there), one group per copy.
func nomadCopies(cfg *config.Config, copies []*config.Program, opts NomadOptions) ([]*TaskGroup, []Warning) {
	first := copies[0]
	entry := first.InstanceOf
	uses := slices.ContainsFunc(first.Template.Args, func(a string) bool { return strings.Contains(a, config.InstancePlaceholder) }) ||
		slices.ContainsFunc(first.Template.Environment, func(e config.EnvVar) bool { return strings.Contains(e.Value, config.InstancePlaceholder) })
	if uses {
		groups := make([]*TaskGroup, 0, len(copies))
		warnings := []Warning{{Program: entry, Key: "instances", Message: "{instance} in args or environment: Nomad cannot " +
			"compute the copy's number there (NOMAD_ALLOC_INDEX counts from 0), so each copy is a group of its own"}}
		for _, c := range copies {
			g, w := nomadGroup(cfg, c, opts)
			groups = append(groups, g)
			warnings = append(warnings, w...)
		}
		return groups, warnings
	}
	t := *first
	t.Name = entry
	t.Environment = first.Template.Environment // without PYVISOR_INSTANCE, which the template below sets
	g, warnings := nomadGroup(cfg, &t, opts)
	if first.Enabled {
		g.Count = len(copies)
	}
	g.Tasks[0].Templates = append(g.Tasks[0].Templates, &Template{
		EmbeddedTmpl: config.EnvInstance + `={{ env "NOMAD_ALLOC_INDEX" | parseInt | add 1 }}` + "\n",
		DestPath:     "local/instance.env", Envvars: true, ChangeMode: "noop",
	})
	return []*TaskGroup{g}, warnings
}

// healthPort is the label of the port a health check names.
const healthPort = "health"

// nomadCheck gives the group's task a service registered with Nomad's own catalogue (provider "nomad", no
// Consul needed), with p's HTTP or TCP check and a check_restart that restarts the task after as many
// failed checks in a row as pyvisor. A check needs a port of the group: the check's port, reserved as a
// static port. Command checks are not carried over: Nomad's catalogue runs only HTTP and TCP checks.
func nomadCheck(p *config.Program, g *TaskGroup, opts NomadOptions, warn func(key, format string, args ...any)) {
	h := p.HealthCheck
	check := ServiceCheck{Name: "health", PortLabel: healthPort, Interval: h.Interval, Timeout: h.Timeout}
	var host, port string
	switch h.Kind() {
	case "http":
		u, err := url.Parse(h.HTTP)
		if err != nil {
			warn("health_check", "not carried over: %v", err)
			return
		}
		check.Type, check.Path, host, port = "http", u.RequestURI(), u.Hostname(), u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		if u.Scheme == "https" {
			check.Protocol = "https"
		}
	case "tcp":
		var err error
		if host, port, err = net.SplitHostPort(h.TCP); err != nil {
			warn("health_check", "not carried over: %v", err)
			return
		}
		check.Type = "tcp"
	default:
		warn("health_check", "not carried over: Nomad's own service catalogue runs only http and tcp checks; "+
			"a command needs Consul (provider = \"consul\", a check of type \"script\")")
		return
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 {
		warn("health_check", "not carried over: the port %q is not a number", port)
		return
	}
	g.Networks = []*Network{{ReservedPorts: []Port{{Label: healthPort, Value: n}}}}
	g.Tasks[0].Services = []*Service{{
		Name: serviceName(opts.JobID + "-" + g.Name), Provider: "nomad", PortLabel: healthPort,
		Checks:       []ServiceCheck{check},
		CheckRestart: &CheckRestart{Limit: h.Failures, Grace: h.StartPeriod},
	}}
	warn("health_check", "Nomad checks port %d at the client's address, not at %s: the program must listen there; "+
		"the port is reserved as static, so two copies never share a client", n, host)
}

// serviceName makes a name a Nomad service name: lower-case letters, digits and dashes.
func serviceName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
	return strings.Trim(s[:min(len(s), 63)], "-")
}
