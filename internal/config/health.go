package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// HealthCheck says how and how often to ask a running program whether it works. Exactly one of HTTP, TCP
// and Command is set.
type HealthCheck struct {
	// HTTP is an http:// or https:// URL: healthy when a GET answers 2xx or 3xx (redirects are not followed).
	HTTP string
	// TCP is a host:port: healthy when a connection opens.
	TCP string
	// Command is an executable and its arguments, run in the program's directory, environment and user:
	// healthy when it exits 0. A name without a slash is looked up in the program's PATH (its venv first).
	Command []string
	// Interval is the time from the start of one check to the start of the next, or from its end if it
	// ran longer; the first check comes one interval after the program started. The supervisor may start
	// an HTTP or TCP check up to a tenth of the interval (at most a second) later, to run the checks of
	// many programs together.
	Interval time.Duration
	// Timeout bounds one check; a command still running then is killed with its process group.
	Timeout time.Duration
	// Failures is how many failed checks in a row make the program unhealthy and restart it; at least 1.
	Failures int
	// StartPeriod is how long after a start failed checks do not count, until the first check passes.
	StartPeriod time.Duration
}

// Kind names the kind of check: "http", "tcp" or "command".
func (h *HealthCheck) Kind() string {
	switch {
	case h.HTTP != "":
		return "http"
	case h.TCP != "":
		return "tcp"
	}
	return "command"
}

// defaultHealthCheck is a health_check block before its keys are applied.
func defaultHealthCheck() HealthCheck {
	return HealthCheck{Interval: 10 * time.Second, Timeout: 2 * time.Second, Failures: 3}
}

// healthCheck decodes a program's health_check block.
func (d *decoder) healthCheck(n *yaml.Node, field string) *HealthCheck {
	h := defaultHealthCheck()
	var kinds []string
	var timeoutNode *yaml.Node
	for _, p := range d.fields(n, field, healthCheckKeys()) {
		f := join(field, p.key)
		switch p.key {
		case "http":
			kinds = append(kinds, p.key)
			if s, ok := d.str(p.value, f); ok {
				if msg := checkHTTPURL(s); msg != "" {
					d.errorf(p.value, f, "%s", msg)
				}
				h.HTTP = s
			}
		case "tcp":
			kinds = append(kinds, p.key)
			if s, ok := d.str(p.value, f); ok {
				if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
					d.errorf(p.value, f, "%q is not a host:port", s)
				}
				h.TCP = s
			}
		case "command":
			kinds = append(kinds, p.key)
			h.Command = d.args(p.value, f)
			if len(h.Command) == 0 || h.Command[0] == "" {
				d.errorf(p.value, f, "must name a command to run")
			}
		case "interval_seconds":
			if v, ok := d.seconds(p.value, f, true); ok {
				h.Interval = v
			}
		case "timeout_seconds":
			if v, ok := d.seconds(p.value, f, true); ok {
				h.Timeout, timeoutNode = v, p.value
			}
		case "failures":
			if v, ok := d.integer(p.value, f); ok {
				if v < 1 {
					d.errorf(p.value, f, "must be at least 1, got %d", v)
				}
				h.Failures = v
			}
		case "start_period_seconds":
			if v, ok := d.seconds(p.value, f, false); ok {
				h.StartPeriod = v
			}
		}
	}
	if deref(n).Kind != yaml.MappingNode {
		return nil // fields reported it
	}
	switch len(kinds) {
	case 0:
		d.errorf(n, field, "needs one of http, tcp or command")
	case 1:
	default:
		d.errorf(n, field, "has %s; give only one", strings.Join(kinds, " and "))
	}
	if timeoutNode != nil && h.Timeout > h.Interval {
		d.errorf(timeoutNode, join(field, "timeout_seconds"), "%v is longer than interval_seconds %v",
			h.Timeout.Seconds(), h.Interval.Seconds())
	}
	return &h
}

// checkHTTPURL returns what makes s unusable as a health check URL, or "".
func checkHTTPURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a URL: %v", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q: the scheme must be http or https", s)
	case u.Host == "":
		return fmt.Sprintf("%q has no host", s)
	}
	return ""
}
