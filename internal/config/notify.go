package config

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The events a notify entry can be sent on (its `on` list).
const (
	// NotifyBroken: a program failed too often in a row and is no longer restarted.
	NotifyBroken = "broken"
	// NotifyCrashed: a program exited without being asked to, and not with a code meaning success.
	NotifyCrashed = "crashed"
	// NotifyUnhealthy: a program's health check failed.
	NotifyUnhealthy = "unhealthy"
	// NotifyRecovered: a program that was broken or unhealthy runs healthily again.
	NotifyRecovered = "recovered"
	// NotifyInstallFailed: the install of an uploaded program failed.
	NotifyInstallFailed = "install_failed"
)

// NotifyEvents lists the events a notify entry can be sent on, in the order the documentation gives them.
func NotifyEvents() []string {
	return []string{NotifyBroken, NotifyCrashed, NotifyUnhealthy, NotifyRecovered, NotifyInstallFailed}
}

// Notify is one entry of the notify list: where to tell someone that a program broke, and when.
// Exactly one of Webhook and Command is set.
type Notify struct {
	// Webhook is an http or https URL that gets a JSON POST; "" for a command.
	Webhook string
	// Command is the argv of a program to run, with {program}, {event}, {detail} and {time} replaced in
	// each element; nil for a webhook.
	Command []string
	// On are the events to send (NotifyEvents' names), in file order without duplicates; the default is
	// every event.
	On []string
	// Programs are program names or path.Match patterns; the default ["*"] matches every program.
	Programs []string
	// Line is the line of the entry in the config file; 0 for entries not read from a file.
	Line int
}

// Matches reports whether a notification of event about program is for this entry.
func (n *Notify) Matches(program, event string) bool {
	if !slices.Contains(n.On, event) {
		return false
	}
	return slices.ContainsFunc(n.Programs, func(p string) bool {
		ok, err := path.Match(p, program)
		return ok && err == nil
	})
}

// notifyKeys are the keys of an entry of the notify list.
func notifyKeys() []string { return []string{"webhook", "command", "on", "programs"} }

// notifyList decodes the top-level notify list.
func (d *decoder) notifyList(n *yaml.Node) []Notify {
	var out []Notify
	for i, item := range d.items(n, "notify") {
		if e, ok := d.notify(item, index("notify", i)); ok {
			out = append(out, e)
		}
	}
	return out
}

// notify decodes one entry of the notify list; ok is false when the entry has no usable target.
func (d *decoder) notify(n *yaml.Node, field string) (e Notify, ok bool) {
	e = Notify{Line: n.Line, On: NotifyEvents(), Programs: []string{"*"}}
	targets := 0
	for _, p := range d.fields(n, field, notifyKeys()) {
		f := join(field, p.key)
		switch p.key {
		case "webhook":
			targets++
			e.Webhook = d.webhookURL(p.value, f)
		case "command":
			targets++
			e.Command = d.notifyCommand(p.value, f)
		case "on":
			e.On = d.notifyOn(p.value, f)
		case "programs":
			e.Programs = d.notifyPrograms(p.value, f)
		}
	}
	switch {
	case deref(n).Kind != yaml.MappingNode:
		return e, false // fields reported it
	case targets == 0:
		d.errorf(n, field, "needs a webhook or a command")
	case targets > 1:
		d.errorf(n, field, "has both a webhook and a command; give each its own entry")
	}
	return e, targets == 1 && (e.Webhook != "" || len(e.Command) > 0)
}

// webhookURL returns the URL of a webhook, reporting one that is not an absolute http(s) URL.
func (d *decoder) webhookURL(n *yaml.Node, field string) string {
	s, ok := d.str(n, field)
	if !ok {
		return ""
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		// url.Error repeats the URL, which may hold a secret token; say what is wrong only.
		msg := err.Error()
		if ue, ok := err.(*url.Error); ok {
			msg = ue.Err.Error()
		}
		d.errorf(n, field, "not a URL: %s", msg)
	case u.Scheme != "http" && u.Scheme != "https":
		d.errorf(n, field, "must be an http:// or https:// URL")
	case u.Host == "":
		d.errorf(n, field, "the URL has no host")
	default:
		return s
	}
	return ""
}

// notifyCommand returns the argv of a command entry: a non-empty list of strings without NUL bytes,
// the first not empty.
func (d *decoder) notifyCommand(n *yaml.Node, field string) []string {
	items := d.items(n, field)
	if deref(n).Kind == yaml.SequenceNode && len(items) == 0 {
		d.errorf(n, field, "must not be empty: give the program to run and its arguments")
		return nil
	}
	var argv []string
	for i, item := range items {
		s, ok := d.str(item, index(field, i))
		switch {
		case !ok:
			return nil
		case hasNUL(s):
			d.errorf(item, index(field, i), "contains a NUL byte")
			return nil
		case i == 0 && s == "":
			d.errorf(item, index(field, i), "the program to run must not be empty")
			return nil
		}
		argv = append(argv, s)
	}
	return argv
}

// notifyOn returns the events of an on list, reporting unknown names.
func (d *decoder) notifyOn(n *yaml.Node, field string) []string {
	var out []string
	for i, item := range d.items(n, field) {
		s, ok := d.str(item, index(field, i))
		switch {
		case !ok:
		case !slices.Contains(NotifyEvents(), s):
			msg := fmt.Sprintf("unknown event %q (events: %s)", s, strings.Join(NotifyEvents(), ", "))
			if sug := suggest(s, NotifyEvents()); sug != "" {
				msg += fmt.Sprintf("; did you mean %q?", sug)
			}
			d.errorf(item, index(field, i), "%s", msg)
		case !slices.Contains(out, s):
			out = append(out, s)
		}
	}
	if deref(n).Kind == yaml.SequenceNode && len(deref(n).Content) == 0 {
		d.errorf(n, field, "must not be empty: leave the key out to be told of every event")
	}
	return out
}

// notifyPrograms returns the names and patterns of a programs list, reporting malformed patterns.
func (d *decoder) notifyPrograms(n *yaml.Node, field string) []string {
	var out []string
	for i, item := range d.items(n, field) {
		s, ok := d.str(item, index(field, i))
		if !ok {
			continue
		}
		if _, err := path.Match(s, ""); err != nil || s == "" {
			d.errorf(item, index(field, i), "%q is not a program name or pattern (like \"web-*\")", s)
			continue
		}
		out = append(out, s)
	}
	if deref(n).Kind == yaml.SequenceNode && len(deref(n).Content) == 0 {
		d.errorf(n, field, "must not be empty: leave the key out to be told about every program")
	}
	return out
}
