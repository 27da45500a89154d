package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// Schedule is a parsed `schedule` with its `timezone`: the times at which a job comes due.
type Schedule struct {
	spec cron.Schedule
	loc  *time.Location
	// Every is the interval of an "@every" schedule, whose due times follow each other at that interval
	// from whenever the schedule started, not at times of the clock; 0 for the others.
	Every time.Duration
}

// maxLookahead bounds how far ahead a due time may be: the parser gives up after five years, and an
// expression that never comes due within them (February 30) is a mistake.
const maxLookahead = 5 * 365 * 24 * time.Hour

// ParseSchedule parses a schedule as the configuration writes it: five cron fields (minute, hour, day of
// month, month, day of week), a descriptor such as @hourly, @daily, @weekly, or "@every DURATION" of at
// least a second. timezone is an IANA name such as "Europe/Berlin"; "" means the machine's local time.
// The errors carry the parser's own message.
func ParseSchedule(spec, timezone string) (*Schedule, error) {
	trimmed := strings.TrimSpace(spec)
	if strings.HasPrefix(trimmed, "TZ=") || strings.HasPrefix(trimmed, "CRON_TZ=") {
		return nil, errors.New("give the time zone in timezone, not in the expression")
	}
	loc := time.Local
	if timezone != "" {
		l, err := time.LoadLocation(timezone)
		if err != nil {
			return nil, fmt.Errorf("time zone: %w", err)
		}
		loc = l
	}
	if rest, ok := strings.CutPrefix(trimmed, "@every "); ok {
		// Checked here: the parser rounds anything under a second up to one without a word.
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return nil, fmt.Errorf("@every: %w", err)
		}
		if d < time.Second {
			return nil, fmt.Errorf("@every %s: the interval must be at least 1s", d)
		}
	}
	p := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	s, err := p.Parse(trimmed)
	if err != nil {
		return nil, err
	}
	out := &Schedule{spec: s, loc: loc}
	if every, ok := s.(cron.ConstantDelaySchedule); ok {
		out.Every = every.Delay
	}
	return out, nil
}

// everyHour are the bits of cron's hour field with all 24 hours set.
const everyHour = 1<<24 - 1

// Next returns the first due time after t, in t's location, or the zero time when the schedule never comes
// due in the next five years. An "@every" schedule's next time is t plus the interval, to the second.
//
// Across a change of daylight saving time, an expression with fixed hours ("30 2 * * *") counts in the
// time zone's wall-clock time, as cron does: a time the change skips runs as much later as the clocks
// moved (02:30 at 03:30), and a time that happens twice runs once. An expression of every hour counts in
// real time, so it runs once each real hour.
func (s *Schedule) Next(t time.Time) time.Time {
	spec, ok := s.spec.(*cron.SpecSchedule)
	if s.Every > 0 || !ok {
		return s.spec.Next(t)
	}
	if spec.Hour&everyHour == everyHour {
		next := spec.Next(t.In(s.loc))
		if next.IsZero() {
			return next
		}
		return next.In(t.Location())
	}
	// The parser leaves the expression's location time.Local, which makes Next count in the location of
	// the time it is given: here a wall-clock reading written as UTC, which has no daylight saving time.
	w := t.In(s.loc)
	wall := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), time.UTC)
	for range 3 {
		n := spec.Next(wall)
		if n.IsZero() {
			return n
		}
		// time.Date maps a reading the change skips forward by the change, and one that happens twice to
		// one of its two instants: firstInstant takes the first.
		at := firstInstant(time.Date(n.Year(), n.Month(), n.Day(), n.Hour(), n.Minute(), n.Second(), 0, s.loc))
		if at.After(t) {
			return at.In(t.Location())
		}
		wall = n // the reading maps to an instant already past (the second of a repeated hour)
	}
	return time.Time{}
}

// schedule decodes a program's schedule and timezone, which come together: a time zone alone is a mistake,
// and an expression is checked with its time zone. autorestart is the autorestart node when the entry
// gives one.
func (d *decoder) schedule(p *Program, field string, sched, tz, autorestart *yaml.Node) {
	if sched == nil {
		if tz != nil {
			d.errorf(tz, join(field, "timezone"), "timezone applies to a schedule; this program has none")
		}
		return
	}
	spec, ok := d.str(sched, join(field, "schedule"))
	if !ok {
		return
	}
	zone := ""
	if tz != nil {
		if zone, ok = d.str(tz, join(field, "timezone")); !ok {
			return
		}
		if zone == "" {
			d.errorf(tz, join(field, "timezone"), "must not be empty; leave it out for the machine's local time")
			return
		}
		// Loaded here as well as by ParseSchedule, to report the problem at the timezone's line.
		if _, err := time.LoadLocation(zone); err != nil {
			d.errorf(tz, join(field, "timezone"), "invalid time zone %q: %v", zone, err)
			return
		}
	}
	s, err := ParseSchedule(spec, zone)
	if err != nil {
		d.errorf(sched, join(field, "schedule"), "invalid schedule %q: %v", spec, err)
		return
	}
	if now := time.Now(); s.Next(now).IsZero() || s.Next(now).Sub(now) > maxLookahead {
		d.errorf(sched, join(field, "schedule"), "schedule %q never comes due in the next five years", spec)
		return
	}
	if autorestart != nil && p.Autorestart {
		d.errorf(autorestart, join(field, "autorestart"),
			"a scheduled program is started at each due time and never restarted when it exits; remove autorestart")
	}
	p.Schedule, p.Timezone, p.Autorestart = spec, zone, false
}

// firstInstant returns the first instant with the wall-clock reading of t in its location: t itself, or,
// when the clocks went back shortly before t and the reading happened before the change too, that
// earlier instant.
func firstInstant(t time.Time) time.Time {
	_, off := t.Zone()
	_, offBefore := t.Add(-3 * time.Hour).Zone()
	if offBefore <= off {
		return t
	}
	earlier := t.Add(-time.Duration(offBefore-off) * time.Second)
	if sameReading(earlier, t) {
		return earlier
	}
	return t
}

// sameReading reports whether a and b, in their own locations, show the same date and time of day.
func sameReading(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd && a.Hour() == b.Hour() && a.Minute() == b.Minute() && a.Second() == b.Second()
}
